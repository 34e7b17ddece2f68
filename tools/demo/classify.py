"""Exact analytic classifier for the demo dataset (no learning; ported to C as-is).

classify(img) takes a 32x32 RGB image as uint8 values (array [32][32][3], row-major,
img[y][x][c]) and returns a class id 0..9, or -1 when it sees no valid object.

Algorithm (all thresholds are part of the specification):

 1. Background.  For each channel c, take the 124 border pixels (rows 0 and 31, plus
    columns 0 and 31 of rows 1..30), sort their values ascending, and let bg[c] be the
    element at 0-based index 62.
 2. Distance.  For every pixel p: d(p) = max over c of |img[p][c] - bg[c]| (an integer).
 3. Foreground.  fg = { p : d(p) > FG_THRESHOLD (72) }, n = |fg|.
    If n < MIN_PIXELS (24): return -1.
 4. Colour.  dmax = max of d over fg.  core = { p in fg : 4*d(p) >= 3*dmax }.
    m[c] = mean of img[p][c] over core (float64).
 5. Nearest class colour.  k = the class whose COLOURS[k] minimises
    D(k) = sum over c of (m[c] - COLOURS[k][c])^2 (lowest k on ties).
    If D(k) > MAX_COLOUR_DIST2 (64^2 = 4096): return -1.
 6. Shape check.  With x, y the column and row of each fg pixel (integers): centroid
    cx = mean x, cy = mean y over fg; S = sum over fg of (x-cx)^2 + (y-cy)^2;
    compactness q = n^2 / (2 * pi * S) (if S == 0: return -1).
    If q < SHAPE_RANGE[k][0] or q > SHAPE_RANGE[k][1]: return -1.
 7. Return k.

(q compares the object's area with its second moment about the centroid: 1.0 for a disc,
the most compact shape, 0.99 for the hexagon, about 0.96 for a square, 0.83 for a triangle,
0.62 for the ring and 0.58 for the target.  Being a sum over all the object's pixels, it moves little
when a generated shape has ragged edges or a few stray pixels.)

Command line: `python tools/demo/classify.py [--n 2000] [--seed 1]` reports the accuracy
on freshly generated dataset images.
"""

import argparse
import math

import numpy as np

FG_THRESHOLD = 72
MIN_PIXELS = 24
MAX_COLOUR_DIST2 = 64 * 64

# Class colours (same as dataset.CLASSES, repeated here so the classifier stands alone).
COLOURS = [
    (235, 35, 35),    # 0 red_circle
    (35, 215, 35),    # 1 green_square
    (40, 60, 245),    # 2 blue_triangle
    (240, 225, 35),   # 3 yellow_cross
    (225, 35, 225),   # 4 magenta_ring
    (35, 220, 230),   # 5 cyan_diamond
    (250, 135, 20),   # 6 orange_hexagon
    (240, 240, 240),  # 7 white_star
    (145, 40, 250),   # 8 violet_target
    (40, 250, 145),   # 9 spring_frame
]

# Accepted compactness q per class, inclusive: the range seen on 20000 dataset images
# (2000 per class, seed 999, in brackets), widened by about 0.08 on each side.
SHAPE_RANGE = [
    (0.92, 1.08),  # 0 circle     (dataset: 0.999 .. 1.001)
    (0.85, 1.06),  # 1 square     (0.935 .. 0.976)
    (0.72, 0.95),  # 2 triangle   (0.800 .. 0.869)
    (0.70, 0.94),  # 3 cross      (0.783 .. 0.862)
    (0.50, 0.73),  # 4 ring       (0.583 .. 0.653)
    (0.72, 0.96),  # 5 diamond    (0.802 .. 0.881)
    (0.90, 1.08),  # 6 hexagon    (0.988 .. 0.997)
    (0.75, 0.96),  # 7 star       (0.832 .. 0.884)
    (0.45, 0.70),  # 8 target     (0.532 .. 0.621)
    (0.58, 0.86),  # 9 frame      (0.661 .. 0.776)
]


def classify(img, check_shape=True):
    """Class id 0..9 of a uint8 [32, 32, 3] image, or -1 (see the module docstring).

    check_shape=False skips step 6 (a diagnostic: colour only)."""
    im = np.asarray(img).astype(np.int64)
    border = np.concatenate([im[0], im[31], im[1:31, 0], im[1:31, 31]])  # [124, 3]
    bg = np.sort(border, axis=0)[62]
    d = np.abs(im - bg).max(axis=2)
    fg = d > FG_THRESHOLD
    n = int(fg.sum())
    if n < MIN_PIXELS:
        return -1
    dmax = int(d[fg].max())
    core = fg & (4 * d >= 3 * dmax)
    m = im[core].astype(np.float64).mean(axis=0)
    best, best_d = -1, math.inf
    for k, col in enumerate(COLOURS):
        dk = sum((m[c] - col[c]) ** 2 for c in range(3))
        if dk < best_d:
            best, best_d = k, dk
    if best_d > MAX_COLOUR_DIST2:
        return -1
    if not check_shape:
        return best
    ys, xs = np.nonzero(fg)
    cx, cy = xs.mean(), ys.mean()
    S = float(((xs - cx) ** 2 + (ys - cy) ** 2).sum())
    if S == 0.0:
        return -1
    q = n * n / (2.0 * math.pi * S)
    lo, hi = SHAPE_RANGE[best]
    if q < lo or q > hi:
        return -1
    return best


def compactness(img):
    """Steps 1-3 and 6 only: the q of the foreground (for calibrating SHAPE_RANGE)."""
    im = np.asarray(img).astype(np.int64)
    border = np.concatenate([im[0], im[31], im[1:31, 0], im[1:31, 31]])
    bg = np.sort(border, axis=0)[62]
    fg = np.abs(im - bg).max(axis=2) > FG_THRESHOLD
    ys, xs = np.nonzero(fg)
    S = float(((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2).sum())
    return len(xs) ** 2 / (2.0 * math.pi * S)


def main():
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import dataset

    ap = argparse.ArgumentParser(description="accuracy of the analytic classifier on dataset images")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    images, labels = dataset.make_dataset(args.n, args.seed)
    pred = np.array([classify(im) for im in images])
    acc = float((pred == labels).mean())
    print(f"accuracy {acc * 100:.2f}% on {args.n} dataset images (seed {args.seed}); "
          f"rejected {int((pred == -1).sum())}, wrong class {int(((pred != labels) & (pred >= 0)).sum())}")
    for k in range(dataset.NUM_CLASSES):
        sel = labels == k
        print(f"  {k} {dataset.CLASS_NAMES[k]:16s} {float((pred[sel] == k).mean()) * 100:6.2f}%")


if __name__ == "__main__":
    main()
