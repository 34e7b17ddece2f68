#!/usr/bin/env python3
"""One guided DiT-XL/2 sampling step (batch 2 = [cond; uncond], fp32): the C engine against
PyTorch (diffusers' DiTTransformer2DModel) on the same random weights, in the same run.

    .venv/bin/python bench/bench_step.py [--size 256|512] [--threads 2] [--repeats 5]

The weights are generated deterministically at bench time into bench/out/ (never committed):
a diffusers folder (config.json + safetensors) that both engines load. Prints the median step
time of each, their ratio, the FLOP lower bound from the machine's measured FP32 peak, and the
peak resident memory of a whole C generation against the weight size.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from diffusers import DiTTransformer2DModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK_FP32_GFLOPS = 448.0  # 2 cores x 2 FMA pipes x 16 lanes x 2 FLOP x 3.5 GHz (measured on the development host with register-only loops)


def make_weights(folder, size):
    if os.path.exists(os.path.join(folder, "config.json")):
        return
    torch.manual_seed(0)
    model = DiTTransformer2DModel(
        num_attention_heads=16, attention_head_dim=72, in_channels=4, out_channels=8, num_layers=28,
        sample_size=size // 8, patch_size=2, num_embeds_ada_norm=1000)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
        # The embedders are shared in the real checkpoint: keep the per-block copies identical.
        src = model.transformer_blocks[0].norm1.emb.state_dict()
        for blk in model.transformer_blocks[1:]:
            blk.norm1.emb.load_state_dict(src)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)


def time_torch(folder, size, threads, repeats):
    torch.set_num_threads(threads)
    model = DiTTransformer2DModel.from_pretrained(folder).eval()
    s = size // 8
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, s, s, generator=g)
    t = torch.tensor([500, 500])
    y = torch.tensor([1, 1000])
    times = []
    with torch.inference_mode():
        model(x, timestep=t, class_labels=y)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x, timestep=t, class_labels=y)
            times.append(time.perf_counter() - t0)
    del model
    return statistics.median(times), min(times), max(times)


def run_c(args, env):
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return dict(kv.split("=") for kv in out.stdout.split())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, choices=[256, 512])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-rss", action="store_true", help="skip the whole-generation memory run")
    a = ap.parse_args()

    folder = os.path.join(ROOT, "bench", "out", f"dit-xl2-{a.size}-random")
    make_weights(folder, a.size)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)

    rss = None
    if not a.skip_rss:
        out = os.path.join(ROOT, "bench", "out", "rss-latents.npy")
        if os.path.exists(out):
            os.remove(out)
        # First, before this process loads PyTorch: a child's peak RSS starts from its parent's
        # size at fork. os.wait4 gives this child's own peak.
        proc = subprocess.Popen([os.path.join(ROOT, "build", "smoothcache"), "generate", "--model", folder, "--steps",
                                 "2", "--class", "1", "--threads", str(a.threads), "--latents-out", out, "--quiet"],
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"smoothcache generate failed ({proc.returncode})")
        rss = usage.ru_maxrss * 1024

    c = run_c([os.path.join(ROOT, "build", "bench_step"), folder, str(a.threads), str(a.repeats)], env)
    pt_med, pt_min, pt_max = time_torch(folder, a.size, a.threads, a.repeats)
    c_med = float(c["median_s"])

    sys.path.insert(0, os.path.join(ROOT, "build"))
    tokens = (a.size // 16) ** 2
    D, L = 1152, 28
    macs = (tokens * D * 4 * 4 + 256 * D + D * D
            + L * (6 * D * D + 12 * tokens * D * D + 2 * tokens * tokens * D)
            + 2 * D * D + tokens * D * 4 * 8)
    gflop = 2 * 2 * macs / 1e9
    bound = gflop / PEAK_FP32_GFLOPS

    weight_bytes = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                       if f.endswith(".safetensors"))
    used_bytes = 4 * 675_129_632 if a.size == 256 else 4 * 676_014_368  # without the 27 embedder copies
    res = {
        "size": a.size, "threads": a.threads, "repeats": a.repeats,
        "c_step_s": c_med, "c_min_s": float(c["min_s"]), "c_max_s": float(c["max_s"]),
        "c_first_step_s": float(c["first_step_s"]), "c_load_s": float(c["load_s"]),
        "torch_step_s": pt_med, "torch_min_s": pt_min, "torch_max_s": pt_max,
        "ratio_c_over_torch": c_med / pt_med,
        "gflop_per_step": gflop, "flop_bound_s": bound, "c_over_bound": c_med / bound,
        "c_gflops": gflop / c_med, "torch_gflops": gflop / pt_med,
        "weights_file_gb": weight_bytes / 1e9, "weights_used_gb": used_bytes / 1e9,
        "generate_peak_rss_gb": rss / 1e9 if rss else None,
        "rss_over_weights": rss / used_bytes if rss else None,
        "torch": torch.__version__,
    }
    print(f"DiT-XL/2 {a.size}px, one CFG step (batch 2, fp32), {a.threads} threads, median of {a.repeats}")
    print(f"  C engine : {c_med:.3f} s  ({res['c_gflops']:.0f} GFLOP/s)")
    print(f"  PyTorch  : {pt_med:.3f} s  ({res['torch_gflops']:.0f} GFLOP/s, torch {torch.__version__})")
    print(f"  ratio C/PyTorch = {res['ratio_c_over_torch']:.2f}  (target <= 0.85)")
    print(f"  FLOP bound {bound:.3f} s at {PEAK_FP32_GFLOPS:.0f} GFLOP/s: C = {res['c_over_bound']:.2f}x bound (target <= 1.4)")
    if rss:
        print(f"  peak RSS of a generation: {rss / 1e9:.2f} GB = {res['rss_over_weights']:.2f}x the "
              f"{used_bytes / 1e9:.2f} GB of fp32 weights used (target <= 1.2)")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
