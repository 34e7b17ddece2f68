"""How many clips the engine generated sound like their prompts, by the C checker
(sc_audiodemo_hears, called from the smoothcache library through ctypes) or, with --python,
by tools/audiodemo/check.py (the same rules).

    smoothcache generate --model DIR --prompts PROMPTS.txt --out clips.npz [--cache ...]
    python tools/audiodemo/measure.py clips.npz PROMPTS.txt [--lib build/libsmoothcache.so]

clips.npz is what `generate` writes for sound: audio float32 [n, channels, samples] and
sample_rate; PROMPTS.txt holds one prompt a line, clip i's on line i. Prints the share heard,
by kind, and the clips not heard with what the checker read in them.
"""

import argparse
import ctypes
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import check  # noqa: E402


def c_checker(lib_path):
    lib = ctypes.CDLL(lib_path)
    f = lib.sc_audiodemo_hears
    f.restype = ctypes.c_int
    f.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_int, ctypes.c_int64, ctypes.c_int, ctypes.c_char_p]

    def hears(wave, sr, caption):
        w = np.ascontiguousarray(wave, dtype=np.float32)
        ch, n = (1, w.shape[0]) if w.ndim == 1 else w.shape
        return f(w.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), ch, n, sr, caption.encode())

    return hears


def kind_of(caption):
    words = caption.split(" ")
    return next((k for k in ["chord", "tone", "noise", "sweep", "rhythm"] if k in words), "?")


def main():
    ap = argparse.ArgumentParser(description="the audio demo's checker on clips the engine generated")
    ap.add_argument("clips")
    ap.add_argument("prompts")
    ap.add_argument("--lib", default=os.path.join(REPO, "build", "libsmoothcache.so"))
    ap.add_argument("--python", action="store_true", help="use check.py instead of the library")
    ap.add_argument("--show", type=int, default=10, help="list at most this many clips not heard")
    args = ap.parse_args()
    z = np.load(args.clips)
    audio, sr = z["audio"], int(z["sample_rate"][0])
    with open(args.prompts, encoding="utf-8") as f:
        prompts = [line.rstrip("\n") for line in f if line.strip()]
    if len(prompts) != len(audio):
        sys.exit(f"{args.prompts}: {len(prompts)} prompts for {len(audio)} clips")
    hears = check.hears if args.python else c_checker(args.lib)
    verdicts = [hears(a, sr, p) for a, p in zip(audio, prompts)]
    if any(v < 0 for v in verdicts):
        sys.exit("the checker does not understand: " + ", ".join(sorted({p for p, v in zip(prompts, verdicts) if v < 0})))
    ok = np.array(verdicts) == 1
    print(f"heard: {100.0 * ok.mean():.1f}% of {len(ok)} clips ({'check.py' if args.python else 'C checker'})")
    for k in ["tone", "chord", "noise", "sweep", "rhythm"]:
        sel = [i for i, p in enumerate(prompts) if kind_of(p) == k]
        if sel:
            print(f"  {k:7s} {100.0 * ok[sel].mean():5.1f}% of {len(sel)}")
    for i in np.nonzero(~ok)[0][:args.show]:
        r = check.read(audio[i], sr)
        print(f"  not heard: {prompts[i]!r}: " + ", ".join(f"{k} {v}" for k, v in r.items() if v != -1))


if __name__ == "__main__":
    main()
