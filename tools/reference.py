#!/usr/bin/env python3
"""Reference tool for smoothcache: tiny DiT fixtures, generator replay and self-checks.

Subcommands
  fixtures [OUTDIR]   build tiny random-weight DiT models, compute reference tensors with
                      PyTorch/diffusers and write OUTDIR/manifest.json (default tests/fixtures)
  rng --seed S        print the first normals of the latent stream of image 0 (seed S)
  selfcheck           check this file's original-DiT transcription and sampling loop against
                      diffusers; exits non-zero on a mismatch
  vae-fixtures [OUTDIR]
                      tiny random AutoencoderKLs in the three VAE namings (diffusers, legacy,
                      original LDM) and their reference decodes; sets manifest.json's
                      "vae_cases" and keeps its other keys (`fixtures` writes them too)

Everything runs in float32 on the CPU. The numerics follow docs/NUMERICS.md and
docs/FORMATS.md; the manifest keys are described in build_fixtures().
"""

import argparse
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import diffusers
from diffusers import AutoencoderKL, DDIMScheduler, DiTPipeline, DiTTransformer2DModel, DPMSolverMultistepScheduler
from safetensors.torch import load_file, save_file

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTDIR = REPO_ROOT / "tests" / "fixtures"
FIXTURE_BUDGET_BYTES = 6_000_000  # committed fixtures: keep the repository light

FORWARD_TOL = 1e-4
TRAJECTORY_TOL = 1e-3
SELFCHECK_TOL = 1e-5
TRAJ_STEPS = 10
TRAJ_SEED = 7
TRAJ_CLASSES = (1, 2)
LATENT_CHANNELS = 4  # every fixture model works on 4-channel latents

# ---------------------------------------------------------------------------------------------
# The engine's random generator (docs/NUMERICS.md), replayed bit for bit.
# ---------------------------------------------------------------------------------------------

MASK64 = (1 << 64) - 1
NOISE_STREAM_XOR = 0xD1B54A32D192ED03


def splitmix64(state):
    """One splitmix64 step: returns (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def _rotl64(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class NormalStream:
    """xoshiro256** seeded through splitmix64, Box-Muller normals rounded to float32.

    The second value of each Box-Muller pair is kept for the next request, so the sequence
    does not depend on how requests are split. Python's math functions work on doubles with
    the platform libm, as the C engine does.
    """

    def __init__(self, seed):
        state = seed & MASK64
        words = []
        for _ in range(4):
            state, out = splitmix64(state)
            words.append(out)
        self.s = words
        self.spare = None

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl64((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl64(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def _normal_double(self):
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        u1 = ((self.next_u64() >> 11) + 1) * 2.0**-53  # (0, 1]
        u2 = (self.next_u64() >> 11) * 2.0**-53  # [0, 1)
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 2.0 * math.pi * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)

    def normals(self, count):
        """The next `count` normals, each rounded from double to float32."""
        return np.array([self._normal_double() for _ in range(count)], dtype=np.float64).astype(np.float32)


def latent_stream(seed, image):
    return NormalStream(seed + image)


def noise_stream(seed, image):
    return NormalStream(((seed + image) & MASK64) ^ NOISE_STREAM_XOR)


def seeded_latents(seed, count, shape):
    """Initial latents [count, C, S, S] as the engine draws them without --latents-in."""
    per_image = int(np.prod(shape))
    return np.stack([latent_stream(seed, i).normals(per_image).reshape(shape) for i in range(count)])


# ---------------------------------------------------------------------------------------------
# Transcription of facebookresearch/DiT models.py with original tensor names.
# ---------------------------------------------------------------------------------------------


def sincos_pos_embed(dim, grid):
    """2D sin-cos table [grid*grid, dim]: first half encodes the column, second the row.

    Computed in double like DiT/MAE's numpy code, then rounded to float32."""
    omega = np.arange(dim // 4, dtype=np.float64) / (dim / 4.0)
    omega = 1.0 / 10000**omega
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")

    def embed_1d(pos):
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([embed_1d(cols), embed_1d(rows)], axis=1).astype(np.float32)


# Numerics of the two layouts (docs/FORMATS.md, "DiT numerics"): timestep frequency divisor, eps of the
# pre-MLP LayerNorm. The other LayerNorms use 1e-6 in both.
ORIGINAL_NUMERICS = {"freq_divisor": 128.0, "mlp_norm_eps": 1e-6}


def diffusers_numerics(norm_eps=1e-5):
    return {"freq_divisor": 127.0, "mlp_norm_eps": norm_eps}


def _linear(d_in, d_out):
    return nn.Linear(d_in, d_out, bias=True)


class _Attention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = _linear(dim, 3 * dim)
        self.proj = _linear(dim, dim)


class _Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = _linear(dim, 4 * dim)
        self.fc2 = _linear(4 * dim, dim)


class _Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.attn = _Attention(dim)
        self.mlp = _Mlp(dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), _linear(dim, 6 * dim))


class _FinalLayer(nn.Module):
    def __init__(self, dim, patch, out_channels):
        super().__init__()
        self.linear = _linear(dim, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), _linear(dim, 2 * dim))


class OrigDiT(nn.Module):
    """DiT with facebookresearch/DiT parameter names (state_dict: docs/FORMATS.md, "DiT checkpoints")."""

    def __init__(self, *, input_size, patch_size, in_channels, hidden_size, depth, num_heads, num_classes, learn_sigma,
                 numerics=ORIGINAL_NUMERICS):
        super().__init__()
        self.patch = patch_size
        self.in_channels = in_channels
        self.out_channels = 2 * in_channels if learn_sigma else in_channels
        self.num_heads = num_heads
        self.numerics = dict(numerics)
        grid = input_size // patch_size
        self.x_embedder = nn.Module()
        self.x_embedder.proj = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size)
        self.register_buffer("pos_embed", torch.from_numpy(sincos_pos_embed(hidden_size, grid))[None])
        self.t_embedder = nn.Module()
        self.t_embedder.mlp = nn.Sequential(_linear(256, hidden_size), nn.SiLU(), _linear(hidden_size, hidden_size))
        self.y_embedder = nn.Module()
        self.y_embedder.embedding_table = nn.Embedding(num_classes + 1, hidden_size)  # last row: null class
        self.blocks = nn.ModuleList(_Block(hidden_size) for _ in range(depth))
        self.final_layer = _FinalLayer(hidden_size, patch_size, self.out_channels)

    def timestep_embedding(self, t):
        half = 128
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / self.numerics["freq_divisor"])
        args = t[:, None].float() * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def _attention(self, attn, z):
        b, n, d = z.shape
        qkv = attn.qkv(z).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return attn.proj(out.transpose(1, 2).reshape(b, n, d))

    def forward(self, x, t, y):
        d = self.pos_embed.shape[-1]
        h = self.x_embedder.proj(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_embedder.mlp(self.timestep_embedding(t)) + self.y_embedder.embedding_table(y)
        for block in self.blocks:
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.adaLN_modulation(c).chunk(6, dim=1)
            z = F.layer_norm(h, (d,), eps=1e-6) * (1 + scale_msa[:, None]) + shift_msa[:, None]
            h = h + gate_msa[:, None] * self._attention(block.attn, z)
            z = F.layer_norm(h, (d,), eps=self.numerics["mlp_norm_eps"]) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
            h = h + gate_mlp[:, None] * block.mlp.fc2(F.gelu(block.mlp.fc1(z), approximate="tanh"))
        shift, scale = self.final_layer.adaLN_modulation(c).chunk(2, dim=1)
        o = self.final_layer.linear(F.layer_norm(h, (d,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None])
        # unpatchify: o[t=(i,j)][(u*p+v)*C + ch] -> out[ch][p*i+u][p*j+v]
        p, c_out, g = self.patch, self.out_channels, int(o.shape[1] ** 0.5)
        o = torch.einsum("nhwpqc->nchpwq", o.reshape(o.shape[0], g, g, p, p, c_out))
        return o.reshape(o.shape[0], c_out, g * p, g * p)


# Original name -> diffusers name (per block where {i} appears). The timestep/class embedders
# exist once per diffusers block ({e}); they are identical copies.
NAME_MAP = {
    "x_embedder.proj": "pos_embed.proj",
    "t_embedder.mlp.0": "transformer_blocks.{e}.norm1.emb.timestep_embedder.linear_1",
    "t_embedder.mlp.2": "transformer_blocks.{e}.norm1.emb.timestep_embedder.linear_2",
    "y_embedder.embedding_table": "transformer_blocks.{e}.norm1.emb.class_embedder.embedding_table",
    "blocks.{i}.adaLN_modulation.1": "transformer_blocks.{i}.norm1.linear",
    "blocks.{i}.attn.proj": "transformer_blocks.{i}.attn1.to_out.0",
    "blocks.{i}.mlp.fc1": "transformer_blocks.{i}.ff.net.0.proj",
    "blocks.{i}.mlp.fc2": "transformer_blocks.{i}.ff.net.2",
    "final_layer.adaLN_modulation.1": "proj_out_1",
    "final_layer.linear": "proj_out_2",
}
QKV = ("to_q", "to_k", "to_v")


def original_to_diffusers(sd, depth):
    """Converts an original state_dict to DiTTransformer2DModel names (pos_embed dropped)."""
    out = {}
    for orig, diff in NAME_MAP.items():
        for i in range(depth) if ("{i}" in orig or "{e}" in diff) else [None]:
            for suffix in ("weight", "bias"):
                src = f"{orig.format(i=i)}.{suffix}"
                if src in sd:
                    out[f"{diff.format(i=i, e=i)}.{suffix}"] = sd[src].clone()
    for i in range(depth):
        for suffix in ("weight", "bias"):
            parts = sd[f"blocks.{i}.attn.qkv.{suffix}"].chunk(3, dim=0)
            for name, part in zip(QKV, parts):
                out[f"transformer_blocks.{i}.attn1.{name}.{suffix}"] = part.clone()
    return out


def diffusers_to_original(sd, depth):
    """Converts DiTTransformer2DModel names to original ones, taking block 0's embedders."""
    out = {}
    for orig, diff in NAME_MAP.items():
        for i in range(depth) if "{i}" in orig else [None]:
            for suffix in ("weight", "bias"):
                src = f"{diff.format(i=i, e=0)}.{suffix}"
                if src in sd:
                    out[f"{orig.format(i=i)}.{suffix}"] = sd[src].clone()
    for i in range(depth):
        for suffix in ("weight", "bias"):
            parts = [sd[f"transformer_blocks.{i}.attn1.{name}.{suffix}"] for name in QKV]
            out[f"blocks.{i}.attn.qkv.{suffix}"] = torch.cat(parts, dim=0)
    return out


# ---------------------------------------------------------------------------------------------
# Tiny models
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    name: str  # path relative to the fixture folder
    layout: str  # "diffusers" (transformer folder or pipeline folder) or "original" (one file)
    dtype: torch.dtype  # storage dtype
    depth: int
    heads: int
    head_dim: int
    in_channels: int
    learn_sigma: bool
    patch: int
    size: int  # latent side S
    num_classes: int  # null class id = num_classes
    tag: str  # case name prefix
    store_pos_embed: bool = True  # original layout only
    seed: int = 0

    @property
    def hidden(self):
        return self.heads * self.head_dim

    @property
    def manifest_heads(self):
        """Head count for the manifest: only original single files need it (not in their shapes)."""
        return self.heads if self.layout == "original" else None

    @property
    def manifest_input_size(self):
        """Latent side for the manifest: only needed where a file has no pos_embed to infer it from."""
        return self.size if self.layout == "original" and not self.store_pos_embed else None

    @property
    def out_channels(self):
        return 2 * self.in_channels if self.learn_sigma else self.in_channels


SPEC_A = ModelSpec("dit_a", "diffusers", torch.float32, depth=2, heads=2, head_dim=32, in_channels=4,
                   learn_sigma=True, patch=2, size=16, num_classes=10, tag="a", seed=101)
SPEC_B = ModelSpec("dit_b.safetensors", "original", torch.float16, depth=3, heads=4, head_dim=24, in_channels=4,
                   learn_sigma=False, patch=2, size=8, num_classes=7, tag="b", seed=102)
SPEC_C = ModelSpec("dit_c_pipeline", "diffusers", torch.bfloat16, depth=2, heads=3, head_dim=16, in_channels=4,
                   learn_sigma=True, patch=2, size=8, num_classes=10, tag="c", seed=103)
SPEC_D = ModelSpec("dit_d.safetensors", "original", torch.float32, depth=2, heads=2, head_dim=32, in_channels=4,
                   learn_sigma=True, patch=2, size=16, num_classes=10, tag="d", store_pos_embed=False,
                   seed=104)

# Layers producing shift/scale/gate get smaller weights so the modulation stays O(0.3).
MODULATION_LAYERS = ("adaLN_modulation.1", "norm1.linear", "proj_out_1")


@torch.no_grad()
def randomize_(module, gen):
    """Random weights with O(1) activations everywhere (no adaLN-Zero zero init)."""
    for name, sub in module.named_modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            gain = 0.5 if name.endswith(MODULATION_LAYERS) else 1.0
            sub.weight.normal_(0.0, gain / math.sqrt(sub.weight[0].numel()), generator=gen)
            sub.bias.normal_(0.0, 0.1, generator=gen)
        elif isinstance(sub, nn.Embedding):
            sub.weight.normal_(0.0, 0.7, generator=gen)


def new_original(spec, numerics=ORIGINAL_NUMERICS):
    return OrigDiT(input_size=spec.size, patch_size=spec.patch, in_channels=spec.in_channels, hidden_size=spec.hidden,
                   depth=spec.depth, num_heads=spec.heads, num_classes=spec.num_classes, learn_sigma=spec.learn_sigma,
                   numerics=numerics).eval()


def build_original(spec, numerics=ORIGINAL_NUMERICS):
    model = new_original(spec, numerics)
    randomize_(model, torch.Generator().manual_seed(spec.seed))
    return model


def diffusers_config(spec):
    return dict(num_layers=spec.depth, num_attention_heads=spec.heads, attention_head_dim=spec.head_dim,
                in_channels=spec.in_channels, out_channels=spec.out_channels, patch_size=spec.patch,
                sample_size=spec.size, num_embeds_ada_norm=spec.num_classes)


@torch.no_grad()
def build_diffusers(spec):
    model = DiTTransformer2DModel(**diffusers_config(spec))
    randomize_(model, torch.Generator().manual_seed(spec.seed))
    # Like the real checkpoint: every block carries an identical copy of block 0's embedders.
    emb0 = model.transformer_blocks[0].norm1.emb.state_dict()
    for block in model.transformer_blocks[1:]:
        block.norm1.emb.load_state_dict(emb0)
    return model.eval()


def save_original(spec, model, path):
    sd = {k: v.detach().to(spec.dtype).contiguous() for k, v in model.state_dict().items()}
    if not spec.store_pos_embed:
        del sd["pos_embed"]
    save_file(sd, str(path), metadata={"format": "pt"})


def load_original(spec, path):
    """Loads an original-layout file exactly as stored (F16 upcast to F32); a missing pos_embed
    is computed, as the engine must do."""
    model = new_original(spec)
    sd = {k: v.float() for k, v in load_file(str(path)).items()}
    sd.setdefault("pos_embed", model.pos_embed.clone())
    model.load_state_dict(sd, strict=True)
    return model


def diffusers_fn(model):
    """Uniform call signature model(x, t, y) -> output tensor."""
    return lambda x, t, y: model(x, timestep=t, class_labels=y).sample


# ---------------------------------------------------------------------------------------------
# Schedulers and samplers
# ---------------------------------------------------------------------------------------------

# scheduler/scheduler_config.json of facebook/DiT-XL-2-256 (DDIMScheduler's own defaults differ:
# clip_sample defaults to True there).
DIT_DDIM_CONFIG = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                       clip_sample=False, set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon",
                       timestep_spacing="leading")
DPMPP2M_CONFIG = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                      algorithm_type="dpmsolver++", solver_order=2)
# dit_c's scheduler: settings the engine must read from the folder. "trailing" spacing ignores
# steps_offset in DDIMScheduler.set_timesteps, so "leading" + steps_offset 1 is used instead.
DIT_C_DDIM_CONFIG = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=True, steps_offset=1, prediction_type="epsilon",
                         timestep_spacing="leading")


def scheduler_record(scheduler):
    """JSON-safe copy of a scheduler's config (non-finite floats become strings)."""
    rec = {"_class_name": type(scheduler).__name__}
    for key, value in scheduler.config.items():
        if key.startswith("_"):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        rec[key] = value
    return rec


def emulate_f32_schedule(config):
    """diffusers' float32 (betas, alphas_cumprod) recomputed without torch, as a C engine can.

    torch.linspace (CPU, float32): step = f32((f32(end) - f32(start)) / (n - 1)); entry i is
    start + step*i for i < n/2, else end - step*(n-1-i), each rounded once (like fmaf).
    torch.cumprod on float32 CPU tensors accumulates in double and rounds every output.
    scaled_linear squares a float32 linspace of the square roots in float32."""
    n = config["num_train_timesteps"]
    start, end = config["beta_start"], config["beta_end"]
    if config["beta_schedule"] == "scaled_linear":
        start, end = start**0.5, end**0.5
    start, end = np.float32(start), np.float32(end)
    step = np.float64(np.float32((end - start) / np.float32(n - 1)))
    i = np.arange(n, dtype=np.float64)
    betas = np.where(i < n // 2, step * i + np.float64(start), np.float64(end) - step * (n - 1 - i)).astype(np.float32)
    if config["beta_schedule"] == "scaled_linear":
        betas = betas * betas
    alphas = (np.float32(1.0) - betas).astype(np.float64)
    return betas, np.cumprod(alphas).astype(np.float32)


class DiffusersSampler:
    """A diffusers scheduler stepped as DiTPipeline does (eps channels only, learned sigma dropped)."""

    def __init__(self, scheduler, steps, in_channels):
        self.scheduler = scheduler
        self.in_channels = in_channels
        scheduler.set_timesteps(steps)
        self.timesteps = [int(t) for t in scheduler.timesteps]

    def step(self, index, model_out, x):
        t = self.scheduler.timesteps[index]
        return self.scheduler.step(model_out[:, : self.in_channels], t, x).prev_sample


def space_timesteps(num_timesteps, count):
    """facebookresearch/DiT respace.space_timesteps for one section ("N" respacing)."""
    frac_stride = 1 if count <= 1 else (num_timesteps - 1) / (count - 1)
    cur, steps = 0.0, []
    for _ in range(count):
        steps.append(round(cur))  # Python round: half to even
        cur += frac_stride
    return sorted(set(steps))


class IddpmSampler:
    """Transcription of DiT gaussian_diffusion.p_sample with create_diffusion(str(steps)):
    linear betas, respaced, LEARNED_RANGE variance, epsilon prediction, clip_denoised=False.

    Tables are float64 numpy; per-step coefficients are cast to float32 before touching the
    float32 tensors, as _extract_into_tensor does. The model is called with the original
    timestep t_k. The noise comes from the engine's noise streams, one per image: at each step
    but the last, an image draws C*S*S normals for its conditional row. The unconditional rows
    of the original's [cond; uncond] state never reach the model (forward_with_cfg feeds the
    first half twice), so they get zero noise and draw nothing (docs/NUMERICS.md).
    """

    def __init__(self, steps, in_channels, seed, num_images):
        base_betas = np.linspace(0.0001, 0.02, 1000, dtype=np.float64)
        base_cumprod = np.cumprod(1.0 - base_betas, axis=0)
        self.kept = space_timesteps(1000, steps)
        kept = set(self.kept)
        betas, last = [], 1.0
        for i, alpha_cumprod in enumerate(base_cumprod):  # SpacedDiffusion.__init__
            if i in kept:
                betas.append(1.0 - alpha_cumprod / last)
                last = alpha_cumprod
        betas = np.array(betas, dtype=np.float64)
        # GaussianDiffusion.__init__ on the respaced betas
        cumprod = np.cumprod(1.0 - betas, axis=0)
        cumprod_prev = np.append(1.0, cumprod[:-1])
        posterior_variance = betas * (1.0 - cumprod_prev) / (1.0 - cumprod)
        self.tables = {
            "sqrt_recip": np.sqrt(1.0 / cumprod),
            "sqrt_recipm1": np.sqrt(1.0 / cumprod - 1),
            "coef1": betas * np.sqrt(cumprod_prev) / (1.0 - cumprod),
            "coef2": (1.0 - cumprod_prev) * np.sqrt(1.0 - betas) / (1.0 - cumprod),
            "min_log": np.log(np.append(posterior_variance[1], posterior_variance[1:])),
            "max_log": np.log(betas),
        }
        self.in_channels = in_channels
        self.timesteps = self.kept[::-1]
        self.streams = [noise_stream(seed, i) for i in range(num_images)]

    def _coef(self, name, k):
        return torch.tensor(self.tables[name][k], dtype=torch.float64).float()

    def _noise(self, x):
        n = len(self.streams)
        rows_per_image = len(x) // n  # 1 without CFG, 2 with [cond; uncond] rows
        per_row = x[0].numel()
        noise = np.zeros(x.shape, dtype=np.float32)
        assert rows_per_image in (1, 2)
        for i, stream in enumerate(self.streams):
            noise[i] = stream.normals(per_row).reshape(x.shape[1:])
        return torch.from_numpy(noise)

    def step(self, index, model_out, x):
        k = len(self.kept) - 1 - index
        c = self.in_channels
        if model_out.shape[1] != 2 * c:
            raise ValueError("the IDDPM sampler needs a learned-sigma model (LEARNED_RANGE variance)")
        eps, var_values = model_out[:, :c], model_out[:, c:]
        frac = (var_values + 1) / 2
        log_variance = frac * self._coef("max_log", k) + (1 - frac) * self._coef("min_log", k)
        x0 = self._coef("sqrt_recip", k) * x - self._coef("sqrt_recipm1", k) * eps
        mean = self._coef("coef1", k) * x0 + self._coef("coef2", k) * x
        if k == 0:
            return mean
        return mean + torch.exp(0.5 * log_variance) * self._noise(x)


def guided_forward(model, x, t, y, scale, guided_channels):
    """DiTPipeline guidance (guided_channels = C) or DiT forward_with_cfg (guided_channels = 3).

    Both feed the model the first half twice ([cond; cond] latents, [y; null] labels); the
    guided eps goes to both halves, the remaining channels pass through per row."""
    n = len(x) // 2
    half = x[:n]
    out = model(torch.cat([half, half]), t, y)
    eps, rest = out[:, :guided_channels], out[:, guided_channels:]
    cond_eps, uncond_eps = eps[:n], eps[n:]
    half_eps = uncond_eps + scale * (cond_eps - uncond_eps)
    return torch.cat([torch.cat([half_eps, half_eps]), rest], dim=1)


@torch.no_grad()
def run_trajectory(model, sampler, latents, classes, null_id, scale, cfg_mode):
    """Samples from `latents` [N, C, S, S]; returns (final cond latents, latents after step 1).

    With scale > 1 the state is [cond N; uncond N]. In "diffusers" mode both halves stay
    identical (stepping the full state equals DiTPipeline's stepping of the re-duplicated
    batch); in "original" mode both halves are stepped with their own rows of the model output
    and diverge, as in DiT's p_sample_loop(model.forward_with_cfg). Either way the model only
    ever sees the cond half (see guided_forward). scale <= 1: no null rows.
    """
    n = len(latents)
    cfg = scale > 1
    x = torch.cat([latents, latents]) if cfg else latents.clone()
    y = torch.tensor(list(classes) + [null_id] * n if cfg else list(classes), dtype=torch.int64)
    guided_channels = latents.shape[1] if cfg_mode == "diffusers" else 3
    first = None
    for index, t in enumerate(sampler.timesteps):
        t_batch = torch.full((len(x),), t, dtype=torch.int64)
        if cfg:
            out = guided_forward(model, x, t_batch, y, scale, guided_channels)
        else:
            out = model(x, t_batch, y)
        x = sampler.step(index, out, x)
        if index == 0:
            first = x[:n].clone()
    return x[:n], first


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


class FixtureWriter:
    def __init__(self, outdir):
        self.outdir = outdir
        self.written = set()

    def npy(self, name, array):
        array = np.asarray(array)
        dtype = "<i8" if np.issubdtype(array.dtype, np.integer) else "<f4"
        np.save(self.outdir / name, np.ascontiguousarray(array, dtype=dtype))
        self.written.add(name)
        return name

    def tensor(self, name, t):
        return self.npy(name, t.detach().cpu().numpy())

    def mark(self, path):
        self.written.add(str(path.relative_to(self.outdir)))


def forward_case(w, spec, model, gen):
    s = spec.size
    x = torch.randn(4, spec.in_channels, s, s, generator=gen)
    t = [0, 1, 250, 999]
    y = [0, 3, spec.num_classes - 1, spec.num_classes]
    with torch.no_grad():
        out = model(x, torch.tensor(t, dtype=torch.int64), torch.tensor(y, dtype=torch.int64))
    prefix = spec.tag + "_forward"
    return {"name": prefix, "kind": "forward", "model": spec.name, "heads": spec.manifest_heads,
            "input_size": spec.manifest_input_size, "x": w.tensor(prefix + "_x.npy", x), "t": t, "y": y,
            "out": w.tensor(prefix + "_out.npy", out), "tol": FORWARD_TOL}


def trajectory_case(w, name, spec, model, sampler, sampler_name, cfg, cfg_mode, latents, latents_file, reference):
    final, first = run_trajectory(model, sampler, latents, TRAJ_CLASSES, spec.num_classes, cfg, cfg_mode)
    case = {"name": name, "kind": "trajectory", "model": spec.name, "heads": spec.manifest_heads,
            "input_size": spec.manifest_input_size, "sampler": sampler_name, "steps": len(sampler.timesteps), "cfg": cfg, "cfg_mode": cfg_mode,
            "classes": list(TRAJ_CLASSES), "seed": TRAJ_SEED, "latents_in": latents_file,
            "first_step": w.tensor(name + "_step1.npy", first), "out": w.tensor(name + "_out.npy", final),
            "tol": TRAJECTORY_TOL, "reference": reference, "timesteps": sampler.timesteps}
    if isinstance(sampler, DiffusersSampler):
        case["scheduler"] = scheduler_record(sampler.scheduler)
    return case


def compact_json(obj):
    """Indented JSON with flat arrays of numbers/strings kept on one line."""
    text = json.dumps(obj, indent=2, allow_nan=False)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def build_fixtures(outdir):
    """Writes the models, the reference arrays and manifest.json.

    manifest.json:
      version 1; "rng": [{seed, count, values}] = first normals of the latent stream of image 0;
      "alphas_cumprod_f32"/"betas_f32": diffusers DDIMScheduler tables (DiT config, float32);
      "iddpm_timesteps_250"/"_50": respaced timesteps of create_diffusion("250"/"50");
      "cases": forward cases {name, kind "forward", model, heads, input_size, x, t, y, out, tol}
      and trajectory cases {name, kind "trajectory", model, heads, input_size, sampler
      ddim|iddpm|dpmpp2m, steps, cfg, cfg_mode diffusers|original, classes, seed, latents_in
      (null: draw from seed), first_step (cond latents after the first step), out (final cond
      latents), tol, reference, timesteps (model timesteps in call order), scheduler (diffusers
      config, where one is used)}.
    heads / input_size: integers for original single files whose head count / latent side the
    shapes do not give (input_size only without pos_embed), else null. Paths are relative to the
    manifest's folder; arrays are .npy '<f4' (or '<i8'), C order.
    """
    torch.set_num_threads(1)
    outdir.mkdir(parents=True, exist_ok=True)
    w = FixtureWriter(outdir)
    gen = torch.Generator().manual_seed(20240601)
    manifest = {"version": 1}

    manifest["rng"] = [{"seed": seed, "count": count, "values": w.npy(f"rng_seed{seed}.npy",
                                                                    latent_stream(seed, 0).normals(count))}
                       for seed, count in ((0, 16), (12345, 33))]

    ddim_default = DDIMScheduler(**DIT_DDIM_CONFIG)
    manifest["alphas_cumprod_f32"] = w.tensor("alphas_f32.npy", ddim_default.alphas_cumprod)
    manifest["betas_f32"] = w.tensor("betas_f32.npy", ddim_default.betas)
    manifest["iddpm_timesteps_250"] = space_timesteps(1000, 250)
    manifest["iddpm_timesteps_50"] = space_timesteps(1000, 50)

    # --- save the models, then reload them exactly as stored ---
    build_diffusers(SPEC_A).save_pretrained(outdir / SPEC_A.name, safe_serialization=True)
    model_a = DiTTransformer2DModel.from_pretrained(outdir / SPEC_A.name, torch_dtype=torch.float32).eval()

    save_original(SPEC_B, build_original(SPEC_B), outdir / SPEC_B.name)
    model_b = load_original(SPEC_B, outdir / SPEC_B.name)

    pipe_c = outdir / SPEC_C.name
    build_diffusers(SPEC_C).to(SPEC_C.dtype).save_pretrained(pipe_c / "transformer", safe_serialization=True)
    DDIMScheduler(**DIT_C_DDIM_CONFIG).save_config(pipe_c / "scheduler")
    model_index = {"_class_name": "DiTPipeline", "_diffusers_version": diffusers.__version__,
                   "scheduler": ["diffusers", "DDIMScheduler"],
                   "transformer": ["diffusers", "DiTTransformer2DModel"],
                   "vae": ["diffusers", "AutoencoderKL"]}  # vae/ itself is not shipped
    (pipe_c / "model_index.json").write_text(json.dumps(model_index, indent=2, sort_keys=True) + "\n")
    model_c = DiTTransformer2DModel.from_pretrained(pipe_c / "transformer", torch_dtype=torch.float32).eval()

    save_original(SPEC_D, build_original(SPEC_D), outdir / SPEC_D.name)
    model_d = load_original(SPEC_D, outdir / SPEC_D.name)

    for path in outdir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".safetensors"):
            w.mark(path)

    fa, fc = diffusers_fn(model_a), diffusers_fn(model_c)
    cases = [forward_case(w, SPEC_A, fa, gen), forward_case(w, SPEC_B, model_b, gen),
             forward_case(w, SPEC_C, fc, gen), forward_case(w, SPEC_D, model_d, gen)]

    def ddim():
        return DiffusersSampler(DDIMScheduler(**DIT_DDIM_CONFIG), TRAJ_STEPS, LATENT_CHANNELS)

    def iddpm():
        return IddpmSampler(TRAJ_STEPS, LATENT_CHANNELS, TRAJ_SEED, len(TRAJ_CLASSES))

    pipeline_loop = " + DiTPipeline.__call__ loop (transcribed; null class = num_classes)"
    original_cfg = " + DiT forward_with_cfg (guidance on channels 0..2), both halves stepped, cond half kept"
    iddpm_ref = ("transcription of DiT gaussian_diffusion p_sample loop, create_diffusion('10'), learned range, "
                 "clip_denoised False; noise from the engine's noise streams")
    dpm = DiffusersSampler(DPMSolverMultistepScheduler(**DPMPP2M_CONFIG), TRAJ_STEPS, LATENT_CHANNELS)
    c_sched = DDIMScheduler.from_pretrained(pipe_c, subfolder="scheduler")  # dit_c's own settings
    c_ddim = DiffusersSampler(c_sched, TRAJ_STEPS, LATENT_CHANNELS)
    # (name, spec, model, sampler, sampler name, cfg scale, cfg mode, reference)
    trajectories = [
        ("a_ddim", SPEC_A, fa, ddim(), "ddim", 4.0, "diffusers", "diffusers DDIMScheduler" + pipeline_loop),
        ("a_dpmpp2m", SPEC_A, fa, dpm, "dpmpp2m", 4.0, "diffusers",
         "diffusers DPMSolverMultistepScheduler" + pipeline_loop),
        ("c_ddim", SPEC_C, fc, c_ddim, "ddim", 4.0, "diffusers",
         "diffusers DDIMScheduler from dit_c_pipeline/scheduler" + pipeline_loop),
        ("b_ddim", SPEC_B, model_b, ddim(), "ddim", 4.0, "original", "diffusers DDIMScheduler" + original_cfg),
        ("d_iddpm", SPEC_D, model_d, iddpm(), "iddpm", 4.0, "original", iddpm_ref + original_cfg),
        ("d_ddim", SPEC_D, model_d, ddim(), "ddim", 4.0, "original", "diffusers DDIMScheduler" + original_cfg),
        ("d_iddpm_cfg1", SPEC_D, model_d, iddpm(), "iddpm", 1.0, "original",
         iddpm_ref + ", no CFG rows (batch of N)"),
    ]
    for name, spec, model, sampler, sampler_name, cfg, cfg_mode, reference in trajectories:
        shape = (len(TRAJ_CLASSES), spec.in_channels, spec.size, spec.size)
        if name == "a_ddim":
            # No latents file: the engine draws the initial latent from the seed (checks its generator).
            latents, latents_file = torch.from_numpy(seeded_latents(TRAJ_SEED, shape[0], shape[1:])), None
        else:
            latents = torch.randn(shape, generator=gen)
            latents_file = w.tensor(name + "_latents_in.npy", latents)
        cases.append(trajectory_case(w, name, spec, model, sampler, sampler_name, cfg, cfg_mode, latents,
                                     latents_file, reference))

    manifest["cases"] = cases
    manifest["vae_cases"] = vae_cases(w, outdir)
    (outdir / "manifest.json").write_text(compact_json(manifest))
    w.written.add("manifest.json")

    files = sorted(p for p in outdir.rglob("*") if p.is_file())
    for path in files:
        rel = str(path.relative_to(outdir))
        print(f"{path.stat().st_size:9d}  {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}  {rel}"
              + ("" if rel in w.written else "   (not written by this run: stale?)"))
    total = sum(p.stat().st_size for p in files)
    print(f"{total:9d}  total bytes in {len(files)} files")
    if total > FIXTURE_BUDGET_BYTES:
        sys.exit(f"fixtures: {total} bytes exceeds the {FIXTURE_BUDGET_BYTES} byte budget")


# ---------------------------------------------------------------------------------------------
# SD-VAE decoder fixtures (docs/FORMATS.md, "The SD-VAE decoder")
# ---------------------------------------------------------------------------------------------

VAE_TOL = 1e-4
SD_VAE_SCALING_FACTOR = 0.18215  # AutoencoderKL's default; ft-ema's config does not state it
VAE_FIXTURE_BUDGET_BYTES = 512 * 1024
LDM_VAE_PREFIX = "first_stage_model."


@dataclass(frozen=True)
class VaeSpec:
    name: str  # path relative to the fixture folder
    naming: str  # "diffusers" (current names), "legacy" (query/key/value/proj_attn) or "ldm"
    block_out: tuple
    layers_per_block: int
    groups: int
    dtype: torch.dtype  # storage dtype
    scaling_factor: float | None  # written to config.json; None: key absent (or no config at all)
    decoder_only: bool  # store post_quant_conv + decoder only (the engine needs no more)
    latent_shape: tuple  # (n, latent channels, S, S) of the reference decode
    seed: int

    @property
    def effective_scaling_factor(self):
        return SD_VAE_SCALING_FACTOR if self.scaling_factor is None else self.scaling_factor

    def config(self):
        n = len(self.block_out)
        return dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * n,
                    up_block_types=["UpDecoderBlock2D"] * n, block_out_channels=list(self.block_out),
                    layers_per_block=self.layers_per_block, latent_channels=4, norm_num_groups=self.groups,
                    sample_size=32, scaling_factor=self.effective_scaling_factor)


# A: three blocks, 2 resnets per up block, 4 groups (from config.json), channels not multiples of 16.
# B: the SD defaults a lone file gets (32 groups, 0.18215), one resnet per up block.
# B's latent side 20 gives 400 attention tokens: more than one block of query rows in the C engine.
# (Sized for the fixture budget: 0.49 MB in all.)
VAE_SPEC_A = dict(block_out=(8, 16, 16), layers_per_block=1, groups=4, seed=201)
VAE_SPECS = [
    VaeSpec("vae_a_diffusers", "diffusers", dtype=torch.bfloat16, scaling_factor=0.13025, decoder_only=False,
            latent_shape=(2, 4, 8, 8), **VAE_SPEC_A),
    VaeSpec("vae_a_legacy", "legacy", dtype=torch.float16, scaling_factor=None, decoder_only=True,
            latent_shape=(2, 4, 8, 8), **VAE_SPEC_A),
    VaeSpec("vae_b_ldm.safetensors", "ldm", block_out=(32, 32), layers_per_block=0, groups=32, dtype=torch.float16,
            scaling_factor=None, decoder_only=True, latent_shape=(1, 4, 20, 20), seed=202),
]

VAE_LEGACY_ATTENTION = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
VAE_LDM_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_to_legacy(sd):
    """Current diffusers VAE names -> the legacy attention names of 2022 files."""
    out = {}
    for key, value in sd.items():
        for new, old in VAE_LEGACY_ATTENTION.items():
            key = key.replace(f".attentions.0.{new}.", f".attentions.0.{old}.")
        out[key] = value
    return out


def vae_to_ldm(sd, blocks):
    """diffusers names -> original LDM names of post_quant_conv + decoder (docs/FORMATS.md, "The SD-VAE decoder"):
    mid.block_{1,2}, mid.attn_1.{norm,q,k,v,proj_out} with [C, C, 1, 1] weights, up blocks
    numbered from the other end (up_blocks.b = up.{blocks-1-b}), nin_shortcut, norm_out."""
    out = {}
    for key, value in sd.items():
        if not key.startswith(("decoder.", "post_quant_conv.")):
            continue
        if m := re.fullmatch(r"decoder\.mid_block\.resnets\.(\d+)\.(.+)", key):
            key = f"decoder.mid.block_{int(m[1]) + 1}.{m[2]}"
        elif m := re.fullmatch(r"decoder\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key):
            part = VAE_LDM_ATTENTION[m[1]]
            key = f"decoder.mid.attn_1.{part}.{m[2]}"
            if part != "norm" and m[2] == "weight":
                value = value[:, :, None, None]
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
            key = f"decoder.up.{blocks - 1 - int(m[1])}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
            key = f"decoder.up.{blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
        key = key.replace("decoder.conv_norm_out.", "decoder.norm_out.")
        out[key] = value.contiguous()
    return out


@torch.no_grad()
def build_vae(spec):
    """A tiny AutoencoderKL with random weights everywhere (GroupNorm affine included)."""
    vae = AutoencoderKL(**spec.config())
    gen = torch.Generator().manual_seed(spec.seed)
    for sub in vae.modules():
        if isinstance(sub, (nn.Conv2d, nn.Linear)):
            sub.weight.normal_(0.0, 1.0 / math.sqrt(sub.weight[0].numel()), generator=gen)
            sub.bias.normal_(0.0, 0.1, generator=gen)
        elif isinstance(sub, nn.GroupNorm):
            sub.weight.normal_(1.0, 0.2, generator=gen)
            sub.bias.normal_(0.0, 0.1, generator=gen)
    return vae.eval()


def _check_same_decoder(label, ref_sd, got_sd):
    """The decoder tensors of got_sd must equal ref_sd's exactly (a converter check)."""
    keys = sorted(k for k in ref_sd if k.startswith(("decoder.", "post_quant_conv.")))
    missing = [k for k in keys if k not in got_sd]
    if missing:
        raise RuntimeError(f"{label}: {len(missing)} decoder tensors lost, e.g. {missing[0]}")
    bad = [k for k in keys if not torch.equal(ref_sd[k], got_sd[k].reshape(ref_sd[k].shape))]
    if bad:
        raise RuntimeError(f"{label}: {len(bad)} decoder tensors differ, e.g. {bad[0]}")


@torch.no_grad()
def save_vae(spec, vae, outdir):
    """Writes spec's checkpoint; returns the float32 model rebuilt from exactly the stored bytes.

    Each naming is read back through diffusers' own converter (from_pretrained's legacy-name
    handling, convert_ldm_vae_checkpoint), which checks vae_to_legacy / vae_to_ldm."""
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    path = outdir / spec.name
    stored = {k: v.to(spec.dtype).contiguous() for k, v in vae.state_dict().items()
              if not spec.decoder_only or k.startswith(("decoder.", "post_quant_conv."))}
    rounded = {k: v.float() for k, v in stored.items()}
    reference = AutoencoderKL(**spec.config()).eval()
    missing, _ = reference.load_state_dict(rounded, strict=False)
    assert all(k.startswith(("encoder.", "quant_conv.")) for k in missing), missing[:3]

    if spec.naming == "diffusers":
        vae.to(spec.dtype).save_pretrained(path, safe_serialization=True)
        vae.float()
        back = AutoencoderKL.from_pretrained(path, torch_dtype=torch.float32).state_dict()
    elif spec.naming == "legacy":
        path.mkdir(parents=True, exist_ok=True)
        AutoencoderKL(**spec.config()).save_config(path)
        config = json.loads((path / "config.json").read_text())
        del config["scaling_factor"]  # like sd-vae-ft-ema: the engine must default to 0.18215
        (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        save_file(vae_to_legacy(stored), str(path / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
        # from_pretrained renames legacy attention keys itself; the encoder it lacks stays random.
        back = AutoencoderKL.from_pretrained(path, torch_dtype=torch.float32, low_cpu_mem_usage=False).state_dict()
    else:
        ldm = {LDM_VAE_PREFIX + k: v for k, v in vae_to_ldm(stored, len(spec.block_out)).items()}
        # A full SD checkpoint carries the UNet beside the VAE: one stand-in tensor of it.
        ldm["model.diffusion_model.out.2.bias"] = torch.zeros(4, dtype=spec.dtype)
        save_file(ldm, str(path), metadata={"format": "pt"})
        back = convert_ldm_vae_checkpoint(load_file(str(path)), spec.config())
        back = {k: v.float() for k, v in back.items()}
    _check_same_decoder(f"{spec.name} read back by diffusers", reference.state_dict(), back)
    return reference


def vae_cases(w, outdir):
    """Writes the tiny VAEs in the three namings and their reference decodes; returns the
    manifest's "vae_cases": [{name, model, naming, scaling_factor, latents, out, tol}], where
    out = AutoencoderKL.decode(latents / scaling_factor).sample of the stored weights."""
    gen = torch.Generator().manual_seed(20240602)
    cases = []
    for spec in VAE_SPECS:
        reference = save_vae(spec, build_vae(spec), outdir)
        path = outdir / spec.name
        for f in [path] if path.is_file() else sorted(path.iterdir()):
            w.mark(f)
        latents = torch.randn(spec.latent_shape, generator=gen)
        with torch.no_grad():
            images = reference.decode(latents / spec.effective_scaling_factor).sample
        tag = spec.name.split(".")[0]
        cases.append({"name": tag, "model": spec.name, "naming": spec.naming,
                      "scaling_factor": spec.effective_scaling_factor,
                      "latents": w.tensor(tag + "_latents.npy", latents), "out": w.tensor(tag + "_out.npy", images),
                      "tol": VAE_TOL})
    return cases


def build_vae_fixtures(outdir):
    """vae-fixtures: (re)writes the VAE fixtures and the "vae_cases" key of manifest.json, leaving
    the manifest's other keys as they are."""
    torch.set_num_threads(1)
    outdir.mkdir(parents=True, exist_ok=True)
    w = FixtureWriter(outdir)
    manifest_path = outdir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"version": 1}
    manifest["vae_cases"] = vae_cases(w, outdir)
    manifest_path.write_text(compact_json(manifest))
    total = 0
    for rel in sorted(w.written):
        size = (outdir / rel).stat().st_size
        total += size
        print(f"{size:9d}  {hashlib.sha256((outdir / rel).read_bytes()).hexdigest()[:16]}  {rel}")
    print(f"{total:9d}  total bytes of VAE fixtures")
    if total > VAE_FIXTURE_BUDGET_BYTES:
        sys.exit(f"vae-fixtures: {total} bytes exceeds the {VAE_FIXTURE_BUDGET_BYTES} byte budget")


# ---------------------------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------------------------


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


@torch.no_grad()
def selfcheck():
    torch.set_num_threads(1)
    failures = []

    def check(label, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'}  {label}: {detail}")
        if not ok:
            failures.append(label)

    # Generator: splitmix64 reference output, and independence from request splitting.
    check("splitmix64(0)", splitmix64(0)[1] == 0xE220A8397B1DCDAF, hex(splitmix64(0)[1]))
    whole = latent_stream(5, 0).normals(9)
    split = latent_stream(5, 0)
    parts = np.concatenate([split.normals(3), split.normals(1), split.normals(5)])
    check("normal stream split", np.array_equal(whole, parts), "3+1+5 draws == 9 draws")

    # Respacing (docs/FORMATS.md, "Noise schedules and samplers").
    t250, t50 = space_timesteps(1000, 250), space_timesteps(1000, 50)
    check("iddpm 250 timesteps", t250[:3] == [0, 4, 8] and t250[-2:] == [995, 999] and len(t250) == 250, str(t250[:4]))
    check("iddpm 50 timesteps", t50[:4] == [0, 20, 41, 61] and t50[-2:] == [979, 999] and len(t50) == 50, str(t50[:4]))

    # Bit-exact recipe for diffusers' float32 schedule tables.
    for config in (DIT_DDIM_CONFIG, DIT_C_DDIM_CONFIG):
        betas, cumprod = emulate_f32_schedule(config)
        ref = DDIMScheduler(**config)
        same = np.array_equal(betas, ref.betas.numpy()) and np.array_equal(cumprod, ref.alphas_cumprod.numpy())
        check(f"f32 {config['beta_schedule']} betas/alphas_cumprod recipe", same, "bit-exact" if same else "differs")

    # Position table against diffusers' PatchEmbed buffer.
    ref_pos = build_diffusers(SPEC_A).pos_embed.pos_embed[0]
    ours = torch.from_numpy(sincos_pos_embed(SPEC_A.hidden, SPEC_A.size // SPEC_A.patch))
    check("pos_embed table", torch.equal(ours, ref_pos), f"max diff {float((ours - ref_pos).abs().max()):.3g}")

    gen = torch.Generator().manual_seed(1)

    def inputs(spec):
        x = torch.randn(4, spec.in_channels, spec.size, spec.size, generator=gen)
        return (x, torch.tensor([0, 1, 250, 999]),
                torch.tensor([0, 3, spec.num_classes - 1, spec.num_classes]))

    # Transcription vs diffusers, both conversion directions: with diffusers numerics they
    # must agree; with original numerics they must not (the switch is live).
    for spec, direction in ((SPEC_D, "original->diffusers"), (SPEC_A, "diffusers->original")):
        if direction == "original->diffusers":
            orig = build_original(spec, diffusers_numerics())
            diff = DiTTransformer2DModel(**diffusers_config(spec)).eval()
            diff.load_state_dict(original_to_diffusers(orig.state_dict(), spec.depth), strict=True)
        else:
            diff = build_diffusers(spec)
            orig = new_original(spec, diffusers_numerics())
            sd = diffusers_to_original(diff.state_dict(), spec.depth)
            sd["pos_embed"] = orig.pos_embed.clone()
            orig.load_state_dict(sd, strict=True)
        x, t, y = inputs(spec)
        ref = diff(x, timestep=t, class_labels=y).sample
        err = rel_err(orig(x, t, y), ref)
        check(f"{spec.name} {direction}, diffusers numerics", err <= SELFCHECK_TOL, f"rel err {err:.3g}")
        orig.numerics = dict(ORIGINAL_NUMERICS)
        err_orig = rel_err(orig(x, t, y), ref)
        check(f"{spec.name} original numerics differ", err_orig > 100 * FORWARD_TOL, f"rel diff {err_orig:.3g}")
        orig.numerics = diffusers_numerics(norm_eps=1e-6)
        err_eps = rel_err(orig(x, t, y), ref)
        print(f"info  {spec.name}: pre-MLP LayerNorm eps 1e-6 instead of 1e-5 alone changes the output by "
              f"{err_eps:.3g} (forward tolerance {FORWARD_TOL})")

    # The transcribed sampling loop against DiTPipeline itself. The pipeline hard-codes the
    # null class 1000, so this model has 1000 classes; its VAE decode is replaced by a capture
    # of the final latents (scaling_factor 1.0 makes the pipeline's rescale exact).
    spec = ModelSpec("pipeline_check", "diffusers", torch.float32, depth=2, heads=2, head_dim=16, in_channels=4,
                     learn_sigma=True, patch=2, size=8, num_classes=1000, tag="p", seed=105)
    model = build_diffusers(spec)
    vae = AutoencoderKL(block_out_channels=[8], norm_num_groups=4, layers_per_block=1, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"], up_block_types=["UpDecoderBlock2D"],
                        scaling_factor=1.0)
    captured = []
    vae.decode = lambda z: captured.append(z.clone()) or SimpleNamespace(sample=z)
    for label, make in (("ddim", lambda: DDIMScheduler(**DIT_DDIM_CONFIG)),
                        ("dpmpp2m", lambda: DPMSolverMultistepScheduler(**DPMPP2M_CONFIG))):
        pipe = DiTPipeline(transformer=model, vae=vae, scheduler=make())
        pipe.set_progress_bar_config(disable=True)
        captured.clear()
        pipe(class_labels=[1, 2], guidance_scale=4.0, generator=torch.Generator().manual_seed(3),
             num_inference_steps=10, output_type="pt")
        latents = torch.randn(2, 4, spec.size, spec.size, generator=torch.Generator().manual_seed(3))
        sampler = DiffusersSampler(make(), 10, LATENT_CHANNELS)
        ours, _ = run_trajectory(diffusers_fn(model), sampler, latents, [1, 2], 1000, 4.0, "diffusers")
        err = rel_err(ours, captured[0])
        check(f"sampling loop vs DiTPipeline ({label})", err <= SELFCHECK_TOL, f"rel err {err:.3g}")

    if failures:
        sys.exit(f"selfcheck: {len(failures)} failure(s): {', '.join(failures)}")
    print("selfcheck: all checks passed")


# ---------------------------------------------------------------------------------------------


def print_rng(seed, count):
    for i, v in enumerate(latent_stream(seed, 0).normals(count)):
        print(f"{i:6d}  0x{int(np.float32(v).view(np.uint32)):08x}  {float(v):.9g}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fixtures", help="write the tiny models, reference arrays and manifest.json")
    p.add_argument("outdir", nargs="?", type=Path, default=DEFAULT_OUTDIR,
                   help="output folder (default: tests/fixtures of this repository)")
    p = sub.add_parser("rng", help="print normals of the latent stream of image 0 (float32 hex and decimal)")
    p.add_argument("--seed", type=int, required=True, help="request seed S (the stream is seeded with S)")
    p.add_argument("--count", type=int, default=16, help="number of normals (default 16)")
    sub.add_parser("selfcheck", help="check the transcriptions against diffusers; non-zero exit on mismatch")
    p = sub.add_parser("vae-fixtures", help="write the tiny VAEs (three namings), their reference decodes and the "
                                            "manifest's \"vae_cases\" (other keys kept)")
    p.add_argument("outdir", nargs="?", type=Path, default=DEFAULT_OUTDIR,
                   help="output folder (default: tests/fixtures of this repository)")
    args = parser.parse_args(argv)

    diffusers.utils.logging.set_verbosity_error()
    if args.command == "fixtures":
        build_fixtures(args.outdir.resolve())
    elif args.command == "vae-fixtures":
        build_vae_fixtures(args.outdir.resolve())
    elif args.command == "rng":
        print_rng(args.seed, args.count)
    else:
        selfcheck()


if __name__ == "__main__":
    main()
