#!/usr/bin/env python3
"""SD-VAE decode (latent 32x32 -> 256x256 image, batch 1, fp32): the C engine against PyTorch
(diffusers' AutoencoderKL.decode) on the same random weights with the real sd-vae-ft-ema shapes,
in the same run.

    .venv/bin/python bench/bench_vae.py [--size 32] [--batch 1] [--threads 2] [--repeats 5]

The weights are generated deterministically at bench time into bench/out/ (never committed): a
diffusers VAE folder (config.json + safetensors) that both engines load. Prints the median
decode time of each, their ratio, the FLOP lower bound from the machine's measured FP32 peak,
and the largest difference between the two engines' images (a parity check at full size).
Other processes on the 2 cores slow both engines alike; the load average is printed so a busy
machine shows, and only the ratio of one run is meaningful.
"""
import argparse
import json
import resource
import os
import statistics
import subprocess
import time

import numpy as np
import torch
from diffusers import AutoencoderKL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK_FP32_GFLOPS = 448.0  # 2 cores x 2 FMA pipes x 16 lanes x 2 FLOP x 3.5 GHz (measured on the development host with register-only loops)

# stabilityai/sd-vae-ft-ema config.json (no scaling_factor: the default 0.18215 applies).
FT_EMA_CONFIG = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
                     down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                     layers_per_block=2, norm_num_groups=32, act_fn="silu", sample_size=256)


def make_weights(folder):
    if os.path.exists(os.path.join(folder, "config.json")):
        return
    torch.manual_seed(0)  # diffusers' default initialisation, deterministic
    vae = AutoencoderKL(**FT_EMA_CONFIG)
    os.makedirs(folder, exist_ok=True)
    vae.save_pretrained(folder, safe_serialization=True)


def decoder_gflop(size):
    """FLOPs of post_quant_conv + decoder at latent side `size` (2 per multiply-add), as
    diffusers computes it (the upsampling convs on the upsampled image)."""
    c = FT_EMA_CONFIG
    boc, L = c["block_out_channels"], c["latent_channels"]
    top, s = boc[-1], size
    macs = s * s * L * L + s * s * 9 * L * top
    resnet = lambda s, ci, co: s * s * 9 * (ci * co + co * co) + (s * s * ci * co if ci != co else 0)
    macs += 2 * resnet(s, top, top) + s * s * 4 * top * top + 2 * (s * s) ** 2 * top
    prev = top
    for b, co in enumerate(reversed(boc)):
        for r in range(c["layers_per_block"] + 1):
            macs += resnet(s, prev if r == 0 else co, co)
        if b < len(boc) - 1:
            s *= 2
            macs += s * s * 9 * co * co
        prev = co
    macs += s * s * 9 * boc[0] * c["out_channels"]
    return 2 * macs / 1e9


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_torch(folder, latents, threads, repeats):
    torch.set_num_threads(threads)
    before = rss_mb()
    vae = AutoencoderKL.from_pretrained(folder).eval()
    loaded = rss_mb()
    z = torch.from_numpy(latents) / vae.config.scaling_factor
    times = []
    with torch.inference_mode():
        out = vae.decode(z).sample  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = vae.decode(z).sample
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return statistics.median(times), min(times), max(times), out.numpy(), loaded - before, peak - before


def run_c(args, env):
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return dict(kv.split("=") for kv in out.stdout.split())


def busy_processes():
    """Other processes using a noticeable share of a core right now (ps), as 'pid:name cpu%'."""
    ps = subprocess.run(["ps", "-eo", "pid,pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True)
    rows = [line.split(None, 2) for line in ps.stdout.splitlines()[:6]]
    return [f"{pid}:{name} {cpu}%" for pid, cpu, name in rows if float(cpu) >= 20 and int(pid) != os.getpid()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=32, help="latent side (32 -> 256 px images, 64 -> 512 px)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()

    out_dir = os.path.join(ROOT, "bench", "out")
    folder = os.path.join(out_dir, "sd-vae-ft-ema-random")
    make_weights(folder)
    latents = np.random.default_rng(0).standard_normal((a.batch, 4, a.size, a.size)).astype(np.float32)
    lat_path = os.path.join(out_dir, f"vae-latents-{a.batch}x{a.size}.npy")
    img_path = os.path.join(out_dir, f"vae-images-{a.batch}x{a.size}.npy")
    np.save(lat_path, latents)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)

    load_before = os.getloadavg()[0]
    busy = busy_processes()
    c = run_c([os.path.join(ROOT, "build", "bench_vae"), folder, lat_path, str(a.threads), str(a.repeats), img_path], env)
    pt_med, pt_min, pt_max, pt_img, pt_loaded, pt_decoded = time_torch(folder, latents, a.threads, a.repeats)
    c_med = float(c["median_s"])
    c_img = np.load(img_path)
    err = float(np.abs(c_img - pt_img).max() / np.abs(pt_img).max())

    gflop = a.batch * decoder_gflop(a.size)
    bound = gflop / PEAK_FP32_GFLOPS
    res = {
        "latent": a.size, "image": 8 * a.size, "batch": a.batch, "threads": a.threads, "repeats": a.repeats,
        "c_s": c_med, "c_min_s": float(c["min_s"]), "c_max_s": float(c["max_s"]), "c_first_s": float(c["first_s"]),
        "c_load_s": float(c["load_s"]), "c_loaded_rss_mb": float(c["loaded_rss_mb"]),
        "c_decoded_rss_mb": float(c["decoded_rss_mb"]), "c_maxrss_mb": float(c["maxrss_mb"]),
        "torch_s": pt_med, "torch_min_s": pt_min, "torch_max_s": pt_max,
        "torch_loaded_rss_mb": pt_loaded, "torch_peak_rss_mb": pt_decoded,
        "ratio_c_over_torch": c_med / pt_med, "gflop": gflop, "flop_bound_s": bound,
        "c_gflops": gflop / c_med, "torch_gflops": gflop / pt_med, "max_err_over_max_ref": err,
        "loadavg_1min_before": load_before, "busy_processes": busy, "torch": torch.__version__,
    }
    print(f"SD-VAE decode {a.size}x{a.size} -> {8 * a.size}x{8 * a.size}, batch {a.batch}, fp32, {a.threads} threads, "
          f"median of {a.repeats}")
    print(f"  C engine : {c_med:.3f} s  ({res['c_gflops']:.0f} GFLOP/s of diffusers' {gflop:.0f} GFLOP; "
          f"first decode {res['c_first_s']:.3f} s, load {res['c_load_s']:.2f} s)")
    print(f"  C memory : {res['c_loaded_rss_mb']:.0f} MB resident after load (weights), "
          f"{res['c_decoded_rss_mb']:.0f} MB after decoding (+ buffers kept for the next decode)")
    print(f"  PyTorch  : {pt_med:.3f} s  ({res['torch_gflops']:.0f} GFLOP/s, torch {torch.__version__})")
    print(f"  PyTorch memory: +{pt_loaded:.0f} MB resident after load (weights mapped lazily), peak +{pt_decoded:.0f} MB "
          "while decoding (over the process before the load)")
    print(f"  ratio C/PyTorch = {res['ratio_c_over_torch']:.2f}  (target <= 1.0)")
    print(f"  FLOP bound {bound:.3f} s at {PEAK_FP32_GFLOPS:.0f} GFLOP/s: C = {c_med / bound:.2f}x bound")
    print(f"  images: max |C - PyTorch| / max |PyTorch| = {err:.2g}")
    if load_before > 0.5 or busy:
        print(f"  note: machine busy (1-min load {load_before:.2f}; {', '.join(busy) or 'no single hog'}): "
              "absolute times are inflated, the ratio still compares like with like")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
