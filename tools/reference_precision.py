#!/usr/bin/env python3
"""Reference for the bf16 and int8 CPU backends (docs/PRECISION.md): what PyTorch computes in
bf16, and an exact emulation of the engine's own bf16 and int8 schemes, on the tiny DiT fixtures
and the shipped demo model.

    .venv/bin/python tools/reference_precision.py [OUT_DIR]     (default tests/fixtures/precision)

For each case (a diffusers DiT, inputs x, t, y) it writes
  <case>_x.npy                      (only for cases without a forward fixture of their own)
  <case>_f32.npy                    the float32 forward (diffusers, as tools/reference.py)
  <case>_bf16_autocast.npy          the same under torch.autocast("cpu", dtype=torch.bfloat16):
                                    what a PyTorch user gets by flipping one switch
  <case>_bf16_emul.npy              the engine's bf16 scheme: the inputs of every linear layer,
                                    of the patch embedding and of attention's two products
                                    rounded to bf16 (nearest even), products accumulated in
                                    float64 here (float32 in the engine), everything else float32
  <case>_int8_emul.npy              the engine's int8 scheme (W8A8): attention's products and the
                                    conditioning projections as in bf16; the block linears
                                    (to_q/k/v, to_out, ff) with weights quantised per output
                                    channel and inputs per token, symmetric, scale = max|row| /
                                    127, q = rint(row * (127 / max|row|)); y = float32(int
                                    accumulator) * (sx[m] * sw[n]) + b[n] in float32
For the T5 fixtures (tests/fixtures/t5/v1_0 and v1_1, case L40) it writes the bf16-autocast
output of transformers' T5EncoderModel, t5_<variant>_L40_bf16_autocast.npy.

For the first VAE fixture it writes the decode under bf16 autocast, <vae case>_bf16_autocast.npy.

And precision.json: the cases with their inputs and the relative errors measured here (L2 of the
difference over L2 of the float32 output), which tests/test_precision.c bounds.

"Equal up to float32 rounding" needs a measure: rounding to bf16 and to int8 is discontinuous, so
a float32 rounding difference anywhere (the engine accumulates in float32 and in another order)
flips a few roundings downstream, and the layers after amplify the flips. The tool measures that
amplification: the emulation run again with every product's result given a relative Gaussian
error of 2e-7 (float32 accumulation noise), over three seeds; the largest change is recorded as
`sensitivity_<scheme>`. The engine must stay within 3x of it, and far below the scheme's own
error against float32.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DiTTransformer2DModel
from torch import nn

REPO = Path(__file__).resolve().parent.parent
FIX = REPO / "tests" / "fixtures"


def bf16(t):
    return t.to(torch.bfloat16).to(torch.float32)


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def quant_rows(x):
    """x [M, K] float32 -> (q int64 [M, K], scale float32 [M]) exactly as mm_quantize_rows."""
    x = np.ascontiguousarray(x, np.float32)
    amax = np.abs(x).max(axis=1).astype(np.float32)
    amax = np.where(amax < np.float32(1e-30), np.float32(0), amax).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    q = np.rint((x * inv[:, None]).astype(np.float32))
    q = np.clip(q, -127, 127).astype(np.int64)
    return q, (amax / np.float32(127)).astype(np.float32)


# Relative noise added to every product's result when measuring the sensitivity (0: exact).
NOISE = {"eps": 0.0, "gen": None}


def noisy(y):
    """y with a relative NOISE["eps"] Gaussian error: what a float32 accumulation in another order
    gives instead of the float64 one here."""
    if not NOISE["eps"]:
        return y
    return y * (1 + NOISE["eps"] * torch.randn(y.shape, generator=NOISE["gen"], dtype=y.dtype))


def linear_bf16(x, w, b):
    y = noisy((bf16(x).double() @ bf16(w).double().T).float())
    return y + b if b is not None else y


def linear_int8(x, w, b):
    shape = x.shape
    x2 = x.reshape(-1, shape[-1]).detach().numpy()
    qx, sx = quant_rows(x2)
    qw, sw = quant_rows(w.detach().numpy())
    acc = (qx @ qw.T).astype(np.float32)  # exact int64 products, rounded once to float32
    y = noisy(torch.from_numpy(acc * (sx[:, None] * sw[None, :]).astype(np.float32))).numpy()
    if b is not None:
        y = (y + b.detach().numpy().astype(np.float32)).astype(np.float32)
    return torch.from_numpy(y.astype(np.float32)).reshape(*shape[:-1], w.shape[0])


class EmulAttention:
    """diffusers' self-attention with bf16 inputs to both products (scores and softmax in
    float32), as cpu_attention computes it in the bf16 and int8 backends."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        B, T, _ = hidden_states.shape
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        H = attn.heads
        hd = q.shape[-1] // H
        q, k, v = (t.reshape(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        s = noisy((bf16(q).double() @ bf16(k).double().transpose(-1, -2)).float())
        p = torch.softmax(s * np.float32(1.0 / np.sqrt(np.float32(hd))), dim=-1)
        o = noisy((bf16(p).double() @ bf16(v).double()).float())
        o = o.transpose(1, 2).reshape(B, T, H * hd)
        return attn.to_out[1](attn.to_out[0](o))


def is_block_linear(name):
    return ".attn1.to_" in name or ".ff.net." in name


def emulate(model, scheme):
    """Patches model in place: every Linear and the patch-embedding conv to the scheme."""
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear):
            int8 = scheme == "int8" and is_block_linear(name)
            mod.forward = (lambda m, i: (lambda x: (linear_int8 if i else linear_bf16)(x, m.weight, m.bias)))(mod, int8)
        elif isinstance(mod, nn.Conv2d):
            mod.forward = (lambda m: (lambda x: noisy(F.conv2d(bf16(x).double(), bf16(m.weight).double(),
                                                               m.bias.double(), m.stride, m.padding).float())))(mod)
    for mod in model.modules():
        if hasattr(mod, "set_processor") and hasattr(mod, "to_q"):
            mod.set_processor(EmulAttention())
    return model


def load(path):
    return DiTTransformer2DModel.from_pretrained(str(path), torch_dtype=torch.float32).eval()


def forward(model, x, t, y):
    with torch.no_grad():
        return model(torch.from_numpy(x), timestep=torch.tensor(t, dtype=torch.int64),
                     class_labels=torch.tensor(y, dtype=torch.int64)).sample.float().numpy()


def sensitivity(path, scheme, x, t, y, ref):
    worst = 0.0
    for seed in range(3):
        NOISE["eps"], NOISE["gen"] = 2e-7, torch.Generator().manual_seed(seed)
        worst = max(worst, rel(forward(emulate(load(path), scheme), x, t, y), ref))
    NOISE["eps"] = 0.0
    return worst


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else FIX / "precision"
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((FIX / "manifest.json").read_text())
    fwd = {c["name"]: c for c in manifest["cases"] if c["kind"] == "forward"}
    cases = []
    for tag, folder in (("a", FIX / "dit_a"), ("c", FIX / "dit_c_pipeline" / "transformer")):
        c = fwd[tag + "_forward"]
        cases.append(dict(name=tag, model=str(Path(c["model"])), path=folder, x=np.load(FIX / c["x"]), x_file=c["x"],
                          t=c["t"], y=c["y"]))
    g = np.random.default_rng(11)
    demo_x = g.standard_normal((4, 3, 32, 32)).astype(np.float32)
    np.save(out / "demo_x.npy", demo_x)
    cases.append(dict(name="demo", model="models/demo", path=REPO / "models" / "demo", x=demo_x,
                      x_file="precision/demo_x.npy", t=[0, 250, 500, 999], y=[0, 3, 9, 10]))
    records = []
    for c in cases:
        f32 = forward(load(c["path"]), c["x"], c["t"], c["y"])
        model = load(c["path"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            auto = forward(model, c["x"], c["t"], c["y"])
        b = forward(emulate(load(c["path"]), "bf16"), c["x"], c["t"], c["y"])
        i8 = forward(emulate(load(c["path"]), "int8"), c["x"], c["t"], c["y"])
        files = {}
        for key, arr in (("f32", f32), ("bf16_autocast", auto), ("bf16_emul", b), ("int8_emul", i8)):
            np.save(out / f"{c['name']}_{key}.npy", arr.astype(np.float32))
            files[key] = f"precision/{c['name']}_{key}.npy"
        rec = dict(name=c["name"], model=c["model"], x=c["x_file"], t=c["t"], y=c["y"], files=files,
                   sensitivity_bf16=sensitivity(c["path"], "bf16", c["x"], c["t"], c["y"], b),
                   sensitivity_int8=sensitivity(c["path"], "int8", c["x"], c["t"], c["y"], i8),
                   rel_err=dict(bf16_autocast_vs_f32=rel(auto, f32), bf16_emul_vs_f32=rel(b, f32),
                                int8_emul_vs_f32=rel(i8, f32), bf16_emul_vs_autocast=rel(b, auto)))
        records.append(rec)
        print(f"{c['name']:5s} " + "  ".join(f"{k} {v:.3e}" for k, v in rec["rel_err"].items()) +
              f"  sensitivity bf16 {rec['sensitivity_bf16']:.2e} int8 {rec['sensitivity_int8']:.2e}")
    t5 = []
    from transformers import T5EncoderModel
    for variant in ("v1_0", "v1_1"):
        folder = FIX / "t5" / variant
        ids = np.load(folder / "case_L40_ids.npy")
        mask = np.load(folder / "case_L40_mask.npy")
        ref = np.load(folder / "case_L40_out.npy")
        model = T5EncoderModel.from_pretrained(str(folder), dtype=torch.float32).eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            auto = model(input_ids=torch.from_numpy(ids).long(),
                         attention_mask=torch.from_numpy(mask).long()).last_hidden_state.float().numpy()
        name = f"t5_{variant}_L40_bf16_autocast.npy"
        np.save(out / name, auto.astype(np.float32))
        rec = dict(name=f"t5_{variant}", model=f"t5/{variant}", ids=f"t5/{variant}/case_L40_ids.npy",
                   mask=f"t5/{variant}/case_L40_mask.npy", f32=f"t5/{variant}/case_L40_out.npy",
                   bf16_autocast=f"precision/{name}", rel_err=dict(bf16_autocast_vs_f32=rel(auto, ref)))
        t5.append(rec)
        print(f"t5 {variant} bf16_autocast_vs_f32 {rec['rel_err']['bf16_autocast_vs_f32']:.3e}")
    vae = []
    from diffusers import AutoencoderKL
    for c in manifest["vae_cases"][:1]:
        model = AutoencoderKL.from_pretrained(str(FIX / c["model"]), torch_dtype=torch.float32).eval()
        lat = torch.from_numpy(np.load(FIX / c["latents"]))
        ref = np.load(FIX / c["out"])
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            auto = model.decode(lat / c["scaling_factor"]).sample.float().numpy()
        name = f"{c['name']}_bf16_autocast.npy"
        np.save(out / name, auto.astype(np.float32))
        rec = dict(name=c["name"], model=c["model"], latents=c["latents"], f32=c["out"], bf16_autocast=f"precision/{name}",
                   rel_err=dict(bf16_autocast_vs_f32=rel(auto, ref)))
        vae.append(rec)
        print(f"vae {c['name']} bf16_autocast_vs_f32 {rec['rel_err']['bf16_autocast_vs_f32']:.3e}")
    (out / "precision.json").write_text(json.dumps({"cases": records, "t5": t5, "vae": vae}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv)
