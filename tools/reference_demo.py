#!/usr/bin/env python3
"""Reference for the shipped demo model (models/demo): diffusers' own DiTTransformer2DModel
loaded from the shipped files (fp16, upcast to float32 as the engine does), one forward at
four timesteps, and a whole guided DDIM trajectory (10 classes, 50 steps, cfg 4: what
`smoothcache generate` does by default) through diffusers' DDIMScheduler and DiTPipeline's
guidance loop, from the engine's own seeded latents. For tests/test_demo.c.

    .venv/bin/python tools/reference_demo.py [OUTDIR]      # default tests/fixtures/demo
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DiTTransformer2DModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "demo"
CLASSES = list(range(10))
SEED, STEPS, CFG = 0, 50, 4.0


@torch.no_grad()
def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    model = DiTTransformer2DModel.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
    fn = ref.diffusers_fn(model)
    cfg = model.config
    side, chans, null_id = cfg.sample_size, cfg.in_channels, cfg.num_embeds_ada_norm

    x = torch.randn(4, chans, side, side, generator=torch.Generator().manual_seed(3))
    t, y = [0, 20, 500, 999], [0, 6, 8, null_id]
    fwd = fn(x, torch.tensor(t), torch.tensor(y))
    np.save(out / "forward_x.npy", x.numpy().astype("<f4"))
    np.save(out / "forward_out.npy", fwd.numpy().astype("<f4"))

    latents = torch.from_numpy(ref.seeded_latents(SEED, len(CLASSES), (chans, side, side)).astype(np.float32))
    sampler = ref.DiffusersSampler(DDIMScheduler(**ref.DIT_DDIM_CONFIG), STEPS, chans)
    final, first = ref.run_trajectory(fn, sampler, latents, CLASSES, null_id, CFG, "diffusers")
    np.save(out / "ddim_step1.npy", first.numpy().astype("<f4"))
    np.save(out / "ddim_out.npy", final.numpy().astype("<f4"))

    case = {"forward": {"x": "forward_x.npy", "t": t, "y": y, "out": "forward_out.npy", "tol": ref.FORWARD_TOL},
            "trajectory": {"sampler": "ddim", "steps": STEPS, "cfg": CFG, "classes": CLASSES, "seed": SEED,
                           "timesteps": sampler.timesteps, "first_step": "ddim_step1.npy", "out": "ddim_out.npy",
                           "tol": ref.TRAJECTORY_TOL,
                           "reference": "diffusers DiTTransformer2DModel.from_pretrained(models/demo, float32) + "
                                        "DDIMScheduler (DiT config) + DiTPipeline guidance loop (transcribed)"}}
    (out / "cases.json").write_text(json.dumps(case, indent=1) + "\n")
    print(f"wrote {out}: forward {tuple(fwd.shape)}, trajectory {tuple(final.shape)}")


if __name__ == "__main__":
    main()
