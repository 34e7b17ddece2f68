"""The audio demo's text side: its own SentencePiece vocabulary and a small frozen random T5
encoder, made by the text demo's own code (tools/textdemo/train.py: make_tokenizer,
make_text_encoder, copy_text_side; models/README.md "textdemo" says why a frozen random T5) on
the sound captions of sounds.py, and the prompt encoding StableAudioPipeline does.

Differences from the text demo, both for the pipeline's sake:
  * captions are encoded as written (StableAudioPipeline, and the engine, do not lower-case);
    every caption word is one piece but the notes, which are two: "C4" is "C" (the piece a
    chord's root is) and "4" (the unigram trainer keeps the letters and digits rather than eight
    note pieces, which suits the model: a pitch class and an octave);
  * the tokenizer's model_max_length is TEXT_LEN (32): StableAudioPipeline pads every prompt to
    it, and Stable Audio's cross-attention has no mask (padding is zeroed, but zero keys still
    take part), so training must see exactly the pipeline's length.

    python tools/audiodemo/text.py --out DIR      # writes DIR/tokenizer, DIR/text_encoder; checks them
"""

import argparse
import importlib.util
import os
import sys
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sounds  # noqa: E402

TEXT_LEN = 32
VOCAB = 64


def _textdemo_train():
    """tools/textdemo/train.py under a name of its own, without leaving tools/textdemo on the path
    (it has a check.py of its own)."""
    path = os.path.join(os.path.dirname(HERE), "textdemo", "train.py")
    before = list(sys.path)
    spec = importlib.util.spec_from_file_location("textdemo_train", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.path[:] = before
    return mod


td = _textdemo_train()


def training_lines():
    """Every caption the tokenizer must read as one piece a word: the training ones and the
    held-out ones (their words all occur in training captions too)."""
    return sounds.all_captions() + sounds.held_out_captions()


def make_text_side(out, seed, vocab=VOCAB):
    """out/tokenizer (trained on the sound captions) and out/text_encoder (d_model 64, 2 layers,
    random, frozen): (tokenizer, encoder)."""
    from transformers import T5TokenizerFast

    # make_tokenizer reads its captions from its module's `captions`: give it the sounds'.
    saved = td.captions
    td.captions = types.SimpleNamespace(all_captions=training_lines)
    try:
        td.make_tokenizer(os.path.join(out, "tokenizer"), vocab, seed)
    finally:
        td.captions = saved
    folder = os.path.join(out, "tokenizer")
    tok = T5TokenizerFast.from_pretrained(folder, model_max_length=TEXT_LEN)
    tok.save_pretrained(folder)
    enc = td.make_text_encoder(os.path.join(out, "text_encoder"), len(tok), seed + 2)
    check_tokenizer(tok)
    return tok, enc


def copy_text_side(src, out):
    """The tokenizer and text encoder of an earlier run, copied byte for byte."""
    return td.copy_text_side(src, out)


def check_tokenizer(tok):
    """Every caption word is one piece, but a note, which is two: its letter (the piece a chord's
    root is) and its octave digit; no unknowns."""
    assert tok.model_max_length == TEXT_LEN, tok.model_max_length
    for c in training_lines():
        ids = tok(c).input_ids
        want = sum(2 if w in sounds.NOTES else 1 for w in c.split()) + 1
        assert tok.unk_token_id not in ids and len(ids) == want, f"{c!r} is not one piece a word: {ids}"
        for w in c.split():
            if w in sounds.NOTES:
                assert tok.convert_ids_to_tokens(tok(w).input_ids) == ["\u2581" + w[0], w[1], "</s>"], w


def encode(tok, enc, texts):
    """As StableAudioPipeline.encode_prompt before the projection: T5 outputs [n, TEXT_LEN, 64]
    and the masks [n, TEXT_LEN] (the projection's output is multiplied by the mask)."""
    t = tok(list(texts), padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt")
    with torch.no_grad():
        e = enc(t.input_ids, attention_mask=t.attention_mask)[0]
    return e.float(), t.attention_mask


def main():
    ap = argparse.ArgumentParser(description="make and check the audio demo's tokenizer and text encoder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=VOCAB)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok, enc = make_text_side(args.out, args.seed, args.vocab)
    e, m = encode(tok, enc, training_lines())
    words = sorted({w for c in training_lines() for w in c.split()})
    print(f"tokenizer: {len(tok)} ids ({len(words)} caption words, each one piece but the notes, two); "
          f"text encoder: {sum(p.numel() for p in enc.parameters())} parameters; "
          f"{len(training_lines())} captions -> {tuple(e.shape)}, at most {int(m.sum(1).max())} tokens")
    print("'a C major chord' ->", tok.convert_ids_to_tokens(tok("a C major chord").input_ids))
    print("'a c major chord' ->", tok.convert_ids_to_tokens(tok("a c major chord").input_ids))


if __name__ == "__main__":
    main()
