"""Train the shipped text-to-image model (models/textdemo): a small PixArt in pixel space, its
own SentencePiece vocabulary and a small frozen T5 encoder, all made here from the captioned
procedural images of captions.py. Writes a diffusers-style PixArt-alpha pipeline folder:

    tokenizer/     spiece.model trained on the captions + T5TokenizerFast's files
    text_encoder/  T5EncoderModel (v1.1 layout: gated-gelu), random and frozen, float32
    transformer/   PixArtTransformer2DModel, EMA weights, fp16
    scheduler/     DPMSolverMultistepScheduler's defaults (the PixArt converters')
    model_index.json  PixArtAlphaPipeline; no VAE: the model works on pixels, like models/demo

Why a frozen random T5 (not one trained with the DiT): PixArt itself trains with T5 frozen;
a random T5 is still an injective, position-aware map from token sequences to vectors, and the
caption projection and cross-attention learn to read it; the engine's T5 then runs exactly the
reference architecture on weights no training touched, and nothing but the transformer learns.

Recipe (the defaults): patch 4 (64 tokens), 6 layers, 4 heads x 32 (hidden 128), captions as T5
embeddings (d_model 64); PixArt's initialisation (cross-attention output and final projection
zero, embedders N(0, 0.02)) with DiT's adaLN-Zero on top: adaLN-single's projection and every
block's scale-shift table start at zero, so every block starts as the identity (PixArt itself
started from a class-conditional DiT trained on ImageNet; from scratch, its random scale-shift
tables gave patch-sized blocks instead of shapes: 17 % recognised at step 2000 of a first run);
epsilon prediction on DDPM linear betas 1e-4..0.02; 10 % of the
captions replaced by the empty prompt (what the pipelines use for guidance); min-SNR-5 weights;
AdamW lr 2e-3, 300 warm-up steps then cosine to 10 %; batch 32; EMA 0.999; bf16 autocast; two
threads. Text is encoded to 16 tokens for training: with the mask, T5's outputs at real tokens
and PixArt's cross-attention (-10000 on padding) are the same at the pipeline's 120.

    python tools/textdemo/train.py                       # writes models/textdemo/
    python tools/textdemo/train.py --steps 100 --out build/textdemo-try
"""

import argparse
import copy
import io
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(HERE))  # tools/: trainloop

import captions  # noqa: E402
import trainloop  # noqa: E402

TRAIN_LEN = 16          # tokens per caption while training (every caption fits)
PIPELINE_LEN = 120      # PixArtAlphaPipeline's max_sequence_length


def make_tokenizer(folder, vocab, seed):
    """SentencePiece unigram (T5's layout: pad 0, eos 1, unk 2, no bos) trained on the captions
    and on random sequences of their words: on the captions alone the trainer keeps only letters
    and a few words (its candidates come from too few distinct contexts); the word soup makes every
    caption word one piece, and any other word still spells out in letters."""
    import random

    import sentencepiece as spm
    from transformers import T5TokenizerFast

    os.makedirs(folder, exist_ok=True)
    model = io.BytesIO()
    words = sorted({w for c in captions.all_captions() for w in c.split()})
    r = random.Random(seed)
    lines = captions.all_captions() * 20 + [" ".join(r.choice(words) for _ in range(r.randint(1, 8)))
                                            for _ in range(5000)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab,
                                   model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
                                   normalization_rule_name="nmt_nfkc", byte_fallback=False,
                                   character_coverage=1.0, hard_vocab_limit=False, num_threads=1, minloglevel=2)
    with open(os.path.join(folder, "spiece.model"), "wb") as f:
        f.write(model.getvalue())
    tok = T5TokenizerFast.from_pretrained(folder, extra_ids=0, model_max_length=512)
    tok.save_pretrained(folder)
    return tok


def make_text_encoder(folder, vocab_size, seed):
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    cfg = T5Config(vocab_size=vocab_size, d_model=64, d_kv=16, num_heads=4, d_ff=128, num_layers=2,
                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                   relative_attention_max_distance=128, dropout_rate=0.0, is_encoder_decoder=False,
                   use_cache=False, tie_word_embeddings=False)
    enc = T5EncoderModel(cfg).eval().requires_grad_(False)
    enc.save_pretrained(folder, safe_serialization=True)
    return enc


def copy_text_side(src, out):
    """The tokenizer and text encoder of an earlier run, copied byte for byte (a continued run
    must read captions exactly as the run it continues)."""
    import shutil

    from transformers import T5EncoderModel, T5TokenizerFast

    for sub in ("tokenizer", "text_encoder"):
        if os.path.abspath(os.path.join(src, sub)) != os.path.abspath(os.path.join(out, sub)):
            shutil.copytree(os.path.join(src, sub), os.path.join(out, sub), dirs_exist_ok=True)
    tok = T5TokenizerFast.from_pretrained(os.path.join(out, "tokenizer"))
    enc = T5EncoderModel.from_pretrained(os.path.join(out, "text_encoder")).eval().requires_grad_(False)
    return tok, enc


def encode(tok, enc, texts, length):
    """[n, length, 64] embeddings and [n, length] masks, as the pipeline makes them."""
    t = tok([s.lower().strip() for s in texts], padding="max_length", max_length=length, truncation=True,
            add_special_tokens=True, return_tensors="pt")
    with torch.no_grad():
        e = enc(t.input_ids, attention_mask=t.attention_mask)[0]
    return e.float(), t.attention_mask


def build_transformer(args):
    from diffusers import PixArtTransformer2DModel

    return PixArtTransformer2DModel(num_attention_heads=args.heads, attention_head_dim=args.head_dim, in_channels=3,
                                    out_channels=3, num_layers=args.layers, sample_size=captions.IMAGE_SIZE,
                                    patch_size=args.patch, caption_channels=64, cross_attention_dim=args.heads *
                                    args.head_dim, norm_type="ada_norm_single", num_embeds_ada_norm=1000,
                                    attention_bias=True, activation_fn="gelu-approximate",
                                    norm_elementwise_affine=False, norm_eps=1e-6, interpolation_scale=1,
                                    use_additional_conditions=False)


def pixart_init(model, adaln_zero=True):
    """PixArt's initialisation: xavier linears with zero biases; the timestep embedder, adaLN-single
    and the caption projection N(0, 0.02); the cross-attention output and the final projection zero
    (every block starts without text, the output at 0). adaln_zero: also adaLN-single's projection
    and the blocks' scale-shift tables zero (every gate 0: every block starts as the identity)."""
    import torch.nn as nn

    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    w = model.pos_embed.proj.weight
    nn.init.xavier_uniform_(w.data.view(w.shape[0], -1))
    nn.init.zeros_(model.pos_embed.proj.bias)
    emb = model.adaln_single.emb.timestep_embedder
    nn.init.normal_(emb.linear_1.weight, std=0.02)
    nn.init.normal_(emb.linear_2.weight, std=0.02)
    nn.init.normal_(model.adaln_single.linear.weight, std=0.02)
    nn.init.normal_(model.caption_projection.linear_1.weight, std=0.02)
    nn.init.normal_(model.caption_projection.linear_2.weight, std=0.02)
    for blk in model.transformer_blocks:
        nn.init.zeros_(blk.attn2.to_out[0].weight)
        nn.init.zeros_(blk.attn2.to_out[0].bias)
        if adaln_zero:
            nn.init.zeros_(blk.scale_shift_table)
    if adaln_zero:
        nn.init.zeros_(model.adaln_single.linear.weight)
        nn.init.zeros_(model.adaln_single.linear.bias)
    nn.init.zeros_(model.proj_out.weight)
    nn.init.zeros_(model.proj_out.bias)


def export(ema, out, fp16):
    for name, p in ema.named_parameters():
        if (name.startswith("proj_out") or "attn2.to_out" in name or "scale_shift_table" in name or
                name.startswith("adaln_single.linear")) and not p.abs().max() > 0:
            raise RuntimeError(f"{name} is still all zeros")
    m = copy.deepcopy(ema)
    if fp16:
        m = m.half()
    m.save_pretrained(os.path.join(out, "transformer"), safe_serialization=True)


def write_pipeline_files(out):
    from diffusers import DPMSolverMultistepScheduler
    import diffusers
    import transformers

    DPMSolverMultistepScheduler().save_pretrained(os.path.join(out, "scheduler"))
    index = {"_class_name": "PixArtAlphaPipeline", "_diffusers_version": diffusers.__version__,
             "scheduler": ["diffusers", "DPMSolverMultistepScheduler"],
             "text_encoder": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
             "transformer": ["diffusers", "PixArtTransformer2DModel"], "vae": [None, None],
             # the guidance the model is measured and shipped at (models/README.md); diffusers
             # ignores keys starting with "_", the engine takes it as the folder's default
             "_smoothcache": {"guidance_scale": 3}}
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "prompts.json"), "w") as f:
        json.dump({"colours": [c for c, _ in captions.COLOURS], "shapes": captions.SHAPES,
                   "backgrounds": captions.BACKGROUNDS, "held_out": [list(p) for p in captions.HELD_OUT],
                   "template": "a {colour} {shape} on a {background} background",
                   "transformers": transformers.__version__}, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description="train the smoothcache text-to-image demo (PixArt)")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "textdemo"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=7000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--data-size", type=int, default=50000)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=48)
    ap.add_argument("--cfg-drop", type=float, default=0.1)
    ap.add_argument("--min-snr", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--save-every", type=int, default=0)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--adaln-zero", action=argparse.BooleanOptionalAction, default=True,
                    help="start adaLN-single and the scale-shift tables at zero (DiT's adaLN-Zero)")
    ap.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--init-from", metavar="DIR",
                    help="continue from a pipeline folder this tool wrote: its tokenizer and text encoder are "
                         "copied unchanged, its (EMA) transformer is the starting point of model and EMA")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    out = args.out
    os.makedirs(out, exist_ok=True)
    if args.init_from:
        tok, enc = copy_text_side(args.init_from, out)
    else:
        tok = make_tokenizer(os.path.join(out, "tokenizer"), args.vocab, args.seed)
        enc = make_text_encoder(os.path.join(out, "text_encoder"), len(tok), args.seed + 2)
    write_pipeline_files(out)
    print(f"tokenizer: {len(tok)} ids; text encoder: {sum(p.numel() for p in enc.parameters())} parameters",
          flush=True)

    images, caps = captions.make_dataset(args.data_size, args.seed)
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()
    distinct = sorted(set(caps))
    cap_id = torch.tensor([distinct.index(c) for c in caps])
    e_all, m_all = encode(tok, enc, distinct + [""], TRAIN_LEN)          # [K + 1, L, 64], [K + 1, L]
    empty = len(distinct)
    for c in distinct:
        ids = tok(c).input_ids
        assert tok.unk_token_id not in ids and len(ids) == len(c.split()) + 1, f"{c!r} is not one piece a word: {ids}"
    assert int(m_all.sum(dim=1).max()) < TRAIN_LEN, "a caption fills the training length"
    print(f"dataset: {args.data_size} images, {len(distinct)} captions, in {time.time() - t0:.1f}s", flush=True)

    if args.init_from:
        from diffusers import PixArtTransformer2DModel
        model = PixArtTransformer2DModel.from_pretrained(os.path.join(args.init_from, "transformer")).float()
        print(f"transformer: from {args.init_from}", flush=True)
    else:
        model = build_transformer(args)
        pixart_init(model, args.adaln_zero)
    model.train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters ({n_params / 1e6:.2f} M)", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0)

    def lr_at(step):
        return trainloop.cosine_lr(step, args.lr, args.warmup, args.steps, args.min_lr_frac)

    T = 1000
    sqrt_ab, sqrt_1mab, w_t = trainloop.ddpm_schedule(T, args.min_snr)
    g = torch.Generator().manual_seed(args.seed + 1)
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    log = trainloop.LossLog(args.log_every, args.steps, lr_at)
    t_train = log.t0
    for step in range(args.steps):
        idx = torch.randint(0, args.data_size, (args.batch,), generator=g)
        x0, cid = x_all[idx], cap_id[idx].clone()
        t = torch.randint(0, T, (args.batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        drop = torch.rand(args.batch, generator=g) < args.cfg_drop
        cid[drop] = empty
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1mab[t].view(-1, 1, 1, 1) * noise
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            pred = model(xt, encoder_hidden_states=e_all[cid], timestep=t, encoder_attention_mask=m_all[cid],
                         added_cond_kwargs={"resolution": None, "aspect_ratio": None}).sample
        mse = (pred.float() - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (w_t[t] * mse).mean()
        trainloop.optimiser_step(opt, loss, model_params)
        trainloop.ema_update(ema_params, model_params, args.ema, step)
        log.add(step, mse.mean().item())
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            export(ema, out, args.fp16)
            print(f"  exported EMA at step {step + 1}", flush=True)
    export(ema, out, args.fp16)
    print(f"done: {args.steps} steps in {time.time() - t_train:.1f}s (total {time.time() - t0:.1f}s); wrote {out}",
          flush=True)


if __name__ == "__main__":
    main()
