"""Reference outputs for tests/parity.rs, from a plain PyTorch definition of the AutoGAN
generator (SPEC section 2) and the SNGAN discriminator with torch.nn.utils.spectral_norm
(SPEC section 4), written from the SPEC (no AutoGAN code).

usage: gen_reference.py OUT_DIR

Writes, for each generator case NAME:
  g_NAME.safetensors     the state dict (incl. batch-norm running stats, num_batches_tracked)
  g_NAME_io.safetensors  z, out_eval (eval mode), out_train (train mode, after out_eval) and
                         the running statistics after that training forward (`after.<name>`)
and for the discriminator:
  d.safetensors          the state dict (weight_orig, weight_u, weight_v, bias)
  d_io.safetensors       x, y_train (train mode: one power iteration), `uv.<name>` (u and v
                         after it), `grad.<name>` (gradients of sum(y_train)), y_eval (eval mode
                         afterwards, with the updated u and v)
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

SN = torch.nn.utils.spectral_norm
MODES = {0: "bilinear", 1: "nearest"}


def decode(v):
    """14 integers -> list of (conv, norm, up, sc, skip_from 1-based ascending)."""
    cells, at = [], 0
    for k in (1, 2, 3):
        c, n, u, sc = v[at:at + 4]
        at += 4
        skip_from = []
        if k > 1:
            s = v[at]
            at += 1
            # bit j set = from cell k-1-j
            skip_from = sorted(k - 1 - j for j in range(k - 1) if s >> j & 1)
        cells.append((c, n, u, sc, skip_from))
    return cells


class Interp(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x, size):
        if self.mode == "bilinear":
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=size, mode="nearest")


class Deconv(nn.ConvTranspose2d):
    def __init__(self, ch, factor):
        super().__init__(ch, ch, factor, stride=factor)

    def forward(self, x, size=None):
        return super().forward(x)


def make_up(u, ch, factor):
    return Deconv(ch, factor) if u == 2 else Interp(MODES[u])


def make_norm(n, ch):
    if n == 1:
        return nn.BatchNorm2d(ch)
    if n == 2:
        return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    return nn.Identity()


class GCell(nn.Module):
    def __init__(self, ch, index, conv, norm, up, sc, skip_from):
        super().__init__()
        self.pre = conv == 1
        self.n1 = make_norm(norm, ch)
        self.n2 = make_norm(norm, ch)
        self.up1 = make_up(up, ch, 2)
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.sc = sc == 1
        if self.sc:
            self.up_sc = make_up(up, ch, 2)
            self.c_sc = nn.Conv2d(ch, ch, 1)
        self.skip_from = skip_from
        if skip_from:
            self.skip_in_ops = nn.ModuleList([nn.Conv2d(ch, ch, 1) for _ in skip_from])
            self.skip_up = nn.ModuleList([make_up(up, ch, 2 ** (index - f)) for f in skip_from])

    def forward(self, x, prev):
        size = (x.shape[2] * 2, x.shape[3] * 2)
        if self.pre:
            h = self.c1(self.up1(F.relu(self.n1(x)), size))
        else:
            h = F.relu(self.n1(self.c1(self.up1(x, size))))
        for i, f in enumerate(self.skip_from):
            h = h + self.skip_in_ops[i](self.skip_up[i](prev[f - 1], size))
        skip_out = h
        if self.pre:
            out = self.c2(F.relu(self.n2(h)))
        else:
            out = F.relu(self.n2(self.c2(h)))
        if self.sc:
            out = out + self.c_sc(self.up_sc(x, size))
        return out, skip_out


class Generator(nn.Module):
    def __init__(self, vector, latent, gf, bw):
        super().__init__()
        self.gf, self.bw = gf, bw
        self.l1 = nn.Linear(latent, bw * bw * gf)
        for k, cell in enumerate(decode(vector), start=1):
            setattr(self, f"cell{k}", GCell(gf, k, *cell))
        self.to_rgb = nn.Sequential(nn.BatchNorm2d(gf), nn.ReLU(), nn.Conv2d(gf, 3, 3, padding=1), nn.Tanh())

    def forward(self, z):
        h = self.l1(z).view(-1, self.gf, self.bw, self.bw)
        prev = []
        for k in (1, 2, 3):
            h, s = getattr(self, f"cell{k}")(h, prev)
            prev.append(s)
        return self.to_rgb(h)


class OptimizedDisBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = SN(nn.Conv2d(cin, cout, 3, padding=1))
        self.c2 = SN(nn.Conv2d(cout, cout, 3, padding=1))
        self.c_sc = SN(nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class DisBlock(nn.Module):
    def __init__(self, cin, cout, downsample):
        super().__init__()
        self.c1 = SN(nn.Conv2d(cin, cout, 3, padding=1))
        self.c2 = SN(nn.Conv2d(cout, cout, 3, padding=1))
        self.downsample = downsample
        self.learnable_sc = cin != cout or downsample
        if self.learnable_sc:
            self.c_sc = SN(nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        h = self.c2(F.relu(self.c1(F.relu(x))))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.learnable_sc:
            sc = self.c_sc(x)
            if self.downsample:
                sc = F.avg_pool2d(sc, 2)
        return h + sc


class Discriminator(nn.Module):
    def __init__(self, df):
        super().__init__()
        self.block1 = OptimizedDisBlock(3, df)
        self.block2 = DisBlock(df, df, True)
        self.block3 = DisBlock(df, df, False)
        self.block4 = DisBlock(df, df, False)
        self.l5 = SN(nn.Linear(df, 1, bias=False))

    def forward(self, x):
        h = self.block4(self.block3(self.block2(self.block1(x))))
        return self.l5(F.relu(h).sum(dim=(2, 3)))


def contiguous(d):
    return {k: v.detach().clone().contiguous() for k, v in d.items()}


def randomise_batch_norm(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1.0 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.2 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.3 * torch.randn_like(m.running_mean))
                m.running_var.copy_(torch.empty_like(m.running_var).uniform_(0.5, 2.0))


G_CASES = {
    # published CIFAR-10 arch "a": pre-activation, nearest/bilinear, shortcuts, skips
    "a": [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3],
    # post-activation, batch norm + instance norm, transposed convs (incl. x4 skip), shortcuts
    "post": [0, 1, 2, 1, 0, 2, 1, 1, 1, 0, 1, 2, 1, 3],
    # pre-activation with instance and batch norm, bilinear / deconv / nearest
    "pre_norms": [1, 2, 0, 1, 1, 1, 2, 0, 1, 1, 2, 1, 1, 2],
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    latent, gf, bw, n = 16, 32, 4, 4
    for name, vector in G_CASES.items():
        g = Generator(vector, latent, gf, bw)
        randomise_batch_norm(g)
        save_file(contiguous(g.state_dict()), os.path.join(out, f"g_{name}.safetensors"))
        z = torch.randn(n, latent)
        with torch.no_grad():
            g.eval()
            out_eval = g(z)
            g.train()
            out_train = g(z)
        io = {"z": z, "out_eval": out_eval, "out_train": out_train}
        for k, v in g.state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                io["after." + k] = v
        save_file(contiguous(io), os.path.join(out, f"g_{name}_io.safetensors"))

    df = 16
    d = Discriminator(df)
    save_file(contiguous(d.state_dict()), os.path.join(out, "d.safetensors"))
    x = torch.randn(n, 3, 32, 32)
    d.train()
    y_train = d(x)
    y_train.sum().backward()
    io = {"x": x, "y_train": y_train}
    for k, v in d.state_dict().items():
        if k.endswith("weight_u") or k.endswith("weight_v"):
            io["uv." + k] = v
    for k, p in d.named_parameters():
        io["grad." + k] = p.grad
    d.eval()
    with torch.no_grad():
        io["y_eval"] = d(x)
    save_file(contiguous(io), os.path.join(out, "d_io.safetensors"))
    print(f"reference written to {out}")


if __name__ == "__main__":
    main()
