"""Train the smoothcache demo model: a small class-conditional DiT in pixel space.

The model is a diffusers DiTTransformer2DModel on 32x32 RGB images (in/out channels 3,
no learned sigma), trained with epsilon prediction on the standard DDPM linear beta
schedule (1e-4 .. 0.02, 1000 steps), pixels scaled to [-1, 1], 10% of the labels replaced
by the null class (id = number of classes) for classifier-free guidance, AdamW, and an
exponential moving average (EMA) of the weights; the EMA weights are exported.

Recipe (the defaults): patch 4 (64 tokens), 6 layers, 4 heads x 32 (hidden 128); the DiT
paper's adaLN-Zero initialisation; batch 32, 7000 steps, AdamW lr 2e-3 (300 warm-up steps,
then cosine to 10%), no weight decay, gradient clipping at 1.0; EMA decay 0.999; min-SNR-5
loss weighting (still plain epsilon prediction, only the per-timestep weights change);
bf16 autocast for the forward pass; two CPU threads.  The export is fp16.

Usage (from the repository root):

    python tools/demo/train.py                 # writes models/demo/
    python tools/demo/train.py --steps 200 --out build/demo-try   # a quick try

Everything is seeded (--seed): the dataset (numpy), the initial weights, batches, noise,
timesteps and label dropout (torch CPU generators), so a run with the same thread count,
CPU kind and library versions should repeat.

Note on label dropout: every DiT block of diffusers owns its own label embedder, and in
train() mode each would drop labels independently with the global torch RNG.  This script
therefore keeps the module in eval() mode (the DiT has no dropout or batch-norm layers, so
eval() changes nothing else) and drops labels itself, the same ones for every block.
"""

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(HERE))  # tools/: trainloop

import dataset  # noqa: E402
import trainloop  # noqa: E402


def build_model(args):
    from diffusers import DiTTransformer2DModel

    return DiTTransformer2DModel(
        num_attention_heads=args.heads,
        attention_head_dim=args.head_dim,
        in_channels=3,
        out_channels=3,
        num_layers=args.layers,
        sample_size=dataset.IMAGE_SIZE,
        patch_size=args.patch,
        num_embeds_ada_norm=dataset.NUM_CLASSES,
        norm_type="ada_norm_zero",
    )


def dit_init(model):
    """The DiT paper's initialisation (adaLN-Zero): xavier-uniform linears with zero biases,
    N(0, 0.02) timestep-MLP and label-table weights, and zero adaLN modulation and output
    layers, so that every block starts as the identity and the output starts at 0.
    (diffusers itself leaves PyTorch's default init; training moves all of these.)"""
    import torch.nn as nn

    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    w = model.pos_embed.proj.weight
    nn.init.xavier_uniform_(w.data.view(w.shape[0], -1))
    nn.init.zeros_(model.pos_embed.proj.bias)
    for blk in model.transformer_blocks:
        emb = blk.norm1.emb
        nn.init.normal_(emb.class_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(emb.timestep_embedder.linear_1.weight, std=0.02)
        nn.init.normal_(emb.timestep_embedder.linear_2.weight, std=0.02)
        nn.init.zeros_(blk.norm1.linear.weight)
        nn.init.zeros_(blk.norm1.linear.bias)
    for lin in (model.proj_out_1, model.proj_out_2):
        nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)


def check_not_zero(model):
    """The adaLN-Zero layers start at zero; make sure training moved them before export."""
    for name, p in model.named_parameters():
        if (name.endswith("norm1.linear.weight") or name.startswith("proj_out")) and not p.abs().max() > 0:
            raise RuntimeError(f"{name} is still all zeros")


def export(ema, out_dir, fp16):
    os.makedirs(out_dir, exist_ok=True)
    check_not_zero(ema)
    m = copy.deepcopy(ema)
    if fp16:
        m = m.half()
    m.save_pretrained(out_dir, safe_serialization=True)
    with open(os.path.join(out_dir, "classes.json"), "w") as f:
        json.dump(dataset.CLASS_NAMES, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description="train the smoothcache demo DiT")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "demo"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=7000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1,
                    help="cosine decay after warmup down to lr*this at the last step")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--data-size", type=int, default=50000)
    ap.add_argument("--hidden-layers", dest="layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--cfg-drop", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--save-every", type=int, default=0, help="export the EMA every N steps too")
    ap.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=True,
                    help="export fp16 weights")
    ap.add_argument("--min-snr", type=float, default=5.0,
                    help="min-SNR-gamma loss weighting min(SNR, g)/SNR (0 = plain MSE)")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                    help="bf16 autocast for the forward pass (weights, optimizer and loss stay fp32)")
    ap.add_argument("--init", choices=["dit", "default"], default="dit",
                    help="dit: adaLN-Zero init of the DiT paper; default: diffusers/PyTorch init")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    t0 = time.time()

    images, labels = dataset.make_dataset(args.data_size, args.seed)
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()
    y_all = torch.from_numpy(labels)
    x_all, y_all = x_all.to(dev), y_all.to(dev)
    print(f"dataset: {args.data_size} images in {time.time() - t0:.1f}s", flush=True)

    model = build_model(args)
    if args.init == "dit":
        dit_init(model)
    model = model.to(dev)
    model.eval()  # see the module docstring: label dropout is done here, not in the model
    ema = copy.deepcopy(model).requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters ({n_params / 1e6:.2f} M)", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999),
                            weight_decay=args.weight_decay)

    def lr_at(step):
        return trainloop.cosine_lr(step, args.lr, args.warmup, args.steps, args.min_lr_frac)

    T = 1000
    sqrt_ab, sqrt_1mab, w_t = trainloop.ddpm_schedule(T, args.min_snr, dev)

    g = torch.Generator(device="cpu").manual_seed(args.seed + 1)
    null_class = dataset.NUM_CLASSES
    ema_params = list(ema.parameters())
    model_params = list(model.parameters())
    log = trainloop.LossLog(args.log_every, args.steps, lr_at)  # loss: the plain (unweighted) epsilon MSE
    t_train = log.t0
    for step in range(args.steps):
        idx = torch.randint(0, args.data_size, (args.batch,), generator=g).to(dev)
        x0, y = x_all[idx], y_all[idx].clone()
        t = torch.randint(0, T, (args.batch,), generator=g).to(dev)
        noise = torch.randn(x0.shape, generator=g).to(dev)
        drop = (torch.rand(args.batch, generator=g) < args.cfg_drop).to(dev)
        y[drop] = null_class
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1mab[t].view(-1, 1, 1, 1) * noise

        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            pred = model(xt, timestep=t, class_labels=y).sample
        mse = (pred.float() - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (w_t[t] * mse).mean()
        trainloop.optimiser_step(opt, loss, model_params)
        trainloop.ema_update(ema_params, model_params, args.ema, step)
        log.add(step, mse.mean().item())
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            export(ema, args.out, args.fp16)
            print(f"  exported EMA at step {step + 1} to {args.out}", flush=True)

    export(ema, args.out, args.fp16)
    print(f"done: {args.steps} steps in {time.time() - t_train:.1f}s "
          f"(total {time.time() - t0:.1f}s); EMA exported to {args.out}", flush=True)


if __name__ == "__main__":
    main()
