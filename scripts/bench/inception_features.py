"""Time torch-fidelity's Inception feature extraction (TF protocol, IS features) on a folder
of images; the shell script beside this file times `autogan eval` on the same folder.

Usage: inception_features.py prepare DIR N      write N 32x32 PNGs to DIR/images, random
                                                FID-Inception weights to DIR/weights.{pth,safetensors}
       inception_features.py time DIR THREADS BATCH WEIGHTS.pth
                                                print JSON: images, seconds to build the
                                                extractor, seconds to extract, images/s
"""

import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "reference"))


def prepare(out, n):
    from make_reference import random_weights, structured_images, write_pngs
    from safetensors.torch import save_file

    os.makedirs(out, exist_ok=True)
    write_pngs(os.path.join(out, "images"), structured_images(n, 1, dark=False))
    sd = random_weights(torch.from_numpy(structured_images(16, 3, dark=False)), seed=7)
    torch.save(sd, os.path.join(out, "weights.pth"))
    save_file(sd, os.path.join(out, "weights.safetensors"))


def time_fidelity(folder, threads, batch, weights):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".png"))
    t0 = time.perf_counter()
    imgs = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1) for f in files]))
    fe = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                     feature_extractor_weights_path=weights)
    t1 = time.perf_counter()
    for i in range(0, len(files), batch):
        fe(imgs[i:i + batch])
    t2 = time.perf_counter()
    print(json.dumps({"tool": "torch-fidelity", "images": len(files), "threads": threads, "batch": batch,
                      "setup_s": round(t1 - t0, 3), "extract_s": round(t2 - t1, 3),
                      "images_per_s": round(len(files) / (t2 - t1), 3)}))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 6 and sys.argv[1] == "time":
        time_fidelity(os.path.join(sys.argv[2], "images"), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
