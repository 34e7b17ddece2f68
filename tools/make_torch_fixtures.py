#!/usr/bin/env python3
"""Writes the real torch.save fixtures of tests/fixtures/torch/ (tests/test_torchzip.c reads them).

    .venv/bin/python tools/make_torch_fixtures.py [OUTDIR]      (default tests/fixtures/torch)

Files (all tiny, deterministic values; the C tests hard-code the plain.pt values):
  plain.pt                   state dict: F32 "a" = arange(6).reshape(2,3), "row1" = a[1] (shares a's
                             storage at element offset 3), F16 "h" = arange(4)*0.5, BF16 "b" =
                             arange(3)-1, F32 scalar "s" = 2.5 (rank 0), F32 "empty" of shape [0, 3]
  legacy.pt                  the pre-1.6 (non-zip) torch.save format: must be refused
  train.pt                   a train.py checkpoint {model, ema, opt, args=argparse.Namespace}: refused
  train_noargs.pt            the same without "args": the reader takes "ema"
  dit_original.pt            a tiny original-layout DiT (F32) and its twin dit_original.safetensors
  dit_diffusers/             a tiny DiTTransformer2DModel: config.json + diffusion_pytorch_model.bin
                             (BF16), twin dit_diffusers_twin.safetensors from save_pretrained
  vae_a_bin/                 the fixture VAE tests/fixtures/vae_a_diffusers as diffusers saves it with
                             safe_serialization=False: config.json + diffusion_pytorch_model.bin (its
                             twin is that folder's safetensors, written by save_pretrained too)
  vae_b_ldm.pt               tests/fixtures/vae_b_ldm.safetensors's tensors (LDM names, a full SD
                             checkpoint's "first_stage_model." prefix) as one torch.save file
The twins are written by the `safetensors` package from the same tensors, so the C side can check
that both routes give identical bytes and identical forward outputs.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DiTTransformer2DModel
from safetensors.torch import load_file, save_file

REPO_ROOT = Path(__file__).resolve().parent.parent
BUDGET_BYTES = 640 * 1024

# The tiny DiT shared by both layouts: hidden 8 (1 head x 8), 1 block, 4 -> 8 channels, patch 2,
# latent 8x8 (16 tokens), 10 classes.
HIDDEN, DEPTH, CLASSES, LATENT, PATCH, IN_CH = 8, 1, 10, 8, 2, 4


def save_plain(out):
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd = {
        "a": a,
        "row1": a[1],  # a view: same storage, storage_offset 3
        "h": torch.arange(4, dtype=torch.float16) * 0.5,
        "b": torch.arange(3, dtype=torch.bfloat16) - 1,
        "s": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }
    torch.save(sd, out / "plain.pt")
    torch.save({"x": torch.zeros(2)}, out / "legacy.pt", _use_new_zipfile_serialization=False)


def save_train_checkpoints(out):
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 2)
    ema = {k: torch.full_like(v, 7.0) for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "ema": ema, "opt": opt.state_dict()}
    torch.save(ckpt, out / "train_noargs.pt")
    ckpt["args"] = argparse.Namespace(model="DiT-XL/2", image_size=256, global_batch_size=256)
    torch.save(ckpt, out / "train.pt")


def random_like(sd, gen):
    return {k: (torch.randn(v.shape, generator=gen) * 0.3).to(v.dtype) for k, v in sd.items()}


def save_original(out):
    D, p2 = HIDDEN, PATCH * PATCH
    shapes = {
        "x_embedder.proj.weight": [D, IN_CH, PATCH, PATCH], "x_embedder.proj.bias": [D],
        "pos_embed": [1, (LATENT // PATCH) ** 2, D],
        "t_embedder.mlp.0.weight": [D, 256], "t_embedder.mlp.0.bias": [D],
        "t_embedder.mlp.2.weight": [D, D], "t_embedder.mlp.2.bias": [D],
        "y_embedder.embedding_table.weight": [CLASSES + 1, D],
        "final_layer.adaLN_modulation.1.weight": [2 * D, D], "final_layer.adaLN_modulation.1.bias": [2 * D],
        "final_layer.linear.weight": [p2 * 2 * IN_CH, D], "final_layer.linear.bias": [p2 * 2 * IN_CH],
    }
    for i in range(DEPTH):
        for name, o, n in (("adaLN_modulation.1", 6 * D, D), ("attn.qkv", 3 * D, D), ("attn.proj", D, D),
                           ("mlp.fc1", 4 * D, D), ("mlp.fc2", D, 4 * D)):
            shapes[f"blocks.{i}.{name}.weight"] = [o, n]
            shapes[f"blocks.{i}.{name}.bias"] = [o]
    gen = torch.Generator().manual_seed(2)
    sd = random_like({k: torch.empty(s) for k, s in sorted(shapes.items())}, gen)
    torch.save(sd, out / "dit_original.pt")
    save_file(sd, out / "dit_original.safetensors", metadata={"format": "pt"})


def save_diffusers(out):
    model = DiTTransformer2DModel(
        num_attention_heads=1, attention_head_dim=HIDDEN, in_channels=IN_CH, out_channels=2 * IN_CH,
        num_layers=DEPTH, sample_size=LATENT, patch_size=PATCH, num_embeds_ada_norm=CLASSES)
    gen = torch.Generator().manual_seed(3)
    model.load_state_dict(random_like(model.state_dict(), gen))
    model = model.to(torch.bfloat16)
    folder = out / "dit_diffusers"
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder, safe_serialization=False)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copyfile(Path(tmp) / "diffusion_pytorch_model.safetensors", out / "dit_diffusers_twin.safetensors")


def save_vaes(out):
    fixtures = REPO_ROOT / "tests" / "fixtures"
    folder = out / "vae_a_bin"
    if folder.exists():
        shutil.rmtree(folder)
    AutoencoderKL.from_pretrained(fixtures / "vae_a_diffusers").save_pretrained(folder, safe_serialization=False)
    config = json.loads((folder / "config.json").read_text())
    config.pop("_name_or_path", None)  # where this machine read it from: not part of the fixture
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    torch.save(load_file(str(fixtures / "vae_b_ldm.safetensors")), out / "vae_b_ldm.pt")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=str(REPO_ROOT / "tests" / "fixtures" / "torch"))
    out = Path(ap.parse_args().outdir)
    out.mkdir(parents=True, exist_ok=True)
    save_plain(out)
    save_train_checkpoints(out)
    save_original(out)
    save_diffusers(out)
    save_vaes(out)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({total} bytes, torch {torch.__version__})")
    if total > BUDGET_BYTES:
        sys.exit(f"fixtures take {total} bytes, over the {BUDGET_BYTES}-byte budget")


if __name__ == "__main__":
    main()
