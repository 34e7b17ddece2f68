"""Procedural captioned images for the shipped text-to-image model (models/textdemo).

Every image is 32x32 RGB (uint8) with ONE shape; its caption names the shape's colour, the
shape and, most of the time, the background:

    "a red ring on a dark background"     (background named: 80 % of the captions)
    "a red ring"                          (background not named: either kind is drawn)

colours (RGB before a +-12 jitter): red (235, 35, 35), green (35, 215, 35), blue (40, 60, 245),
yellow (240, 225, 35), magenta (225, 35, 225), cyan (35, 220, 230);
shapes: circle (disc), triangle (equilateral), frame (hollow square), ring (annulus) -- drawn
by tools/demo/dataset.py's shape_mask, chosen so that their compactness q (the checker's shape
statistic) lies in four separate ranges: ring 0.58-0.65, frame 0.66-0.78, triangle 0.80-0.87,
circle 1.0;
backgrounds: dark (grey 8..80, as the class demo) or light (grey 175..247), with a +-10 tint
and a weak gradient.

Size (circumradius 9..12 px), position and rotation are random, edges anti-aliased (4x4
supersampling), exactly as the class demo draws them.

HELD_OUT: four colour-shape pairs never shown in training (one per shape), to see whether
the model composes colour and shape words it has only seen apart.

Command line: `python tools/textdemo/captions.py --out grid.png` draws a preview.
"""

import argparse
import math
import os
import sys

import numpy as np

def _load_shapes():
    """tools/demo/dataset.py (shape_mask, the supersampling grid), under a name of its own."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "dataset.py")
    spec = importlib.util.spec_from_file_location("demo_shapes", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


shapes = _load_shapes()

IMAGE_SIZE = 32
COLOURS = [("red", (235, 35, 35)), ("green", (35, 215, 35)), ("blue", (40, 60, 245)),
           ("yellow", (240, 225, 35)), ("magenta", (225, 35, 225)), ("cyan", (35, 220, 230))]
SHAPES = ["circle", "triangle", "frame", "ring"]
BACKGROUNDS = ["dark", "light"]
HELD_OUT = [("blue", "circle"), ("yellow", "triangle"), ("green", "frame"), ("red", "ring")]
P_BACKGROUND_NAMED = 0.8


def caption(colour, shape, background=None):
    return f"a {colour} {shape}" + (f" on a {background} background" if background else "")


def combos(held_out=False):
    """(colour, shape) pairs: the training ones, or the held-out ones."""
    out = [(c, s) for c, _ in COLOURS for s in SHAPES]
    return [p for p in out if (p in HELD_OUT) == held_out]


def render(colour, shape, background, rng):
    """uint8 [32, 32, 3]: one `colour` `shape` on a `background` ("dark"/"light") background."""
    rgb = dict(COLOURS)[colour]
    R = rng.uniform(9.0, 12.0)
    cx = rng.uniform(R + 1.0, IMAGE_SIZE - 1.0 - R)
    cy = rng.uniform(R + 1.0, IMAGE_SIZE - 1.0 - R)
    theta = rng.uniform(0.0, 2.0 * math.pi)
    col = np.clip(np.array(rgb, dtype=np.float64) + rng.uniform(-12.0, 12.0, size=3), 0, 255)
    grey = rng.uniform(8.0, 80.0) if background == "dark" else rng.uniform(175.0, 247.0)
    tint = rng.uniform(-10.0, 10.0, size=3)
    grad_amp = rng.uniform(0.0, 12.0)
    grad_dir = rng.uniform(0.0, 2.0 * math.pi)
    ys, xs = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64)
    proj = ((xs - 15.5) * math.cos(grad_dir) + (ys - 15.5) * math.sin(grad_dir)) / 31.0
    bg = grey + tint[None, None, :] + (grad_amp * proj)[:, :, None]
    dx, dy = shapes._GX - cx, shapes._GY - cy
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * dx + s * dy, -s * dx + c * dy
    m = shapes.shape_mask(shape, u, v, R).astype(np.float64)
    k = shapes.SUPERSAMPLE
    alpha = m.reshape(IMAGE_SIZE, k, IMAGE_SIZE, k).mean(axis=(1, 3))
    img = bg * (1.0 - alpha[:, :, None]) + col[None, None, :] * alpha[:, :, None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_dataset(n, seed):
    """n training images and their captions: combos cycle, background and whether the caption
    names it drawn at random. Returns (images uint8 [n, 32, 32, 3], captions list of str)."""
    rng = np.random.default_rng(seed)
    pairs = combos()
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    caps = []
    for i in range(n):
        colour, shape = pairs[i % len(pairs)]
        background = BACKGROUNDS[int(rng.integers(2))]
        named = rng.uniform() < P_BACKGROUND_NAMED
        images[i] = render(colour, shape, background, rng)
        caps.append(caption(colour, shape, background if named else None))
    return images, caps


def all_captions():
    """Every caption the training set can hold (what the tokenizer is trained on)."""
    return [caption(c, s, b) for c, s in combos() for b in [None] + BACKGROUNDS]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    imgs = [render(c, s, b, rng) for c, _ in COLOURS for s in SHAPES for b in BACKGROUNDS]
    shapes.save_grid(np.stack(imgs), args.out, rows=len(COLOURS))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()


def eval_prompts(held_out=False, per_pair=5):
    """Prompts for measuring the model: every (colour, shape) pair of the training set (or the
    held-out ones) on each background, per_pair times in turn (pair-major within a round)."""
    out = []
    for _ in range(per_pair):
        for b in BACKGROUNDS:
            out += [caption(c, s, b) for c, s in combos(held_out)]
    return out


def write_prompt_files(folder):
    """The prompt files shipped beside the model: 200 seen prompts, 40 held-out ones, and the 10
    calibration prompts (the paper calibrates on 10 samples)."""
    import random
    seen = eval_prompts(False, 5)
    files = {"prompts-seen.txt": seen, "prompts-held-out.txt": eval_prompts(True, 5),
             "prompts-calibration.txt": random.Random(1).sample(sorted(set(seen)), 10)}
    for name, lines in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write("".join(p + "\n" for p in lines))
