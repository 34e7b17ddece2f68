#!/usr/bin/env python3
"""One guided DiT-XL/2 step at 256 px (batch 2 = [cond; uncond], as DDIM with cfg 4 runs it) at
every precision, C against PyTorch on the same random weights, in the same run:

    C f32, C bf16, C int8 (build/bench_step MODEL THREADS REPEATS 0 DTYPE)
    PyTorch f32 and PyTorch under torch.autocast("cpu", dtype=torch.bfloat16) (diffusers'
    DiTTransformer2DModel), what a PyTorch user gets by flipping one switch

    .venv/bin/python bench/bench_precision.py [--threads 2] [--repeats 3] [--rounds 2] [--skip-rss]

The rounds alternate C and PyTorch so that drift of the shared machine hits both; each figure is
the median over rounds of each round's median of `repeats` steps. Also measured, before PyTorch is
loaded (a child's peak RSS starts from its parent's at fork): the peak resident memory of a whole
C generation (2 DDIM steps, cfg 4, latents out) at each precision. Rates are reported against the
machine's measured peaks (docs/PRECISION.md): 228 GFLOP/s f32, 448 bf16, 916 int8 (2 cores).
Writes bench/out/precision.json. Unset OPENBLAS_CORETYPE in the environment it runs in.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
PEAK = {"f32": 228.0, "bf16": 448.0, "int8": 916.0}  # GFLOP/s (GOP/s), 2 threads, PERF section 0


def step_gflop(size=256):
    tokens = (size // 16) ** 2
    D, L = 1152, 28
    macs = (tokens * D * 4 * 4 + 256 * D + D * D + L * (6 * D * D + 12 * tokens * D * D + 2 * tokens * tokens * D)
            + 2 * D * D + tokens * D * 4 * 8)
    return 2 * 2 * macs / 1e9


def peak_rss(folder, dtype, threads, env):
    out = os.path.join(ROOT, "bench", "out", f"rss-{dtype}.npy")
    if os.path.exists(out):
        os.remove(out)
    proc = subprocess.Popen([os.path.join(ROOT, "build", "smoothcache"), "generate", "--model", folder, "--steps", "2",
                             "--class", "1", "--cfg", "4", "--threads", str(threads), "--dtype", dtype,
                             "--latents-out", out, "--quiet"], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"smoothcache generate --dtype {dtype} failed")
    return usage.ru_maxrss * 1024


def time_c(folder, dtype, threads, repeats, env):
    out = subprocess.run([os.path.join(ROOT, "build", "bench_step"), folder, str(threads), str(repeats), "0", dtype],
                         capture_output=True, text=True, env=env, check=True)
    kv = dict(x.split("=") for x in out.stdout.split())
    return float(kv["median_s"])


def time_torch(folder, threads, repeats):
    import torch
    from diffusers import DiTTransformer2DModel
    torch.set_num_threads(threads)
    model = DiTTransformer2DModel.from_pretrained(folder).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 32, 32, generator=g)
    t = torch.tensor([500, 500])
    y = torch.tensor([1, 1000])
    res = {}
    for mode in ("f32", "bf16"):
        times = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
            model(x, timestep=t, class_labels=y)  # warm-up
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x, timestep=t, class_labels=y)
                times.append(time.perf_counter() - t0)
        res[mode] = statistics.median(times)
    del model
    return res, torch.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip-rss", action="store_true")
    a = ap.parse_args()
    import bench_step  # its make_weights: the same random DiT-XL/2 folder as bench_step.py
    folder = os.path.join(ROOT, "bench", "out", "dit-xl2-256-random")
    bench_step.make_weights(folder, 256)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)

    rss = {} if a.skip_rss else {d: peak_rss(folder, d, a.threads, env) for d in ("f32", "bf16", "int8")}
    rounds = []
    torch_version = None
    for r in range(a.rounds):
        c = {d: time_c(folder, d, a.threads, a.repeats, env) for d in ("f32", "bf16", "int8")}
        pt, torch_version = time_torch(folder, a.threads, a.repeats)
        rounds.append({"c": c, "torch": pt})
        print(f"round {r + 1}: C f32 {c['f32']:.3f} s, bf16 {c['bf16']:.3f} s, int8 {c['int8']:.3f} s; "
              f"PyTorch f32 {pt['f32']:.3f} s, bf16 autocast {pt['bf16']:.3f} s", flush=True)
    med = lambda side, d: statistics.median(r[side][d] for r in rounds)
    c = {d: med("c", d) for d in ("f32", "bf16", "int8")}
    pt = {d: med("torch", d) for d in ("f32", "bf16")}
    gflop = step_gflop()
    res = {
        "threads": a.threads, "repeats": a.repeats, "rounds": rounds, "gflop_per_step": gflop,
        "c_s": c, "torch_s": pt, "torch": torch_version,
        "c_bf16_over_torch_bf16": c["bf16"] / pt["bf16"], "c_int8_over_c_bf16": c["int8"] / c["bf16"],
        "c_f32_over_torch_f32": c["f32"] / pt["f32"], "c_bf16_over_c_f32": c["bf16"] / c["f32"],
        "fraction_of_peak": {d: gflop / c[d] / PEAK[d] for d in c},
        "peak_rss_bytes": rss,
        "rss_bf16_over_f32": rss["bf16"] / rss["f32"] if rss else None,
        "rss_int8_over_f32": rss["int8"] / rss["f32"] if rss else None,
    }
    print(f"DiT-XL/2 256 px, one guided step (batch 2), {a.threads} threads, {gflop:.0f} GFLOP, median of "
          f"{a.rounds} rounds x {a.repeats} steps")
    print(f"  C f32   {c['f32']:.3f} s   PyTorch f32           {pt['f32']:.3f} s   C/PyTorch {res['c_f32_over_torch_f32']:.2f}")
    print(f"  C bf16  {c['bf16']:.3f} s   PyTorch bf16 autocast {pt['bf16']:.3f} s   C/PyTorch "
          f"{res['c_bf16_over_torch_bf16']:.2f} (target <= 0.65)")
    print(f"  C int8  {c['int8']:.3f} s   C int8 / C bf16 {res['c_int8_over_c_bf16']:.2f} (target <= 0.6)")
    print("  rate against the measured peak: " + ", ".join(
        f"{d} {gflop / c[d]:.0f} GFLOP/s = {100 * res['fraction_of_peak'][d]:.0f}% of {PEAK[d]:.0f}" for d in c))
    if rss:
        print("  peak RSS of a whole generation: " + ", ".join(f"{d} {rss[d] / 1e9:.2f} GB" for d in rss) +
              f"; bf16/f32 {res['rss_bf16_over_f32']:.2f} (target <= 0.6), int8/f32 {res['rss_int8_over_f32']:.2f}")
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "out", "precision.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: v for k, v in res.items() if k != "rounds"}))


if __name__ == "__main__":
    main()
