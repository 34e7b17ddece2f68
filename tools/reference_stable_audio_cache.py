#!/usr/bin/env python3
"""Reference for SmoothCache on Stable Audio (issue 16): a schedule applied to diffusers'
StableAudioPipeline the way the official SmoothCache helper applies one, by wrapping each
component's forward, against `generate --cache smooth:schedule=FILE` in the engine.

    .venv/bin/python tools/reference_stable_audio_cache.py [PIPE_DIR]     (tests/fixtures/stableaudio/pipe)

The pipeline is the tiny one of tools/reference_stable_audio_pipeline.py (run it first); its
ref/latents_in.npy and ref/noise.npy are reused (the scheduler's Brownian noise replaced by them).
The official DiffuserCacheHelper wraps the components of diffusers' BasicTransformerBlock, which
StableAudioDiTBlock is not, so its wrapping is written out here for StableAudioDiTBlock's three
components, with diffusers' names: attn1 (self-attention), attn2 (cross-attention), ff
(feed-forward). Each wrapper counts the model evaluations of the generation (one per step: the
pipeline runs the guided batch in one forward); at evaluation i it computes and stores its output
when schedule[name][i] is 1, and returns the stored output untouched otherwise (Stable Audio's
components are ungated: the block adds the output as it is).

Writes PIPE_DIR/ref/cache_schedule.json (diffusers' keys, the published format) and
PIPE_DIR/ref/cache_latents.npy (the final latents, output_type="latent", guidance 7, the `plain`
run's prompts and seconds), and ref/cache.json (per component: computed and reused counts over
all blocks).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import StableAudioPipeline

import diffusers.schedulers.scheduling_cosine_dpmsolver_multistep as cosine_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_stable_audio_pipeline import FIX, GUIDANCE, PROMPTS, RUNS, STEPS, GivenNoise  # noqa: E402

SCHEDULE = {"attn1": [1, 0, 1, 0, 1, 1], "attn2": [1, 1, 0, 1, 0, 1], "ff": [1, 0, 1, 1, 0, 1]}


class Cached(torch.nn.Module):
    """The component at evaluation i: computed when the schedule says 1, else the stored output."""

    def __init__(self, inner, row, counts, name):
        super().__init__()
        self.inner, self.row, self.counts, self.name = inner, row, counts, name
        self.i, self.stored = 0, None

    def forward(self, *args, **kwargs):
        i = self.i
        self.i += 1
        if self.row[i] or self.stored is None:
            self.stored = self.inner(*args, **kwargs)
            self.counts[self.name]["computed"] += 1
        else:
            self.counts[self.name]["reused"] += 1
        return self.stored


def main(argv):
    pipe_dir = Path(argv[1]) if len(argv) > 1 else FIX / "stableaudio" / "pipe"
    ref = pipe_dir / "ref"
    pipe = StableAudioPipeline.from_pretrained(pipe_dir).to("cpu")
    pipe.set_progress_bar_config(disable=True)
    counts = {name: {"computed": 0, "reused": 0} for name in SCHEDULE}
    for block in pipe.transformer.transformer_blocks:
        for name in SCHEDULE:
            setattr(block, name, Cached(getattr(block, name), SCHEDULE[name], counts, name))
    GivenNoise.noise = torch.from_numpy(np.load(ref / "noise.npy"))
    GivenNoise.calls = 0
    cosine_module.BrownianTreeNoiseSampler = GivenNoise
    lat = torch.from_numpy(np.load(ref / "latents_in.npy"))
    with torch.no_grad():
        z = pipe(PROMPTS, num_inference_steps=STEPS, guidance_scale=GUIDANCE, latents=lat.clone(),
                 output_type="latent", **RUNS["plain"]).audios
    assert GivenNoise.calls == STEPS
    np.save(ref / "cache_latents.npy", z.numpy().astype(np.float32))
    with open(ref / "cache_schedule.json", "w") as f:
        json.dump(SCHEDULE, f)
        f.write("\n")
    meta = {"schedule": "cache_schedule.json", "run": "plain", "steps": STEPS, "guidance": GUIDANCE,
            "blocks": len(pipe.transformer.transformer_blocks), "counts": counts}
    with open(ref / "cache.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(sys.argv)
