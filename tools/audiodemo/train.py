"""Train the audio demo's diffusion model: a small StableAudioDiTModel (with the pipeline's
StableAudioProjectionModel) on the latents of the audio demo's VAE (train_vae.py), captions
through the frozen T5 of text.py. Writes a diffusers StableAudioPipeline folder:

    tokenizer/ text_encoder/   text.py's (made here, or copied from --init-from / --text-from)
    vae/                       copied from --vae (a folder train_vae.py wrote, or its vae/)
    projection_model/ transformer/   the EMA weights (fp16 with --fp16)
    scheduler/                 CosineDPMSolverMultistepScheduler's defaults (sigma 0.3 .. 500,
                               sigma_data 1, v-prediction: StableAudioPipeline's)
    model_index.json

Objective: the one the sampler assumes (k-diffusion's VDenoiser with sigma_data 1; docs/
FAMILIES.md, src/sample/cosine_dpmpp2m_sde.c): t uniform in [0, 1), sigma = tan(t pi / 2),
x = x0 + sigma n; the model sees x / sqrt(sigma^2 + 1) = cos(phi) x0 + sin(phi) n (phi = t pi /
2) at time t = atan(sigma) 2 / pi, and predicts v = cos(phi) n - sin(phi) x0 (so that denoised
= c_skip x + c_out v with c_skip = 1 / (sigma^2 + 1), c_out = -sigma / sqrt(sigma^2 + 1)); plain
MSE. Conditioning as StableAudioPipeline builds it: text [32 tokens] projected and masked, the
seconds start 0 and end 2.048 (the whole window), cross tokens [text; start; end], global
[start | end]; for --cfg-drop of the batch the cross tokens are all zero (the pipeline's
unconditional side without a negative prompt), the global token kept. AdamW, warm-up then
cosine, gradient clipping 1, EMA, bf16 autocast.

Continuing (--init-from): the EMA weights come from the folder's transformer/ and
projection_model/; the raw weights and AdamW's state from its train_state.pt (written beside them,
git-ignored like the rest of out/), so a run made in pieces trains as one (the learning-rate
schedule restarts: give each piece its own --lr, --warmup 0).

Latents: the VAE posterior's mean of --data-size clips of sounds.py (seed --seed), cached in
OUT/latents.pt.

    python tools/audiodemo/train.py --vae tools/audiodemo/out/vae-a --out tools/audiodemo/out/dit-a --steps 1000
    python tools/audiodemo/train.py --init-from tools/audiodemo/out/dit-a --out ... --seed 1 --steps ...
    python tools/audiodemo/train.py --eval-only --init-from DIR      # sample and check, in PyTorch
"""

import argparse
import copy
import json
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(HERE))  # tools/: trainloop

import check  # noqa: E402
import trainloop  # noqa: E402
import sounds  # noqa: E402
import text  # noqa: E402

warnings.filterwarnings("ignore", message=".*weight_norm.*")
SECONDS = sounds.CLIP_SAMPLES / sounds.SAMPLE_RATE


def build(args, vae):
    from diffusers import StableAudioDiTModel
    from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel

    C, S, Cd = vae.config.decoder_input_channels, sounds.CLIP_SAMPLES // vae.hop_length, args.cond_dim
    dit = StableAudioDiTModel(sample_size=S, in_channels=C, num_layers=args.layers, attention_head_dim=args.head_dim,
                              num_attention_heads=args.heads, num_key_value_attention_heads=args.kv_heads,
                              out_channels=C, cross_attention_dim=Cd, time_proj_dim=args.time_dim,
                              global_states_input_dim=2 * Cd, cross_attention_input_dim=Cd)
    proj = StableAudioProjectionModel(text_encoder_dim=64, conditioning_dim=Cd, min_value=0, max_value=8)
    return dit, proj


def load_vae(path):
    from diffusers import AutoencoderOobleck

    sub = os.path.join(path, "vae")
    return AutoencoderOobleck.from_pretrained(sub if os.path.isdir(sub) else path).float().eval().requires_grad_(False)


@torch.no_grad()
def make_latents(vae, n, seed, batch=4):   # small batches: 3x faster than 32 on the CPU (the Snake activations of [32, C, 16384] leave the caches)
    clips, caps = sounds.make_dataset(n, seed)
    out = []
    for i in range(0, n, batch):
        out.append(vae.encode(torch.from_numpy(clips[i:i + batch]).unsqueeze(1)).latent_dist.mean)
    return torch.cat(out), caps


def conditioning(proj, e, m, n):
    """Cross tokens [n, L + 2, Cd] and global states [n, 1, 2 Cd], as StableAudioPipeline builds
    them for prompts with T5 outputs e [n, L, 64] and masks m [n, L], over the whole window."""
    t = proj(text_hidden_states=e).text_hidden_states * m.unsqueeze(-1).to(e.dtype)
    sec = proj(start_seconds=torch.zeros(n), end_seconds=torch.full((n,), SECONDS))
    s0, s1 = sec.seconds_start_hidden_states, sec.seconds_end_hidden_states
    return torch.cat([t, s0, s1], dim=1), torch.cat([s0, s1], dim=2)


def write_pipeline(out, tok, enc, vae, dit, proj, fp16):
    from diffusers import CosineDPMSolverMultistepScheduler, StableAudioPipeline

    d, p = copy.deepcopy(dit), copy.deepcopy(proj)
    if fp16:
        d, p = d.half(), p.half()
    pipe = StableAudioPipeline(vae=vae, text_encoder=enc, projection_model=p, tokenizer=tok, transformer=d,
                               scheduler=CosineDPMSolverMultistepScheduler())
    pipe.save_pretrained(out, safe_serialization=True)
    with open(os.path.join(out, "prompts.json"), "w") as f:
        json.dump({"notes": list(sounds.NOTES), "timbres": sounds.TIMBRES, "roots": list(sounds.ROOTS),
                   "qualities": list(sounds.QUALITIES), "lengths": list(sounds.LENGTHS),
                   "directions": sounds.DIRECTIONS, "rates": list(sounds.RATES),
                   "held_out": sounds.held_out_captions(), "sample_rate": sounds.SAMPLE_RATE,
                   "seconds": SECONDS}, f, indent=1)
        f.write("\n")


def eval_prompts(per=2):
    """Every training caption without a length word, then the held-out ones, `per` times."""
    seen = [c for c in sounds.all_captions() if "short" not in c.split() and "long" not in c.split()]
    return seen * per, sounds.held_out_captions() * per


@torch.no_grad()
def evaluate(folder, prompts, steps, cfg, seed, batch=24):
    """Sample with diffusers' StableAudioPipeline from the folder (seeds seed + i) and check."""
    from diffusers import StableAudioPipeline

    pipe = StableAudioPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    heard = []
    for i in range(0, len(prompts), batch):
        ps = prompts[i:i + batch]
        gens = [torch.Generator().manual_seed(seed + i + j) for j in range(len(ps))]
        lat = torch.stack([torch.randn(pipe.transformer.config.in_channels, pipe.transformer.config.sample_size,
                                       generator=g) for g in gens])
        audio = pipe(ps, num_inference_steps=steps, guidance_scale=cfg, latents=lat, output_type="np").audios
        heard += [check.hears(a, sounds.SAMPLE_RATE, p) == 1 for a, p in zip(audio, ps)]
    return float(np.mean(heard)), heard


def main():
    ap = argparse.ArgumentParser(description="train the audio demo's StableAudioDiTModel")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vae", help="a folder train_vae.py wrote (its vae/ is used); default: --init-from's")
    ap.add_argument("--init-from", metavar="DIR", help="continue from a pipeline folder this tool wrote")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--data-size", type=int, default=8000)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--cond-dim", type=int, default=128)
    ap.add_argument("--time-dim", type=int, default=64)
    ap.add_argument("--cfg-drop", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--save-every", type=int, default=0)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=False)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--eval-steps", type=int, default=50)
    ap.add_argument("--eval-cfg", type=float, default=5.0)
    ap.add_argument("--eval-per", type=int, default=1)
    args = ap.parse_args()

    from diffusers import StableAudioDiTModel
    from diffusers.models.embeddings import get_1d_rotary_pos_embed
    from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.eval_only:
        seen, held = eval_prompts(args.eval_per)
        for name, ps in (("seen", seen), ("held-out", held)):
            acc, _ = evaluate(args.init_from, ps, args.eval_steps, args.eval_cfg, 0)
            print(f"{name}: {100 * acc:.1f}% of {len(ps)} heard (diffusers, {args.eval_steps} steps, cfg "
                  f"{args.eval_cfg})", flush=True)
        return
    t0 = time.time()
    out = args.out
    os.makedirs(out, exist_ok=True)
    vae = load_vae(args.vae or args.init_from)
    if args.init_from:
        tok, enc = text.copy_text_side(args.init_from, out)
        dit = StableAudioDiTModel.from_pretrained(os.path.join(args.init_from, "transformer")).float()
        proj = StableAudioProjectionModel.from_pretrained(os.path.join(args.init_from, "projection_model")).float()
    else:
        tok, enc = text.make_text_side(out, args.seed)
        dit, proj = build(args, vae)
    cache = os.path.join(out, "latents.pt")
    key = dict(seed=args.seed, n=args.data_size, vae=os.path.abspath(args.vae or args.init_from))
    if os.path.exists(cache) and torch.load(cache)["key"] == key:
        z_all, caps = torch.load(cache)["z"], torch.load(cache)["caps"]
    else:
        z_all, caps = make_latents(vae, args.data_size, args.seed)
        torch.save(dict(key=key, z=z_all, caps=caps), cache)
    distinct = sorted(set(caps))
    cap_id = torch.tensor([distinct.index(c) for c in caps])
    e_all, m_all = text.encode(tok, enc, distinct)
    print(f"latents {tuple(z_all.shape)}: mean {z_all.mean():.3f} std {z_all.std():.3f}; {len(distinct)} captions; "
          f"{time.time() - t0:.1f}s", flush=True)
    modules = torch.nn.ModuleList([dit, proj]).train()
    ema = copy.deepcopy(modules).eval().requires_grad_(False)
    n_params = sum(p.numel() for p in dit.parameters())
    print(f"transformer: {n_params} parameters; projection: {sum(p.numel() for p in proj.parameters())}", flush=True)
    opt = torch.optim.AdamW(modules.parameters(), lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0)

    def lr_at(step):
        return trainloop.cosine_lr(step, args.lr, args.warmup, args.steps, args.min_lr_frac)

    S = z_all.shape[-1]
    rope = get_1d_rotary_pos_embed(dit.config.attention_head_dim // 2, S + 1, use_real=True,
                                   repeat_interleave_real=False)
    g = torch.Generator().manual_seed(args.seed + 1)
    ema_params, params = list(ema.parameters()), list(modules.parameters())
    state_path = os.path.join(args.init_from, "train_state.pt") if args.init_from else None
    if state_path and os.path.exists(state_path):
        st = torch.load(state_path)
        modules.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        print(f"continuing from {state_path}: raw weights and AdamW's state after {st['total_steps']} steps",
              flush=True)
        done_before = st["total_steps"]
    else:
        done_before = 0

    def save(step):
        write_pipeline(out, tok, enc, vae, ema[0], ema[1], args.fp16)
        torch.save(dict(model=modules.state_dict(), opt=opt.state_dict(), total_steps=done_before + step),
                   os.path.join(out, "train_state.pt"))
        with open(os.path.join(out, "train.json"), "w") as f:
            json.dump(dict(args=vars(args), step=step, total_steps=done_before + step), f, indent=1)
            f.write("\n")

    log = trainloop.LossLog(args.log_every, args.steps, lr_at)
    t_train = log.t0
    for step in range(args.steps):
        idx = torch.randint(0, len(caps), (args.batch,), generator=g)
        x0, cid = z_all[idx], cap_id[idx]
        t = torch.rand(args.batch, generator=g)
        phi = (t * math.pi / 2).view(-1, 1, 1)
        n = torch.randn(x0.shape, generator=g)
        xin = phi.cos() * x0 + phi.sin() * n
        v = phi.cos() * n - phi.sin() * x0
        drop = (torch.rand(args.batch, generator=g) < args.cfg_drop).view(-1, 1, 1)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            cross, glob = conditioning(proj, e_all[cid], m_all[cid], args.batch)
            cross = torch.where(drop, torch.zeros_like(cross), cross)
            pred = dit(xin, t, encoder_hidden_states=cross, global_hidden_states=glob, rotary_embedding=rope,
                       return_dict=False)[0]
        loss = (pred.float() - v).pow(2).mean()
        trainloop.optimiser_step(opt, loss, params)
        trainloop.ema_update(ema_params, params, args.ema, done_before + step)
        log.add(step, loss.item())
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            save(step + 1)
    save(args.steps)
    print(f"done: {args.steps} steps in {time.time() - t_train:.1f}s (total {time.time() - t0:.1f}s); wrote {out}",
          flush=True)


if __name__ == "__main__":
    main()
