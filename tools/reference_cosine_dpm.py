#!/usr/bin/env python3
"""Reference for the cosine-dpmpp2m-sde sampler: diffusers' CosineDPMSolverMultistepScheduler, the
scheduler StableAudioPipeline samples Stable Audio Open with, driving the tiny Stable Audio
fixture's transformer (tests/fixtures/stableaudio/proj, made by tools/reference_stable_audio.py)
through the pipeline's own denoising loop.

    .venv/bin/python tools/reference_cosine_dpm.py FIXTURES/stableaudio   (tests/fixtures/stableaudio)

Reads proj/ (the weights and the `guided` case's prompts, masks and durations) and writes
cosine_dpm/<case>/:
  scheduler_config.json  the scheduler's configuration as diffusers saves it (what a pipeline
                         folder's scheduler/ holds)
  latents_in   float32 [2, C, S] unit noise (the pipeline's `latents` argument: it multiplies it
               by init_noise_sigma)
  noise        float32 [STEPS, 2, C, S] what the scheduler's noise sampler returns at each step
               (the BrownianTreeNoiseSampler replaced by these; the last step's, multiplied by 0
               there, is 0)
  trajectory   float32 [STEPS, 2, C, S] the latents after each scheduler.step
and cosine_dpm/cases.json: per case the steps, the guidance scale, the scheduler's sigmas and the
timesteps the transformer received.

The loop is StableAudioPipeline.__call__'s (diffusers 0.42: set_timesteps, latents *
init_noise_sigma, then per timestep: [latents; latents], scale_model_input, the transformer at
t.unsqueeze(0), guidance u + s (c - u) over the [uncond; cond] halves, scheduler.step), with the
conditioning the pipeline builds (reference_stable_audio.conditioning). Cases:
  midpoint  Stable Audio Open's configuration (diffusers' scripts/convert_stable_audio.py: sigma
            0.3 .. 500, sigma_data 1, exponential, order 2, midpoint, v_prediction), 8 steps,
            guidance 7
  heun      solver_type heun, sigma 0.1 .. 80, sigma_data 0.5, 6 steps, guidance 3
  order1    the defaults with solver_order 1, 4 steps, no guidance (the transformer sees the
            conditional rows alone)
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import CosineDPMSolverMultistepScheduler, StableAudioDiTModel
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_stable_audio import conditioning  # noqa: E402

CASES = {
    "midpoint": dict(config=dict(sigma_min=0.3, sigma_max=500, solver_order=2, prediction_type="v_prediction",
                                 sigma_data=1.0, sigma_schedule="exponential"), steps=8, cfg=7.0, seed=400),
    "heun": dict(config=dict(sigma_min=0.1, sigma_max=80, solver_order=2, prediction_type="v_prediction",
                             sigma_data=0.5, sigma_schedule="exponential", solver_type="heun"),
                 steps=6, cfg=3.0, seed=401),
    "order1": dict(config=dict(solver_order=1), steps=4, cfg=1.0, seed=402),
}


@torch.no_grad()
def run_case(d, dit, proj, text, mask, seconds, spec):
    sched = CosineDPMSolverMultistepScheduler(**spec["config"])
    sched.save_config(d)
    steps, cfg = spec["steps"], spec["cfg"]
    C, S = dit.config.in_channels, dit.config.sample_size
    g = torch.Generator().manual_seed(spec["seed"])
    x0 = torch.randn(2, C, S, generator=g)
    noise = torch.randn(steps, 2, C, S, generator=g)
    noise[-1] = 0.0
    guided = cfg > 1.0
    enc, glob = conditioning(proj, text, mask, seconds, guided=guided)    # [uncond 2; cond 2] or [cond 2]
    rot = get_1d_rotary_pos_embed(dit.config.attention_head_dim // 2, S + glob.shape[1], use_real=True,
                                  repeat_interleave_real=False)

    sched.set_timesteps(steps, device="cpu")
    timesteps = sched.timesteps
    latents = x0 * sched.init_noise_sigma
    drawn, trajectory, model_t = [], [], []

    def noise_sampler(sigma, sigma_next):
        drawn.append((float(sigma), float(sigma_next)))
        return noise[len(drawn) - 1]

    sched.noise_sampler = noise_sampler   # set_timesteps cleared it; step() keeps this one
    for t in timesteps:
        lmi = sched.scale_model_input(torch.cat([latents] * 2) if guided else latents, t)
        model_t.append(float(t))
        v = dit(lmi, t.unsqueeze(0), encoder_hidden_states=enc, global_hidden_states=glob,
                rotary_embedding=rot, return_dict=False)[0]
        if guided:
            uncond, cond = v.chunk(2)
            v = uncond + cfg * (cond - uncond)
        latents = sched.step(v, t, latents).prev_sample
        trajectory.append(latents.clone())
    assert len(drawn) == steps and sched.noise_sampler is noise_sampler
    assert all(abs(a - float(s)) == 0 for (a, _), s in zip(drawn, sched.sigmas[:-1]))
    np.save(d / "latents_in.npy", x0.numpy())
    np.save(d / "noise.npy", noise.numpy())
    np.save(d / "trajectory.npy", torch.stack(trajectory).numpy())
    return {"steps": steps, "cfg": cfg, "init_noise_sigma": sched.init_noise_sigma,
            "sigmas": [float(s) for s in sched.sigmas], "timesteps": model_t,
            "max_abs_out": float(latents.abs().max())}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    src = root / "proj"
    dit = StableAudioDiTModel.from_pretrained(src / "transformer").eval()
    proj = StableAudioProjectionModel.from_pretrained(src / "projection_model").eval()
    text = torch.from_numpy(np.load(src / "case_guided_text.npy"))
    mask = torch.from_numpy(np.load(src / "case_guided_mask.npy"))
    seconds = torch.from_numpy(np.load(src / "case_guided_seconds.npy"))
    out = {"tool": "tools/reference_cosine_dpm.py", "torch": torch.__version__, "model": "proj", "case": "guided"}
    import diffusers
    out["diffusers"] = diffusers.__version__
    for name, spec in CASES.items():
        d = root / "cosine_dpm" / name
        d.mkdir(parents=True, exist_ok=True)
        out[name] = run_case(d, dit, proj, text, mask, seconds, spec)
    with open(root / "cosine_dpm" / "cases.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(CASES)} cases to {root / 'cosine_dpm'}")


if __name__ == "__main__":
    main()
