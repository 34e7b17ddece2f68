#!/usr/bin/env python3
"""Stable Audio Open 1.0 (24 blocks, 24 heads x 64, 12 key/value heads, SwiGLU 1536 -> 6144,
130 cross tokens of T5-base width 768), random weights of the real shapes, C against PyTorch on the
same weights in one run, and the SmoothCache paper's TMACs:

  * one guided step (batch 2 = [prompt; no prompt], as StableAudioPipeline runs it) at a 10 s
    clip (216 latent frames, 217 tokens) and at the full 47.55 s window (1024 frames, 1025
    tokens): C f32 and bf16 (`smoothcache generate --steps S`, the sampling loop's seconds from
    --report less its first step, read off the progress lines: the first step also faults the
    weight pages in and creates the kernels) against diffusers' StableAudioDiTModel forward in
    float32 and under torch.autocast bf16 (median of R forwards after a warm-up);
  * MACs per forward from `smoothcache info` (linear layers and attention matmuls, per component),
    x 2 (guidance) x 100 steps, against the paper's 209.82 TMACs, and the linear layers alone
    (counted by hooks on diffusers' nn.Linear / nn.Conv1d during a forward), which is what the
    paper counted, over the full window;
  * SmoothCache at the MAC fractions the paper's TMACs imply (170.75 / 209.82 for alpha 0.15,
    136.16 / 209.82 for alpha 0.30; the paper's calibrated schedules were never released and
    random weights cannot reproduce them): schedules in the published format with the reuses
    spread evenly, chosen so the engine's MAC ratio matches; wall-clock speed-up from
    `smoothcache bench` (paired runs, median) at the 10 s shape, DPM-Solver++(3M) SDE as the paper.

    .venv/bin/python bench/bench_stable_audio.py [--threads 2] [--no-full] [--cached-steps 20]

The weights (4.2 GB, bench/out/stable-audio-open-random/, not committed) are made once by this
script: every matrix N(0, 1/sqrt(fan_in)), vectors N(0, 0.2), seed 0, saved as a
StableAudioPipeline folder (transformer/, projection_model/, scheduler/ as diffusers' conversion of
SAO 1.0 writes it; no vae/ and no text encoder: the C runs write latents only). The engine runs the
latent length the transformer's config names (sample_size), so the 10 s shape is a second pipeline
folder, clip-10s/ inside the first, whose transformer config says sample_size 216 and whose
weights file, projection model and scheduler are links to the full folder's. The prompt is 20 real
tokens of N(0, 0.2) embeddings among 128 (prompt.npz, as `smoothcache encode` writes it); the
unconditional half has no negative prompt (all-zero cross tokens, as the pipeline builds it).
Writes bench/out/stable_audio.json. Unset OPENBLAS_CORETYPE in the environment it runs in.
"""
import argparse
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
CLI = os.path.join(ROOT, "build", "smoothcache")
FOLDER = os.path.join(OUT, "stable-audio-open-random")
CLIP = os.path.join(FOLDER, "clip-10s")
PROMPT = os.path.join(FOLDER, "prompt.npz")
# diffusers' scripts/convert_stable_audio.py on SAO 1.0's model_config.json (= the class defaults).
CONFIG = dict(sample_size=1024, in_channels=64, num_layers=24, attention_head_dim=64, num_attention_heads=24,
              num_key_value_attention_heads=12, out_channels=64, cross_attention_dim=768, time_proj_dim=256,
              global_states_input_dim=1536, cross_attention_input_dim=768)
PROJECTION = dict(text_encoder_dim=768, conditioning_dim=768, min_value=0, max_value=512)
SCHEDULER = dict(sigma_min=0.3, sigma_max=500, sigma_data=1.0, sigma_schedule="exponential", solver_order=2,
                 prediction_type="v_prediction")
RATE, HOP = 44100, 2048
FULL_SECONDS = CONFIG["sample_size"] * HOP / RATE  # 47.55 s
CLIP_SECONDS = 10.0
CLIP_FRAMES = math.ceil(CLIP_SECONDS * RATE / HOP)  # 216
L, TOKENS = 128, 20
# The paper's Stable Audio Open rows (10 s, DPM-Solver++(3M) SDE, 100 steps): TMACs and latency.
PAPER = {"none": (209.82, 5.65), "alpha 0.15": (170.75, 4.59), "alpha 0.30": (136.16, 3.72)}
PAPER_STEPS = 100


def load_average():
    """The 1-minute load average: this benchmark alone keeps it near its thread count; more means
    other work shared the cores (the figures then say so)."""
    return round(os.getloadavg()[0], 2)


def make_weights():
    if not os.path.exists(os.path.join(FOLDER, "transformer", "config.json")):
        import torch
        from diffusers import CosineDPMSolverMultistepScheduler, StableAudioDiTModel
        from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        for name, model in (("transformer", StableAudioDiTModel(**CONFIG)),
                            ("projection_model", StableAudioProjectionModel(**PROJECTION))):
            with torch.no_grad():
                for _, p in model.named_parameters():
                    if p.dim() >= 2:
                        p.copy_(torch.randn(p.shape, generator=g) / float(np.sqrt(np.prod(p.shape[1:]))))
                    else:
                        p.copy_(0.2 * torch.randn(p.shape, generator=g))
            model.save_pretrained(os.path.join(FOLDER, name), safe_serialization=True)
            del model
        CosineDPMSolverMultistepScheduler(**SCHEDULER).save_pretrained(os.path.join(FOLDER, "scheduler"))
        with open(os.path.join(FOLDER, "model_index.json"), "w") as f:
            json.dump({"_class_name": "StableAudioPipeline",
                       "projection_model": ["stable_audio", "StableAudioProjectionModel"],
                       "scheduler": ["diffusers", "CosineDPMSolverMultistepScheduler"],
                       "transformer": ["diffusers", "StableAudioDiTModel"]}, f, indent=1)
    if not os.path.exists(PROMPT):
        rng = np.random.default_rng(1)
        mask = np.zeros((1, L), np.int32)
        mask[0, :TOKENS] = 1
        np.savez(PROMPT, input_ids=np.zeros((1, L), np.int32), attention_mask=mask,
                 prompt_embeds=(0.2 * rng.standard_normal((1, L, 768))).astype(np.float32))
    if not os.path.exists(os.path.join(CLIP, "transformer", "config.json")):
        os.makedirs(os.path.join(CLIP, "transformer"), exist_ok=True)
        for part in ("projection_model", "scheduler", "model_index.json"):
            os.symlink(os.path.join("..", part), os.path.join(CLIP, part))
        for f in os.listdir(os.path.join(FOLDER, "transformer")):
            if f.endswith(".safetensors") or f.endswith(".json") and f != "config.json":
                os.symlink(os.path.join("..", "..", "transformer", f), os.path.join(CLIP, "transformer", f))
        with open(os.path.join(FOLDER, "transformer", "config.json")) as f:
            cfg = json.load(f)
        cfg["sample_size"] = CLIP_FRAMES
        with open(os.path.join(CLIP, "transformer", "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)


def c_info(folder, env):
    """MACs per forward of one sample and per block component, from `smoothcache info`."""
    text = subprocess.run([CLI, "info", "--model", folder], env=env, check=True, capture_output=True,
                          text=True).stdout
    fwd = float(re.search(r"MACs/forward:\s+([0-9.]+) G per sample", text).group(1)) * 1e9
    comps = {k: float(v) * 1e9 for k, v in re.findall(r"(\w+) ([0-9.]+) G", text.split("per block:")[1].split("\n")[0])}
    depth = int(re.search(r"depth:\s+(\d+)", text).group(1))
    return {"forward": fwd, "per_block": comps, "depth": depth}


def c_generate(folder, seconds, dtype, steps, threads, env):
    """Seconds per guided step of the sampling loop, its first step left out (page faults, kernels)."""
    rep = os.path.join(OUT, f"stable-audio-{os.path.basename(folder)}-{dtype}.json")
    run = subprocess.run([CLI, "generate", "--model", folder, "--prompt-embeds", PROMPT, "--seconds-total",
                          str(seconds), "--steps", str(steps), "--threads", str(threads), "--dtype", dtype,
                          "--report", rep, "--force"], env=dict(env, SMOOTHCACHE_PROGRESS_INTERVAL="0"),
                         check=True, capture_output=True, text=True)
    first = float(re.search(r"step 1/\d+ \(\d+%\), ([0-9.]+) s/step", run.stderr).group(1))
    with open(rep) as f:
        total = json.load(f)["runs"][0]["seconds"]
    return {"first_step": first, "per_step": (total - first) / (steps - 1)}


def linear_hooks(model, counter):
    """Forward hooks adding every nn.Linear / nn.Conv1d's multiply-accumulates to counter[0]."""
    import torch

    def hook(mod, _inp, out):
        if isinstance(mod, torch.nn.Linear):
            counter[0] += out.numel() * mod.in_features
        else:
            counter[0] += out.numel() * mod.in_channels * mod.kernel_size[0] // mod.groups
    return [m.register_forward_hook(hook) for m in model.modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d))]


def torch_steps(shapes, threads):
    """diffusers' StableAudioDiTModel forward on a guided batch, per shape (frames, seconds, repeats):
    median seconds in f32 and under bf16 autocast, and the linear layers' MACs of one forward."""
    import torch
    from diffusers import StableAudioDiTModel
    from diffusers.models.embeddings import get_1d_rotary_pos_embed
    from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel
    torch.set_num_threads(threads)
    model = StableAudioDiTModel.from_pretrained(os.path.join(FOLDER, "transformer")).eval()
    proj = StableAudioProjectionModel.from_pretrained(os.path.join(FOLDER, "projection_model")).eval()
    p = np.load(PROMPT)
    mask = torch.from_numpy(p["attention_mask"]).float()
    res = {}
    for frames, seconds, repeats in shapes:
        with torch.inference_mode():  # as StableAudioPipeline builds a guided batch without a negative prompt
            text = proj(text_hidden_states=torch.from_numpy(p["prompt_embeds"])).text_hidden_states * mask[..., None]
            d = proj(start_seconds=torch.tensor([0.0]), end_seconds=torch.tensor([float(seconds)]))
            cond = torch.cat([text, d.seconds_start_hidden_states, d.seconds_end_hidden_states], dim=1)
            ctx = torch.cat([torch.zeros_like(cond), cond])
            glob = torch.cat([d.seconds_start_hidden_states, d.seconds_end_hidden_states], dim=2).repeat(2, 1, 1)
        rope = get_1d_rotary_pos_embed(CONFIG["attention_head_dim"] // 2, frames + 1, use_real=True,
                                       repeat_interleave_real=False)
        x = torch.randn(2, CONFIG["in_channels"], frames, generator=torch.Generator().manual_seed(0))
        t = torch.full((2,), 0.5)
        kw = dict(encoder_hidden_states=ctx, global_hidden_states=glob, rotary_embedding=rope, return_dict=False)
        r = {}
        for mode in ("f32", "bf16"):
            times = []
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                counter = [0]
                hooks = linear_hooks(model, counter) if mode == "f32" else []
                model(x, t, **kw)  # warm-up (f32: counts the linear layers' MACs)
                for h in hooks:
                    h.remove()
                if mode == "f32":
                    r["linear_macs_batch"] = counter[0]
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    model(x, t, **kw)
                    times.append(time.perf_counter() - t0)
            r[mode] = statistics.median(times)
            print(f"  PyTorch {frames} frames {mode}: {r[mode]:.2f} s/step ({repeats} forwards)", flush=True)
        res[frames] = r
    return res, torch.__version__


def attention_macs(tokens, cross_tokens):
    """The attention matmuls (scores and values) of one sample's forward: self and cross."""
    D, depth = CONFIG["num_attention_heads"] * CONFIG["attention_head_dim"], CONFIG["num_layers"]
    return depth * (2 * tokens * tokens * D + 2 * tokens * cross_tokens * D)


def step_rows(steps, reuses):
    """1 = compute, 0 = reuse the cached output; `reuses` spread evenly over steps 1 .. steps-2
    (the first step has nothing to reuse, the last is computed as the published schedules do)."""
    inner = steps - 2
    row = [1] * steps
    for i in range(reuses):
        row[1 + int((i + 0.5) * inner / reuses)] = 0
    return row


def pick_schedule(target, steps, info, tol=0.005):
    """Reuse counts per component (attn, cross, mlp): the most even ones whose MAC ratio lies within
    tol of target, the nearest among those."""
    comp = {k: v * info["depth"] for k, v in info["per_block"].items()}
    names = sorted(comp)
    best = None
    for ks in itertools.product(range(steps // 2), repeat=len(names)):
        ratio = 1 - sum(k * comp[n] for k, n in zip(ks, names)) / (steps * info["forward"])
        key = (abs(ratio - target) > tol, max(ks) - min(ks), abs(ratio - target))
        if best is None or key < best[0]:
            best = (key, dict(zip(names, ks)), ratio)
    return best[1], best[2]


def c_cached(targets, steps, dtype, repeats, threads, info, env):
    specs, chosen = [], {}
    for name, target in targets.items():
        counts, ratio = pick_schedule(target, steps, info)
        path = os.path.join(OUT, f"stable-audio-{name.replace(' ', '')}-{steps}.json")
        with open(path, "w") as f:
            json.dump({k: step_rows(steps, n) for k, n in counts.items()}, f)
        specs += ["--cache", f"smooth:schedule={path}"]
        chosen[path] = {"name": name, "target": target, "reuses": counts, "predicted_ratio": ratio}
    js = os.path.join(OUT, "stable-audio-bench.json")
    subprocess.run([CLI, "bench", "--model", CLIP, "--prompt-embeds", PROMPT, "--seconds-total", str(CLIP_SECONDS),
                    "--sampler", "k-dpmpp3m-sde", "--steps", str(steps), "--threads", str(threads), "--dtype", dtype,
                    "--repeats", str(repeats), *specs, "--json", js, "--force", "--quiet"], env=env, check=True)
    with open(js) as f:
        runs = json.load(f)["runs"]
    out = {}
    for r in runs[1:]:
        c = chosen[r["policy"].split("schedule=", 1)[1]]
        out[c["name"]] = {"paper_mac_fraction": c["target"], "reuses_per_component": c["reuses"],
                          "mac_ratio": r["mac_ratio"], "speedup": r["speedup"], "speedup_min": r.get("speedup_min"),
                          "speedup_max": r.get("speedup_max"), "ideal_speedup": 1 / r["mac_ratio"],
                          "seconds_uncached": r["uncached_seconds"], "seconds_cached": r["seconds"],
                          "computed": r["computed"], "skipped": r["skipped"]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4, help="C steps at the 10 s shape (the first is left out)")
    ap.add_argument("--repeats", type=int, default=3, help="timed PyTorch forwards per mode at the 10 s shape")
    ap.add_argument("--full-steps", type=int, default=3, help="C steps at the full window (the first is left out)")
    ap.add_argument("--full-repeats", type=int, default=2, help="timed PyTorch forwards per mode at the full window")
    ap.add_argument("--no-full", action="store_true", help="leave out the full 47.55 s window's timings")
    ap.add_argument("--cached-steps", type=int, default=20)
    ap.add_argument("--cached-repeats", type=int, default=3, help="paired rounds of the cached comparison")
    ap.add_argument("--dtype", default="bf16", help="precision of the cached comparison")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    t_start = time.time()
    make_weights()
    print(f"weights ready in {time.time() - t_start:.0f} s", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)

    shapes = [(CLIP_FRAMES, CLIP_SECONDS, CLIP, a.steps, a.repeats)]
    if not a.no_full:
        shapes.append((CONFIG["sample_size"], round(FULL_SECONDS, 2), FOLDER, a.full_steps, a.full_repeats))
    load = {"start": load_average()}
    c = {}
    for frames, seconds, folder, steps, _ in shapes:
        c[frames] = {d: c_generate(folder, seconds, d, steps, a.threads, env) for d in ("f32", "bf16")}
        print(f"C {frames} frames: f32 {c[frames]['f32']['per_step']:.2f} s/step, "
              f"bf16 {c[frames]['bf16']['per_step']:.2f} s/step", flush=True)
    load["after_c"] = load_average()
    pt, version = torch_steps([(f, s, r) for f, s, _, _, r in shapes], a.threads)
    load["after_torch"] = load_average()

    # MACs: the engine's count (linear layers less the cross keys/values it computes once per
    # conditioning, plus the attention matmuls) and the linear layers alone, as the paper counted.
    infos = {CLIP_FRAMES: c_info(CLIP, env), CONFIG["sample_size"]: c_info(FOLDER, env)}
    macs = {}
    for frames, info in infos.items():
        T, Lc = frames + 1, L + 2
        attn = attention_macs(T, Lc)
        kv = CONFIG["num_layers"] * 2 * Lc * CONFIG["cross_attention_input_dim"] * \
            CONFIG["num_key_value_attention_heads"] * CONFIG["attention_head_dim"]
        ctx_proj = 2 * Lc * CONFIG["cross_attention_input_dim"] ** 2
        derived = info["forward"] - attn + kv + ctx_proj
        m = {"tokens": T, "engine_per_forward": info["forward"], "engine_per_block": info["per_block"],
             "attention_matmuls_per_forward": attn, "linear_per_forward_derived": derived,
             "engine_tmacs_100_steps": info["forward"] * 2 * PAPER_STEPS / 1e12,
             "linear_tmacs_100_steps_derived": derived * 2 * PAPER_STEPS / 1e12}
        if frames in pt:
            m["linear_per_forward_hooks"] = pt[frames]["linear_macs_batch"] / 2
            m["linear_tmacs_100_steps_hooks"] = pt[frames]["linear_macs_batch"] * PAPER_STEPS / 1e12
        macs[frames] = m

    targets = {k: PAPER[k][0] / PAPER["none"][0] for k in ("alpha 0.15", "alpha 0.30")}
    cached = c_cached(targets, a.cached_steps, a.dtype, a.cached_repeats, a.threads, infos[CLIP_FRAMES], env)
    load["end"] = load_average()

    res = {"threads": a.threads, "torch": version, "config": CONFIG, "prompt_tokens": TOKENS,
           "shapes": {}, "macs": {str(k): v for k, v in macs.items()},
           "paper": {k: {"tmacs": v[0], "latency_s": v[1], "mac_fraction": v[0] / PAPER["none"][0],
                         "speedup": PAPER["none"][1] / v[1]} for k, v in PAPER.items()},
           "cached": {"dtype": a.dtype, "steps": a.cached_steps, "sampler": "k-dpmpp3m-sde", "frames": CLIP_FRAMES,
                      "repeats": a.cached_repeats, "schedules": cached},
           "load_average_1min": load, "seconds_total_run": time.time() - t_start}
    print(f"\nStable Audio Open 1.0 shapes, random weights, one guided step (batch 2), {a.threads} threads, "
          f"PyTorch {version}:")
    print(f"  {'shape':22s} {'dtype':5s} {'C s':>7s} {'PyTorch s':>10s} {'C/PyTorch':>10s}  C first step")
    for frames, seconds, _, steps, repeats in shapes:
        r = res["shapes"][str(frames)] = {"frames": frames, "tokens": frames + 1, "seconds": seconds,
                                          "c_steps": steps, "torch_repeats": repeats, "c": c[frames],
                                          "torch_s_per_step": {d: pt[frames][d] for d in ("f32", "bf16")},
                                          "c_over_torch": {d: c[frames][d]["per_step"] / pt[frames][d]
                                                           for d in ("f32", "bf16")}}
        for d in ("f32", "bf16"):
            print(f"  {f'{seconds:g} s, {frames + 1} tokens':22s} {d:5s} {c[frames][d]['per_step']:7.2f} "
                  f"{pt[frames][d]:10.2f} {r['c_over_torch'][d]:10.2f}  {c[frames][d]['first_step']:.2f}")
    print(f"\nMACs, guided (x2), {PAPER_STEPS} steps, TMACs (paper: {PAPER['none'][0]} uncached):")
    for frames, m in macs.items():
        hooks = f", hooks {m['linear_tmacs_100_steps_hooks']:.2f}" if "linear_tmacs_100_steps_hooks" in m else ""
        print(f"  {m['tokens']:5d} tokens: engine {m['engine_tmacs_100_steps']:.2f} (of which attention matmuls "
              f"{attention_macs(m['tokens'], L + 2) * 2 * PAPER_STEPS / 1e12:.2f}), linear layers only "
              f"{m['linear_tmacs_100_steps_derived']:.2f} (derived{hooks})")
    print(f"\nSmoothCache at the paper's MAC fractions ({a.dtype}, {a.cached_steps} DPM-Solver++(3M) SDE steps, "
          f"{CLIP_FRAMES + 1} tokens, median of {a.cached_repeats} pairs):")
    for name, r in cached.items():
        p = res["paper"][name]
        print(f"  {name}: paper {p['tmacs']} TMACs = {r['paper_mac_fraction']:.3f}, {p['speedup']:.2f}x; engine "
              f"reuses {r['reuses_per_component']} of {a.cached_steps}: MAC ratio {r['mac_ratio']:.3f}, "
              f"speed-up {r['speedup']:.2f}x ({r['speedup_min']:.2f}-{r['speedup_max']:.2f}) of an ideal "
              f"{r['ideal_speedup']:.2f}x ({r['seconds_uncached']:.1f} s -> {r['seconds_cached']:.1f} s)")
    print(f"\nwhole run {res['seconds_total_run'] / 60:.1f} min; 1-minute load average {load} "
          f"(this benchmark alone: ~{a.threads})")
    with open(os.path.join(OUT, "stable_audio.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
