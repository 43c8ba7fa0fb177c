"""Reference data for tests/sample.rs: CLI-level parity of `autogan sample` with a plain
PyTorch generator of arch "a" (the SPEC-written model of gen_reference.py, imported), and a
reference-style `.pth` checkpoint for scripts/convert_reference_checkpoint.py.

usage: sample_reference.py OUT_DIR

Writes to OUT_DIR:
  g_a.safetensors   state dict of arch "a" (gf 32, latent 16, bottom width 4), reference names,
                    random weights with non-trivial batch-norm running statistics
  z.safetensors     latents `z` [8, 16]
  out.safetensors   `images`: the eval-mode output for z, [8, 3, 32, 32]
  g_a.pth           {"avg_gen_state_dict": state dict, "epoch": 3} (torch.save), as the
                    reference implementation's checkpoints
  raw.pth           the bare state dict (torch.save)
"""

import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_reference as ref  # noqa: E402

ARCH_A = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(20191027)
    torch.set_num_threads(1)
    latent, gf, bw, n = 16, 32, 4, 8
    g = ref.Generator(ARCH_A, latent, gf, bw)
    ref.randomise_batch_norm(g)  # to_rgb.0: weight, bias and running statistics not 1 / 0
    g.eval()
    z = torch.randn(n, latent)
    with torch.no_grad():
        images = g(z)
    sd = ref.contiguous(g.state_dict())
    save_file(sd, os.path.join(out, "g_a.safetensors"))
    save_file({"z": z.contiguous()}, os.path.join(out, "z.safetensors"))
    save_file({"images": images.contiguous()}, os.path.join(out, "out.safetensors"))
    torch.save({"avg_gen_state_dict": sd, "gen_state_dict": {}, "epoch": 3}, os.path.join(out, "g_a.pth"))
    torch.save(sd, os.path.join(out, "raw.pth"))
    print(f"sample reference written to {out}")


if __name__ == "__main__":
    main()
