#!/usr/bin/env python3
"""Reference for the caching layer: SmoothCache-style cached sampling and calibration on the
diffusers model, the way the official SmoothCache helper does it (forward hooks on each block's
attention (attn1) and feed-forward (ff) modules that return the stored raw output on a 0 of the
schedule), written into tests/fixtures/cache/ for tests/test_cache.c.

    .venv/bin/python tools/reference_cache.py [OUTDIR]

Cases (all on tests/fixtures/dit_a, DDIM 10 steps, CFG 4, classes [1, 2], latents from seed 7
as in the a_ddim fixture):
  * smooth_sched.json + smooth_out.npy: a per-block schedule applied through module hooks;
  * calib_mean.json / calib_pooled.json: relative L1 error curves (lags 1..3) recorded by hooks on
    the uncached trajectory, averaged per sample then over samples ("mean", the paper) or pooled
    over the batch ("pooled", the released calibrator), per block and over blocks;
  * taylorseer_out.npy: diffusers' own TaylorSeer hook (apply_taylorseer_cache, float32 factors,
    cache_interval 3, disable_cache_before_step 3, max_order 2) on every attn1 and ff module;
  * fastercache_out.npy: diffusers' FasterCache hooks (apply_faster_cache, defaults) with
    uncond_every 3 and the uncond / attention ranges widened to every timestep, in a loop that
    orders the guided batch [uncond; cond] as those hooks require (the engine orders it
    [cond; uncond]; the sampling is the same).
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DiTTransformer2DModel
from diffusers.hooks.hooks import CacheContext, _set_cache_context
from diffusers.hooks.faster_cache import FasterCacheConfig, apply_faster_cache
from diffusers.hooks.taylorseer_cache import TaylorSeerCacheConfig, apply_taylorseer_cache

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STEPS, CLASSES, SEED, CFG, K = 10, [1, 2], 7, 4.0, 3

# A per-block schedule: block 0 and block 1 differ, first and last evaluations compute.
SCHEDULE = {
    "attn-0": [1, 0, 1, 0, 0, 1, 1, 0, 1, 1],
    "attn": [1, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    "mlp": [1, 0, 0, 1, 1, 0, 1, 0, 0, 1],
}


class Hooks:
    """Per-generation state for every (block, component): the evaluation index n is set by the
    sampling loop before each model call, never counted inside the hook."""

    def __init__(self, model, schedule=None):
        self.n = 0
        self.schedule = schedule
        self.cache = {}
        self.outputs = {}  # (comp, block) -> list of outputs per evaluation (calibration)
        self.handles = []
        for b, blk in enumerate(model.transformer_blocks):
            for comp, module in (("attn", blk.attn1), ("mlp", blk.ff)):
                self.handles.append(module.register_forward_hook(self._hook(comp, b)))

    def _row(self, comp, b):
        return self.schedule.get(f"{comp}-{b}", self.schedule.get(comp))

    def _hook(self, comp, b):
        def hook(module, args, output):
            key = (comp, b)
            if self.schedule is not None:
                row = self._row(comp, b)
                if row is not None and row[self.n] == 0 and key in self.cache:
                    return self.cache[key]
                self.cache[key] = output.detach().clone()
                return output
            self.outputs.setdefault(key, []).append(output.detach().double())
            return output
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def trajectory(model, hooks):
    sched = DDIMScheduler(**ref.DIT_DDIM_CONFIG)
    sampler = ref.DiffusersSampler(sched, STEPS, 4)
    shape = (len(CLASSES), 4, 16, 16)
    latents = torch.from_numpy(ref.seeded_latents(SEED, shape[0], shape[1:]))
    fn = ref.diffusers_fn(model)

    def counted(x, t, y):
        out = fn(x, t, y)
        hooks.n += 1
        return out

    final, _ = ref.run_trajectory(counted, sampler, latents, CLASSES, 10, CFG, "diffusers")
    return final.numpy()


@torch.no_grad()
def fastercache_trajectory(model):
    """DDIM 10, guidance 4 with the batch [uncond; cond] and diffusers' FasterCache hooks."""
    sched = DDIMScheduler(**ref.DIT_DDIM_CONFIG)
    sched.set_timesteps(STEPS)
    n = len(CLASSES)
    x = torch.from_numpy(ref.seeded_latents(SEED, n, (4, 16, 16)))
    labels = torch.tensor([10] * n + CLASSES)
    state = {"t": 999}
    apply_faster_cache(model, FasterCacheConfig(
        spatial_attention_block_skip_range=2, spatial_attention_timestep_skip_range=(-1, 1001),
        unconditional_batch_skip_range=3, unconditional_batch_timestep_skip_range=(-1, 1001),
        current_timestep_callback=lambda: state["t"], tensor_format="BCHW",
        _unconditional_conditional_input_kwargs_identifiers=["hidden_states", "timestep", "class_labels"]))
    for t in sched.timesteps:
        state["t"] = int(t)
        out = model(torch.cat([x, x]), timestep=torch.full((2 * n,), int(t)), class_labels=labels).sample
        uncond, cond = out[:n, :4], out[n:, :4]
        eps = uncond + CFG * (cond - uncond)
        x = sched.step(eps, t, x).prev_sample
    return x.numpy()


def calibration(outputs, depth, n_images, pooled):
    """errors[comp][j-1][i] and per-block curves: relL1(y_i, y_{i+j}) with the later output as
    the reference; a sample is an image's cond row i and uncond row N+i together."""
    per_block = {}
    for (comp, b), ys in outputs.items():
        lags = []
        for j in range(1, K + 1):
            row = []
            for i in range(STEPS - j):
                prev, cur = ys[i], ys[i + j]
                if pooled:
                    row.append(float((prev - cur).abs().sum() / cur.abs().sum()))
                else:
                    vals = []
                    for s in range(n_images):
                        idx = [s, s + n_images]
                        vals.append(float((prev[idx] - cur[idx]).abs().sum() / cur[idx].abs().sum()))
                    row.append(float(np.mean(vals)))
            lags.append(row)
        per_block[f"{comp}-{b}"] = lags
    result = {"_meta": {"sampler": "ddim", "steps": STEPS, "k": K, "averaging": "pooled" if pooled else "mean"}}
    for comp in ("attn", "mlp"):
        curves = [per_block[f"{comp}-{b}"] for b in range(depth)]
        result[comp] = [[float(np.mean([c[j][i] for c in curves])) for i in range(STEPS - 1 - j)] for j in range(K)]
    result["per_block"] = per_block
    return result


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "cache"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = DiTTransformer2DModel.from_pretrained(ROOT / "tests" / "fixtures" / "dit_a", torch_dtype=torch.float32).eval()
    depth = len(model.transformer_blocks)

    hooks = Hooks(model, SCHEDULE)
    cached = trajectory(model, hooks)
    hooks.remove()
    assert hooks.n == STEPS
    (out / "smooth_sched.json").write_text(json.dumps(SCHEDULE) + "\n")
    np.save(out / "smooth_out.npy", cached.astype("<f4"))

    hooks = Hooks(model)
    uncached = trajectory(model, hooks)
    hooks.remove()
    for pooled, name in ((False, "calib_mean.json"), (True, "calib_pooled.json")):
        (out / name).write_text(json.dumps(calibration(hooks.outputs, depth, len(CLASSES), pooled), indent=1) + "\n")
    rel = np.abs(cached - uncached).max() / np.abs(uncached).max()

    # TaylorSeer through diffusers' hook (the reference the C policy reproduces).
    ts_model = DiTTransformer2DModel.from_pretrained(ROOT / "tests" / "fixtures" / "dit_a",
                                                     torch_dtype=torch.float32).eval()
    apply_taylorseer_cache(ts_model, TaylorSeerCacheConfig(
        cache_interval=3, disable_cache_before_step=3, max_order=2, taylor_factors_dtype=torch.float32,
        cache_identifiers=[r"transformer_blocks\.\d+\.attn1", r"transformer_blocks\.\d+\.ff"]))
    hooked = sum(1 for m in ts_model.modules() if hasattr(m, "_diffusers_hook"))
    assert hooked == 2 * depth, f"TaylorSeer hooked {hooked} modules"
    _set_cache_context(ts_model, CacheContext("cond_uncond"))  # one batched [cond; uncond] call per step
    ts = trajectory(ts_model, Hooks(ts_model, schedule={}))
    _set_cache_context(ts_model, None)
    np.save(out / "taylorseer_out.npy", ts.astype("<f4"))
    print(f"taylorseer vs uncached: {np.abs(ts - uncached).max() / np.abs(uncached).max():.3g}")

    fc_model = DiTTransformer2DModel.from_pretrained(ROOT / "tests" / "fixtures" / "dit_a",
                                                     torch_dtype=torch.float32).eval()
    fc = fastercache_trajectory(fc_model)
    np.save(out / "fastercache_out.npy", fc.astype("<f4"))
    print(f"fastercache vs uncached: {np.abs(fc - uncached).max() / np.abs(uncached).max():.3g}")
    print(f"wrote {out}: cached vs uncached final latent differ by {rel:.3g} (relative max)")


if __name__ == "__main__":
    main()
