#!/usr/bin/env python3
"""References for the samplers that do not step a discrete (beta) schedule, for
tests/test_samplers.c:

  k-euler, k-dpmpp2m  k-diffusion's sample_euler and sample_dpmpp_2m on Karras sigmas
                      (get_sigmas_karras, rho 7, between the schedule's sigma_min and sigma_max),
                      the fixture DiT dit_a (diffusers) wrapped as k-diffusion's
                      DiscreteEpsDDPMDenoiser over the DiT schedule's alphas_cumprod, with
                      classifier-free guidance as the engine applies it (diffusers numerics: every
                      latent channel), from the engine's seeded initial noise (times sigma_max);
  flow-euler          diffusers' FlowMatchEulerDiscreteScheduler stepping a latent of an arbitrary
                      shape with given velocities (no model), for two shifts and step counts.

    .venv/bin/python tools/reference_samplers.py [OUTDIR]   (default tests/fixtures/samplers)
"""
import json
import os
import site
import sys
import types
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DiTTransformer2DModel, FlowMatchEulerDiscreteScheduler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as R  # noqa: E402  (the engine's random generator, the DiT schedule)

ROOT = Path(__file__).resolve().parent.parent


def k_diffusion():
    """k_diffusion.sampling and .external without the package's __init__, which imports its
    evaluation tools (CLIP) that these references do not need."""
    for p in site.getsitepackages():
        base = os.path.join(p, "k_diffusion")
        if os.path.isdir(base):
            pkg = types.ModuleType("k_diffusion")
            pkg.__path__ = [base]
            sys.modules["k_diffusion"] = pkg
            from k_diffusion import external, sampling
            return sampling, external
    sys.exit("k-diffusion is not installed (tools/setup_venv.sh)")


@torch.no_grad()
def k_cases(out, cases):
    sampling, external = k_diffusion()
    model = DiTTransformer2DModel.from_pretrained(ROOT / "tests" / "fixtures" / "dit_a", torch_dtype=torch.float32).eval()
    classes, null_id, scale, steps, seed = [1, 2], 10, 4.0, 10, 7
    acp = DDIMScheduler(**R.DIT_DDIM_CONFIG).alphas_cumprod  # float32, as the engine's default schedule
    y = torch.tensor(classes + [null_id] * len(classes), dtype=torch.int64)
    C = model.config.in_channels
    calls = []

    def eps_fn(x_in, t):
        calls.append(float(t[0]))
        out_ = model(torch.cat([x_in, x_in]), timestep=torch.cat([t, t]), class_labels=y).sample[:, :C]
        cond, uncond = out_[: len(x_in)], out_[len(x_in):]
        return uncond + scale * (cond - uncond)

    denoiser = external.DiscreteEpsDDPMDenoiser(eps_fn, acp, quantize=False)
    sigmas = sampling.get_sigmas_karras(steps, denoiser.sigma_min, denoiser.sigma_max, rho=7.0)
    latents = torch.from_numpy(R.seeded_latents(seed, len(classes), (C, 16, 16)))
    for name, fn in (("k-euler", sampling.sample_euler), ("k-dpmpp2m", sampling.sample_dpmpp_2m)):
        calls.clear()
        x = fn(denoiser, latents * sigmas[0], sigmas, disable=True)
        np.save(out / f"{name}_out.npy", x.numpy().astype("<f4"))
        cases[name] = {"model": "dit_a", "sampler": name, "classes": classes, "seed": seed, "steps": steps,
                       "cfg": scale, "sigmas": [float(s) for s in sigmas], "model_t": list(calls),
                       "out": f"{name}_out.npy", "tol": 1e-4,
                       "reference": "k-diffusion sampling." + fn.__name__ + " + external.DiscreteEpsDDPMDenoiser"}


def flow_cases(out, cases):
    shape = (2, 3, 5, 7)  # any latent shape: the step is element-wise
    gen = np.random.default_rng(11)
    for shift, steps in ((1.0, 10), (3.0, 7)):
        sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
        sched.set_timesteps(steps)
        x0 = gen.standard_normal(shape).astype(np.float32)
        v = gen.standard_normal((steps,) + shape).astype(np.float32)
        x = torch.from_numpy(x0)
        for i, t in enumerate(sched.timesteps):
            x = sched.step(torch.from_numpy(v[i]), t, x).prev_sample
        name = f"flow-euler-shift{shift:g}"
        np.save(out / f"{name}_x0.npy", x0)
        np.save(out / f"{name}_v.npy", v)
        np.save(out / f"{name}_out.npy", x.numpy().astype("<f4"))
        cases[name] = {"sampler": "flow-euler", "shift": shift, "steps": steps, "num_train": 1000,
                       "model_t": [float(t) for t in sched.timesteps], "x0": f"{name}_x0.npy",
                       "v": f"{name}_v.npy", "out": f"{name}_out.npy",
                       "reference": "diffusers FlowMatchEulerDiscreteScheduler.step"}


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "samplers"
    out.mkdir(parents=True, exist_ok=True)
    cases = {}
    k_cases(out, cases)
    flow_cases(out, cases)
    (out / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    print(f"wrote {out}: {', '.join(cases)}")


if __name__ == "__main__":
    main()
