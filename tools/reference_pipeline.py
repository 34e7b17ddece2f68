#!/usr/bin/env python3
"""Reference for the whole picture pipeline: a DiT (tests/fixtures/dit_a) and an SD-style VAE
(tests/fixtures/vae_a_diffusers) sampled and decoded the way diffusers' DiTPipeline does, down
to the 8-bit image, for tests/test_pipeline.c.

    .venv/bin/python tools/reference_pipeline.py [OUTDIR]

DDIM 10 steps (the DiT scheduler config), guidance 4, classes [1, 2], latents from seed 7 (the
engine's generator, docs/NUMERICS.md). DiTPipeline itself cannot start from a given latent and
hard-codes the null class 1000, so its loop is transcribed (tools/reference.py checks that
transcription against DiTPipeline bit for bit); the decode and the conversion to 8 bits are
DiTPipeline's: vae.decode(latents / scaling_factor), (x / 2 + 0.5).clamp(0, 1), NHWC,
numpy_to_pil's (x * 255).round().astype(uint8). Writes pipeline_out.npy (uint8 [2, 64, 64, 3])."""
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, DiTTransformer2DModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@torch.no_grad()
def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures"
    fix = ROOT / "tests" / "fixtures"
    model = DiTTransformer2DModel.from_pretrained(fix / "dit_a", torch_dtype=torch.float32).eval()
    vae = AutoencoderKL.from_pretrained(fix / "vae_a_diffusers", torch_dtype=torch.float32).eval()
    sampler = ref.DiffusersSampler(DDIMScheduler(**ref.DIT_DDIM_CONFIG), 10, 4)
    latents = torch.from_numpy(ref.seeded_latents(7, 2, (4, 16, 16)))
    final, _ = ref.run_trajectory(ref.diffusers_fn(model), sampler, latents, [1, 2], 10, 4.0, "diffusers")
    samples = vae.decode(final / vae.config.scaling_factor).sample
    samples = (samples / 2 + 0.5).clamp(0, 1)
    samples = samples.cpu().permute(0, 2, 3, 1).float().numpy()
    images = (samples * 255).round().astype("uint8")
    np.save(out / "pipeline_out.npy", images)
    print(f"wrote {out / 'pipeline_out.npy'}: {images.shape} {images.dtype}")


if __name__ == "__main__":
    main()
