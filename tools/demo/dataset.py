"""Procedural class-conditional image dataset for the smoothcache demo model.

Every image is 32x32 RGB (uint8) and shows ONE shape on a plain, dark, low-saturation
background.  The class fixes both the shape and the colour:

    id  name                 shape          colour (RGB, before jitter)
    0   red_circle           disc           (235,  35,  35)
    1   green_square         square         ( 35, 215,  35)
    2   blue_triangle        triangle       ( 40,  60, 245)
    3   yellow_cross         plus sign      (240, 225,  35)
    4   magenta_ring         annulus        (225,  35, 225)
    5   cyan_diamond         rhombus 5:3    ( 35, 220, 230)
    6   orange_hexagon       hexagon        (250, 135,  20)
    7   white_star           5-point star   (240, 240, 240)
    8   violet_target        disc in a ring (145,  40, 250)
    9   spring_frame         hollow square  ( 40, 250, 145)

Per image (all drawn from one numpy Generator, so a seed gives the same images on every
machine and numpy version that keeps PCG64 + the documented distributions):

* size: circumradius R ~ U[9, 12) pixels (every shape fits in the disc of radius R);
* position: centre (cx, cy) ~ U[R+1, 31-R) per axis, so the shape never touches the border;
* rotation: theta ~ U[0, 2 pi);
* colour: class colour + per-channel jitter ~ U[-12, 12], clipped to [0, 255];
* background: grey level g ~ U[8, 80) plus a per-channel tint ~ U[-10, 10], plus a weak
  linear gradient of amplitude ~ U[0, 12) in a random direction (so every channel stays in
  [0, 96]; every class colour has a channel >= 203 after jitter, so the foreground stands out);
* anti-aliasing: coverage computed on a 4x4 supersampling grid per pixel.

Command line: `python tools/demo/dataset.py --out grid.png` writes a preview grid.
"""

import argparse
import math

import numpy as np

IMAGE_SIZE = 32
SUPERSAMPLE = 4

CLASSES = [
    ("red_circle", "circle", (235, 35, 35)),
    ("green_square", "square", (35, 215, 35)),
    ("blue_triangle", "triangle", (40, 60, 245)),
    ("yellow_cross", "cross", (240, 225, 35)),
    ("magenta_ring", "ring", (225, 35, 225)),
    ("cyan_diamond", "diamond", (35, 220, 230)),
    ("orange_hexagon", "hexagon", (250, 135, 20)),
    ("white_star", "star", (240, 240, 240)),
    ("violet_target", "target", (145, 40, 250)),
    ("spring_frame", "frame", (40, 250, 145)),
]
NUM_CLASSES = len(CLASSES)
CLASS_NAMES = [c[0] for c in CLASSES]
CLASS_COLOURS = np.array([c[2] for c in CLASSES], dtype=np.float64)

# Supersampling grid: sample positions (pixel centres of the 128x128 grid) in pixel units.
_N = IMAGE_SIZE * SUPERSAMPLE
_coords = (np.arange(_N, dtype=np.float64) + 0.5) / SUPERSAMPLE
_GX, _GY = np.meshgrid(_coords, _coords)  # _GX[y, x] = x coordinate


def _star_inside(u, v, R, inner=0.50, points=5):
    """5-point star with outer radius R and inner radius inner*R, one tip along +u."""
    r = np.hypot(u, v)
    sector = 2.0 * math.pi / points
    a = np.mod(np.arctan2(v, u), sector)
    a = np.minimum(a, sector - a)  # fold to [0, pi/points]
    px, py = r * np.cos(a), r * np.sin(a)
    # edge from tip (R, 0) to inner vertex (ri cos(pi/p), ri sin(pi/p)); inside = origin side
    ri = inner * R
    ex, ey = ri * math.cos(sector / 2) - R, ri * math.sin(sector / 2)
    cross = ex * (py - 0.0) - ey * (px - R)
    # origin: ex*(0) - ey*(0 - R) = ey*R > 0, so inside means cross >= 0
    return cross >= 0


def shape_mask(shape, u, v, R):
    """Boolean mask of points (u, v) (shape-local coordinates, centre at 0) inside the shape."""
    if shape == "circle":
        return u * u + v * v <= R * R
    if shape == "square":
        s = R / math.sqrt(2.0)
        return (np.abs(u) <= s) & (np.abs(v) <= s)
    if shape == "triangle":
        # equilateral, circumradius R, one vertex along +v
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            ang = math.pi / 2 + 2 * math.pi * k / 3 + math.pi  # outward normal of edge k
            nx, ny = math.cos(ang), math.sin(ang)
            inside &= (u * nx + v * ny) <= R / 2.0
        return inside
    if shape == "cross":
        a, b = 0.95 * R, 0.30 * R
        return ((np.abs(u) <= a) & (np.abs(v) <= b)) | ((np.abs(u) <= b) & (np.abs(v) <= a))
    if shape == "ring":
        rr = u * u + v * v
        return (rr <= R * R) & (rr >= (0.50 * R) ** 2)
    if shape == "diamond":
        return np.abs(u) / R + np.abs(v) / (0.60 * R) <= 1.0
    if shape == "hexagon":
        # regular, circumradius R, one vertex along +u: inside all 6 edges at distance R cos 30
        inside = np.ones_like(u, dtype=bool)
        for k in range(6):
            ang = math.pi / 6 + math.pi * k / 3
            inside &= (u * math.cos(ang) + v * math.sin(ang)) <= R * math.cos(math.pi / 6)
        return inside
    if shape == "star":
        return _star_inside(u, v, R)
    if shape == "target":
        # a disc of radius 0.35 R inside a ring from 0.68 R to R
        rr = u * u + v * v
        return (rr <= (0.35 * R) ** 2) | ((rr >= (0.68 * R) ** 2) & (rr <= R * R))
    if shape == "frame":
        s, t = R / math.sqrt(2.0), 0.28 * R
        outer = (np.abs(u) <= s) & (np.abs(v) <= s)
        inner = (np.abs(u) < t) & (np.abs(v) < t)
        return outer & ~inner
    raise ValueError(shape)


def render(label, rng, shape=None):
    """Draw one image of class `label` with generator `rng`. Returns uint8 [32, 32, 3].

    `shape` overrides the class's shape (the colour stays the class's): test images that
    probe the classifier's shape ranges from both sides."""
    _, class_shape, colour = CLASSES[label]
    shape = shape or class_shape
    R = rng.uniform(9.0, 12.0)
    cx = rng.uniform(R + 1.0, IMAGE_SIZE - 1.0 - R)
    cy = rng.uniform(R + 1.0, IMAGE_SIZE - 1.0 - R)
    theta = rng.uniform(0.0, 2.0 * math.pi)
    col = np.clip(np.array(colour, dtype=np.float64) + rng.uniform(-12.0, 12.0, size=3), 0, 255)
    grey = rng.uniform(8.0, 80.0)
    tint = rng.uniform(-10.0, 10.0, size=3)
    grad_amp = rng.uniform(0.0, 12.0)
    grad_dir = rng.uniform(0.0, 2.0 * math.pi)

    # background with a weak linear gradient (ranges over +-grad_amp/2 across the image)
    ys, xs = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64)
    proj = ((xs - 15.5) * math.cos(grad_dir) + (ys - 15.5) * math.sin(grad_dir)) / 31.0
    bg = grey + tint[None, None, :] + (grad_amp * proj)[:, :, None]

    # shape coverage on the supersampled grid
    dx, dy = _GX - cx, _GY - cy
    c, s = math.cos(theta), math.sin(theta)
    u = c * dx + s * dy
    v = -s * dx + c * dy
    m = shape_mask(shape, u, v, R).astype(np.float64)
    alpha = m.reshape(IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE, SUPERSAMPLE).mean(axis=(1, 3))

    img = bg * (1.0 - alpha[:, :, None]) + col[None, None, :] * alpha[:, :, None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_dataset(n, seed, labels=None):
    """n images with labels cycling 0..NUM_CLASSES-1 (or the given labels), from one seed.

    Returns (images uint8 [n, 32, 32, 3], labels int64 [n]).
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = np.arange(n, dtype=np.int64) % NUM_CLASSES
    labels = np.asarray(labels, dtype=np.int64)
    images = np.empty((len(labels), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for i, lab in enumerate(labels):
        images[i] = render(int(lab), rng)
    return images, labels


def save_grid(images, path, rows, scale=4):
    """Save images [rows*cols, 32, 32, 3] uint8 as a PNG grid (one row per `rows`)."""
    from PIL import Image

    n = len(images)
    cols = (n + rows - 1) // rows
    pad = 2
    H = rows * (IMAGE_SIZE + pad) + pad
    W = cols * (IMAGE_SIZE + pad) + pad
    canvas = np.full((H, W, 3), 128, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (IMAGE_SIZE + pad), pad + c * (IMAGE_SIZE + pad)
        canvas[y:y + IMAGE_SIZE, x:x + IMAGE_SIZE] = images[i]
    Image.fromarray(canvas).resize((W * scale, H * scale), Image.NEAREST).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="PNG preview grid to write")
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    labels = np.repeat(np.arange(NUM_CLASSES), args.per_class)
    images, _ = make_dataset(len(labels), args.seed, labels)
    save_grid(images, args.out, rows=NUM_CLASSES)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
