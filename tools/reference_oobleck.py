#!/usr/bin/env python3
"""Reference for the Oobleck audio decoder (issue 16): a tiny random diffusers AutoencoderOobleck
and the waveforms its decoder makes from random latents, for tests/test_oobleck.c (float32,
<= 1e-4 relative).

    .venv/bin/python tools/reference_oobleck.py OUT_DIR          (tests/fixtures/oobleck)

Nothing is downloaded: the model is built from a config with seeded random weights (every
weight_g and weight_v, bias and Snake alpha/beta drawn afresh; the library's zero Snake
parameters would hide a mistake), on the CPU, in float32.

OUT_DIR/vae/            config.json + diffusion_pytorch_model.safetensors (save_pretrained)
  downsampling_ratios [2, 3, 4] (upsampling 4, 3, 2: an odd stride too), channel_multiples
  [1, 2, 2], decoder_channels 6, 5 latent channels, stereo, 8 kHz
OUT_DIR/latents.npy     float32 [2, 5, 7]
OUT_DIR/audio.npy       float32 [2, 2, 166] = vae.decode(latents).sample (7 x 24 = 168 less 2:
                        the odd stride's transposed convolution gives one sample less, doubled)
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderOobleck

CONFIG = dict(encoder_hidden_size=6, downsampling_ratios=[2, 3, 4], channel_multiples=[1, 2, 2], decoder_channels=6,
              decoder_input_channels=5, audio_channels=2, sampling_rate=8000)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    vae = AutoencoderOobleck(**CONFIG)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("alpha") or name.endswith("beta"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif name.endswith("weight_v"):
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            elif name.endswith("weight_g"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    vae.save_pretrained(out / "vae", safe_serialization=True)
    vae = AutoencoderOobleck.from_pretrained(out / "vae").eval()
    latents = torch.randn(2, 5, 7, generator=g)
    with torch.no_grad():
        audio = vae.decode(latents).sample
    np.save(out / "latents.npy", latents.numpy())
    np.save(out / "audio.npy", audio.numpy())
    with open(out / "manifest.json", "w") as f:
        json.dump({"tool": "tools/reference_oobleck.py", "torch": torch.__version__, "config": CONFIG,
                   "audio_shape": list(audio.shape), "max_abs": float(audio.abs().max())}, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: audio {tuple(audio.shape)}")


if __name__ == "__main__":
    main()
