#!/usr/bin/env python3
"""Reference for the PixArt family (issue 15): tiny random diffusers PixArtTransformer2DModel
checkpoints and the forwards the C engine must reproduce (float32, <= 1e-4 relative).

    .venv/bin/python tools/reference_pixart.py OUT_DIR          (tests/fixtures/pixart)

Nothing is downloaded: models are built from configs with seeded random weights (not the
library's init, whose zero-initialised adaLN and projections would hide mistakes), on the CPU,
in float32, eval mode.

Variants (OUT_DIR/<name>/config.json + diffusion_pytorch_model.safetensors, save_pretrained):
  alpha    the shape diffusers' own PixArt pipeline tests use (sample_size 8, 2 layers, 3 heads x 8,
           caption_channels 32, cross_attention_dim 24): adaLN-single, caption projection,
           cross-attention, no micro-conditions, interpolation_scale 1
  alpha_mc the same with use_additional_conditions (PixArt-alpha 1024's resolution and aspect
           ratio embedders; sample_size 16 so the model turns them on by itself)
  sigma    the same as alpha with interpolation_scale 2 (PixArt-Sigma's position table)

Cases per variant (OUT_DIR/<name>/cases.json lists them; case_<id>_*.npy):
  x        float32 [2, 4, S, S] latents (S = sample_size; `grid` cases use another size)
  t        int64 [2] timesteps
  text     float32 [2, L, caption_channels] caption embeddings (as T5 makes them)
  mask     int32 [2, L] (1 token, 0 padding); row 0 is a full prompt, row 1 the empty prompt
           (one token then pads), as the pipelines' [uncond, cond] batches hold
  hw, ar   float32 [2, 2] (height, width) in pixels and [2, 1] aspect ratio (alpha_mc only)
  out      float32 [2, 8, S, S] = model(x, encoder_hidden_states=text, timestep=t,
           encoder_attention_mask=mask, added_cond_kwargs).sample
Cases: `base` (the configured grid), `grid` (a non-square latent, 2 x S x S+4: the position table
recomputed for another grid, as aspect-ratio bins need).

Checks made here: the mask changes the output; for `alpha` the two batch rows computed alone
equal the batched result; reloading each folder gives the same outputs bit for bit.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import PixArtTransformer2DModel

BASE = dict(num_attention_heads=3, attention_head_dim=8, in_channels=4, out_channels=8, num_layers=2,
            dropout=0.0, norm_num_groups=32, cross_attention_dim=24, attention_bias=True, patch_size=2,
            activation_fn="gelu-approximate", num_embeds_ada_norm=1000, upcast_attention=False,
            norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6, caption_channels=32)

VARIANTS = {
    "alpha": dict(sample_size=8),
    "alpha_mc": dict(sample_size=16, use_additional_conditions=True),
    "sigma": dict(sample_size=8, interpolation_scale=2),
}

TEXT_LEN = 7


def randomize(model, seed):
    """Every parameter drawn afresh: weights N(0, 1/sqrt(fan_in)), biases and tables N(0, 0.2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return model.eval()


def run(model, x, t, text, mask, hw=None, ar=None):
    kwargs = {"resolution": hw, "aspect_ratio": ar} if hw is not None else {"resolution": None, "aspect_ratio": None}
    with torch.no_grad():
        return model(x, encoder_hidden_states=text, timestep=t, encoder_attention_mask=mask,
                     added_cond_kwargs=kwargs).sample


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pixart"
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for seed, (name, extra) in enumerate(VARIANTS.items(), start=101):
        cfg = dict(BASE, **extra)
        model = randomize(PixArtTransformer2DModel(**cfg), seed)
        folder = out / name
        model.save_pretrained(folder, safe_serialization=True)
        reloaded = PixArtTransformer2DModel.from_pretrained(folder).eval()
        g = torch.Generator().manual_seed(seed + 1000)
        S = cfg["sample_size"]
        mc = bool(extra.get("use_additional_conditions"))
        cases = []
        for cid, (h, w) in (("base", (S, S)), ("grid", (S, S + 4))):
            x = torch.randn(2, 4, h, w, generator=g)
            t = torch.tensor([999, 250])
            text = torch.randn(2, TEXT_LEN, cfg["caption_channels"], generator=g)
            mask = torch.zeros(2, TEXT_LEN, dtype=torch.int64)
            mask[0, :5] = 1   # a prompt of 5 tokens
            mask[1, :1] = 1   # the empty prompt: </s> only
            hw = torch.tensor([[8.0 * h, 8.0 * w]] * 2) if mc else None
            ar = torch.tensor([[h / w]] * 2) if mc else None
            o = run(model, x, t, text, mask, hw, ar)
            o2 = run(reloaded, x, t, text, mask, hw, ar)
            assert torch.equal(o, o2), f"{name}/{cid}: the reloaded model differs"
            o_nomask = run(model, x, t, text, torch.ones_like(mask), hw, ar)
            assert (o - o_nomask).abs().max() > 1e-3, f"{name}/{cid}: the mask changes nothing"
            if name == "alpha" and cid == "base":
                for r in range(2):
                    single = run(model, x[r:r + 1], t[r:r + 1], text[r:r + 1], mask[r:r + 1])
                    assert (single - o[r:r + 1]).abs().max() <= 1e-5 * o.abs().max(), "batch rows interact"
            files = {}
            arrays = {"x": x, "t": t.to(torch.int64), "text": text, "mask": mask.to(torch.int32), "out": o}
            if mc:
                arrays["hw"], arrays["ar"] = hw, ar
            for k, v in arrays.items():
                fn = f"case_{cid}_{k}.npy"
                np.save(folder / fn, v.numpy())
                files[k] = fn
            cases.append(dict(id=cid, latent=[4, h, w], text_len=TEXT_LEN, files=files,
                              out_std=float(o.std()), out_max_abs=float(o.abs().max())))
        (folder / "cases.json").write_text(json.dumps(dict(model=name, config=cfg, cases=cases), indent=1) + "\n")
        summary[name] = [(c["id"], round(c["out_std"], 4)) for c in cases]
        print(name, summary[name])
    (out / "manifest.json").write_text(json.dumps(dict(variants=list(VARIANTS), tool="tools/reference_pixart.py"),
                                                  indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv)
