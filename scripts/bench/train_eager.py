"""PyTorch eager training-step benchmark, the counterpart of `autogan bench train`.

Owns: the eager reference loop for scripts/bench/train.sh. Same model (the plain-PyTorch
definition of tests/reference/gen_reference.py, imported), same sizes, hinge losses,
Adam(betas 0.0, 0.9), spectral norm, batch sizes and thread count; random uint8 data.
One timed step = n_critic D steps + one G step, as in autogan's Trainer::step.

usage: train_eager.py --arch FILE [--gf-dim N] [--df-dim N] [--latent-dim N]
                      [--bottom-width N] [--batch-size N] [--gen-batch-size N]
                      [--n-critic N] [--steps N] [--warmup N] [--img-size N]
                      [--threads N] [--device cpu|cuda] [--read-every N] [--json]
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import gen_reference as ref  # noqa: E402

ENC = {
    "conv": {"post": 0, "pre": 1},
    "norm": {"none": 0, "batch": 1, "instance": 2},
    "up": {"bilinear": 0, "nearest": 1, "deconv": 2, "transposed": 2},
}


def arch_vector(path):
    """The 14-integer vector of an arch file ({"vector": [...]} or cells)."""
    with open(path) as f:
        spec = json.load(f)
    if "vector" in spec:
        return [int(x) for x in spec["vector"]]
    vector = []
    for k, cell in enumerate(spec["cells"], start=1):
        vector += [ENC["conv"][cell["conv"]], ENC["norm"][cell["norm"]], ENC["up"][cell["up"]],
                   int(bool(cell["shortcut"]))]
        if k > 1:
            # bit j set = skip from cell k-1-j
            vector.append(sum(1 << (k - 1 - f) for f in cell.get("skip_from", [])))
    return vector


def init_weights(model):
    """SPEC section 2: Conv2d xavier-uniform, batch-norm weight N(1, 0.02), bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight_orig if hasattr(m, "weight_orig") else m.weight
            nn.init.xavier_uniform_(w)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", required=True)
    p.add_argument("--gf-dim", type=int, default=256)
    p.add_argument("--df-dim", type=int, default=128)
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--bottom-width", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--gen-batch-size", type=int, default=None)
    p.add_argument("--n-critic", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--read-every", type=int, default=20,
                   help="read the losses back (.item()) every N steps, as autogan's training loop")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    if a.threads:
        torch.set_num_threads(a.threads)
    # as autogan on CUDA: cuDNN picks the fastest algorithms per shape
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    bw = a.bottom_width or a.img_size // 8
    gbs = a.gen_batch_size or 2 * a.batch_size
    vector = arch_vector(a.arch)

    g = ref.Generator(vector, a.latent_dim, a.gf_dim, bw).to(dev)
    d = ref.Discriminator(a.df_dim).to(dev)
    init_weights(g)
    init_weights(d)
    g.train()
    d.train()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.0, 0.9))
    n_img = 512
    data = torch.randint(0, 256, (n_img, 3, a.img_size, a.img_size), dtype=torch.uint8, device=dev)
    at = [0]

    def real_batch():
        idx = torch.randint(0, n_img, (a.batch_size,), device=dev)
        at[0] += 1
        return data[idx].float() / 127.5 - 1.0

    def step():
        for _ in range(a.n_critic):
            x = real_batch()
            z = torch.randn(a.batch_size, a.latent_dim, device=dev)
            fake = g(z).detach()
            loss_d = torch.relu(1.0 - d(x)).mean() + torch.relu(1.0 + d(fake)).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        z = torch.randn(gbs, a.latent_dim, device=dev)
        loss_g = -d(g(z)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    def run(n):
        # the losses are read back every read_every steps (and after the last), as autogan's
        # training loop does for its log and NaN check
        for i in range(1, n + 1):
            d, g = step()
            if i % a.read_every == 0 or i == n:
                d.item(), g.item()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    run(a.warmup)
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    run(a.steps)
    sync()
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    sps = a.steps / secs
    out = {
        "bench": "train",
        "impl": "pytorch-eager",
        "torch": torch.__version__,
        "steps_per_s": sps,
        "seconds": secs,
        "cpu_seconds_per_step": cpu / a.steps,
        "d_images_per_s": sps * a.n_critic * a.batch_size,
        "device": str(dev) if dev.type == "cpu" else f"cuda:{dev.index or 0}",
        "threads": torch.get_num_threads(),
        "arch": vector,
        "gf_dim": a.gf_dim,
        "df_dim": a.df_dim,
        "latent_dim": a.latent_dim,
        "bottom_width": bw,
        "img_size": a.img_size,
        "batch_size": a.batch_size,
        "gen_batch_size": gbs,
        "n_critic": a.n_critic,
        "steps": a.steps,
        "warmup": a.warmup,
        "read_every": a.read_every,
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"pytorch eager: {sps:.3f} steps/s on {out['device']} with {out['threads']} threads")


if __name__ == "__main__":
    main()
