#!/usr/bin/env python3
"""Reference for Stable Audio from the prompt to the waveform (issue 16): a tiny random
StableAudioPipeline saved to disk, reloaded, and run from prompts with given initial latents and
given per-step noise, so the engine can be checked end to end (T5 -> projection -> DiT ->
CosineDPMSolverMultistepScheduler -> Oobleck -> the cut to [start, end) seconds).

    .venv/bin/python tools/reference_stable_audio_pipeline.py [OUT_DIR]     (tests/fixtures/stableaudio/pipe)

Nothing is downloaded. The components are the project's tiny fixtures where they exist: the T5
encoder tests/fixtures/t5/pipeline/text_encoder (d_model 32), the tokenizer
tests/fixtures/t5tok/tiny, the Oobleck VAE tests/fixtures/oobleck/vae (5 latent channels, 24
samples per latent frame, 8 kHz stereo); those three are links in the saved folder. The
transformer (5 channels, 20 frames: 0.06 s) and the projection model (text 32 -> 32, seconds
0..47) are new, seeded random weights (reference_stable_audio.randomize). The scheduler is
CosineDPMSolverMultistepScheduler() (the pipeline's, default config).

The scheduler's Brownian-tree noise is replaced by given tensors: OUT_DIR/ref/noise.npy float32
[STEPS, 2, 5, 20] holds the unit normal noise the scheduler's step i receives from its noise
sampler (one draw per step, the last step's too). Runs (OUT_DIR/ref/<run>_*.npy, ref.json):
  plain   2 prompts, no negative prompt, seconds 0..0.05 (the clip is cut to 400 samples)
  neg     the same with a negative prompt, seconds 0.01..0.06
each with latents_in.npy [2, 5, 20] (unit noise: the pipeline scales it by init_noise_sigma),
<run>_latents.npy (output_type="latent") and <run>_audio.npy float32 [2, 2, samples].
"""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel, StableAudioPipeline
from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel
from transformers import AutoTokenizer, T5EncoderModel

import diffusers.schedulers.scheduling_cosine_dpmsolver_multistep as cosine_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_stable_audio import randomize  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
PROMPTS = ["A warm C major chord ", "a short noise burst"]
NEGATIVE = "low quality"
STEPS = 6
GUIDANCE = 7.0
RUNS = {"plain": dict(negative_prompt=None, audio_start_in_s=0.0, audio_end_in_s=0.05),
        "neg": dict(negative_prompt=[NEGATIVE] * len(PROMPTS), audio_start_in_s=0.01, audio_end_in_s=0.06)}


def link(target, name):
    """name -> target, relative, replacing what save_pretrained wrote."""
    if name.is_symlink() or name.is_file():
        name.unlink()
    elif name.exists():
        shutil.rmtree(name)
    os.symlink(os.path.relpath(target, name.parent), name)


class GivenNoise:
    """Stands in for BrownianTreeNoiseSampler: step i gets noise[i]."""
    noise = None
    calls = 0

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, sigma, sigma_next):
        i = GivenNoise.calls
        GivenNoise.calls += 1
        return GivenNoise.noise[i].clone()


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else FIX / "stableaudio" / "pipe"
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(FIX / "t5tok" / "tiny")
    enc = T5EncoderModel.from_pretrained(FIX / "t5" / "pipeline" / "text_encoder").eval()
    vae = AutoencoderOobleck.from_pretrained(FIX / "oobleck" / "vae").eval()
    C = vae.config.decoder_input_channels
    dit = randomize(StableAudioDiTModel(sample_size=20, in_channels=C, num_layers=2, attention_head_dim=8,
                                        num_attention_heads=4, num_key_value_attention_heads=2, out_channels=C,
                                        cross_attention_dim=32, time_proj_dim=16, global_states_input_dim=64,
                                        cross_attention_input_dim=32), 301)
    proj = randomize(StableAudioProjectionModel(text_encoder_dim=enc.config.d_model, conditioning_dim=32,
                                                min_value=0, max_value=47), 302)
    pipe = StableAudioPipeline(vae=vae, text_encoder=enc, projection_model=proj, tokenizer=tok, transformer=dit,
                               scheduler=CosineDPMSolverMultistepScheduler())
    for part in ("text_encoder", "tokenizer", "vae"):  # never write through the links into the shared fixtures
        if (out / part).is_symlink():
            (out / part).unlink()
    pipe.save_pretrained(out, safe_serialization=True)
    link(FIX / "t5" / "pipeline" / "text_encoder", out / "text_encoder")
    link(FIX / "t5tok" / "tiny", out / "tokenizer")
    link(FIX / "oobleck" / "vae", out / "vae")
    pipe = StableAudioPipeline.from_pretrained(out).to("cpu")
    pipe.set_progress_bar_config(disable=True)

    ref = out / "ref"
    ref.mkdir(exist_ok=True)
    g = torch.Generator().manual_seed(91)
    S = dit.config.sample_size
    lat = torch.randn(len(PROMPTS), C, S, generator=g)
    GivenNoise.noise = torch.randn(STEPS, len(PROMPTS), C, S, generator=g)
    cosine_module.BrownianTreeNoiseSampler = GivenNoise
    np.save(ref / "latents_in.npy", lat.numpy())
    np.save(ref / "noise.npy", GivenNoise.noise.numpy())
    with open(ref / "prompts.txt", "w") as f:
        f.write("\n".join(PROMPTS) + "\n")
    meta = {"prompts": PROMPTS, "steps": STEPS, "guidance": GUIDANCE, "runs": {},
            "sampling_rate": vae.config.sampling_rate, "hop_length": int(vae.hop_length)}
    for name, kw in RUNS.items():
        outs = {}
        for kind in ("latent", "np"):
            GivenNoise.calls = 0
            with torch.no_grad():
                r = pipe(PROMPTS, num_inference_steps=STEPS, guidance_scale=GUIDANCE, latents=lat.clone(),
                         output_type=kind, **kw).audios
            assert GivenNoise.calls == STEPS, GivenNoise.calls
            outs[kind] = r if isinstance(r, np.ndarray) else r.numpy()
        np.save(ref / f"{name}_latents.npy", outs["latent"].astype(np.float32))
        np.save(ref / f"{name}_audio.npy", outs["np"].astype(np.float32))
        meta["runs"][name] = dict(kw, audio_shape=list(outs["np"].shape),
                                  max_abs_audio=float(np.abs(outs["np"]).max()))
    with open(ref / "ref.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(sys.argv)
