"""Convert pytorch-fid's FID-Inception state dict (.pth) to safetensors for autogan.

Usage: convert_inception.py IN.pth OUT.safetensors

Keeps every float tensor under its state-dict name (Conv2d_1a_3x3.conv.weight, ...,
fc.weight, fc.bias) as contiguous float32; drops integer bookkeeping such as
num_batches_tracked. Fails when the file lacks the tensors autogan needs. Writes to a
temporary name and renames, so a failed run leaves nothing half-written.
"""

import os
import sys

import torch
from safetensors.torch import save_file


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, dst = sys.argv[1], sys.argv[2]
    try:
        sd = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - report any unpickling failure plainly
        print(f"convert_inception.py: cannot read {src} as a PyTorch state dict: {e}", file=sys.stderr)
        return 1
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        print(f"convert_inception.py: {src} holds a {type(sd).__name__}, not a state dict", file=sys.stderr)
        return 1
    out = {k: v.detach().float().contiguous() for k, v in sd.items() if torch.is_tensor(v) and v.is_floating_point()}
    need = ["Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch_pool.bn.running_var", "Mixed_7c.branch_pool.conv.weight"]
    missing = [k for k in need if k not in out]
    if missing or tuple(out.get("fc.weight", torch.empty(0)).shape) != (1008, 2048):
        print(
            f"convert_inception.py: {src} is not the FID-Inception state dict "
            f"(missing {missing or ['fc.weight of shape 1008x2048']})",
            file=sys.stderr,
        )
        return 1
    tmp = dst + ".tmp"
    save_file(out, tmp, metadata={"source": os.path.basename(src), "format": "pt"})
    os.replace(tmp, dst)
    print(f"convert_inception.py: wrote {dst} ({len(out)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
