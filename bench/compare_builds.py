#!/usr/bin/env python3
"""The step and VAE timings of an earlier revision's build and of the current one, in one run: the
proof that a change which should not touch the kernels (a restructure) did not slow them.

    .venv/bin/python bench/compare_builds.py OLD_REV [--rounds 3] [--repeats 3] [--threads 2]

OLD_REV's bench_step and bench_vae are built in a temporary git worktree; the current ones are
taken from build/ (run `make` first). Both time the same files: one guided DiT-XL/2 step at
256 px (batch 2 = [cond; uncond], random weights of the real shapes, as bench/bench_step.py makes
them) and one SD-VAE decode 32x32 -> 256x256 (as bench/bench_vae.py makes them), each after a
warm-up, median of --repeats. The two builds alternate, round after round, so that whatever
else the machine does weighs on both alike; the report gives each build's median over the rounds
and the ratio new / old with the spread of the per-round ratios.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_step  # noqa: E402
import bench_vae  # noqa: E402


def sh(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}")
    return r.stdout


def build_old(rev, where):
    src = os.path.join(where, "src")
    sh(["git", "-C", ROOT, "worktree", "add", "--detach", src, rev])
    bld = os.path.join(where, "build")
    sh(["cmake", "-S", src, "-B", bld, "-DCMAKE_BUILD_TYPE=Release"])
    sh(["cmake", "--build", bld, "-j", str(os.cpu_count() or 2), "--target", "bench_step", "bench_vae"])
    return bld


def run(cmd, env):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return float(dict(kv.split("=") for kv in out.split())["median_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    out = os.path.join(ROOT, "bench", "out")
    dit = os.path.join(out, "dit-xl2-256-random")
    vae = os.path.join(out, "sd-vae-ft-ema-random")
    bench_step.make_weights(dit, 256)
    bench_vae.make_weights(vae)
    lat = os.path.join(out, "vae-latents-1x32.npy")
    np.save(lat, np.random.default_rng(0).standard_normal((1, 4, 32, 32)).astype(np.float32))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)  # it slows numpy/OpenBLAS; never set inside a benchmark
    tmp = tempfile.mkdtemp(prefix="sc-bench-")
    try:
        builds = {"old": build_old(a.rev, tmp), "new": os.path.join(ROOT, "build")}
        t = {k: {"step": [], "vae": []} for k in builds}
        for r in range(a.rounds):
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                b = builds[name]
                t[name]["step"].append(run([os.path.join(b, "bench_step"), dit, str(a.threads), str(a.repeats)], env))
                t[name]["vae"].append(run([os.path.join(b, "bench_vae"), vae, lat, str(a.threads), str(a.repeats)], env))
            print(f"round {r + 1}: step old {t['old']['step'][-1]:.3f} s, new {t['new']['step'][-1]:.3f} s; "
                  f"VAE old {t['old']['vae'][-1]:.3f} s, new {t['new']['vae'][-1]:.3f} s", flush=True)
        print(f"{a.rev} against this build, {a.threads} threads, median of {a.repeats} per round, {a.rounds} rounds:")
        for what, label in (("step", "DiT-XL/2 256 px guided step"), ("vae", "SD-VAE decode 256 px")):
            old, new = statistics.median(t["old"][what]), statistics.median(t["new"][what])
            ratios = [n / o for n, o in zip(t["new"][what], t["old"][what])]
            print(f"  {label}: old {old:.3f} s, new {new:.3f} s, new/old {new / old:.3f} "
                  f"(per round {min(ratios):.3f} .. {max(ratios):.3f})")
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", os.path.join(tmp, "src")],
                       capture_output=True)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
