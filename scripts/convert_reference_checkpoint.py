"""Convert a reference AutoGAN generator checkpoint (.pth) to safetensors that
`autogan sample --generator` / `autogan eval --generator` load with no renaming.

Owns: reference .pth -> safetensors conversion (names kept as they are).

usage: convert_reference_checkpoint.py IN.pth OUT.safetensors [--arch FILE]

- takes `avg_gen_state_dict` (the EMA generator) when present, else `gen_state_dict`, else the
  file itself as a raw state dict; a `module.` prefix (DataParallel) is removed;
- drops `*.num_batches_tracked`;
- metadata: `gf_dim` (output channels of cell1.c1), `latent_dim` (input features of l1),
  `bottom_width` (sqrt(l1 out features / gf_dim)), `img_size` (8 x bottom width),
  `source` (the input file name), and `arch` (the JSON of --arch FILE, when given).
"""

import argparse
import json
import math
import os
import sys

import torch
from safetensors.torch import save_file


def state_dict_of(obj, path):
    if isinstance(obj, dict):
        for key in ("avg_gen_state_dict", "gen_state_dict"):
            sd = obj.get(key)
            if isinstance(sd, dict) and sd:
                return sd, key
        if obj and all(torch.is_tensor(v) for v in obj.values()):
            return obj, "state dict"
    sys.exit(f"{path}: no avg_gen_state_dict, gen_state_dict or state dict of tensors found "
             f"(keys: {list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--arch", help="architecture JSON to store in the metadata")
    a = p.parse_args()

    obj = torch.load(a.input, map_location="cpu", weights_only=True)
    sd, which = state_dict_of(obj, a.input)
    tensors = {}
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if k.endswith("num_batches_tracked"):
            continue
        tensors[k] = v.detach().to("cpu").contiguous()

    for need in ("l1.weight", "cell1.c1.weight"):
        if need not in tensors:
            sys.exit(f"{a.input}: {which} has no {need}: not an AutoGAN generator")
    gf = tensors["cell1.c1.weight"].shape[0]
    latent = tensors["l1.weight"].shape[1]
    bw = math.isqrt(tensors["l1.weight"].shape[0] // gf)
    if bw * bw * gf != tensors["l1.weight"].shape[0]:
        sys.exit(f"{a.input}: l1.weight {tuple(tensors['l1.weight'].shape)} is not "
                 f"bottom_width^2 x gf_dim ({gf})")
    meta = {
        "gf_dim": str(gf),
        "latent_dim": str(latent),
        "bottom_width": str(bw),
        "img_size": str(8 * bw),
        "source": os.path.basename(a.input),
    }
    if a.arch:
        with open(a.arch) as f:
            meta["arch"] = json.dumps(json.load(f))
    save_file(tensors, a.output, metadata=meta)
    print(f"{a.output}: {len(tensors)} tensors from {which} of {a.input} "
          f"(gf_dim {gf}, latent_dim {latent}, bottom_width {bw})")


if __name__ == "__main__":
    main()
