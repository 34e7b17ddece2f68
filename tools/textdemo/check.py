"""Exact analytic checker of the text-to-image demo's pictures (no learning; ported to C as-is
in src/metrics/textdemo_check.c): does a 32x32 RGB image show what its prompt names?

read(img) -> (colour, shape, background) indices, each -1 when not seen:

 1-4. As tools/demo/classify.py: background bg[c] = the median (index 62 of 124) of the border
      pixels per channel; d(p) = max over c of |img[p][c] - bg[c]|; foreground fg = {d > 72},
      n = |fg| (colour and shape are -1 when n < 24); dmax = max d over fg; m[c] = the mean of
      img[p][c] over the core {p in fg : 4 d(p) >= 3 dmax}.
 5.   Colour: the nearest of COLOURS by squared distance (lowest index on ties); -1 when that
      distance exceeds 64^2.
 6.   Shape: q = n^2 / (2 pi S), S = sum over fg of (x - cx)^2 + (y - cy)^2 about the centroid
      (-1 if S == 0); ring for 0.50 <= q < 0.657, frame for 0.657 <= q < 0.79, triangle for
      0.79 <= q < 0.93, circle for 0.93 <= q <= 1.08, else -1.  (The data set's ranges, on 1200
      images per shape: ring 0.576-0.660, frame 0.640-0.773, triangle 0.808-0.859, circle 0.999-
      1.001: about 0.5 % of the data set's rings and frames fall on the other side of 0.657.)
 7.   Background: dark when (bg[0] + bg[1] + bg[2]) < 3 * 128, else light.

shows(img, prompt) -> 1 when the prompt's colour word and shape word (and its background word,
if it names one) are what read() sees, 0 when not, -1 when the prompt names no known colour or
shape. Words are matched whole, lower-cased, split on spaces.

Command line: `python tools/textdemo/check.py [--n 1200] [--seed 1]` reports the checker on
data-set images; `--fixture DIR` writes the images and verdicts the C port is tested against.
"""

import argparse
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

COLOURS = ["red", "green", "blue", "yellow", "magenta", "cyan"]
RGB = [(235, 35, 35), (35, 215, 35), (40, 60, 245), (240, 225, 35), (225, 35, 225), (35, 220, 230)]
SHAPES = ["circle", "triangle", "frame", "ring"]
BACKGROUNDS = ["dark", "light"]
FG_THRESHOLD = 72
MIN_PIXELS = 24
MAX_COLOUR_DIST2 = 64 * 64


def shape_of(q):
    if 0.50 <= q < 0.657:
        return 3
    if 0.657 <= q < 0.79:
        return 2
    if 0.79 <= q < 0.93:
        return 1
    if 0.93 <= q <= 1.08:
        return 0
    return -1


def read(img):
    im = np.asarray(img).astype(np.int64)
    border = np.concatenate([im[0], im[31], im[1:31, 0], im[1:31, 31]])
    bg = np.sort(border, axis=0)[62]
    background = 0 if int(bg.sum()) < 3 * 128 else 1
    d = np.abs(im - bg).max(axis=2)
    fg = d > FG_THRESHOLD
    n = int(fg.sum())
    if n < MIN_PIXELS:
        return -1, -1, background
    dmax = int(d[fg].max())
    core = fg & (4 * d >= 3 * dmax)
    m = im[core].astype(np.float64).mean(axis=0)
    colour, best = -1, math.inf
    for k, col in enumerate(RGB):
        dk = sum((m[c] - col[c]) ** 2 for c in range(3))
        if dk < best:
            colour, best = k, dk
    if best > MAX_COLOUR_DIST2:
        colour = -1
    ys, xs = np.nonzero(fg)
    S = float(((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2).sum())
    shape = -1 if S == 0.0 else shape_of(n * n / (2.0 * math.pi * S))
    return colour, shape, background


def shows(img, prompt):
    words = prompt.lower().split(" ")
    want_c = next((COLOURS.index(w) for w in words if w in COLOURS), -1)
    want_s = next((SHAPES.index(w) for w in words if w in SHAPES), -1)
    want_b = next((BACKGROUNDS.index(w) for w in words if w in BACKGROUNDS), -1)
    if want_c < 0 or want_s < 0:
        return -1
    c, s, b = read(img)
    return int(c == want_c and s == want_s and (want_b < 0 or b == want_b))


def main():
    import captions

    ap = argparse.ArgumentParser(description="the text demo's checker on data-set images")
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fixture", help="write images.npy and cases.json for the C port's test here")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    imgs, prompts = [], []
    for i in range(args.n):
        c, s = pairs[i % len(pairs)]
        b = BACKGROUNDS[(i // len(pairs)) % 2]
        imgs.append(captions.render(c, s, b, rng))
        prompts.append(captions.caption(c, s, b))
    ok = [shows(im, p) for im, p in zip(imgs, prompts)]
    print(f"shows the prompt: {100.0 * np.mean(ok):.2f}% of {args.n} data-set images (seed {args.seed})")
    if args.fixture:
        # Data-set images, each with its own prompt and with a wrong one, plus pure noise.
        os.makedirs(args.fixture, exist_ok=True)
        noise = np.random.default_rng(3).integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
        all_imgs = np.concatenate([np.stack(imgs[:100]), noise])
        cases = []
        for i, im in enumerate(all_imgs):
            p = prompts[i] if i < 100 else "a red circle"
            wrong = prompts[(i + 7) % 100]
            cases.append(dict(prompt=p, wrong=wrong, read=list(read(im)), shows=shows(im, p),
                              shows_wrong=shows(im, wrong)))
        cases.append(dict(prompt="a purple square", wrong="", read=[0, 0, 0], shows=-1, shows_wrong=-1))
        np.save(os.path.join(args.fixture, "images.npy"), all_imgs)
        with open(os.path.join(args.fixture, "cases.json"), "w") as f:
            json.dump(dict(tool="tools/textdemo/check.py", cases=cases), f, indent=0)
            f.write("\n")
        print(f"wrote {len(cases)} cases to {args.fixture}")


if __name__ == "__main__":
    main()
