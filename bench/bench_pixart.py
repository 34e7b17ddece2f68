#!/usr/bin/env python3
"""PixArt-alpha at 512 px (28 blocks, 16 heads x 72, 1024 image tokens, 120 text tokens of T5-XXL
width 4096), random weights of the real shapes, C against PyTorch on the same weights in one run:

  * one guided step (batch 2 = [prompt; empty prompt], as the pipeline runs it): C f32 and bf16
    (`smoothcache generate --steps S`, the sampling loop's seconds / S, text encoded elsewhere:
    --prompt-embeds / --negative-embeds) against diffusers' PixArtTransformer2DModel in float32
    and under torch.autocast bf16;
  * SmoothCache with a published-style schedule (every second step of attn1, attn2 and ff
    reused, N-2 as the paper's FORA-like schedules, 20 DPM-Solver++ steps): wall-clock speed-up
    against the MAC ratio (`smoothcache bench`, paired runs).

    .venv/bin/python bench/bench_pixart.py [--threads 2] [--steps 3] [--cached-steps 20] [--dtype bf16]

The weights (2.4 GB, bench/out/pixart-alpha-512-random/, not committed) are made once by this
script: every tensor N(0, 1/sqrt(fan_in)), biases and tables N(0, 0.2), seed 0. The prompt is 20
real tokens of random N(0, 0.2) embeddings, the negative prompt one token. Writes
bench/out/pixart.json. Unset OPENBLAS_CORETYPE in the environment it runs in.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
FOLDER = os.path.join(OUT, "pixart-alpha-512-random")
CONFIG = dict(sample_size=64, num_layers=28, num_attention_heads=16, attention_head_dim=72, in_channels=4,
              out_channels=8, patch_size=2, caption_channels=4096, cross_attention_dim=1152, attention_bias=True,
              activation_fn="gelu-approximate", num_embeds_ada_norm=1000, norm_type="ada_norm_single",
              norm_elementwise_affine=False, norm_eps=1e-6, use_additional_conditions=False)
L, TOKENS = 120, 20


def make_weights():
    if os.path.exists(os.path.join(FOLDER, "transformer", "config.json")):
        return
    import torch
    from diffusers import DPMSolverMultistepScheduler, PixArtTransformer2DModel
    torch.manual_seed(0)
    model = PixArtTransformer2DModel(**CONFIG).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / float(np.sqrt(np.prod(p.shape[1:]))))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    model.save_pretrained(os.path.join(FOLDER, "transformer"), safe_serialization=True)
    DPMSolverMultistepScheduler().save_pretrained(os.path.join(FOLDER, "scheduler"))
    with open(os.path.join(FOLDER, "model_index.json"), "w") as f:
        json.dump({"_class_name": "PixArtAlphaPipeline", "transformer": ["diffusers", "PixArtTransformer2DModel"],
                   "scheduler": ["diffusers", "DPMSolverMultistepScheduler"]}, f)
    rng = np.random.default_rng(1)
    for name, n in (("prompt", TOKENS), ("negative", 1)):
        mask = np.zeros((1, L), np.int32)
        mask[0, :n] = 1
        np.savez(os.path.join(FOLDER, f"{name}.npz"), input_ids=np.zeros((1, L), np.int32), attention_mask=mask,
                 prompt_embeds=(0.2 * rng.standard_normal((1, L, 4096))).astype(np.float32))


def c_generate(dtype, steps, threads, env):
    rep = os.path.join(OUT, f"pixart-{dtype}.json")
    subprocess.run([os.path.join(ROOT, "build", "smoothcache"), "generate", "--model", FOLDER, "--prompt-embeds",
                    os.path.join(FOLDER, "prompt.npz"), "--negative-embeds", os.path.join(FOLDER, "negative.npz"),
                    "--steps", str(steps), "--threads", str(threads), "--dtype", dtype, "--report", rep, "--force",
                    "--quiet"], env=env, check=True)
    with open(rep) as f:
        return json.load(f)["runs"][0]["seconds"] / steps


def torch_steps(threads, repeats):
    import torch
    from diffusers import PixArtTransformer2DModel
    torch.set_num_threads(threads)
    model = PixArtTransformer2DModel.from_pretrained(os.path.join(FOLDER, "transformer")).eval()
    p, n = (np.load(os.path.join(FOLDER, f"{k}.npz")) for k in ("prompt", "negative"))
    text = torch.from_numpy(np.concatenate([n["prompt_embeds"], p["prompt_embeds"]]))
    mask = torch.from_numpy(np.concatenate([n["attention_mask"], p["attention_mask"]]).astype(np.int64))
    x = torch.randn(2, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([500, 500])
    res = {}
    for mode in ("f32", "bf16"):
        times = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
            kw = dict(encoder_hidden_states=text, timestep=t, encoder_attention_mask=mask,
                      added_cond_kwargs={"resolution": None, "aspect_ratio": None})
            model(x, **kw)  # warm-up
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x, **kw)
                times.append(time.perf_counter() - t0)
        res[mode] = statistics.median(times)
    return res, torch.__version__


def schedule(steps):
    """N-2: compute the even steps and the last one, reuse the odd ones; for attn1, attn2 and ff."""
    row = [1 if k % 2 == 0 or k == steps - 1 else 0 for k in range(steps)]
    path = os.path.join(OUT, f"pixart-n2-{steps}.json")
    with open(path, "w") as f:
        json.dump({"attn1": row, "attn2": row, "ff": row}, f)
    return path


def c_cached(dtype, steps, threads, env):
    js = os.path.join(OUT, "pixart-bench.json")
    subprocess.run([os.path.join(ROOT, "build", "smoothcache"), "bench", "--model", FOLDER, "--prompt-embeds",
                    os.path.join(FOLDER, "prompt.npz"), "--negative-embeds", os.path.join(FOLDER, "negative.npz"),
                    "--steps", str(steps), "--threads", str(threads), "--dtype", dtype, "--repeats", "1",
                    "--cache", f"smooth:schedule={schedule(steps)}", "--json", js, "--force", "--quiet"],
                   env=env, check=True)
    with open(js) as f:
        return json.load(f)["runs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="steps of the timed C generations")
    ap.add_argument("--repeats", type=int, default=2, help="timed PyTorch forwards per mode")
    ap.add_argument("--cached-steps", type=int, default=20)
    ap.add_argument("--dtype", default="bf16", help="precision of the cached comparison")
    ap.add_argument("--no-cached", action="store_true", help="time the steps only, without the cached comparison")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    make_weights()
    print(f"weights ready in {time.time() - t0:.0f} s", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)
    c = {d: c_generate(d, a.steps, a.threads, env) for d in ("f32", "bf16")}
    print(f"C: f32 {c['f32']:.2f} s/step, bf16 {c['bf16']:.2f} s/step", flush=True)
    pt, version = torch_steps(a.threads, a.repeats)
    print(f"PyTorch {version}: f32 {pt['f32']:.2f} s/step, bf16 autocast {pt['bf16']:.2f} s/step", flush=True)
    res = {"threads": a.threads, "c_s_per_step": c, "torch_s_per_step": pt, "torch": version,
           "c_over_torch": {d: c[d] / pt[d] for d in c}}
    if not a.no_cached:
        runs = c_cached(a.dtype, a.cached_steps, a.threads, env)
        base, cached = runs[0], runs[1]
        res["cached"] = {"dtype": a.dtype, "steps": a.cached_steps, "schedule": "N-2 on attn1, attn2, ff",
                         "mac_ratio": cached["mac_ratio"], "seconds_uncached": base["seconds"],
                         "seconds_cached": cached["seconds"], "speedup": base["seconds"] / cached["seconds"],
                         "ideal_speedup": 1.0 / cached["mac_ratio"]}
    print(f"PixArt-alpha 512 px, one guided step (batch 2, 120 text tokens), {a.threads} threads:")
    for d in ("f32", "bf16"):
        print(f"  {d:5s} C {c[d]:6.2f} s   PyTorch {pt[d]:6.2f} s   C/PyTorch {res['c_over_torch'][d]:.2f}")
    r = res.get("cached")
    if r:
        print(f"  SmoothCache N-2 ({a.dtype}, {a.cached_steps} DPM-Solver++ steps): MAC ratio {r['mac_ratio']:.3f}, "
              f"speed-up {r['speedup']:.2f}x of an ideal {r['ideal_speedup']:.2f}x "
              f"({r['seconds_uncached']:.1f} s -> {r['seconds_cached']:.1f} s)")
    with open(os.path.join(OUT, "pixart.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
