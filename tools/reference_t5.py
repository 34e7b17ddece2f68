#!/usr/bin/env python3
"""Reference for the T5 text encoder: tiny random transformers T5EncoderModel / UMT5EncoderModel
checkpoints and the last_hidden_state the C encoder must reproduce (float32, <= 1e-4 relative).

    .venv/bin/python tools/reference_t5.py OUT_DIR

The committed copy is tests/fixtures/t5/. Nothing is downloaded: the models are built from
configs with seeded random weights, on the CPU, in float32, eval mode (dropout off).

Variants (OUT_DIR/<name>/config.json + model.safetensors, save_pretrained):
  v1_0   T5EncoderModel, feed_forward_proj "relu", d_model 32, d_kv 8, heads 4 (inner 32),
         d_ff 37, 2 layers, relative buckets 8, max distance 20, vocab 96.
  v1_1   T5EncoderModel, "gated-gelu" (dense_act_fn gelu_new), d_model 32, d_kv 6, heads 3
         (inner 18 != d_model), d_ff 40, 3 layers, buckets 16, max distance 32, vocab 96.
  umt5   UMT5EncoderModel with v1_1's shape: every layer has its own relative_attention_bias.
Other layouts of v1_1's weights (same outputs as v1_1, checked bit for bit after a reload):
  v1_1_bin      pytorch_model.bin: torch.save(model.state_dict()), the file transformers 4's
                save_pretrained(safe_serialization=False) wrote (transformers 5 always writes
                safetensors). It holds shared.weight and encoder.embed_tokens.weight as two
                names of one storage.
  v1_1_sharded  model-0000i-of-00003.safetensors + model.safetensors.index.json
                (save_pretrained(max_shard_size="40KB")).
  v1_1_bf16     v1_1's weights rounded to bfloat16 and stored as BF16 (config dtype bfloat16);
                its out.npy is from transformers loading it with dtype=torch.float32, i.e. the
                bf16 weights upcast exactly.

Weights: seeded (torch.manual_seed), T5's own init scales except where it would hide a mistake:
  shared (embedding) N(0, 1); q N(0, 2 (d_model d_kv)^-1/2) (T5 has no 1/sqrt(d_kv) in the
  scores, the init carries it; x2 for sharper attention); k, v N(0, d_model^-1/2);
  o N(0, inner^-1/2); wi / wi_0 / wi_1 N(0, d_model^-1/2); wo N(0, d_ff^-1/2);
  relative_attention_bias N(0, 1) (T5's is d_model^-1/2: too small to matter);
  every layer norm weight 1 + 0.25 N(0, 1) (T5's is ones: a missing weight would pass).

Cases per variant (OUT_DIR/<name>/cases.json lists them; case_<id>_{ids,mask,out}.npy):
  ids int32 [3, L], T5 conventions: real tokens random in [2, vocab) ending with </s> = 1,
  padding 0; mask int32, 1 for real tokens; out float32 [3, L, d_model] =
  model(input_ids=ids, attention_mask=mask).last_hidden_state, every position (padded
  positions are computed like the others: they attend to the real tokens of their row).
    L24         L = 24, lengths 24, 11, 1
    L40         L = 40 > max distance (far buckets), lengths 40, 27, 3
    L24_nomask  L24's ids with attention_mask=None (mask.npy all ones): the pads are attended
  buckets_L40.npy (int32 [40, 40]): T5Attention._relative_position_bucket(k - q) for the
  encoder (bidirectional), [query, key], for the variant's num_buckets / max_distance.

Checks made here: output std / max |out| reasonable; relative-position bias and padding mask both
change the outputs; eager attention agrees with the default (sdpa); the no-mask forward equals
the all-ones-mask forward; each other layout reloads to the same outputs bit for bit; the bf16
reload equals the float32 model with bf16-rounded weights bit for bit. Writes OUT_DIR/README.md
and OUT_DIR/manifest.json, prints a summary.
"""

import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

import safetensors
import transformers
from safetensors import safe_open
from transformers import T5Config, T5EncoderModel

try:
    from transformers import UMT5Config, UMT5EncoderModel
except ImportError:  # older transformers
    UMT5Config = UMT5EncoderModel = None

VOCAB = 96
SHAPES = {
    "v1_0": dict(feed_forward_proj="relu", d_model=32, d_kv=8, num_heads=4, d_ff=37, num_layers=2,
                 relative_attention_num_buckets=8, relative_attention_max_distance=20),
    "v1_1": dict(feed_forward_proj="gated-gelu", d_model=32, d_kv=6, num_heads=3, d_ff=40,
                 num_layers=3, relative_attention_num_buckets=16,
                 relative_attention_max_distance=32),
}
SHAPES["umt5"] = dict(SHAPES["v1_1"])
SEEDS = {"v1_0": 10, "v1_1": 11, "umt5": 12}
# case id -> (L, lengths, use the mask)
CASES = {"L24": (24, [24, 11, 1], True), "L40": (40, [40, 27, 3], True),
         "L24_nomask": (24, [24, 11, 1], False)}
IDS_SEED = {24: 124, 40: 140}
SHARD_SIZE = "40KB"


def make_model(name):
    kw = dict(SHAPES[name], vocab_size=VOCAB)
    if name == "umt5":
        cfg = UMT5Config(**kw)
        cls = UMT5EncoderModel
    else:
        cfg = T5Config(**kw)
        cls = T5EncoderModel
    torch.manual_seed(SEEDS[name])
    model = cls(cfg).eval()
    init_weights(model, cfg)
    assert model.encoder.embed_tokens.weight is model.shared.weight
    return model


@torch.no_grad()
def init_weights(model, cfg):
    d, dkv, h, dff = cfg.d_model, cfg.d_kv, cfg.num_heads, cfg.d_ff
    std = {"q": 2.0 * (d * dkv) ** -0.5, "k": d ** -0.5, "v": d ** -0.5, "o": (h * dkv) ** -0.5,
           "wi": d ** -0.5, "wi_0": d ** -0.5, "wi_1": d ** -0.5, "wo": dff ** -0.5}
    for pname, p in model.named_parameters():  # sorted by module order; shared is listed once
        parts = pname.split(".")
        if pname == "shared.weight":
            p.normal_(0.0, 1.0)
        elif "relative_attention_bias" in parts:
            p.normal_(0.0, 1.0)
        elif "layer_norm" in parts or "final_layer_norm" in parts:
            p.copy_(1.0 + 0.25 * torch.randn_like(p))
        elif parts[-2] in std:
            p.normal_(0.0, std[parts[-2]])
        else:
            raise RuntimeError(f"no init rule for {pname}")


def make_ids(L, lengths):
    rng = np.random.default_rng(IDS_SEED[L])
    ids = np.zeros((len(lengths), L), np.int32)
    mask = np.zeros((len(lengths), L), np.int32)
    for b, n in enumerate(lengths):
        ids[b, : n - 1] = rng.integers(2, VOCAB, n - 1)
        ids[b, n - 1] = 1  # </s>
        mask[b, :n] = 1
    return ids, mask


@torch.no_grad()
def forward(model, ids, mask):
    am = None if mask is None else torch.from_numpy(mask).long()
    out = model(input_ids=torch.from_numpy(ids).long(), attention_mask=am).last_hidden_state
    assert out.dtype == torch.float32
    return out.numpy().copy()


def buckets(cfg, L):
    pos = torch.arange(L)
    rel = pos[None, :] - pos[:, None]  # memory - query
    from transformers.models.t5.modeling_t5 import T5Attention
    b = T5Attention._relative_position_bucket(
        rel, bidirectional=True, num_buckets=cfg.relative_attention_num_buckets,
        max_distance=cfg.relative_attention_max_distance)
    return b.numpy().astype(np.int32)


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def write_cases(model, folder, name, summary, checks=True):
    """Runs every case, writes its files and cases.json; returns {case id: out}."""
    cfg = model.config
    outs, listing = {}, []
    for cid, (L, lengths, use_mask) in CASES.items():
        ids, mask = make_ids(L, lengths)
        out = forward(model, ids, mask if use_mask else None)
        stored_mask = mask if use_mask else np.ones_like(mask)
        files = {k: f"case_{cid}_{k}.npy" for k in ("ids", "mask", "out")}
        np.save(folder / files["ids"], ids)
        np.save(folder / files["mask"], stored_mask)
        np.save(folder / files["out"], out.astype(np.float32))
        listing.append(dict(id=cid, L=L, batch=len(lengths), lengths=lengths,
                            attention_mask_passed=use_mask, d_model=cfg.d_model, **files,
                            out_std=float(out.std()), out_max_abs=float(np.abs(out).max())))
        outs[cid] = out
        summary.append((name, cid, float(out.std()), float(np.abs(out).max())))
        if checks:
            assert np.isfinite(out).all()
            assert 0.3 < out.std() < 3.0 and np.abs(out).max() < 20, (name, cid, out.std())
            if not use_mask:  # all-ones mask must give the same as no mask
                ones = forward(model, ids, np.ones_like(mask))
                assert np.array_equal(ones, out), (name, "all-ones mask != no mask")
    np.save(folder / "buckets_L40.npy", buckets(cfg, 40))
    doc = dict(model=name, architecture=type(model).__name__, vocab_size=cfg.vocab_size,
               d_model=cfg.d_model, pad_id=0, eos_id=1,
               note="out = last_hidden_state for every position, padded ones included; mask "
                    "1 = real token; attention_mask_passed false: the forward had "
                    "attention_mask=None (mask.npy is all ones)",
               buckets="buckets_L40.npy: int32 [query, key] bucket of (key - query), bidirectional",
               cases=listing)
    (folder / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    return outs


@torch.no_grad()
def sanity(model, name, outs):
    """Position bias and padding mask must matter; eager attention must agree with sdpa."""
    ids, mask = make_ids(*CASES["L24"][:2])
    ref = outs["L24"]
    # 1. zero every relative_attention_bias: outputs must move a lot
    saved = {n: p.clone() for n, p in model.named_parameters() if "relative_attention_bias" in n}
    for n, p in model.named_parameters():
        if n in saved:
            p.zero_()
    no_bias = forward(model, ids, mask)
    for n, p in model.named_parameters():
        if n in saved:
            p.copy_(saved[n])
    # 2. the mask matters for the padded rows (row 0 has no padding: identical)
    nomask = outs["L24_nomask"]
    # 3. eager attention
    impl = model.config._attn_implementation
    model.set_attn_implementation("eager")
    eager = forward(model, ids, mask)
    model.set_attn_implementation(impl)
    again = forward(model, ids, mask)
    assert np.array_equal(again, ref)
    r = dict(bias_effect=rel(no_bias, ref), mask_effect_row1=rel(nomask[1], ref[1]),
             mask_effect_row0=rel(nomask[0], ref[0]), eager_vs_sdpa=rel(eager, ref),
             attn_impl=impl)
    assert r["bias_effect"] > 0.05 and r["mask_effect_row1"] > 0.05, r
    assert r["mask_effect_row0"] == 0.0 and r["eager_vs_sdpa"] < 1e-5, r
    return r


def tensor_table(path):
    rows = []
    with safe_open(str(path), "pt") as f:
        for k in f.keys():
            t = f.get_slice(k)
            rows.append((k, t.get_dtype(), list(t.get_shape())))
    return rows


@torch.no_grad()
def check_reload(folder, cls, ref_outs, dtype=torch.float32):
    m = cls.from_pretrained(str(folder), dtype=dtype).eval()
    for cid, (L, lengths, use_mask) in CASES.items():
        ids, mask = make_ids(L, lengths)
        got = forward(m, ids, mask if use_mask else None)
        assert np.array_equal(got, ref_outs[cid]), (folder, cid, rel(got, ref_outs[cid]))
    return m


def dir_size(p):
    return sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    out_dir = Path(sys.argv[1])
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("v1_0", "v1_1", "umt5", "v1_1_bin", "v1_1_sharded", "v1_1_bf16"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)

    names = ["v1_0", "v1_1"] + (["umt5"] if UMT5EncoderModel is not None else [])
    summary, sanity_rows, tables, models, all_outs = [], {}, {}, {}, {}
    for name in names:
        model = make_model(name)
        folder = out_dir / name
        model.save_pretrained(str(folder))
        outs = write_cases(model, folder, name, summary)
        sanity_rows[name] = sanity(model, name, outs)
        check_reload(folder, type(model), outs)
        tables[name] = tensor_table(folder / "model.safetensors")
        models[name], all_outs[name] = model, outs

    # v1_1 in the other layouts
    base = models["v1_1"]
    binf = out_dir / "v1_1_bin"
    binf.mkdir()
    base.config.save_pretrained(str(binf))
    sd = base.state_dict()  # shared.weight and encoder.embed_tokens.weight: one storage
    assert sd["shared.weight"].data_ptr() == sd["encoder.embed_tokens.weight"].data_ptr()
    torch.save(sd, binf / "pytorch_model.bin")
    check_reload(binf, T5EncoderModel, all_outs["v1_1"])

    shf = out_dir / "v1_1_sharded"
    base.save_pretrained(str(shf), max_shard_size=SHARD_SIZE)
    shards = sorted(p.name for p in shf.glob("model-*.safetensors"))
    assert 2 <= len(shards) <= 3 and (shf / "model.safetensors.index.json").exists(), shards
    check_reload(shf, T5EncoderModel, all_outs["v1_1"])

    # bf16: v1_1 rounded; reference = transformers loading it in float32
    bff = out_dir / "v1_1_bf16"
    bf = make_model("v1_1").to(torch.bfloat16)
    bf.save_pretrained(str(bff))
    cfgj = json.loads((bff / "config.json").read_text())
    assert cfgj.get("dtype", cfgj.get("torch_dtype")) == "bfloat16", cfgj
    assert all(dt == "BF16" for _, dt, _ in tensor_table(bff / "model.safetensors"))
    up = T5EncoderModel.from_pretrained(str(bff), dtype=torch.float32).eval()
    assert all(p.dtype == torch.float32 for p in up.parameters())
    bf_outs = write_cases(up, bff, "v1_1_bf16", summary)
    rounded = make_model("v1_1")  # float32 model with bf16-rounded weights: same outputs
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    for cid, (L, lengths, use_mask) in CASES.items():
        ids, mask = make_ids(L, lengths)
        assert np.array_equal(forward(rounded, ids, mask if use_mask else None), bf_outs[cid])
    bf_vs_f32 = rel(bf_outs["L24"], all_outs["v1_1"]["L24"])

    # A text encoder whose vocabulary is the tiny tokenizer's (tests/fixtures/t5tok/tiny), and
    # what transformers makes of a list of prompts with both: the `encode` command's reference.
    # (beside OUT_DIR when make reference-check regenerated it there, else the committed one)
    tok_dir = out_dir.resolve().parent / "t5tok" / "tiny"
    if not tok_dir.exists():
        tok_dir = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "t5tok" / "tiny"
    write_pipeline(out_dir / "pipeline", tok_dir)

    # manifest + README
    manifest = dict(
        generator="tools/reference_t5.py", transformers=transformers.__version__,
        torch=torch.__version__, safetensors=safetensors.__version__, numpy=np.__version__,
        folders={
            "v1_0": dict(layout="safetensors", architecture="T5EncoderModel", cases="v1_0"),
            "v1_1": dict(layout="safetensors", architecture="T5EncoderModel", cases="v1_1"),
            "umt5": dict(layout="safetensors", architecture="UMT5EncoderModel", cases="umt5"),
            "v1_1_bin": dict(layout="pytorch_model.bin", architecture="T5EncoderModel",
                             cases="v1_1"),
            "v1_1_sharded": dict(layout="sharded safetensors", architecture="T5EncoderModel",
                                 shards=shards, cases="v1_1"),
            "v1_1_bf16": dict(layout="safetensors BF16", architecture="T5EncoderModel",
                              cases="v1_1_bf16"),
        })
    if "umt5" not in names:
        del manifest["folders"]["umt5"]
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    write_readme(out_dir, manifest)

    # summary
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    print("case outputs (last_hidden_state):")
    for name, cid, s, mx in summary:
        print(f"  {name:10s} {cid:11s} std {s:.4f}  max|out| {mx:.4f}")
    print("sanity (relative max differences):")
    for name, r in sanity_rows.items():
        print(f"  {name:6s} zeroed rel. bias {r['bias_effect']:.3f}, no mask row1 "
              f"{r['mask_effect_row1']:.3f} row0 {r['mask_effect_row0']:.1g}, eager vs "
              f"{r['attn_impl']} {r['eager_vs_sdpa']:.2e}")
    print(f"  v1_1_bf16 vs v1_1 (L24) {bf_vs_f32:.2e}; v1_1_bin, v1_1_sharded reload: bit equal")
    for name, rows in tables.items():
        print(f"{name}/model.safetensors tensors:")
        for k, dt, shp in rows:
            print(f"  {k} {dt} {shp}")
    print("files:")
    for f in sorted(out_dir.rglob("*")):
        if f.is_file():
            print(f"  {f.stat().st_size:8d}  {f.relative_to(out_dir)}")
    total = dir_size(out_dir)
    print(f"total {total} bytes ({total / 1e6:.2f} MB)")
    assert total < 1_500_000


PROMPTS = [
    "a red fox in the snow",
    "",
    "a red fox in the snow",
    "Ünïcödé café, <extra_id_3> and </s> inside",
    "  spaces\tand tabs  ",
    "a very long prompt that the tokenizer must cut to the maximum length with its end token kept last",
]


def write_pipeline(folder, tok_dir):
    """folder/text_encoder (v1_1's shape, the tokenizer's vocabulary), folder/prompts.txt and
    folder/ref_{input_ids,attention_mask,prompt_embeds}.npy: T5Tokenizer.from_pretrained(tok_dir)
    (max_length 16, padding "max_length", truncation) then T5EncoderModel, as a pipeline calls them."""
    from transformers import T5Tokenizer
    if folder.exists():
        shutil.rmtree(folder)
    tok = T5Tokenizer.from_pretrained(str(tok_dir))
    torch.manual_seed(7)
    cfg = T5Config(vocab_size=len(tok), d_model=32, d_kv=6, num_heads=3, d_ff=40, num_layers=2,
                   relative_attention_num_buckets=16, relative_attention_max_distance=32,
                   feed_forward_proj="gated-gelu")
    model = T5EncoderModel(cfg).eval()
    init_weights(model, cfg)
    model.save_pretrained(str(folder / "text_encoder"))
    (folder / "prompts.txt").write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    enc = tok(PROMPTS, max_length=16, padding="max_length", truncation=True, return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).last_hidden_state
    np.save(folder / "ref_input_ids.npy", enc.input_ids.numpy().astype(np.int32))
    np.save(folder / "ref_attention_mask.npy", enc.attention_mask.numpy().astype(np.int32))
    np.save(folder / "ref_prompt_embeds.npy", out.numpy().astype(np.float32))


def write_readme(out_dir, manifest):
    text = f"""# T5 encoder reference fixtures

Made by `.venv/bin/python tools/reference_t5.py tests/fixtures/t5` (see the tool's docstring for
the weights' init and the checks it makes) with transformers {manifest['transformers']},
torch {manifest['torch']}, safetensors {manifest['safetensors']}, numpy {manifest['numpy']};
CPU, float32, eval mode. Random weights, nothing downloaded.

| folder | what |
|---|---|
| `v1_0/` | T5EncoderModel, relu FFN, d_model 32, d_kv 8 x 4 heads, d_ff 37, 2 layers, 8 buckets / max distance 20 |
| `v1_1/` | T5EncoderModel, gated-gelu (gelu_new) FFN, d_model 32, d_kv 6 x 3 heads (inner 18), d_ff 40, 3 layers, 16 buckets / 32 |
| `umt5/` | UMT5EncoderModel, v1_1's shape, a relative_attention_bias in every layer |
| `v1_1_bin/` | v1_1's weights as `pytorch_model.bin` (torch.save of the state dict, transformers 4 layout; shared.weight and encoder.embed_tokens.weight share one storage) |
| `v1_1_sharded/` | v1_1's weights in {len(manifest['folders']['v1_1_sharded']['shards'])} safetensors shards + `model.safetensors.index.json` |
| `v1_1_bf16/` | v1_1's weights rounded to bfloat16, stored BF16; outputs from loading them upcast to float32 |

`v1_1_bin` and `v1_1_sharded` give v1_1's outputs bit for bit (checked after a reload): use
`v1_1/cases.json`. Every other model folder has `config.json`, the weights, `cases.json` and
`case_<id>_{{ids,mask,out}}.npy`: ids/mask int32 [3, L] (pad 0, </s> 1, mask 1 = real token),
out float32 [3, L, d_model] = `model(input_ids, attention_mask).last_hidden_state` at every
position (padded positions included). Cases: `L24` (lengths 24, 11, 1), `L40` (40, 27, 3;
longer than the max distance), `L24_nomask` (L24's ids, attention_mask=None, so pads are
attended; mask.npy is all ones). `buckets_L40.npy`: the encoder's relative-position bucket
[query, key] for 40 positions. `manifest.json` lists the folders.
"""
    (out_dir / "README.md").write_text(text)


if __name__ == "__main__":
    main()
