"""Train the audio demo's autoencoder: a small diffusers AutoencoderOobleck on the sounds of
sounds.py (mono, 8 kHz), the VAE of the audio demo's StableAudioPipeline folder.

Shape (the defaults): encoder_hidden_size 32 (16 latent channels: the encoder's output is split
into mean and scale), downsampling_ratios [2, 4, 4, 8] (a hop of 256: a clip of 16384 samples is
64 latent frames), channel_multiples [1, 2, 2, 4], decoder_channels 16; 0.57 M parameters.

Loss: the waveform's squared error relative to the batch's energy (--nmse; L1, --l1, and an
L1-only start both collapsed to silence in a few hundred steps, where this one learns), plus
--stft times a multi-resolution STFT loss (FFT sizes 128, 256, 512, 1024 at hop size / 4, Hann:
spectral convergence + L1 of log magnitudes floored at --stft-floor), plus --lts times the L1
distance of log power spectra averaged over each crop (the same sizes), plus KL to N(0, 1) times --kl;
the decoder reads the posterior's mean (--sample: a draw from it); random crops of --crop
samples (the convolutions are local) from a fixed set of --data-size clips; Adam (betas 0.8,
0.99) with a cosine learning rate (--min-lr-frac 1: constant, for runs continued in pieces).

Written to OUT/vae/ (save_pretrained, float32; weight-normed convolutions as diffusers keeps
them) with OUT/vae_train.json (arguments and the last evaluation) and OUT/vae_opt.pt (Adam's
state, which --init-from picks up: a run continued in pieces trains as one).

Evaluation (--eval-n clips of a separate seed, whole clips, the posterior's mean): the SNR of
the reconstruction, the log-magnitude STFT distance, the latents' mean and standard deviation
(the DiT wants roughly unit latents; the pipeline does not rescale them), and how often
check.py hears each clip's caption in the original and in the reconstruction.

    python tools/audiodemo/train_vae.py --out tools/audiodemo/out/vae-a --steps 300
    python tools/audiodemo/train_vae.py --init-from tools/audiodemo/out/vae-a --out ... --steps ...
    python tools/audiodemo/train_vae.py --eval-only --init-from DIR
    python tools/audiodemo/train_vae.py --eval-only --unit-latents --init-from DIR --out DIR2   # for the DiT
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import check  # noqa: E402
import sounds  # noqa: E402

warnings.filterwarnings("ignore", message=".*weight_norm.*")
STFT_SIZES = (128, 256, 512, 1024)
STFT_FLOOR = 1e-2


def build_vae(args):
    from diffusers import AutoencoderOobleck

    return AutoencoderOobleck(encoder_hidden_size=args.hidden, downsampling_ratios=args.ratios,
                              channel_multiples=args.multiples, decoder_channels=args.decoder_channels,
                              decoder_input_channels=args.hidden // 2, audio_channels=1,
                              sampling_rate=sounds.SAMPLE_RATE)


def average_spectrum_loss(y, x, floor=1e-6):
    """The L1 distance of log power spectra averaged over each crop's frames (sizes STFT_SIZES):
    what the checker's flatness and peaks read. Frame-periodic artefacts of the decoder (a comb
    at the latent rate, 31.25 Hz, about 9 dB above the noise) stand out here, where frame by
    frame the log magnitudes of noise scatter too widely to show them."""
    total = 0.0
    for n in STFT_SIZES:
        win = torch.hann_window(n)
        Y = torch.stft(y, n, n // 4, window=win, return_complex=True).abs().pow(2).mean(dim=-1)
        X = torch.stft(x, n, n // 4, window=win, return_complex=True).abs().pow(2).mean(dim=-1)
        total = total + ((Y + floor).log() - (X + floor).log()).abs().mean()
    return total


def stft_loss(y, x, floor=STFT_FLOOR):
    """Multi-resolution STFT loss of y against x [B, T]: sum over sizes of spectral convergence
    and the L1 distance of log magnitudes (floored: 60..80 dB below a loud tone's peak)."""
    total = 0.0
    for n in STFT_SIZES:
        win = torch.hann_window(n)
        Y = torch.stft(y, n, n // 4, window=win, return_complex=True).abs().clamp(min=floor)
        X = torch.stft(x, n, n // 4, window=win, return_complex=True).abs().clamp(min=floor)
        total = total + (Y - X).norm() / X.norm().clamp(min=1e-5) + (Y.log() - X.log()).abs().mean()
    return total


@torch.no_grad()
def rescale_latents(vae, s):
    """Latent means times s, the decoder reading them divided by s: the same autoencoder with
    latents s times larger. The encoder's last convolution (weight-normed: weight = g v / |v| per
    output channel) gives [mean; scale]: g and bias of the mean's channels times s; every input
    channel of the decoder's first convolution is a latent channel, so its g is divided by s. The
    posterior's scale is left as it is (the DiT trains on means)."""
    C = vae.config.decoder_input_channels
    enc, dec = vae.encoder.conv2, vae.decoder.conv1
    enc.weight_g[:C] *= s
    enc.bias[:C] *= s
    dec.weight_g /= s


@torch.no_grad()
def evaluate(vae, n, seed, batch=16):
    """Reconstruction figures on n fresh clips (see the module's docstring)."""
    clips, caps = sounds.make_dataset(n, seed)
    vae.eval()
    recon, means = [], []
    for i in range(0, n, batch):
        x = torch.from_numpy(clips[i:i + batch]).unsqueeze(1)
        z = vae.encode(x).latent_dist.mean
        means.append(z)
        recon.append(vae.decode(z).sample[:, 0, :x.shape[-1]])
    y = torch.cat(recon).numpy().astype(np.float32)
    z = torch.cat(means)
    err = ((y - clips) ** 2).sum(axis=1)
    snr = 10 * np.log10((clips ** 2).sum(axis=1) / np.maximum(err, 1e-12))
    lsd = float(stft_loss(torch.from_numpy(y), torch.from_numpy(clips))) / len(STFT_SIZES)
    heard_orig = np.mean([check.hears(c, sounds.SAMPLE_RATE, p) == 1 for c, p in zip(clips, caps)])
    heard = [check.hears(c, sounds.SAMPLE_RATE, p) == 1 for c, p in zip(y, caps)]
    per_kind = {}
    for ok, p in zip(heard, caps):
        k = next(k for k in sounds.KINDS if k in p.split() or (k == "rhythm" and "clicks" in p))
        per_kind.setdefault(k, []).append(ok)
    vae.train()
    return dict(clips=n, seed=seed, snr_db_median=float(np.median(snr)), snr_db_mean=float(np.mean(snr)),
                stft_distance=lsd, latent_mean=float(z.mean()), latent_std=float(z.std()),
                heard_original=float(heard_orig), heard_reconstructed=float(np.mean(heard)),
                heard_by_kind={k: float(np.mean(v)) for k, v in per_kind.items()})


def main():
    ap = argparse.ArgumentParser(description="train the audio demo's Oobleck autoencoder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--kl", type=float, default=1e-4)
    ap.add_argument("--nmse", type=float, default=1.0)
    ap.add_argument("--l1", type=float, default=0.0)
    ap.add_argument("--stft", type=float, default=0.1)
    ap.add_argument("--lts", type=float, default=0.0, help="weight of the average-spectrum loss")
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--stft-floor", type=float, default=STFT_FLOOR)
    ap.add_argument("--data-size", type=int, default=2000)
    ap.add_argument("--focus", metavar="WORD", nargs="+", help="draw --focus-frac of every batch from clips whose "
                    "caption has one of the WORDs, cropped inside the sound (kinds the decoder renders worst)")
    ap.add_argument("--focus-frac", type=float, default=0.5)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--decoder-channels", type=int, default=16)
    ap.add_argument("--ratios", type=int, nargs="+", default=[2, 4, 4, 8])
    ap.add_argument("--multiples", type=int, nargs="+", default=[1, 2, 2, 4])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--save-every", type=int, default=0)
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--eval-seed", type=int, default=12345)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--unit-latents", action="store_true",
                    help="with --eval-only: rescale the latents to unit standard deviation, write OUT/vae")
    ap.add_argument("--init-from", metavar="DIR", help="start from DIR/vae (a folder this tool wrote)")
    args = ap.parse_args()

    from diffusers import AutoencoderOobleck

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.init_from:
        vae = AutoencoderOobleck.from_pretrained(os.path.join(args.init_from, "vae")).float()
    else:
        vae = build_vae(args)
    print(f"vae: {sum(p.numel() for p in vae.parameters())} parameters, hop {vae.hop_length}, "
          f"{vae.config.decoder_input_channels} latent channels", flush=True)
    if args.eval_only:
        ev = evaluate(vae, args.eval_n, args.eval_seed)
        print(json.dumps(ev, indent=1))
        if args.unit_latents:
            rescale_latents(vae, 1.0 / ev["latent_std"])
            ev = evaluate(vae, args.eval_n, args.eval_seed)
            vae.save_pretrained(os.path.join(args.out, "vae"), safe_serialization=True)
            with open(os.path.join(args.out, "vae_train.json"), "w") as f:
                json.dump(dict(args=vars(args), rescaled_from=args.init_from, eval=ev), f, indent=1)
                f.write("\n")
            print(f"latents rescaled to std {ev['latent_std']:.3f} (heard {ev['heard_reconstructed']:.3f}); "
                  f"wrote {args.out}/vae", flush=True)
        return
    t0 = time.time()
    clips, caps = sounds.make_dataset(args.data_size, args.seed)
    data = torch.from_numpy(clips)
    focus = torch.tensor([i for i, c in enumerate(caps) if set(args.focus) & set(c.split())]) if args.focus else None
    n_focus = int(round(args.batch * args.focus_frac)) if args.focus else 0
    print(f"dataset: {args.data_size} clips in {time.time() - t0:.1f}s", flush=True)
    vae.train()
    opt = torch.optim.Adam(vae.parameters(), lr=args.lr, betas=(0.8, 0.99))
    if args.init_from and os.path.exists(os.path.join(args.init_from, "vae_opt.pt")):
        opt.load_state_dict(torch.load(os.path.join(args.init_from, "vae_opt.pt")))
    g = torch.Generator().manual_seed(args.seed + 1)

    def lr_at(step):
        p = step / max(1, args.steps)
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))

    out = args.out
    os.makedirs(out, exist_ok=True)

    def save(step, ev=None):
        vae.save_pretrained(os.path.join(out, "vae"), safe_serialization=True)
        torch.save(opt.state_dict(), os.path.join(out, "vae_opt.pt"))
        with open(os.path.join(out, "vae_train.json"), "w") as f:
            json.dump(dict(args=vars(args), step=step, eval=ev), f, indent=1)
            f.write("\n")

    run = {"nmse": 0.0, "l1": 0.0, "stft": 0.0, "lts": 0.0, "kl": 0.0}
    run_n = 0
    t_train = time.time()
    for step in range(args.steps):
        idx = torch.randint(0, args.data_size, (args.batch,), generator=g)
        start = torch.randint(0, sounds.CLIP_SAMPLES - args.crop + 1, (args.batch,), generator=g)
        if n_focus:   # every sound starts before 0.1 s and lasts 0.25 s or more: crops from 0.1 s overlap it
            idx[:n_focus] = focus[torch.randint(0, len(focus), (n_focus,), generator=g)]
            start[:n_focus] = torch.randint(int(0.1 * sounds.SAMPLE_RATE), int(0.35 * sounds.SAMPLE_RATE),
                                            (n_focus,), generator=g)
        x = torch.stack([data[i, s:s + args.crop] for i, s in zip(idx.tolist(), start.tolist())]).unsqueeze(1)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample(generator=g) if args.sample else post.mean).sample
        l1 = (y - x).abs().mean()
        nmse = (y - x).pow(2).mean() / x.pow(2).mean().clamp(min=1e-6)
        st = stft_loss(y[:, 0], x[:, 0], args.stft_floor)
        kl = post.kl().mean() / post.mean.shape[-1]
        lts = average_spectrum_loss(y[:, 0], x[:, 0]) if args.lts else torch.zeros(())
        loss = args.nmse * nmse + args.l1 * l1 + args.stft * st + args.lts * lts + args.kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        run["nmse"] += nmse.item()
        run["l1"] += l1.item()
        run["stft"] += st.item()
        run["lts"] += lts.item()
        run["kl"] += kl.item()
        run_n += 1
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            el = time.time() - t_train
            print(f"step {step + 1:6d}  " + "  ".join(f"{k} {v / run_n:.4f}" for k, v in run.items()) +
                  f"  lr {lr_at(step):.2e}  elapsed {el:6.1f}s ({el / (step + 1):.3f}s/step)", flush=True)
            run = {k: 0.0 for k in run}
            run_n = 0
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            save(step + 1)
    save(args.steps)
    ev = evaluate(vae, args.eval_n, args.eval_seed) if args.eval_n else None
    save(args.steps, ev)
    print(json.dumps(ev, indent=1), flush=True)
    print(f"done: {args.steps} steps in {time.time() - t_train:.1f}s; wrote {out}/vae", flush=True)


if __name__ == "__main__":
    main()
