#!/usr/bin/env python3
"""Reference for SmoothCache on PixArt (issue 15), made by the official SmoothCache code itself
(github.com/Roblox/SmoothCache, not on PyPI: give a checkout) on the tiny PixArt-alpha pipeline of
tools/reference_pixart_pipeline.py.

    SMOOTHCACHE_SRC=/path/to/SmoothCache .venv/bin/python tools/reference_pixart_cache.py [OUT_DIR]
                                                           (default tests/fixtures/pixart/cache)

Runs (the two prompts of pipe_alpha/ref/prompts.txt, guidance 4.5, DPMSolverMultistepScheduler,
STEPS steps, initial latents pipe_alpha/ref/latents_in.npy, clean_caption=False, binning off):
  uncached.npy        the final latents without caching
  attn1.json          a schedule for attn1 only, applied by the official DiffuserCacheHelper
  attn1_out.npy       its final latents; attn1_reused.json: how many times it returned a stored output
  all.json            a schedule for attn1, attn2 and ff, with a per-block key ("ff-1"), applied by
                      the official SmoothCacheHelper on BasicTransformerBlock's attn1, attn2 and ff
  all_out.npy, all_reused.json (per component)
  calib_rows.json     the official DiffuserCalibrationHelper (components attn1, attn2, ff, lookahead
                      3) on the uncached run: per component, the relative L1 rows for lags 1..3
                      averaged over blocks by the helper's own _average_arrays
  calib_schedule.json the schedule the helper writes from them at threshold CALIB_THRESHOLD
"""

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import PixArtAlphaPipeline
from diffusers.models.attention import BasicTransformerBlock

ROOT = Path(__file__).resolve().parent.parent
PIPE = ROOT / "tests" / "fixtures" / "pixart" / "pipe_alpha"
STEPS = 10
GUIDANCE = 4.5
CALIB_THRESHOLD = 0.35

src = os.environ.get("SMOOTHCACHE_SRC")
if not src or not (Path(src) / "SmoothCache" / "smooth_cache_helper.py").is_file():
    sys.exit("set SMOOTHCACHE_SRC to a checkout of github.com/Roblox/SmoothCache (its SmoothCache/ package)")
sys.path.insert(0, src)
from SmoothCache.smooth_cache_helper import SmoothCacheHelper  # noqa: E402
from SmoothCache.diffuser_cache_helper import DiffuserCacheHelper  # noqa: E402
from SmoothCache.calibration.diffuser_calibration_helper import DiffuserCalibrationHelper  # noqa: E402


def run(pipe, lat, prompts):
    with torch.no_grad():
        return pipe(prompts, negative_prompt="", num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                    latents=lat.clone(), use_resolution_binning=False, clean_caption=False,
                    output_type="latent").images.float().numpy()


def with_helper(helper, pipe, lat, prompts):
    """Runs with the helper enabled; returns the latents and the reuses per component, counted from
    the lines the helper prints on every reuse."""
    buf = io.StringIO()
    helper.enable()
    with contextlib.redirect_stdout(buf):
        z = run(pipe, lat, prompts)
    helper.disable()
    reused = {}
    for line in buf.getvalue().splitlines():
        if line.startswith("Returning cached result for"):
            comp = line.split()[4].split(".")[-1]
            reused[comp] = reused.get(comp, 0) + 1
    return z, reused


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else PIPE.parent / "cache"
    out.mkdir(parents=True, exist_ok=True)
    pipe = PixArtAlphaPipeline.from_pretrained(PIPE).to("cpu")
    pipe.set_progress_bar_config(disable=True)
    prompts = (PIPE / "ref" / "prompts.txt").read_text().splitlines()
    lat = torch.from_numpy(np.load(PIPE / "ref" / "latents_in.npy"))
    np.save(out / "uncached.npy", run(pipe, lat, prompts))

    s1 = {"attn1": [1, 1, 0, 1, 0, 1, 0, 0, 1, 1]}
    (out / "attn1.json").write_text(json.dumps(s1) + "\n")
    z, reused = with_helper(DiffuserCacheHelper(pipe.transformer, schedule=s1), pipe, lat, prompts)
    np.save(out / "attn1_out.npy", z)
    (out / "attn1_reused.json").write_text(json.dumps(reused) + "\n")

    s2 = {"attn1": [1, 1, 0, 1, 1, 0, 1, 0, 1, 1], "attn2": [1, 0, 1, 0, 1, 0, 1, 0, 1, 1],
          "ff": [1, 1, 1, 0, 1, 1, 0, 1, 1, 1], "ff-1": [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]}
    (out / "all.json").write_text(json.dumps(s2) + "\n")
    helper = SmoothCacheHelper(pipe.transformer, block_classes=BasicTransformerBlock,
                               components_to_wrap=["attn1", "attn2", "ff"], schedule=s2)
    z, reused = with_helper(helper, pipe, lat, prompts)
    np.save(out / "all_out.npy", z)
    (out / "all_reused.json").write_text(json.dumps(reused) + "\n")

    cal = DiffuserCalibrationHelper(pipe.transformer, calibration_lookahead=3,
                                    calibration_threshold=CALIB_THRESHOLD, schedule_length=STEPS,
                                    log_file=str(out / "calib_schedule.json"),
                                    components_to_wrap=["attn1", "attn2", "ff"])
    cal.enable()
    run(pipe, lat, prompts)
    rows = {}
    groups = {}
    for name, sub in cal.calibration_results.items():
        groups.setdefault(name.split(".")[-1], []).append(sub)
    for comp, subs in groups.items():
        rows[comp] = [list(map(float, cal._average_arrays([s[j] for s in subs]))) for j in range(3)]
    with contextlib.redirect_stdout(io.StringIO()):
        cal.disable()
    (out / "calib_rows.json").write_text(json.dumps(dict(steps=STEPS, guidance=GUIDANCE, k=3, rows=rows,
                                                         threshold=CALIB_THRESHOLD), indent=1) + "\n")
    print("reused", json.loads((out / "attn1_reused.json").read_text()), json.loads((out / "all_reused.json").read_text()))
    print("calibration rows", {k: [len(r) for r in v] for k, v in rows.items()})


if __name__ == "__main__":
    main(sys.argv)
