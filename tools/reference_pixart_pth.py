#!/usr/bin/env python3
"""The tiny PixArt fixtures of tests/fixtures/pixart/ in the PixArt authors' own layout: the .pth
files the PixArt-alpha and PixArt-sigma repositories publish (tests/test_pixart_pth.c loads them).

    .venv/bin/python tools/reference_pixart_pth.py [PIXART_DIR [OUT_DIR]]
        (defaults tests/fixtures/pixart and tests/fixtures/pixart_pth)

The names are the inverse of diffusers' scripts/convert_pixart_sigma_to_diffusers.py: x_embedder,
t_embedder, t_block, y_embedder.y_proj, csize_embedder / ar_embedder (micro-conditions), blocks.N
with self-attention's q, k, v fused into attn.qkv [3D, D] (rows q, k, v) and the cross-attention's
k, v into cross_attn.kv_linear [2D, D] (rows k, v), final_layer. Each file also holds what the
originals hold and the engine ignores: the learned null caption y_embedder.y_embedding and, where
the original class saves it, the pos_embed buffer.

Files (OUT_DIR/):
  alpha.pth     the weights of PIXART_DIR/alpha as a bare state dict, with the pos_embed buffer
                [1, 16, 24] of its 4 x 4 base grid (PixArt-alpha 256 / 512 save one): the latent
                side 8 is read from it. Forwards: PIXART_DIR/alpha/case_*_out.npy (the same
                weights; the C test gives num_heads 3, which no shape tells)
  alpha_mc.pth  PIXART_DIR/alpha_mc (micro-conditions) under "state_dict", where diffusers' Sigma
                converter finds the weights, without pos_embed (PixArtMS computes it): the C test gives input_size 16 and
                num_heads 3. Forwards: PIXART_DIR/alpha_mc/case_*_out.npy
  sigma.pth     PIXART_DIR/sigma's weights rounded to float16 and saved as float16 under "ema",
                without pos_embed: the engine's defaults apply (latent side 128, so interpolation
                scale 2 and base grid 64). sigma_case_{base,grid}_out.npy: diffusers'
                PixArtTransformer2DModel with those (float16-rounded, float32) weights and
                sample_size 128, interpolation_scale null, use_additional_conditions false (as
                the Sigma converter writes it: null would turn them on at 128), on
                PIXART_DIR/sigma's case inputs
  manifest.json what each file is and the load options its test uses

Checks made here: every file maps back through the diffusers converter's renaming to the exact
tensors it came from (strict load_state_dict), and the reloaded model reproduces the forwards it
is tested against bit for bit.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import PixArtTransformer2DModel

ROOT = Path(__file__).resolve().parent.parent

# diffusers -> original, for the tensors renamed one to one (".weight" / ".bias" follow).
TOP = {
    "pos_embed.proj": "x_embedder.proj",
    "adaln_single.emb.timestep_embedder.linear_1": "t_embedder.mlp.0",
    "adaln_single.emb.timestep_embedder.linear_2": "t_embedder.mlp.2",
    "adaln_single.emb.resolution_embedder.linear_1": "csize_embedder.mlp.0",
    "adaln_single.emb.resolution_embedder.linear_2": "csize_embedder.mlp.2",
    "adaln_single.emb.aspect_ratio_embedder.linear_1": "ar_embedder.mlp.0",
    "adaln_single.emb.aspect_ratio_embedder.linear_2": "ar_embedder.mlp.2",
    "adaln_single.linear": "t_block.1",
    "caption_projection.linear_1": "y_embedder.y_proj.fc1",
    "caption_projection.linear_2": "y_embedder.y_proj.fc2",
    "proj_out": "final_layer.linear",
}
BLOCK = {
    "attn1.to_out.0": "attn.proj",
    "attn2.to_q": "cross_attn.q_linear",
    "attn2.to_out.0": "cross_attn.proj",
    "ff.net.0.proj": "mlp.fc1",
    "ff.net.2": "mlp.fc2",
}
NULL_CAPTION_TOKENS = 7  # y_embedder.y_embedding [tokens, caption_channels] (120 in the released models)


def to_original(sd, depth):
    """A diffusers PixArtTransformer2DModel state dict in the PixArt repositories' names."""
    out = {}
    for d, o in TOP.items():
        for p in ("weight", "bias"):
            if f"{d}.{p}" in sd:
                out[f"{o}.{p}"] = sd[f"{d}.{p}"].clone()
    out["final_layer.scale_shift_table"] = sd["scale_shift_table"].clone()
    for n in range(depth):
        b = f"transformer_blocks.{n}."
        out[f"blocks.{n}.scale_shift_table"] = sd[b + "scale_shift_table"].clone()
        for p in ("weight", "bias"):
            out[f"blocks.{n}.attn.qkv.{p}"] = torch.cat([sd[f"{b}attn1.to_{x}.{p}"] for x in "qkv"], 0)
            out[f"blocks.{n}.cross_attn.kv_linear.{p}"] = torch.cat([sd[f"{b}attn2.to_{x}.{p}"] for x in "kv"], 0)
            for d, o in BLOCK.items():
                out[f"blocks.{n}.{o}.{p}"] = sd[f"{b}{d}.{p}"].clone()
    return out


def to_diffusers(orig, depth):
    """The converter's direction (scripts/convert_pixart_sigma_to_diffusers.py), to check the above."""
    sd = {}
    for d, o in TOP.items():
        for p in ("weight", "bias"):
            if f"{o}.{p}" in orig:
                sd[f"{d}.{p}"] = orig[f"{o}.{p}"]
    sd["scale_shift_table"] = orig["final_layer.scale_shift_table"]
    for n in range(depth):
        b = f"transformer_blocks.{n}."
        sd[b + "scale_shift_table"] = orig[f"blocks.{n}.scale_shift_table"]
        for p in ("weight", "bias"):
            q, k, v = torch.chunk(orig[f"blocks.{n}.attn.qkv.{p}"], 3, dim=0)
            sd[f"{b}attn1.to_q.{p}"], sd[f"{b}attn1.to_k.{p}"], sd[f"{b}attn1.to_v.{p}"] = q, k, v
            k, v = torch.chunk(orig[f"blocks.{n}.cross_attn.kv_linear.{p}"], 2, dim=0)
            sd[f"{b}attn2.to_k.{p}"], sd[f"{b}attn2.to_v.{p}"] = k, v
            for d, o in BLOCK.items():
                sd[f"{b}{d}.{p}"] = orig[f"blocks.{n}.{o}.{p}"]
    return sd


def load_case(folder, cid):
    a = {k: torch.from_numpy(np.load(folder / f"case_{cid}_{k}.npy")) for k in ("x", "t", "text", "mask")}
    hw = folder / f"case_{cid}_hw.npy"
    if hw.exists():
        a["hw"], a["ar"] = torch.from_numpy(np.load(hw)), torch.from_numpy(np.load(folder / f"case_{cid}_ar.npy"))
    return a


def forward(model, a):
    kwargs = {"resolution": a.get("hw"), "aspect_ratio": a.get("ar")}
    with torch.no_grad():
        return model(a["x"], encoder_hidden_states=a["text"], timestep=a["t"], encoder_attention_mask=a["mask"],
                     added_cond_kwargs=kwargs).sample


def reload_check(path, key, config, depth, dtype, cases):
    """The saved file read back, renamed the converter's way into a fresh model (strict), gives
    the expected forwards bit for bit."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    orig = ck[key] if key else ck
    assert all(t.dtype == dtype for t in orig.values()), f"{path.name}: dtypes"
    extra = {k: orig.pop(k) for k in ("y_embedder.y_embedding", "pos_embed") if k in orig}
    model = PixArtTransformer2DModel(**config).eval()
    model.load_state_dict({k: v.float() for k, v in to_diffusers(orig, depth).items()}, strict=True)
    for a, want in cases:
        assert torch.equal(forward(model, a), want), f"{path.name}: the reloaded model differs"
    return sorted(extra)


def main(argv):
    src = Path(argv[1]) if len(argv) > 1 else ROOT / "tests" / "fixtures" / "pixart"
    out = Path(argv[2]) if len(argv) > 2 else ROOT / "tests" / "fixtures" / "pixart_pth"
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"tool": "tools/reference_pixart_pth.py", "files": {}}
    g = torch.Generator().manual_seed(7)
    for name, key, wrap in (("alpha", None, None), ("alpha_mc", "state_dict", "state_dict"), ("sigma", "ema", "ema")):
        folder = src / name
        model = PixArtTransformer2DModel.from_pretrained(folder).eval()
        config = dict(model.config)
        depth, cc = config["num_layers"], config["caption_channels"]
        orig = to_original(model.state_dict(), depth)
        orig["y_embedder.y_embedding"] = torch.randn(NULL_CAPTION_TOKENS, cc, generator=g)
        entry = {"from": f"pixart/{name}", "wrapped_under": wrap}
        if name == "alpha":
            orig["pos_embed"] = model.pos_embed.pos_embed.detach().clone()  # [1, 16, 24]: the 4 x 4 base grid
            cases = [(load_case(folder, c), torch.from_numpy(np.load(folder / f"case_{c}_out.npy")))
                     for c in ("base", "grid")]
            entry.update(load_opts={"num_heads": 3}, outputs=f"pixart/{name}/case_*_out.npy")
            dtype = torch.float32
        elif name == "alpha_mc":
            cases = [(load_case(folder, c), torch.from_numpy(np.load(folder / f"case_{c}_out.npy")))
                     for c in ("base", "grid")]
            entry.update(load_opts={"num_heads": 3, "input_size": 16}, outputs=f"pixart/{name}/case_*_out.npy")
            dtype = torch.float32
        else:
            orig = {k: v.half() for k, v in orig.items()}
            dtype = torch.float16
            config = dict(config, sample_size=128, interpolation_scale=None, use_additional_conditions=False)
            ref = PixArtTransformer2DModel(**config).eval()
            ref.load_state_dict({k: v.float() for k, v in to_diffusers(dict(orig), depth).items()}, strict=True)
            cases = []
            for c in ("base", "grid"):
                a = load_case(folder, c)
                o = forward(ref, a)
                np.save(out / f"sigma_case_{c}_out.npy", o.numpy())
                cases.append((a, o))
            entry.update(load_opts={"num_heads": 3}, sample_size=128, interpolation_scale=2,
                         inputs=f"pixart/{name}/case_*_{{x,t,text,mask}}.npy", outputs="pixart_pth/sigma_case_*_out.npy")
        path = out / f"{name}.pth"
        torch.save({key: orig} if key else orig, path)
        entry["ignored_tensors"] = reload_check(path, key, {k: v for k, v in config.items() if not k.startswith("_")},
                                                depth, dtype, cases)
        entry["bytes"] = path.stat().st_size
        manifest["files"][path.name] = entry
        print(path.name, entry["bytes"], "bytes", [round(float(o.std()), 4) for _, o in cases])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv)
