"""The command line shared by the data set generators of scripts/ (make_textures.py,
make_scenes.py): write --per-class images of every class, drawn from one --seed, as a labelled
folder (one subfolder per class, 32x32 RGB PNG files) that autogan reads with --dataset DIR.
"""
import argparse
import os
import sys

from PIL import Image


def main(doc, classes, draw):
    """Parse OUT [--per-class N] [--seed S] and write the folder; draw(k, rng) returns class
    k's next image as uint8 (32, 32, 3). A folder that is not empty is refused."""
    import numpy as np

    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("out", help="folder to create (must not exist or be empty)")
    p.add_argument("--per-class", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.per_class < 1:
        sys.exit("--per-class must be at least 1")
    if os.path.exists(a.out) and os.listdir(a.out):
        sys.exit(f"{a.out} exists and is not empty: give a new folder")
    rng = np.random.default_rng(a.seed)
    for k, name in enumerate(classes):
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        for i in range(a.per_class):
            Image.fromarray(draw(k, rng)).save(os.path.join(d, f"{i:05d}.png"))
    print(f"{len(classes) * a.per_class} images in {len(classes)} classes written to {a.out}")
