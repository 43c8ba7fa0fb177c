"""Reference for the Adam parity test of tests/parity.rs: runs torch.optim.Adam on given
parameters and gradients and writes the parameters after every step.

usage: adam_reference.py IN.safetensors OUT.safetensors [IN2 OUT2 ...]

IN holds `p.{i}` (initial float32 parameters) and, for step t = 1..T and each parameter i
that is on that step's "path", `g.{t}.{i}` (its gradient); metadata `lr`, `beta1`, `beta2`,
`steps`, `foreach` ("0" or "1"). A step is what a training step does: opt.zero_grad() with
set_to_none=False (the reference's PyTorch 1.1 zero_grad: a gradient once defined stays
defined and is zeroed), a backward pass of sum(p * g) over the parameters on the path (which
gives exactly g as their gradient), opt.step(). Parameters never reached keep grad None and
are skipped by Adam.

OUT holds `p.{t}.{i}`: every parameter after step t.
"""

import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def main(src, dst):
    with safe_open(src, "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    n = sum(1 for k in tensors if k.startswith("p."))
    params = [torch.nn.Parameter(tensors[f"p.{i}"].clone()) for i in range(n)]
    opt = torch.optim.Adam(
        params,
        lr=float(meta["lr"]),
        betas=(float(meta["beta1"]), float(meta["beta2"])),
        foreach=meta["foreach"] == "1",
    )
    out = {}
    for t in range(1, int(meta["steps"]) + 1):
        opt.zero_grad(set_to_none=False)
        terms = [(p * tensors[f"g.{t}.{i}"]).sum() for i, p in enumerate(params) if f"g.{t}.{i}" in tensors]
        if terms:
            torch.stack(terms).sum().backward()
        opt.step()
        for i, p in enumerate(params):
            out[f"p.{t}.{i}"] = p.detach().clone()
    save_file(out, dst)


if __name__ == "__main__":
    if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
        main(src, dst)
