#!/usr/bin/env python3
"""Write a labelled folder of procedural textures: a second built-here data set, of another kind
than the built-in shapes (no object on a background: whole-image patterns), so that a choice
made for the search (issue 18) is not tuned to one set.

Ten classes, one subfolder each, 32x32 RGB PNG images, every choice drawn from --seed:
stripes at three angles, checkerboards, dot grids, concentric rings, smooth blobs, speckle,
linear and radial gradients; random colours, frequencies, phases and a little pixel noise.

    .venv/bin/python scripts/make_textures.py OUT_DIR [--per-class 600] [--seed 0]
    autogan search --dataset OUT_DIR ...

Needs numpy and Pillow (both come with scripts/setup.sh's .venv).
"""
import numpy as np

import labelled_folder

SIZE = 32
CLASSES = [
    "stripes_horizontal",
    "stripes_diagonal",
    "stripes_vertical",
    "checkerboard",
    "dots",
    "rings",
    "blobs",
    "speckle",
    "gradient_linear",
    "gradient_radial",
]


def two_colours(rng):
    """Two random RGB colours in 0..1 that differ clearly."""
    while True:
        a, b = rng.random(3), rng.random(3)
        if np.abs(a - b).sum() > 0.6:
            return a, b


def blend(t, rng):
    """Map a pattern t in [0, 1] (H, W) to RGB between two random colours."""
    a, b = two_colours(rng)
    return a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]


def grid():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return x, y


def stripes(rng, angle_deg):
    x, y = grid()
    ang = np.deg2rad(angle_deg + rng.uniform(-12, 12))
    period = rng.uniform(4, 10)
    u = x * np.cos(ang) + y * np.sin(ang)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:
        t = (t > 0.5).astype(np.float64)
    return blend(t, rng)


def checkerboard(rng):
    x, y = grid()
    cell = rng.integers(3, 9)
    ox, oy = rng.integers(0, cell, size=2)
    t = (((x + ox) // cell + (y + oy) // cell) % 2).astype(np.float64)
    return blend(t, rng)


def dots(rng):
    x, y = grid()
    pitch = rng.uniform(6, 11)
    radius = rng.uniform(1.2, pitch / 3)
    ox, oy = rng.uniform(0, pitch, size=2)
    dx = (x + ox) % pitch - pitch / 2
    dy = (y + oy) % pitch - pitch / 2
    t = (np.hypot(dx, dy) < radius).astype(np.float64)
    return blend(t, rng)


def rings(rng):
    x, y = grid()
    cx, cy = rng.uniform(4, SIZE - 4, size=2)
    period = rng.uniform(4, 9)
    r = np.hypot(x - cx, y - cy)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * r / period + rng.uniform(0, 2 * np.pi))
    return blend(t, rng)


def smooth_noise(rng, cells):
    """Bilinearly interpolated random values on a cells x cells lattice, in [0, 1]."""
    lat = rng.random((cells + 1, cells + 1))
    x, y = grid()
    gx = x / (SIZE - 1) * cells
    gy = y / (SIZE - 1) * cells
    x0 = np.minimum(gx.astype(int), cells - 1)
    y0 = np.minimum(gy.astype(int), cells - 1)
    fx, fy = gx - x0, gy - y0
    v = (
        lat[y0, x0] * (1 - fx) * (1 - fy)
        + lat[y0, x0 + 1] * fx * (1 - fy)
        + lat[y0 + 1, x0] * (1 - fx) * fy
        + lat[y0 + 1, x0 + 1] * fx * fy
    )
    v = (v - v.min()) / max(v.max() - v.min(), 1e-6)
    return v


def blobs(rng):
    return blend(smooth_noise(rng, int(rng.integers(2, 5))), rng)


def speckle(rng):
    t = rng.random((SIZE, SIZE))
    if rng.random() < 0.5:
        t = (t > rng.uniform(0.3, 0.7)).astype(np.float64)
    return blend(t, rng)


def gradient_linear(rng):
    x, y = grid()
    ang = rng.uniform(0, 2 * np.pi)
    u = (x - SIZE / 2) * np.cos(ang) + (y - SIZE / 2) * np.sin(ang)
    t = (u - u.min()) / (u.max() - u.min())
    return blend(t, rng)


def gradient_radial(rng):
    x, y = grid()
    cx, cy = rng.uniform(6, SIZE - 6, size=2)
    r = np.hypot(x - cx, y - cy)
    t = np.clip(r / rng.uniform(14, 26), 0, 1)
    return blend(t, rng)


def draw(k, rng):
    if k == 0:
        img = stripes(rng, 0)
    elif k == 1:
        img = stripes(rng, 45 if rng.random() < 0.5 else 135)
    elif k == 2:
        img = stripes(rng, 90)
    elif k == 3:
        img = checkerboard(rng)
    elif k == 4:
        img = dots(rng)
    elif k == 5:
        img = rings(rng)
    elif k == 6:
        img = blobs(rng)
    elif k == 7:
        img = speckle(rng)
    elif k == 8:
        img = gradient_linear(rng)
    else:
        img = gradient_radial(rng)
    img = img + rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


if __name__ == "__main__":
    labelled_folder.main(__doc__, CLASSES, draw)
