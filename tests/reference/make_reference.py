"""Reference numbers for tests/metrics.rs, from torch-fidelity, pytorch-fid and scipy.

Usage: make_reference.py OUT_DIR [--n-a 100] [--n-b 60]

Writes into OUT_DIR:
  weights.pth, weights.safetensors  random FID-Inception weights (the state-dict names of
                                    pt_inception-2015-12-05-6726825d.pth), calibrated so
                                    activations stay finite and logits vary between images
  images.safetensors                uint8 images_a [n_a,3,32,32], images_b [n_b,3,32,32]
                                    (structured: gradients, discs, boxes, a little noise)
  png_a/, png_b/                    the same images as PNG files (pytorch-fid reads files)
  resize.safetensors                inputs and torch-fidelity's TF1 resize / torch's bilinear
                                    resize of them
  pfid_stats_a.npz, pfid_stats_b.npz  pytorch-fid's mu / sigma (its protocol)
  frechet.npz                       well-conditioned statistics (d = 64) and scipy's FID
  reference.json                    torch-fidelity IS / FID (TF protocol), pytorch-fid FID
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file


def structured_images(n, seed, dark):
    """uint8 [n,3,32,32]: a colour gradient, a disc and a box of random colours, some noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    out = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in range(n):
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = (np.cos(rng.uniform(0, np.pi)) * xx + np.sin(rng.uniform(0, np.pi)) * yy) / 45.0
        img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
        cx, cy, r = rng.uniform(4, 28), rng.uniform(4, 28), rng.uniform(3, 10)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[:, disc] = rng.uniform(0, 255, 3)[:, None]
        x0, y0 = rng.integers(0, 24, 2)
        w, h = rng.integers(4, 12, 2)
        img[:, y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 255, 3)[:, None, None]
        img += rng.normal(0, 6, img.shape)
        if dark:
            img = img * 0.6
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def fid_inception_module():
    """pytorch-fid's FID-Inception module (torchvision layout with its FID blocks), no weights."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


def tf_input(imgs_u8):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = interpolate_bilinear_2d_like_tensorflow1x(imgs_u8.float(), size=(299, 299), align_corners=False)
    return (x - 128) / 128


def random_weights(calib_u8, seed):
    """A state dict with random conv weights, batch-norm statistics measured on `calib_u8`
    (so every layer's pre-activations are about unit scale), and an fc layer orthogonal to the
    mean pool feature, scaled so logits spread by about 2.5 between images."""
    torch.manual_seed(seed)
    net = fid_inception_module()
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            torch.nn.init.normal_(m.weight, 0.0, (2.0 / fan_in) ** 0.5)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.2)
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass sets the batch statistics
    pool = {}
    net.avgpool.register_forward_hook(lambda mod, inp, out: pool.__setitem__("x", out.flatten(1)))
    x = tf_input(calib_u8)
    with torch.no_grad():
        net.train()
        net(x)
        net.eval()
        net(x)
    f = pool["x"].double()
    m = f.mean(0)
    w0 = torch.randn(1008, 2048, dtype=torch.float64)
    w0 = w0 - torch.outer(w0 @ m, m) / (m @ m)
    spread = ((f - m) @ w0.T).std()
    fc_w = (w0 * (2.5 / spread)).float()
    sd = net.state_dict()
    sd["fc.weight"] = fc_w
    sd["fc.bias"] = torch.randn(1008) * 0.1
    # As in the published .pth (2018): no num_batches_tracked entries.
    return {k: v.contiguous() for k, v in sd.items() if not k.endswith("num_batches_tracked")}


class U8Dataset(torch.utils.data.Dataset):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i]


def write_pngs(folder, imgs):
    os.makedirs(folder, exist_ok=True)
    files = []
    for i, im in enumerate(imgs):
        p = os.path.join(folder, f"{i:05d}.png")
        Image.fromarray(np.ascontiguousarray(im.transpose(1, 2, 0))).save(p)
        files.append(p)
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n-a", type=int, default=100)
    ap.add_argument("--n-b", type=int, default=60)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--skip-pytorch-fid", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_grad_enabled(False)

    a = structured_images(args.n_a, 1, dark=False)
    b = structured_images(args.n_b, 2, dark=True)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    save_file({"images_a": ta, "images_b": tb}, os.path.join(args.out, "images.safetensors"))
    files_a = write_pngs(os.path.join(args.out, "png_a"), a)
    files_b = write_pngs(os.path.join(args.out, "png_b"), b)

    sd = random_weights(torch.from_numpy(structured_images(16, 3, dark=False)), seed=7)
    pth = os.path.join(args.out, "weights.pth")
    torch.save(sd, pth)
    save_file(sd, os.path.join(args.out, "weights.safetensors"))

    # Resizes: 32 -> 299 of real images and 48 -> 299, 7x5 -> 299 of random floats.
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    g = torch.Generator().manual_seed(5)
    r48 = torch.rand(2, 3, 48, 48, generator=g) * 255
    r75 = torch.rand(1, 3, 7, 5, generator=g) * 255
    rs = {"in32": ta[:4].float().contiguous(), "in48": r48, "in75": r75}
    for k in ["in32", "in48", "in75"]:
        rs["tf_" + k] = interpolate_bilinear_2d_like_tensorflow1x(rs[k], size=(299, 299), align_corners=False)
        rs["torch_" + k] = F.interpolate(rs[k] / 255, size=(299, 299), mode="bilinear", align_corners=False)
    save_file({k: v.contiguous() for k, v in rs.items()}, os.path.join(args.out, "resize.safetensors"))

    # torch-fidelity, TF protocol.
    import torch_fidelity

    m = torch_fidelity.calculate_metrics(
        input1=U8Dataset(ta),
        input2=U8Dataset(tb),
        isc=True,
        fid=True,
        feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=pth,
        isc_splits=10,
        samples_shuffle=False,
        batch_size=args.batch,
        cuda=False,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )
    ref = {
        "tf_is_mean": m["inception_score_mean"],
        "tf_is_std": m["inception_score_std"],
        "tf_fid": m["frechet_inception_distance"],
        "n_a": args.n_a,
        "n_b": args.n_b,
    }

    # pytorch-fid, its protocol: its InceptionV3 wrapper with our weights.
    if not args.skip_pytorch_fid:
        from pytorch_fid import fid_score
        from pytorch_fid import inception as pfi

        pfi.load_state_dict_from_url = lambda *a, **k: sd
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
        stats = []
        for name, files in (("a", files_a), ("b", files_b)):
            mu, sigma = fid_score.calculate_activation_statistics(
                files, model, batch_size=args.batch, dims=2048, device="cpu", num_workers=0
            )
            np.savez(os.path.join(args.out, f"pfid_stats_{name}.npz"), mu=mu, sigma=sigma)
            stats.append((mu, sigma))
        ref["pfid_fid"] = float(fid_score.calculate_frechet_distance(*stats[0], *stats[1]))

    # Fréchet distance on well-conditioned statistics, scipy's sqrtm route.
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(11)
    d = 64
    q1, q2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1 = q1 @ q1.T / d + 0.5 * np.eye(d)
    s2 = q2 @ q2.T / d + 0.3 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) * 0.5
    fd = float(calculate_frechet_distance(mu1, s1, mu2, s2))
    np.savez(os.path.join(args.out, "frechet.npz"), mu1=mu1, sigma1=s1, mu2=mu2, sigma2=s2, fid=np.array([fd]))
    ref["scipy_fid_d64"] = fd

    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(json.dumps(ref))


if __name__ == "__main__":
    sys.exit(main())
