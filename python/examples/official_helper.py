#!/usr/bin/env python3
"""SmoothCache schedules across smoothcache and the official SmoothCache code, both ways, on one
diffusers pipeline: the shipped demo model (models/demo, a diffusers DiTTransformer2DModel) run by
diffusers' DiTPipeline with DDIM, and by smoothcache.

(a) smoothcache calibrates the model and makes a schedule (smoothcache.calibrate + make_schedule:
    what `smoothcache calibrate` + `smoothcache schedule` do). The official SmoothCacheHelper loads
    that JSON file and applies it to the diffusers pipeline; smoothcache generates with the same
    file (`--cache smooth:schedule=FILE`).
(b) The reverse: the official DiffuserCalibrationHelper calibrates on the diffusers pipeline and
    writes its schedule; smoothcache generates with that file, and the official helper applies it
    too.

Both sides start from the same noise (the pipeline's torch generator, handed to smoothcache as
initial latents), so their final latents can be compared directly; the official helper's own log
lines count what it reused.

Needs torch, diffusers, numpy, this package (and its library), and the official code, the
`SmoothCache` package (`pip install dit-smoothcache`). Its 0.1.1 wheel lacks the calibration
helpers used by (b) (their folder has no __init__.py, so setup.py leaves it out): for (b), put a
checkout of the Roblox/SmoothCache repository on PYTHONPATH instead.

    python examples/official_helper.py [--steps 50] [--alpha 0.08] [--samples 10] [--out DIR]
"""
import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel
from diffusers.models.attention import BasicTransformerBlock

import smoothcache as sc

with contextlib.redirect_stdout(io.StringIO()):  # it prints a warning per helper it cannot import
    import SmoothCache
    from SmoothCache import SmoothCacheHelper
    try:
        from SmoothCache.calibration.diffuser_calibration_helper import DiffuserCalibrationHelper
    except ImportError:
        DiffuserCalibrationHelper = None

# facebook/DiT-XL-2-256's scheduler/scheduler_config.json: the DDIM that smoothcache runs for a
# model folder without a scheduler (the demo's).
DIT_DDIM = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", clip_sample=False,
                set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon", timestep_spacing="leading")
# The diffusers module names of DiT's cacheable sub-layers, and smoothcache's names for them.
DIFFUSERS_NAME = {"attn": "attn1", "mlp": "ff"}


class PixelSpace(torch.nn.Module):
    """The demo model draws pictures, not latents: its "VAE" is the identity. It also keeps the
    pipeline's final latents (what smoothcache.generate returns)."""

    config = SimpleNamespace(scaling_factor=1.0)
    device, dtype = torch.device("cpu"), torch.float32

    def decode(self, x):
        self.latents = x.detach().clone()
        return SimpleNamespace(sample=x)


def diffusers_pipeline(model_path):
    transformer = DiTTransformer2DModel.from_pretrained(model_path, torch_dtype=torch.float32).eval()
    null = transformer.config.num_embeds_ada_norm
    forward = transformer.forward

    def with_null(hidden_states, timestep=None, class_labels=None, **kw):
        # DiTPipeline names ImageNet's null class (1000); the demo's is num_classes (10).
        return forward(hidden_states, timestep=timestep, class_labels=torch.where(class_labels == 1000, null,
                                                                                  class_labels), **kw)

    transformer.forward = with_null
    pipe = DiTPipeline(transformer=transformer, vae=PixelSpace(), scheduler=DDIMScheduler(**DIT_DDIM))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_pipeline(pipe, classes, seed, steps, cfg):
    """-> (final latents float32 [n, C, H, W], seconds, the official helpers' printed lines)."""
    log = io.StringIO()
    t0 = time.perf_counter()
    with torch.no_grad(), contextlib.redirect_stdout(log):
        pipe(class_labels=list(classes), guidance_scale=cfg, num_inference_steps=steps,
             generator=torch.Generator().manual_seed(seed), output_type="pt")
    return pipe.vae.latents.numpy().astype(np.float32), time.perf_counter() - t0, log.getvalue()


def pipeline_noise(pipe, n, seed):
    """The latents DiTPipeline draws first (randn_tensor on the CPU with a fresh generator)."""
    c, s = pipe.transformer.config.in_channels, pipe.transformer.config.sample_size
    return torch.randn((n, c, s, s), generator=torch.Generator().manual_seed(seed)).numpy().astype(np.float32)


def reused(log):
    """Evaluations the official helper served from its cache, per component ("Returning cached
    result for transformer_blocks.3.attn1 at step 7")."""
    out = {}
    for comp in re.findall(r"Returning cached result for \S*?\.(\w+) at step", log):
        out[comp] = out.get(comp, 0) + 1
    return out


def for_official(schedule):
    """The schedule with the diffusers module names the official helper looks up: smoothcache
    before it wrote those for diffusers models named DiT's components (attn, mlp)."""
    def rename(k):
        comp, _, block = k.partition("-")
        return DIFFUSERS_NAME.get(comp, comp) + ("-" + block if block else "")
    return {rename(k): v for k, v in schedule.items() if k != "_meta"}


def official_cached(pipe, schedule, classes, seed, steps, cfg):
    comps = sorted({k.split("-")[0] for k in schedule})
    helper = SmoothCacheHelper(pipe.transformer, BasicTransformerBlock, comps, schedule)
    helper.enable()
    try:
        return run_pipeline(pipe, classes, seed, steps, cfg)
    finally:
        helper.disable()


def accuracy(model, lat, classes):
    seen = [sc.demo_classify(np.ascontiguousarray(im)) for im in model.decode(lat)]
    return sum(int(s == c) for s, c in zip(seen, classes))


def compare(title, model, pipe, path, classes, seed, steps, cfg, threads, base):
    """Runs one schedule file on both sides and prints what they did and how close they came."""
    d_ref, s_ref, _ = base["diffusers"]
    m_ref, m_ref_stats = base["smoothcache"]
    raw = json.loads(Path(path).read_text())
    official = for_official(raw)
    renamed = sorted(official) != sorted(k for k in raw if k != "_meta")
    d_lat, d_sec, log = official_cached(pipe, official, classes, seed, steps, cfg)
    m_lat, st = model.generate(classes, seed=seed, steps=steps, cfg=cfg, cache=f"smooth:schedule={path}",
                               latents=pipeline_noise(pipe, len(classes), seed), threads=threads)
    n_blocks = model.info.depth
    print(title)
    print(f"  file {path}: keys {', '.join(k for k in raw if k != '_meta')}"
          + (f" (given to the official helper as {', '.join(official)})" if renamed else ""))
    skipped_official = reused(log)
    for comp in model.info.components:
        name = DIFFUSERS_NAME[comp]
        print(f"  {name:5s} computed per block: official helper {steps - skipped_official.get(name, 0) // n_blocks}/{steps}"
              f", smoothcache {st.computed[comp] // n_blocks}/{steps}")
    print(f"  final latents, diffusers + official helper vs smoothcache: rel-L2 {sc.rel_l2(d_lat, m_lat):.2e}"
          f" (uncached, the same pair: {sc.rel_l2(d_ref, m_ref):.2e})")
    print(f"  against its own uncached run: diffusers {sc.rel_l2(d_lat, d_ref):.4f}, smoothcache "
          f"{sc.rel_l2(m_lat, m_ref):.4f}; MACs {st.mac_ratio:.3f}x; demo classifier "
          f"{accuracy(model, d_lat, classes)}/{len(classes)} and {accuracy(model, m_lat, classes)}/{len(classes)}")
    print(f"  seconds: diffusers {s_ref:.2f} uncached, {d_sec:.2f} cached; smoothcache {m_ref_stats.seconds:.2f}"
          f" uncached, {st.seconds:.2f} cached")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="a diffusers DiT folder (default: the shipped demo model)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=4.0)
    ap.add_argument("--alpha", type=float, default=0.08, help="the threshold both calibrations schedule with")
    ap.add_argument("--samples", type=int, default=10, help="samples generated and calibrated on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="smoothcache's threads (torch's are set to the same)")
    ap.add_argument("--out", default=None, help="where to write the schedules (default: a temporary folder)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    out = Path(a.out or tempfile.mkdtemp(prefix="smoothcache-official-"))
    out.mkdir(parents=True, exist_ok=True)

    model = sc.Model(a.model)
    pipe = diffusers_pipeline(model.path)
    classes = [i % model.info.num_classes for i in range(a.samples)]
    print(f"smoothcache {sc.__version__} ({sc.library_path}), SmoothCache (official) from "
          f"{Path(SmoothCache.__file__).parent}, torch {torch.__version__}")
    print(f"model {model.path}: diffusers DiTPipeline + DDIM and smoothcache, {a.steps} steps, cfg {a.cfg}, "
          f"classes {classes}, seed {a.seed}")
    noise = pipeline_noise(pipe, len(classes), a.seed)
    d_ref = run_pipeline(pipe, classes, a.seed, a.steps, a.cfg)
    m_ref = model.generate(classes, steps=a.steps, cfg=a.cfg, latents=noise, threads=a.threads)
    base = {"diffusers": d_ref, "smoothcache": m_ref}
    print(f"uncached: diffusers vs smoothcache final latents rel-L2 {sc.rel_l2(d_ref[0], m_ref[0]):.2e}")

    # (a) smoothcache's calibration and schedule, applied by the official helper
    cal = sc.calibrate(model, "smooth", samples=a.samples, steps=a.steps, cfg=a.cfg, seed=a.seed,
                       threads=a.threads, out=out / "errors.json", force=True)
    cal.close()
    ours = out / f"smoothcache-alpha{a.alpha}.json"
    sched = sc.make_schedule(out / "errors.json", ours, alpha=a.alpha, force=True)
    print(f"\nsmoothcache calibrate --samples {a.samples} --steps {a.steps}; smoothcache schedule --alpha {a.alpha}: "
          f"MACs {sched.mac_ratio:.3f}x")
    compare("(a) a schedule made by smoothcache, used by the official SmoothCacheHelper on the diffusers pipeline",
            model, pipe, ours, classes, a.seed, a.steps, a.cfg, a.threads, base)

    # (b) the official calibration's schedule, used by smoothcache
    if DiffuserCalibrationHelper is None:
        print("\n(b) skipped: this SmoothCache package has no calibration helpers (the 0.1.1 wheel leaves them out;"
              " put a checkout of the repository on PYTHONPATH)")
        return
    theirs = out / f"official-alpha{a.alpha}.json"
    helper = DiffuserCalibrationHelper(pipe.transformer, calibration_lookahead=3, calibration_threshold=a.alpha,
                                       schedule_length=a.steps, log_file=str(theirs), components_to_wrap=["attn1", "ff"])
    helper.enable()
    run_pipeline(pipe, classes, a.seed, a.steps, a.cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        helper.disable()  # writes the schedule
    print(f"\nofficial DiffuserCalibrationHelper(calibration_threshold={a.alpha}, components_to_wrap=[attn1, ff]) "
          f"on one pipeline call of the {a.samples} samples")
    # smoothcache's own calibration of that same call (same noise, the batch's pooled relative L1
    # as the official helper measures it), scheduled at the same alpha:
    with sc.Calibration("smooth:k=3,averaging=pooled") as pooled:
        model.generate(classes, steps=a.steps, cfg=a.cfg, latents=noise, threads=a.threads, calibration=pooled)
        pooled.save(out / "errors-pooled.json", force=True)
    mine = sc.make_schedule(out / "errors-pooled.json", alpha=a.alpha)
    official = sc.read_schedule(theirs).entries
    mine = for_official(mine.entries)
    same = {DIFFUSERS_NAME[c]: int(np.sum(mine[DIFFUSERS_NAME[c]] != official[DIFFUSERS_NAME[c]]))
            for c in model.info.components}
    print("  smoothcache's calibration of the same call, same alpha: steps that differ from the official schedule: "
          + ", ".join(f"{k} {v}/{a.steps}" for k, v in same.items()))
    compare("(b) a schedule made by the official calibration helper, used by smoothcache (--cache smooth:schedule=FILE)",
            model, pipe, theirs, classes, a.seed, a.steps, a.cfg, a.threads, base)


if __name__ == "__main__":
    sys.exit(main())
