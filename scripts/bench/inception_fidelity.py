"""torch-fidelity's FID-Inception feature extraction timed on random images in memory: the
counterpart of `autogan bench inception` (same work: uint8 32x32 images, torch-fidelity's TF1
resize to 299, the network, 2048-d features and bias-free logits, batches of the same size,
one untimed warm-up batch, the device synchronised around the timed part).

usage: inception_fidelity.py [--images N] [--batch B] [--device cpu|cuda] [--threads T]
                             [--json]

Random weights (He-normal convs, identity batch norms: the same work per image as the real
ones, and autogan's `Inception::random`), so no weight file or network is needed. Where the
`torch_fidelity` package is not installed (a GPU machine with torch alone), its source is
taken from $AUTOGAN_PYDEPS or target/pydeps (`scripts/gpu_check.sh --prepare` copies it
there); only the extractor's own modules, which need torch alone, are imported.
"""

import argparse
import json
import os
import sys
import time
import types

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def import_extractor():
    """torch_fidelity.feature_extractor_inceptionv3, and where it came from."""
    try:
        import torch_fidelity.feature_extractor_inceptionv3 as m

        return m, "installed torch-fidelity " + getattr(sys.modules["torch_fidelity"], "__version__", "?")
    except ImportError:
        pass
    for base in (os.environ.get("AUTOGAN_PYDEPS"), os.path.join(ROOT, "target", "pydeps")):
        pkg = base and os.path.join(base, "torch_fidelity")
        if pkg and os.path.isfile(os.path.join(pkg, "feature_extractor_inceptionv3.py")):
            # a bare package object: its __init__ would import torchvision, scipy, ...
            stub = types.ModuleType("torch_fidelity")
            stub.__path__ = [pkg]
            sys.modules["torch_fidelity"] = stub
            import torch_fidelity.feature_extractor_inceptionv3 as m

            version = "?"
            vfile = os.path.join(pkg, "version.py")
            if os.path.isfile(vfile):
                for line in open(vfile):
                    if line.startswith("__version__"):
                        version = line.split("=")[1].strip().strip("'\"")
            return m, f"torch-fidelity {version} source from {pkg}"
    sys.exit("inception_fidelity.py: torch_fidelity is neither installed nor in target/pydeps "
             "(run scripts/gpu_check.sh --prepare where it is installed)")


def random_extractor(m):
    """FeatureExtractorInceptionV3 with random weights instead of the downloaded ones."""
    cls = m.FeatureExtractorInceptionV3
    load = cls.load_state_dict
    fetch = m.load_state_dict_from_url
    cls.load_state_dict = lambda self, *a, **k: None
    m.load_state_dict_from_url = lambda *a, **k: {}
    try:
        fe = cls("inception-v3-compat", ["2048", "logits_unbiased"])
    finally:
        cls.load_state_dict = load
        m.load_state_dict_from_url = fetch
    with torch.no_grad():
        for mod in fe.modules():
            if isinstance(mod, torch.nn.Conv2d):
                fan_in = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
                mod.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
            elif isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.fill_(1.0)
                mod.bias.zero_()
                mod.running_mean.zero_()
                mod.running_var.fill_(1.0)
        fe.fc.weight.normal_(0.0, 0.01)
    return fe


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    torch.backends.cudnn.benchmark = True  # as autogan on CUDA
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    m, source = import_extractor()
    fe = random_extractor(m).to(dev)
    imgs = torch.randint(0, 256, (a.images, 3, 32, 32), dtype=torch.uint8, device=dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    fe(imgs[: a.batch])
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, a.images, a.batch):
        fe(imgs[i:i + a.batch])
    sync()
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    out = {
        "bench": "inception",
        "impl": "torch-fidelity",
        "source": source,
        "torch": torch.__version__,
        "images": a.images,
        "batch": a.batch,
        "seconds": secs,
        "images_per_s": a.images / secs,
        "cpu_seconds_per_image": cpu / a.images,
        "device": str(dev) if dev.type == "cpu" else f"cuda:{dev.index or 0}",
        "threads": torch.get_num_threads(),
        "weights": "random",
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"torch-fidelity: {out['images_per_s']:.1f} images/s on {out['device']} ({source})")


if __name__ == "__main__":
    main()
