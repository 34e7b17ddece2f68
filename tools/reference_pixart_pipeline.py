#!/usr/bin/env python3
"""Reference for the PixArt text-to-image pipeline (issue 15): tiny random PixArtAlphaPipeline and
PixArtSigmaPipeline folders saved to disk, reloaded, and run from prompts with given initial
latents, so the engine can be checked from the prompt to the final latents and the pictures.

    .venv/bin/python tools/reference_pixart_pipeline.py [OUT_DIR]        (tests/fixtures/pixart)

Run tools/reference_pixart.py first: the transformers come from its `alpha` and `sigma` folders.
The other components are the project's own tiny fixtures: the T5 encoder
tests/fixtures/t5/pipeline/text_encoder (d_model 32 = the transformers' caption_channels), the
tokenizer tests/fixtures/t5tok/tiny, the VAE tests/fixtures/vae_a_diffusers (3 blocks: 8x8
latents make 32x32 pictures, scaling factor 0.13025). Nothing is downloaded.

Pipelines (OUT_DIR/<name>/, save_pretrained; the sigma folder's text encoder, tokenizer and VAE
are links to the alpha folder's, the same files):
  pipe_alpha  PixArtAlphaPipeline with DPMSolverMultistepScheduler() (the converters' default)
  pipe_sigma  PixArtSigmaPipeline with DDIMScheduler() (diffusers' own tiny pipeline tests)

Per pipeline (OUT_DIR/<name>/ref/): prompts.txt (the prompts, one a line), latents_in.npy float32
[2, 4, 8, 8], latents_out.npy (output_type="latent", the final latents), images.npy float32
[2, 32, 32, 3] in [0, 1] (output_type="np"), prompt_embeds.npy / attention_mask.npy (encode_prompt's
for the prompts), negative_embeds.npy / negative_mask.npy (the empty prompt's), ref.json (steps,
guidance, max_sequence_length). The pipelines run with clean_caption=False (so the prompts are
only lower-cased and stripped) and use_resolution_binning=False.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import (AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, PixArtAlphaPipeline,
                       PixArtSigmaPipeline, PixArtTransformer2DModel)
from transformers import AutoTokenizer, T5EncoderModel

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
PROMPTS = ["A Red cube on a white background ", "a small blue ball"]
STEPS = 4
GUIDANCE = 4.5


def link(target, name):
    """name -> target, relative, replacing what save_pretrained wrote."""
    import shutil
    if name.is_symlink() or name.is_file():
        name.unlink()
    elif name.exists():
        shutil.rmtree(name)
    os.symlink(os.path.relpath(target, name.parent), name)


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else FIX / "pixart"
    tok = AutoTokenizer.from_pretrained(FIX / "t5tok" / "tiny")
    enc = T5EncoderModel.from_pretrained(FIX / "t5" / "pipeline" / "text_encoder").eval()
    vae = AutoencoderKL.from_pretrained(FIX / "vae_a_diffusers").eval()
    setups = [("pipe_alpha", PixArtAlphaPipeline, "alpha", DPMSolverMultistepScheduler(), 120),
              ("pipe_sigma", PixArtSigmaPipeline, "sigma", DDIMScheduler(), 300)]
    for name, cls, variant, sched, max_len in setups:
        transformer = PixArtTransformer2DModel.from_pretrained(out / variant).eval()
        pipe = cls(tokenizer=tok, text_encoder=enc, vae=vae, transformer=transformer, scheduler=sched)
        folder = out / name
        pipe.save_pretrained(folder, safe_serialization=True)
        for cfg in folder.glob("*/config.json"):  # no path of this machine in the committed files
            if cfg.is_symlink() or cfg.parent.is_symlink():
                continue
            c = json.loads(cfg.read_text())
            if c.pop("_name_or_path", None) is not None:
                cfg.write_text(json.dumps(c, indent=2, sort_keys=True) + "\n")
        if name != "pipe_alpha":
            for part in ("text_encoder", "tokenizer", "vae"):
                link(out / "pipe_alpha" / part, folder / part)
        pipe = cls.from_pretrained(folder).to("cpu")
        pipe.set_progress_bar_config(disable=True)
        ref = folder / "ref"
        ref.mkdir(exist_ok=True)
        g = torch.Generator().manual_seed(77)
        lat = torch.randn(len(PROMPTS), 4, 8, 8, generator=g)
        kw = dict(negative_prompt="", num_inference_steps=STEPS, guidance_scale=GUIDANCE, latents=lat.clone(),
                  use_resolution_binning=False, clean_caption=False, max_sequence_length=max_len)
        with torch.no_grad():
            z = pipe(PROMPTS, output_type="latent", **kw).images
            img = pipe(PROMPTS, output_type="np", **kw).images
            pe, pm, ne, nm = pipe.encode_prompt(PROMPTS, do_classifier_free_guidance=True, negative_prompt="",
                                                clean_caption=False, max_sequence_length=max_len)
        assert img.shape == (len(PROMPTS), 32, 32, 3), img.shape
        (ref / "prompts.txt").write_text("".join(p + "\n" for p in PROMPTS))
        np.save(ref / "latents_in.npy", lat.numpy())
        np.save(ref / "latents_out.npy", z.float().numpy())
        np.save(ref / "images.npy", img.astype(np.float32))
        np.save(ref / "prompt_embeds.npy", pe.float().numpy())
        np.save(ref / "attention_mask.npy", pm.to(torch.int32).numpy())
        np.save(ref / "negative_embeds.npy", ne.float().numpy())
        np.save(ref / "negative_mask.npy", nm.to(torch.int32).numpy())
        (ref / "ref.json").write_text(json.dumps(dict(pipeline=cls.__name__, scheduler=type(sched).__name__,
                                                      steps=STEPS, guidance=GUIDANCE, max_sequence_length=max_len,
                                                      prompts=PROMPTS, negative_prompt="", seed_latents=77,
                                                      latents_std=float(z.std())), indent=1) + "\n")
        print(name, "latents std", float(z.std()), "tokens", int(pm.sum()), "of", pm.numel())


if __name__ == "__main__":
    main(sys.argv)
