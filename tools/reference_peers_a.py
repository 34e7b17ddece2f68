#!/usr/bin/env python3
"""Reference for the step-level peer policies (teacache, magcache, fbcache, dbcache): cached
sampling runs whose per-evaluation decisions and final latents tests/test_peers_a.c must
reproduce, written into tests/fixtures/peers_a/.

    .venv/bin/python tools/reference_peers_a.py [OUTDIR]

All runs use the guided DDIM loop of tools/reference_cache.py (diffusers DDIMScheduler with the
DiT config, CFG 4 on the batched [cond; uncond] rows, classes [1, 2], seed-7 latents drawn with
the engine's generator) on tests/fixtures/dit_a (2 blocks) unless stated:

  * fbcache:  diffusers' own hook, hooks/first_block_cache.py (apply_first_block_cache), 10 steps.
  * magcache: diffusers' own hook, hooks/mag_cache.py: a calibration run (calibrate=True) gives
    magcache_ratios.json, then cached runs at 10 steps and, with the same 10 ratios resampled by
    the hook's nearest_interp, at 7 steps.
  * teacache: diffusers ships no TeaCache; TeaCacheRef below transcribes TeaCache4FLUX's rule
    (first and last evaluation compute, m_{n-1} updated every evaluation, A += poly1d(coef)(d),
    reuse while A < thresh) on a DiT forward whose block loop it replaces, as the TeaCache
    repository does. teacache_calib.json holds the calibration points (x, y per sample) and
    numpy.polyfit's degree-4 coefficients on them.
  * dbcache:  cache-dit is not installed; DBCacheRef transcribes its DBCache rule (Fn blocks
    always run, their residual against the last computed one's, gates warm-up / max cached /
    max consecutive / threshold, middle residual reused, Bn blocks always run) on peers_a/dit_e,
    a 4-block diffusers DiT (float16 storage, 8x8 latents) written here, with Fn = 1, Bn = 1.

cases.json lists, per case: spec (the --cache text without file paths), model, steps, computed
(1/0 per evaluation, in call order), signal (the per-evaluation quantity compared with the
threshold, null where none), out (final conditional latents, .npy '<f4'), reference.

Every threshold is asserted to stay at least MARGIN (relative) away from every signal it meets,
so float32 summation-order differences between PyTorch and the engine cannot flip a decision.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DiTTransformer2DModel
from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, apply_first_block_cache, apply_mag_cache
from diffusers.hooks.hooks import CacheContext, _set_cache_context

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLASSES, SEED, CFG = [1, 2], 7, 4.0
MARGIN = 1e-3

FB_THRESH = 0.5
MAG = dict(threshold=0.3, max_skip_steps=2, retention_ratio=0.2)
TEA_THRESH = 0.5
TEA_COEF = [2.0, -3.0, 1.5, 0.8, 0.01]  # x^4 first
DB = dict(fn=1, bn=1, thresh=0.75, warmup=2, max_cached=4, max_consecutive=2)
SPEC_E = ref.ModelSpec("peers_a/dit_e", "diffusers", torch.float16, depth=4, heads=2, head_dim=16, in_channels=4,
                       learn_sigma=True, patch=2, size=8, num_classes=10, tag="e", seed=105)


def load(path):
    return DiTTransformer2DModel.from_pretrained(path, torch_dtype=torch.float32).eval()


@torch.no_grad()
def trajectory(fn, steps, size, num_classes):
    """Final conditional latents of the guided DDIM loop; fn(x, t, y) is the model."""
    sampler = ref.DiffusersSampler(DDIMScheduler(**ref.DIT_DDIM_CONFIG), steps, 4)
    latents = torch.from_numpy(ref.seeded_latents(SEED, len(CLASSES), (4, size, size)))
    final, _ = ref.run_trajectory(fn, sampler, latents, CLASSES, num_classes, CFG, "diffusers")
    return final.numpy()


def rel_l1(cur, prev):
    """sum|cur - prev| / sum|prev| in double."""
    cur, prev = cur.double(), prev.double()
    return float((cur - prev).abs().sum() / prev.abs().sum())


def check_margin(name, signals, thresh):
    for n, s in enumerate(signals):
        if s is not None and abs(s - thresh) < MARGIN * abs(thresh):
            sys.exit(f"{name}: evaluation {n} has signal {s!r}, too close to the threshold {thresh}")


# ------------------------------------------------------------------------------ diffusers hooks


def fbcache_case(model_dir, steps):
    model = load(model_dir)
    apply_first_block_cache(model, FirstBlockCacheConfig(threshold=FB_THRESH))
    _set_cache_context(model, CacheContext(name="inference"))
    hook = model.transformer_blocks[0]._diffusers_hook.get_hook("fbc_leader_block_hook")
    decide = hook._should_compute_remaining_blocks
    signals, computed = [], []

    def logged(residual):
        prev = hook.state_manager.get_state().head_block_residual
        # The hook's own diff (absmean ratio, float32), for the margin check only.
        signals.append(None if prev is None else float((residual - prev).abs().mean() / prev.abs().mean()))
        return decide(residual)

    hook._should_compute_remaining_blocks = logged
    fn = ref.diffusers_fn(model)

    def counted(x, t, y):
        out = fn(x, t, y)
        computed.append(int(hook.state_manager.get_state().should_compute))
        return out

    out = trajectory(counted, steps, 16, 10)
    check_margin("fbcache", signals, FB_THRESH)
    return out, computed, signals


def magcache_calibration(model_dir, steps):
    model = load(model_dir)
    apply_mag_cache(model, MagCacheConfig(calibrate=True, num_inference_steps=steps))
    tail = model.transformer_blocks[-1]._diffusers_hook.get_hook("mag_cache_block_hook")
    ratios, calibrate = [], tail._perform_calibration_step

    def logged(state, residual):
        calibrate(state, residual)
        ratios.append(float(state.calibration_ratios[-1]))  # the hook clears its list at the end

    tail._perform_calibration_step = logged
    trajectory(ref.diffusers_fn(model), steps, 16, 10)
    assert len(ratios) == steps
    return ratios


def magcache_case(model_dir, ratios, steps):
    model = load(model_dir)
    config = MagCacheConfig(mag_ratios=list(ratios), num_inference_steps=steps, **MAG)
    apply_mag_cache(model, config)
    head = model.transformer_blocks[0]._diffusers_hook.get_hook("mag_cache_leader_block_hook")
    fn = ref.diffusers_fn(model)
    computed, signals = [], []

    def counted(x, t, y):
        out = fn(x, t, y)
        state = head.state_manager.get_state()
        computed.append(int(state.should_compute))
        return out

    out = trajectory(counted, steps, 16, 10)
    # The hook's accumulated error before each decision, replayed in float32 for the margin check.
    scale = np.float32((len(ratios) - 1) / (steps - 1)) if steps > 1 else None
    r = [np.float32(ratios[int(np.rint(np.float32(i) * scale))]) for i in range(steps)]
    G, E, cnt = np.float32(1), np.float32(0), 0
    for n in range(steps):
        if n < int(MAG["retention_ratio"] * steps + 0.5):
            signals.append(None)
            continue
        G, cnt = np.float32(G * r[n]), cnt + 1
        E = np.float32(E + np.float32(abs(np.float32(1) - G)))
        signals.append(float(E))
        if not computed[n]:
            continue
        G, E, cnt = np.float32(1), np.float32(0), 0
    check_margin(f"magcache {steps} steps", signals, MAG["threshold"])
    return out, computed, signals


# ------------------------------------------------------------------------------ transcriptions


def dit_forward(model, x, t, y, run_blocks):
    """DiTTransformer2DModel.forward (diffusers 0.42) with the block loop replaced by
    run_blocks(model, h, block_kwargs) -> h, as TeaCache replaces its transformers' forward."""
    h = model.pos_embed(x)
    kw = dict(attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None, timestep=t,
              cross_attention_kwargs=None, class_labels=y)
    h = run_blocks(model, h, kw)
    conditioning = model.transformer_blocks[0].norm1.emb(t, y, hidden_dtype=h.dtype)
    shift, scale = model.proj_out_1(torch.nn.functional.silu(conditioning)).chunk(2, dim=1)
    h = model.norm_out(h) * (1 + scale[:, None]) + shift[:, None]
    h = model.proj_out_2(h)
    g, p, c = int(h.shape[1] ** 0.5), model.patch_size, model.out_channels
    h = torch.einsum("nhwpqc->nchpwq", h.reshape(-1, g, g, p, p, c))
    return h.reshape(-1, c, g * p, g * p)


def all_blocks(model, h, kw):
    for block in model.transformer_blocks:
        h = block(h, **kw)
    return h


class TeaCacheRef:
    """TeaCache4FLUX's rule on the whole DiT block stack (one state: DiT batches CFG)."""

    def __init__(self, coef, thresh, steps):
        self.poly, self.thresh, self.steps = np.poly1d(coef), thresh, steps
        self.cnt, self.acc, self.prev_m, self.residual = 0, 0.0, None, None
        self.computed, self.signals = [], []

    def __call__(self, model, h, kw):
        m = model.transformer_blocks[0].norm1(h, kw["timestep"], kw["class_labels"], hidden_dtype=h.dtype)[0]
        if self.cnt == 0 or self.cnt == self.steps - 1:
            calc, self.acc = True, 0.0
            self.signals.append(None)
        else:
            d = ((m - self.prev_m).abs().mean() / self.prev_m.abs().mean()).item()
            self.acc += self.poly(d)
            self.signals.append(float(self.acc))
            calc = not self.acc < self.thresh
            if calc:
                self.acc = 0.0
        self.prev_m = m
        self.cnt += 1
        self.computed.append(int(calc))
        if not calc:
            return h + self.residual
        h0 = h
        h = all_blocks(model, h, kw)
        self.residual = h - h0
        return h


class DBCacheRef:
    """cache-dit's DBCache: Fn blocks, the Fn residual against the last computed one's, gates in
    cache-dit's order, the middle residual reused on a hit, Bn blocks always."""

    def __init__(self, fn, bn, thresh, warmup, max_cached, max_consecutive):
        self.fn, self.bn, self.thresh, self.warmup = fn, bn, thresh, warmup
        self.max_cached, self.max_consecutive = max_cached, max_consecutive
        self.n, self.cached, self.consecutive = 0, 0, 0
        self.r_ref, self.mid_residual = None, None
        self.computed, self.signals = [], []

    def _hit(self, r):
        if self.n < self.warmup or self.r_ref is None:
            return False
        if 0 <= self.max_cached <= self.cached or 0 <= self.max_consecutive <= self.consecutive:
            return False
        diff = ((self.r_ref - r).abs().mean() / self.r_ref.abs().mean()).item()
        self.signals[-1] = diff
        return diff < self.thresh

    def __call__(self, model, h, kw):
        blocks = model.transformer_blocks
        mid_end = len(blocks) - self.bn
        h0 = h
        for block in blocks[: self.fn]:
            h = block(h, **kw)
        r = h - h0
        self.signals.append(None)
        hit = self._hit(r)
        if hit:
            self.cached += 1
            self.consecutive += 1
            h = h + self.mid_residual
        else:
            self.r_ref, self.consecutive = r, 0
            hm = h
            for block in blocks[self.fn: mid_end]:
                h = block(h, **kw)
            self.mid_residual = h - hm
        for block in blocks[mid_end:]:
            h = block(h, **kw)
        self.computed.append(int(not hit))
        self.n += 1
        return h


def teacache_calibration(model_dir, steps):
    """x = relL1(m_n, m_{n-1}), y = relL1(o_n, o_{n-1}) per sample (rows i and N + i), 1 <= n < steps - 1."""
    model = load(model_dir)
    ms, outs = [], []
    model.transformer_blocks[0].norm1.register_forward_hook(lambda mod, args, out: ms.append(out[0].detach()))
    fn = ref.diffusers_fn(model)

    def recorded(x, t, y):
        out = fn(x, t, y)
        outs.append(out.detach())
        return out

    trajectory(recorded, steps, 16, 10)
    n_img = len(CLASSES)
    xs, ys = [], []
    # The last evaluation always computes, so its pair never meets a decision: left out.
    for n in range(1, steps - 1):
        for i in range(n_img):
            rows = [i, n_img + i]
            xs.append(rel_l1(ms[n][rows], ms[n - 1][rows]))
            ys.append(rel_l1(outs[n][rows], outs[n - 1][rows]))
    return xs, ys


def write_dit_e(outdir):
    path = outdir / "dit_e"
    ref.build_diffusers(SPEC_E).to(SPEC_E.dtype).save_pretrained(path, safe_serialization=True)
    return path


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "peers_a"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    dit_a = ROOT / "tests" / "fixtures" / "dit_a"
    cases = {}

    def case(name, spec, model, steps, computed, signals, latents, reference):
        np.save(out / f"{name}_out.npy", latents.astype("<f4"))
        cases[name] = dict(spec=spec, model=model, steps=steps, computed=computed, signal=signals,
                           out=f"{name}_out.npy", reference=reference)
        print(f"{name:18s} computed {''.join(map(str, computed))}")

    # The transcribed forward is the model's: checked before it carries any cache.
    model = load(dit_a)
    x = torch.randn(4, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    t, y = torch.tensor([999, 500, 20, 1]), torch.tensor([1, 2, 10, 10])
    with torch.no_grad():
        assert torch.equal(dit_forward(model, x, t, y, all_blocks), model(x, timestep=t, class_labels=y).sample)

    latents, computed, signals = fbcache_case(dit_a, 10)
    case("fbcache", f"fbcache:thresh={FB_THRESH}", "dit_a", 10, computed, signals, latents,
         "diffusers hooks/first_block_cache.py (apply_first_block_cache)")

    ratios = magcache_calibration(dit_a, 10)
    (out / "magcache_ratios.json").write_text(json.dumps(
        {"_meta": {"sampler": "ddim", "steps": 10, "samples": len(CLASSES), "reference":
                   "diffusers hooks/mag_cache.py, MagCacheConfig(calibrate=True)"}, "ratios": ratios}, indent=1) + "\n")
    spec = f"magcache:thresh={MAG['threshold']},k={MAG['max_skip_steps']},retention={MAG['retention_ratio']}"
    for steps in (10, 7):
        latents, computed, signals = magcache_case(dit_a, ratios, steps)
        case(f"magcache_{steps}", spec, "dit_a", steps, computed, signals, latents,
             "diffusers hooks/mag_cache.py (apply_mag_cache) with magcache_ratios.json")

    xs, ys = teacache_calibration(dit_a, 10)
    coef = np.polyfit(np.array(xs), np.array(ys), 4)
    (out / "teacache_calib.json").write_text(json.dumps(
        {"_meta": {"sampler": "ddim", "steps": 10, "samples": len(CLASSES), "reference": "numpy.polyfit(x, y, 4)"},
         "coef": [float(c) for c in coef], "x": xs, "y": ys}, indent=1) + "\n")
    model = load(dit_a)
    tea = TeaCacheRef(TEA_COEF, TEA_THRESH, 10)
    latents = trajectory(lambda x, t, y: dit_forward(model, x, t, y, tea), 10, 16, 10)
    check_margin("teacache", tea.signals, TEA_THRESH)
    case("teacache", f"teacache:thresh={TEA_THRESH},coef={'/'.join(repr(c) for c in TEA_COEF)}", "dit_a", 10,
         tea.computed, tea.signals, latents, "TeaCache4FLUX's rule transcribed (TeaCacheRef)")

    model = load(write_dit_e(out))
    db = DBCacheRef(**DB)
    latents = trajectory(lambda x, t, y: dit_forward(model, x, t, y, db), 10, SPEC_E.size, SPEC_E.num_classes)
    check_margin("dbcache", db.signals, DB["thresh"])
    case("dbcache", "dbcache:" + ",".join(f"{k}={v}" for k, v in DB.items()), "peers_a/dit_e", 10, db.computed,
         db.signals, latents, "cache-dit's DBCache rule transcribed (DBCacheRef)")

    (out / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    for name, c in cases.items():
        print(f"{name:18s} signals " + " ".join("-" if s is None else f"{s:.4f}" for s in c["signal"]))


if __name__ == "__main__":
    main()
