#!/usr/bin/env python3
"""Reference for long token sequences (more than ATT_QBLOCK = 256 tokens, where the engine's
attention switches to query blocks, as DiT-XL/2 at 512 px with 1024 tokens): a small diffusers
DiT with a 40x40 latent and patch 2 (400 tokens), one forward at two timesteps, for
tests/test_reference.c.

    .venv/bin/python tools/reference_long.py [OUTDIR]
"""
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import DiTTransformer2DModel

ROOT = Path(__file__).resolve().parent.parent


@torch.no_grad()
def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "long"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=8,
                                  num_layers=1, sample_size=40, patch_size=2, num_embeds_ada_norm=5).eval()
    for p in model.parameters():
        p.normal_(0.0, 0.05)
    model.save_pretrained(out / "dit_long", safe_serialization=True)
    # Evaluate the saved file, not the in-memory module, so that both engines see the same tensors.
    model = DiTTransformer2DModel.from_pretrained(out / "dit_long", torch_dtype=torch.float32).eval()
    x = torch.randn(2, 4, 40, 40, generator=torch.Generator().manual_seed(1))
    y = model(x, timestep=torch.tensor([10, 700]), class_labels=torch.tensor([1, 5])).sample
    np.save(out / "long_x.npy", x.numpy().astype("<f4"))
    np.save(out / "long_out.npy", y.numpy().astype("<f4"))
    print(f"wrote {out}: 400 tokens, output {tuple(y.shape)}")


if __name__ == "__main__":
    main()
