"""Sample the demo model and score the samples with the analytic classifier.

Usage (from the repository root):

    python tools/demo/sample.py                       # models/demo, 50 DDIM steps, cfg 3.0
    python tools/demo/sample.py --steps 50 --cfg 3.0 --per-class 10 --grid models/demo/samples.png

Sampler: diffusers DDIMScheduler with the DiT defaults (1000 train steps, linear betas
1e-4..0.02, set_alpha_to_one=True, steps_offset=0, timestep_spacing "leading",
clip_sample=False, eta 0) and the DiTPipeline classifier-free-guidance loop: the batch is
[x; x] with labels [class; null], eps = eps_uncond + scale * (eps_cond - eps_uncond) on all
3 channels when scale > 1 (only the conditional half when scale <= 1).  The initial noise
of image i (class i // per_class) is torch.randn([3, 32, 32]) from a CPU generator seeded
with seed + i.  Samples are clamped to [-1, 1] and rounded to uint8 before classifying.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import classify  # noqa: E402
import dataset  # noqa: E402


def make_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                         beta_schedule="linear", clip_sample=False, set_alpha_to_one=True,
                         steps_offset=0, timestep_spacing="leading", prediction_type="epsilon")


@torch.no_grad()
def sample(model, labels, steps, cfg, seed, device="cpu"):
    """labels: int list. Returns uint8 images [N, 32, 32, 3]."""
    sched = make_scheduler()
    sched.set_timesteps(steps)
    n = len(labels)
    size = model.config.sample_size
    ch = model.config.in_channels
    x = torch.stack([torch.randn((ch, size, size), generator=torch.Generator().manual_seed(seed + i))
                     for i in range(n)]).to(device)
    y = torch.tensor(labels, dtype=torch.long, device=device)
    null = torch.full_like(y, model.config.num_embeds_ada_norm)
    for t in sched.timesteps:
        tt = torch.full((n,), int(t), dtype=torch.long, device=device)
        if cfg > 1:
            out = model(torch.cat([x, x]), timestep=torch.cat([tt, tt]),
                        class_labels=torch.cat([y, null])).sample
            cond, uncond = out[:n, :ch], out[n:, :ch]
            eps = uncond + cfg * (cond - uncond)
        else:
            eps = model(x, timestep=tt, class_labels=y).sample[:, :ch]
        x = sched.step(eps, t, x).prev_sample
    img = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return img.permute(0, 2, 3, 1).cpu().numpy()


def main():
    from diffusers import DiTTransformer2DModel

    ap = argparse.ArgumentParser(description="sample the demo DiT and report class accuracy")
    ap.add_argument("--model", default=os.path.join(REPO, "models", "demo"))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", default=None, help="PNG grid to write (one row per class)")
    ap.add_argument("--npz", default=None, help="also save the samples and labels to this .npz")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = DiTTransformer2DModel.from_pretrained(args.model, torch_dtype=torch.float32)
    model = model.to(args.device).eval()
    nc = model.config.num_embeds_ada_norm
    labels = [k for k in range(nc) for _ in range(args.per_class)]
    t0 = time.time()
    imgs = sample(model, labels, args.steps, args.cfg, args.seed, args.device)
    pred = np.array([classify.classify(im) for im in imgs])
    lab = np.array(labels)
    colour_acc = float((np.array([classify.classify(im, check_shape=False) for im in imgs]) == lab).mean())
    acc = float((pred == lab).mean())
    print(f"{args.steps} DDIM steps, cfg {args.cfg}, seed {args.seed}, {len(labels)} samples "
          f"in {time.time() - t0:.1f}s: class accuracy {acc * 100:.1f}% "
          f"(rejected {int((pred == -1).sum())}, wrong class {int(((pred != lab) & (pred >= 0)).sum())}; "
          f"colour alone {colour_acc * 100:.1f}%)")
    for k in range(nc):
        sel = lab == k
        wrong = [int(p) for p in pred[sel] if p != k]
        print(f"  {k} {dataset.CLASS_NAMES[k]:16s} {float((pred[sel] == k).mean()) * 100:6.1f}%"
              + (f"  got {wrong}" if wrong else ""))
    if args.npz:
        np.savez_compressed(args.npz, images=imgs, labels=lab)
    if args.grid:
        dataset.save_grid(imgs, args.grid, rows=nc)
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
