#!/usr/bin/env python3
"""Write a labelled folder of procedural outdoor scenes: a built-here data set of another kind
than the built-in shapes (no object on a background: the whole image is a layout of regions,
horizons and many small parts, like a photograph of a landscape) and than the textures (the
class lies in the layout and the palette, which a generator learns first, as well as in the
detail), for issue 18's second comparison.

Ten classes, one subfolder each, 32x32 RGB PNG images, every choice drawn from --seed:
beach, forest, desert, mountains, sunset, night city, flower meadow, underwater, lake,
clouds. Within a class: horizon height and shape, the palette (each colour jittered), the
number, place and size of the parts (trunks, peaks, buildings, windows, flowers, bubbles,
clouds, the sun), lighting, and a little pixel noise.

    .venv/bin/python scripts/make_scenes.py OUT_DIR [--per-class 600] [--seed 0]
    autogan scorer train --dataset OUT_DIR
    autogan search --dataset OUT_DIR ...

Needs numpy and Pillow (both come with scripts/setup.sh's .venv).
"""
import numpy as np

import labelled_folder

SIZE = 32
CLASSES = [
    "beach",
    "forest",
    "desert",
    "mountains",
    "sunset",
    "night_city",
    "meadow",
    "underwater",
    "lake",
    "clouds",
]


def grid():
    """Pixel centre coordinates in [0, 1]: x to the right, y downwards."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return (x + 0.5) / SIZE, (y + 0.5) / SIZE


def colour(rng, base, jitter=0.07):
    """A palette colour: base RGB (0..1) moved a little per channel and in brightness."""
    c = np.asarray(base, dtype=np.float64) + rng.normal(0, jitter, 3)
    return np.clip(c * rng.uniform(0.85, 1.12), 0, 1)


def fill(c):
    return np.broadcast_to(np.asarray(c), (SIZE, SIZE, 3)).copy()


def vgrad(top, bottom, y0=0.0, y1=1.0):
    """Vertical gradient from top (at y0) to bottom (at y1)."""
    _, y = grid()
    t = np.clip((y - y0) / max(y1 - y0, 1e-6), 0, 1)[..., None]
    return np.asarray(top) * (1 - t) + np.asarray(bottom) * t


def soft(d, width=0.02):
    """A soft step: 0 where d << 0, 1 where d >> 0 (anti-aliased edges)."""
    return 1 / (1 + np.exp(-np.clip(d / width, -40, 40)))


def paint(img, mask, c):
    """Blend colour (or image) c into img where mask (H, W) is 1."""
    m = mask[..., None]
    return img * (1 - m) + np.asarray(c) * m


def smooth_noise(rng, cells):
    """Bilinearly interpolated random values on a cells x cells lattice, scaled to [0, 1]."""
    lat = rng.random((cells + 1, cells + 1))
    x, y = grid()
    gx, gy = x * cells, y * cells
    x0 = np.minimum(gx.astype(int), cells - 1)
    y0 = np.minimum(gy.astype(int), cells - 1)
    fx, fy = gx - x0, gy - y0
    v = (
        lat[y0, x0] * (1 - fx) * (1 - fy)
        + lat[y0, x0 + 1] * fx * (1 - fy)
        + lat[y0 + 1, x0] * (1 - fx) * fy
        + lat[y0 + 1, x0 + 1] * fx * fy
    )
    return (v - v.min()) / max(v.max() - v.min(), 1e-6)


def wave(rng, amp, periods=(0.5, 2.0)):
    """A random smooth horizon offset as a function of x: sum of two sines."""
    x, _ = grid()
    out = np.zeros_like(x)
    for _ in range(2):
        f = rng.uniform(*periods)
        out += rng.uniform(0, amp) * np.sin(2 * np.pi * f * x + rng.uniform(0, 2 * np.pi))
    return out


def disc(cx, cy, r):
    x, y = grid()
    return soft(r - np.hypot(x - cx, y - cy), 0.015)


def sky(rng):
    return vgrad(colour(rng, (0.30, 0.55, 0.90)), colour(rng, (0.70, 0.85, 0.97)))


def beach(rng):
    _, y = grid()
    h = rng.uniform(0.3, 0.5)
    shore = h + rng.uniform(0.15, 0.3)
    img = sky(rng)
    img = paint(img, soft(y - h, 0.01), vgrad(colour(rng, (0.05, 0.25, 0.55)), colour(rng, (0.10, 0.50, 0.65)), h, shore))
    line = shore + wave(rng, 0.03)
    img = paint(img, soft(y - line, 0.015), colour(rng, (0.90, 0.80, 0.55)))
    foam = soft(0.012 - np.abs(y - line + 0.01), 0.006)
    img = paint(img, 0.8 * foam, colour(rng, (0.95, 0.95, 0.95), 0.03))
    return img


def forest(rng):
    x, y = grid()
    dark, light = colour(rng, (0.05, 0.25, 0.08)), colour(rng, (0.25, 0.50, 0.15))
    t = smooth_noise(rng, int(rng.integers(4, 8)))[..., None]
    img = dark * (1 - t) + light * t
    bark = colour(rng, (0.30, 0.18, 0.08), 0.05)
    for _ in range(rng.integers(3, 8)):
        cx, w = rng.uniform(0, 1), rng.uniform(0.03, 0.08)
        top = rng.uniform(0.0, 0.5)
        img = paint(img, soft(w / 2 - np.abs(x - cx), 0.01) * soft(y - top, 0.02), bark * rng.uniform(0.7, 1.2))
    ground = rng.uniform(0.8, 0.92) + wave(rng, 0.02)
    img = paint(img, soft(y - ground, 0.015), colour(rng, (0.22, 0.16, 0.07), 0.05))
    return img


def desert(rng):
    _, y = grid()
    img = vgrad(colour(rng, (0.55, 0.70, 0.90)), colour(rng, (0.92, 0.88, 0.75)))
    h = rng.uniform(0.35, 0.55)
    sand = colour(rng, (0.88, 0.62, 0.30))
    img = paint(img, soft(y - (h + wave(rng, 0.06)), 0.012), vgrad(sand, sand * 0.75, h, 1.0))
    for _ in range(rng.integers(1, 3)):
        h2 = rng.uniform(h + 0.1, 0.85)
        img = paint(img, soft(y - (h2 + wave(rng, 0.05)), 0.02), sand * rng.uniform(0.7, 0.95))
    return img


def mountains(rng):
    x, y = grid()
    img = sky(rng)
    rock = colour(rng, (0.42, 0.42, 0.48), 0.05)
    snow = colour(rng, (0.95, 0.96, 1.0), 0.02)
    for _ in range(rng.integers(2, 4)):
        px, py = rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.45)
        slope = rng.uniform(0.8, 1.6)
        edge = py + slope * np.abs(x - px)
        inside = soft(y - edge, 0.012)
        shade = rock * rng.uniform(0.75, 1.15)
        img = paint(img, inside, shade)
        img = paint(img, inside * soft(py + rng.uniform(0.07, 0.15) - y, 0.015), snow)
    ground = rng.uniform(0.75, 0.88)
    img = paint(img, soft(y - (ground + wave(rng, 0.02)), 0.015), colour(rng, (0.25, 0.40, 0.20)))
    return img


def sunset(rng):
    x, y = grid()
    h = rng.uniform(0.55, 0.75)
    img = vgrad(colour(rng, (0.35, 0.15, 0.45)), colour(rng, (0.98, 0.55, 0.20)), 0.0, h)
    sun = disc(rng.uniform(0.2, 0.8), h - rng.uniform(0.0, 0.15), rng.uniform(0.07, 0.14))
    img = paint(img, sun, colour(rng, (1.0, 0.85, 0.35), 0.04))
    img = paint(img, soft(y - (h + wave(rng, 0.05)), 0.012), colour(rng, (0.08, 0.04, 0.08), 0.03))
    return img


def night_city(rng):
    x, y = grid()
    img = vgrad(colour(rng, (0.02, 0.03, 0.12), 0.03), colour(rng, (0.12, 0.12, 0.30), 0.04))
    for _ in range(rng.integers(3, 9)):
        img = paint(img, disc(rng.uniform(0, 1), rng.uniform(0, 0.35), 0.012) * rng.uniform(0.4, 1), (1, 1, 0.9))
    lit = colour(rng, (0.98, 0.82, 0.35), 0.05)
    wall = colour(rng, (0.06, 0.06, 0.09), 0.02)
    ix, iy = np.floor(x * SIZE), np.floor(y * SIZE)
    left = 0.0
    while left < 1.0:
        w = rng.uniform(0.08, 0.22)
        top = rng.uniform(0.25, 0.7)
        b = soft(y - top, 0.008) * soft(x - left, 0.005) * soft(left + w - x, 0.005)
        img = paint(img, b, wall * rng.uniform(0.7, 1.6))
        win = ((ix % 3 == 1) & (iy % 3 == 1)).astype(np.float64) * (rng.random((SIZE, SIZE)) < rng.uniform(0.2, 0.7))
        img = paint(img, b * win * soft(y - top - 0.04, 0.01), lit)
        left += w + rng.uniform(0.0, 0.05)
    return img


def meadow(rng):
    x, y = grid()
    h = rng.uniform(0.25, 0.45)
    img = sky(rng)
    green = colour(rng, (0.30, 0.62, 0.20))
    img = paint(img, soft(y - (h + wave(rng, 0.04)), 0.012), vgrad(green * 0.85, green * 1.1, h, 1.0))
    palette = [(0.95, 0.20, 0.20), (0.98, 0.90, 0.20), (0.98, 0.98, 0.98), (0.70, 0.30, 0.85)]
    for _ in range(rng.integers(15, 40)):
        fy = rng.uniform(h + 0.05, 1.0)
        r = 0.008 + 0.03 * (fy - h)
        c = colour(rng, palette[rng.integers(0, len(palette))], 0.04)
        img = paint(img, disc(rng.uniform(0, 1), fy, r), c)
    return img


def underwater(rng):
    x, y = grid()
    img = vgrad(colour(rng, (0.15, 0.65, 0.70)), colour(rng, (0.02, 0.12, 0.35), 0.04))
    ang = rng.uniform(-0.5, 0.5)
    u = x * np.cos(ang) + y * np.sin(ang)
    rays = 0.5 + 0.5 * np.sin(2 * np.pi * u * rng.uniform(3, 7) + rng.uniform(0, 6.3))
    img = img + (rays * np.clip(1 - y * 1.3, 0, 1) * rng.uniform(0.08, 0.18))[..., None]
    if rng.random() < 0.5:
        img = paint(img, soft(y - (rng.uniform(0.8, 0.92) + wave(rng, 0.03)), 0.015), colour(rng, (0.70, 0.65, 0.45)))
    for _ in range(rng.integers(3, 10)):
        cx, cy, r = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.9), rng.uniform(0.012, 0.035)
        ring = soft(r - np.hypot(x - cx, y - cy), 0.01) - 0.6 * disc(cx, cy, r * 0.55)
        img = paint(img, np.clip(ring, 0, 1) * 0.8, (0.85, 0.95, 1.0))
    return img


def lake(rng):
    x, y = grid()
    h = rng.uniform(0.4, 0.6)
    top = sky(rng)
    hills = colour(rng, (0.15, 0.35, 0.18))
    ridge = h - rng.uniform(0.08, 0.22) - 0.1 * smooth_noise(rng, int(rng.integers(3, 6)))[0][None, :]
    top = paint(top, soft(y - ridge, 0.012), hills)
    # The water below h mirrors the rows above it, darker and bluer, with ripples.
    iy = np.clip(np.round(((2 * h - y) * SIZE) - 0.5).astype(int), 0, SIZE - 1)
    mirror = top[iy, np.arange(SIZE)[None, :]]
    ripples = 1 + rng.uniform(0.03, 0.1) * np.sin(2 * np.pi * y * rng.uniform(8, 14) + rng.uniform(0, 6.3))
    water = (mirror * 0.7 + np.array([0.0, 0.05, 0.15])) * ripples[..., None]
    return paint(top, soft(y - h, 0.008), water)


def clouds(rng):
    img = vgrad(colour(rng, (0.25, 0.50, 0.88)), colour(rng, (0.55, 0.75, 0.95)))
    t = smooth_noise(rng, int(rng.integers(3, 7)))
    cover = rng.uniform(0.3, 0.65)
    mask = soft(t - cover, 0.08)
    shade = 0.85 + 0.15 * smooth_noise(rng, 5)
    white = colour(rng, (0.92, 0.92, 0.94), 0.04)
    return paint(img, mask, white[None, None, :] * shade[..., None])


DRAW = [beach, forest, desert, mountains, sunset, night_city, meadow, underwater, lake, clouds]


def draw(k, rng):
    img = DRAW[k](rng)
    img = img + rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


if __name__ == "__main__":
    labelled_folder.main(__doc__, CLASSES, draw)
