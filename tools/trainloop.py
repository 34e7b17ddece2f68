"""What the demo models' trainers share (tools/demo, tools/textdemo and tools/audiodemo train.py):
the learning-rate schedule, one optimiser step, the EMA of the weights, the running loss line, and
DDPM's noise schedule with min-SNR weights (the two image demos). Each trainer keeps its own
data, model and loss; the order of operations here is the order they ran in when the shipped
models were trained, so a run with the same arguments gives the same weights."""
import math
import time

import torch


def cosine_lr(step, lr, warmup, steps, min_frac):
    """Linear warm-up over `warmup` steps, then a cosine from lr down to min_frac * lr at `steps`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return lr * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def ddpm_schedule(T, min_snr, device="cpu"):
    """sqrt(abar_t), sqrt(1 - abar_t) and the min-SNR-gamma loss weights min(SNR, gamma) / SNR
    (all ones when min_snr <= 0) of DDPM's linear betas 1e-4 .. 0.02 over T steps."""
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    abar = torch.cumprod(1.0 - betas, dim=0)
    sqrt_ab = abar.sqrt().float().to(device)
    sqrt_1mab = (1.0 - abar).sqrt().float().to(device)
    snr = abar / (1.0 - abar)
    if min_snr > 0:
        w_t = (snr.clamp(max=min_snr) / snr).float().to(device)
    else:
        w_t = torch.ones(T, device=device)
    return sqrt_ab, sqrt_1mab, w_t


def optimiser_step(opt, loss, params, clip=1.0):
    """Gradients of loss, clipped to a global norm of `clip`, then one step of opt."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()


def ema_update(ema_params, params, ema, n):
    """ema_params <- lerp toward params with the warm-up decay min(ema, (1 + n) / (10 + n)), n the
    number of optimiser steps taken before this one."""
    decay = min(ema, (1 + n) / (10 + n))
    with torch.no_grad():
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)


class LossLog:
    """The running mean of a loss, printed every `every` steps and at the last: step, loss, learning
    rate, time since start and per step."""

    def __init__(self, every, steps, lr_at):
        self.every, self.steps, self.lr_at = every, steps, lr_at
        self.total, self.n = 0.0, 0
        self.t0 = time.time()

    def add(self, step, value):
        self.total += value
        self.n += 1
        if (step + 1) % self.every == 0 or step + 1 == self.steps:
            el = time.time() - self.t0
            print(f"step {step + 1:6d}  loss {self.total / self.n:.5f}  lr {self.lr_at(step):.2e}  "
                  f"elapsed {el:7.1f}s  ({el / (step + 1):.3f}s/step)", flush=True)
            self.total, self.n = 0.0, 0
