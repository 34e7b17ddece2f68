#!/usr/bin/env python3
"""Reference for the T5 SentencePiece-unigram tokenizer: two locally trained models in the T5
layout, their Hugging Face files, and the token ids the C tokenizer must reproduce.

    .venv/bin/python tools/reference_tokenizer.py OUT_DIR [--keep-corpus DIR]

The committed copy is tests/fixtures/t5tok/. Nothing is downloaded: the models are trained here.

Corpus (not committed; --keep-corpus writes it out). Built deterministically from
  * docstrings (ast) and .md/.rst/.txt files of the installed packages named in ENGLISH_PACKAGES
    (transformers and diffusers, pure-Python wheels pinned in tools/requirements.txt), files in
    sorted order, up to a byte budget per package, and
  * generated pseudo-text, random.Random(seed): per script a seeded lexicon of syllable words
    (Latin with accents, Greek, Cyrillic, Arabic and Hebrew with marks, CJK, Hangul, Devanagari
    with virama conjuncts, Thai) drawn with Zipf weights into lines, plus emoji (skin tones, ZWJ
    sequences, flags), numbers, dates, prices and punctuation runs.
  `tiny` sees the English, Latin, Greek and Cyrillic parts only (so the other scripts are <unk>);
  `large` sees everything. Both keep character_coverage 0.9995, so rare characters stay unknown.
  The sha256 of each model's training text is in README.md and cases.json (corpus_sha256): a
  rerun that gets another hash used other package files and will train other models.

Models (sentencepiece.SentencePieceTrainer, T5 layout): model_type=unigram, pad 0, eos 1, unk 2,
no bos, nmt_nfkc normalization (the default), byte_fallback off, sentencepiece's random
generator seeded, OUT_DIR/<name>/spiece.model. The Hugging Face files beside it come from
transformers.T5TokenizerFast.from_pretrained(folder, extra_ids=100, model_max_length=512) and
save_pretrained(folder); transformers 5 writes no special_tokens_map.json, so this tool writes
one in the transformers 4 shape that T5 pipelines ship.

OUT_DIR/<name>/cases.json: per string its text, code points, sentencepiece's normalized form,
`spm` = SentencePieceProcessor.encode(text) + [eos], `hf` = the fast tokenizer loaded from
tokenizer.json alone, tokenizer(text)["input_ids"], and for a subset `padded` with max_length 16
and 77 (padding="max_length", truncation=True). spm and hf are both recorded; where they differ
the case carries hf's normalized form (hf_norm) and a reason. The tool checks that
tokenizers.Tokenizer.from_file(tokenizer.json) and the pre-save tokenizer give the same ids as
`hf`, and writes OUT_DIR/README.md with the disagreement summary.

Two small emulations document how the libraries differ and are checked on every case (a miss
is printed as a note): PrecompiledModel (the charsmap as tokenizers' Precompiled normalizer reads
it) and ViterbiModel (float32 whole-text vs float64 per-word path scores).
"""

import argparse
import ast
import hashlib
import io
import json
import random
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import regex
import sentencepiece as spm
import tokenizers
import transformers
from transformers import T5TokenizerFast

SEED = 20240607
SIZE_BUDGET_BYTES = 3_200_000
EXTRA_IDS = 100
MODEL_MAX_LENGTH = 512
PAD_LENGTHS = (16, 77)
N_GENERATED = 1000  # generated strings per model (plus the hand-picked ones)
N_PADDED = 50

# (package directory in site-packages, byte budget of English text taken from it). Only pinned
# pure-Python wheels (py3-none-any): platform wheels (numpy, torch, ...) differ between builds.
ENGLISH_PACKAGES = [("transformers", 4_800_000), ("diffusers", 1_700_000)]

# name: (vocab size, column of PART_BYTES); large stays at 12000 so that tests/fixtures/t5tok keeps
# under ~3 MB (its pretty-printed tokenizer.json takes ~64 bytes a piece plus the 320 kB charsmap)
MODELS = {"tiny": (500, 0), "large": (12000, 1)}

SPM_TRAIN = dict(model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                 pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
                 normalization_rule_name="nmt_nfkc", byte_fallback=False, character_coverage=0.9995,
                 input_sentence_size=400_000, shuffle_input_sentence=True, num_threads=2,
                 max_sentence_length=4192, minloglevel=2)


# ----------------------------------------------------------------------------------- corpus

def english_lines():
    """Docstrings and documentation lines of the installed packages, deterministic order."""
    site = Path(spm.__file__).resolve().parent.parent
    out = []
    for pkg, budget in ENGLISH_PACKAGES:
        taken = 0
        base = site / pkg
        files = sorted(p for p in base.rglob("*") if p.suffix in (".py", ".md", ".rst", ".txt") and p.is_file())
        for path in files:
            if taken >= budget:
                break
            try:
                src = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if path.suffix == ".py":
                try:
                    tree = ast.parse(src)
                except (SyntaxError, ValueError):
                    continue
                texts = [ast.get_docstring(n, clean=True) for n in ast.walk(tree)
                         if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
                texts = [t for t in texts if t]
            else:
                texts = [src]
            for t in texts:
                for line in t.splitlines():
                    line = line.strip()
                    if len(line) < 8 or len(line.encode()) > 2000:
                        continue
                    out.append(line)
                    taken += len(line) + 1
    return out


def _zipf_cum(n, s=1.07):
    cum, acc = [], 0.0
    for k in range(1, n + 1):
        acc += 1.0 / k ** s
        cum.append(acc)
    return cum


class Script:
    """A seeded pseudo-language: syllable words drawn with Zipf weights."""

    def __init__(self, rng, make_word, n_words, joiner=" ", punct=(".", ",", "?", "!")):
        seen, words = set(), []
        while len(words) < n_words:
            w = make_word(rng)
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words, self.cum, self.joiner, self.punct = words, _zipf_cum(n_words), joiner, punct

    def sample_words(self, rng, k):
        return rng.choices(self.words, cum_weights=self.cum, k=k)

    def line(self, rng):
        parts = []
        for _ in range(rng.randint(1, 3)):
            ws = self.sample_words(rng, rng.randint(3, 14))
            parts.append(self.joiner.join(ws) + rng.choice(self.punct))
        return " ".join(parts)


def _cp(a, b):
    return [chr(c) for c in range(a, b + 1)]


def _syllables(onsets, nuclei, codas=("",)):
    def make(rng):
        return "".join(rng.choice(onsets) + rng.choice(nuclei) + rng.choice(codas)
                       for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
    return make


def build_scripts(rng):
    s = {}
    lat_c = list("bcdfghjklmnprstvwzßçñłśźżčšžřď") + ["ch", "sz", "tr", "pl", "gn", "qu"]
    lat_v = list("aeiouàâäéèêëîïôöùûüáíóúãõąęůœæyÿ")
    def latin(rng):
        w = _syllables(lat_c + [""], lat_v, ("", "", "n", "r", "s", "t", "l"))(rng)
        return w.capitalize() if rng.random() < 0.15 else w
    s["latin"] = Script(rng, latin, 5000)
    gr_c = list("βγδζθκλμνξπρστφχψ")
    gr_v = list("αεηιουωάέήίόύώϊϋΐΰ")
    s["greek"] = Script(rng, _syllables(gr_c + [""], gr_v, ("", "", "ς", "ν")), 3000, punct=(".", ",", ";", "·"))
    cy_c = list("бвгджзклмнпрстфхцчшщґ")
    cy_v = list("аеиоуыэюяёіїєй")
    s["cyrillic"] = Script(rng, _syllables(cy_c + [""], cy_v, ("", "", "ь", "й", "н", "т")), 4000)
    ar_c = _cp(0x0628, 0x063A) + _cp(0x0641, 0x064A) + ["ا", "ال"]
    def arabic(rng):
        w = "".join(rng.choice(ar_c) for _ in range(rng.randint(2, 6)))
        if rng.random() < 0.2:  # harakat on some words
            w = "".join(ch + (rng.choice(_cp(0x064B, 0x0652)) if rng.random() < 0.5 else "") for ch in w)
        return w
    s["arabic"] = Script(rng, arabic, 3000, punct=(".", "،", "؟", "!"))
    he_c = _cp(0x05D0, 0x05EA)
    def hebrew(rng):
        w = "".join(rng.choice(he_c) for _ in range(rng.randint(2, 6)))
        if rng.random() < 0.15:  # niqqud
            w = "".join(ch + (rng.choice(_cp(0x05B0, 0x05BC)) if rng.random() < 0.5 else "") for ch in w)
        return w
    s["hebrew"] = Script(rng, hebrew, 2500, punct=(".", ",", "?", "׃"))
    cjk_pool = rng.sample(range(0x4E00, 0x9FA6), 3000)
    cjk_cum = _zipf_cum(len(cjk_pool), 0.9)
    def cjk(rng):
        return "".join(chr(c) for c in rng.choices(cjk_pool, cum_weights=cjk_cum, k=rng.choice((1, 2, 2, 2, 3, 4))))
    s["cjk"] = Script(rng, cjk, 6000, joiner="", punct=("。", "，", "、", "？", "！"))
    kana = _cp(0x3041, 0x3093) + _cp(0x30A1, 0x30F3)
    s["kana"] = Script(rng, lambda r: "".join(r.choice(kana) for _ in range(r.randint(1, 4))), 1500, joiner="",
                       punct=("。", "、"))
    def hangul(rng):
        return "".join(chr(0xAC00 + (rng.randrange(19) * 21 + rng.randrange(21)) * 28
                           + (rng.randrange(28) if rng.random() < 0.4 else 0))
                       for _ in range(rng.randint(1, 4)))
    s["hangul"] = Script(rng, hangul, 4000)
    dv_c = _cp(0x0915, 0x0939)
    dv_v = [""] * 3 + _cp(0x093E, 0x094C)
    def deva(rng):
        out = ""
        for _ in range(rng.randint(1, 4)):
            out += rng.choice(dv_c)
            if rng.random() < 0.2:
                out += "\u094D" + rng.choice(dv_c)  # virama conjunct
            out += rng.choice(dv_v)
            if rng.random() < 0.1:
                out += rng.choice(("\u0902", "\u0901", "\u0903"))
        return out
    s["devanagari"] = Script(rng, deva, 3000, punct=("।", ",", "?"))
    th_c = _cp(0x0E01, 0x0E2E)
    def thai(rng):
        out = ""
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.3:
                out += rng.choice(_cp(0x0E40, 0x0E44))
            out += rng.choice(th_c)
            if rng.random() < 0.5:
                out += rng.choice(_cp(0x0E30, 0x0E39))
            if rng.random() < 0.25:
                out += rng.choice(_cp(0x0E48, 0x0E4B))
        return out
    s["thai"] = Script(rng, thai, 3000, joiner="", punct=(" ", "ฯ"))
    return s


EMOJI = ([chr(c) for c in range(0x1F600, 0x1F64F)] + [chr(c) for c in range(0x1F300, 0x1F320)]
         + ["❤️", "👍", "👍🏽", "👋🏿", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "🇧🇷", "✨", "🔥", "☕"])


def emoji_line(rng):
    words = []
    for _ in range(rng.randint(1, 8)):
        e = rng.choice(EMOJI)
        if rng.random() < 0.15 and len(e) == 1 and 0x1F44B <= ord(e) <= 0x1F64F:
            e += chr(rng.randint(0x1F3FB, 0x1F3FF))
        words.append(e * rng.choice((1, 1, 1, 2, 3)))
    return " ".join(words)


def numbers_line(rng):
    parts = []
    for _ in range(rng.randint(2, 8)):
        k = rng.randrange(8)
        if k == 0:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
        elif k == 1:
            parts.append(f"{rng.uniform(-1000, 1000):.{rng.randint(1, 4)}f}")
        elif k == 2:
            parts.append(f"{rng.randint(1900, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        elif k == 3:
            parts.append(rng.choice(("$", "€", "£", "¥", "₹")) + f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}")
        elif k == 4:
            parts.append(rng.choice(("...", "!!!", "???", "--", "—", "–", "«", "»", "„", "“", "”", "‘", "’",
                                     "(", ")", "[", "]", "{", "}", "#", "@", "%", "&", "*", "/", "\\", "|")))
        elif k == 5:
            parts.append(f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}")
        elif k == 6:
            parts.append(f"{rng.randint(1, 100)}%")
        else:
            parts.append(f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}")
    return " ".join(parts)


# bytes of training text per part: (tiny, large); 0 leaves the part out
PART_BYTES = {"english": (3_000_000, 6_000_000), "latin": (500_000, 1_500_000), "greek": (200_000, 500_000),
              "cyrillic": (300_000, 1_000_000), "arabic": (0, 600_000), "hebrew": (0, 500_000),
              "cjk": (0, 1_000_000), "kana": (0, 300_000), "hangul": (0, 600_000), "devanagari": (0, 600_000),
              "thai": (0, 500_000), "emoji": (0, 150_000), "numbers": (200_000, 400_000)}


def build_corpus():
    """{part: [lines]} up to the largest budget of each part, and the scripts (for test strings).
    Every part comes from its own seeded generator, so a smaller budget takes a prefix."""
    scripts = build_scripts(random.Random(SEED))
    eng = english_lines()
    random.Random(f"{SEED}:english").shuffle(eng)
    parts = {}
    for name, budgets in PART_BYTES.items():
        cap, lines, total = max(budgets), [], 0
        r = random.Random(f"{SEED}:{name}")
        i = 0
        while total < cap:
            if name == "english":
                if i >= len(eng):
                    break
                line = eng[i]
            elif name == "emoji":
                line = emoji_line(r)
            elif name == "numbers":
                line = numbers_line(r)
            else:
                line = scripts[name].line(r)
            i += 1
            lines.append(line)
            total += len(line.encode()) + 1
        parts[name] = lines
    return parts, scripts


def training_lines(parts, which):
    """The parts' lines for model column which (0 tiny, 1 large), in a seeded shuffle."""
    lines = []
    for name, budgets in PART_BYTES.items():
        cap, total = budgets[which], 0
        for line in parts[name]:
            b = len(line.encode()) + 1
            if total + b > cap:
                break
            lines.append(line)
            total += b
    random.Random(f"{SEED}:shuffle").shuffle(lines)
    return lines


# ----------------------------------------------------------------------------------- training

def train(name, parts, out_dir, keep_corpus):
    """Trains OUT_DIR/<name>/spiece.model from an iterator (so no file path lands in trainer_spec)."""
    vocab, which = MODELS[name]
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = training_lines(parts, which)
    if keep_corpus:
        keep_corpus.mkdir(parents=True, exist_ok=True)
        with open(keep_corpus / f"corpus_{name}.txt", "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
    model = io.BytesIO()
    spm.set_random_generator_seed(SEED)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab, **SPM_TRAIN)
    (folder / "spiece.model").write_bytes(model.getvalue())
    data = "".join(line + "\n" for line in lines).encode()
    return folder, (len(data), hashlib.sha256(data).hexdigest())


SPECIAL_TOKEN_DICT = {"content": None, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


def export_hf(folder):
    """T5TokenizerFast from the folder's spiece.model, saved beside it; returns the tokenizer."""
    before = (folder / "spiece.model").read_bytes()
    tok = T5TokenizerFast.from_pretrained(str(folder), extra_ids=EXTRA_IDS, model_max_length=MODEL_MAX_LENGTH)
    tok.save_pretrained(str(folder))
    assert (folder / "spiece.model").read_bytes() == before, "save_pretrained rewrote spiece.model"
    # transformers 5 writes no special_tokens_map.json; T5 pipelines ship one in this (transformers 4) shape
    stm = {"additional_special_tokens": [f"<extra_id_{i}>" for i in range(EXTRA_IDS)]}
    for key, content in (("eos_token", "</s>"), ("pad_token", "<pad>"), ("unk_token", "<unk>")):
        stm[key] = dict(SPECIAL_TOKEN_DICT, content=content)
    if not (folder / "special_tokens_map.json").exists():
        (folder / "special_tokens_map.json").write_text(json.dumps(stm, indent=2) + "\n", encoding="utf-8")
    return tok


def load_hf_from_json(folder, tmp):
    """The fast tokenizer as loaded from tokenizer.json (+ its config), without spiece.model."""
    only = tmp / f"hf_{folder.name}"
    only.mkdir()
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(folder / f, only / f)
    return T5TokenizerFast.from_pretrained(str(only)), tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))


# ----------------------------------------------------------------------------------- strings

LONG_WORDS = ("a photo of an astronaut riding a horse on the moon, highly detailed, sharp focus, "
              "cinematic lighting, trending on artstation, octane render, 8k, by greg rutkowski, "
              "oil painting of a quiet village at dawn with mist over the river and birds in the sky").split()


def over_long_prompt():
    r = random.Random(f"{SEED}:long")
    return " ".join(r.choice(LONG_WORDS) for _ in range(620))


HARD_CASES = [
    ("empty", ""),
    ("space", " "),
    ("spaces_only", "      "),
    ("tab_only", "\t"),
    ("newline_only", "\n"),
    ("whitespace_mix_only", " \t\n\r\u00a0\u3000\u2009 "),
    ("nbsp_only", "\u00a0"),
    ("ideographic_space_only", "\u3000"),
    ("zwsp_only", "\u200b"),
    ("leading_trailing_spaces", "   hello world   "),
    ("runs_of_spaces", "a  b   c    d     e"),
    ("tabs_newlines", "line one\nline two\tcolumn\r\nthree\n\n\nfour"),
    ("nbsp_inside", "100\u00a0km, 5\u202fkg and 7\u2007m"),
    ("ideographic_space_inside", "東京\u3000大阪\u3000\u3000京都"),
    ("zero_width_space", "zero\u200bwidth\u200bspace"),
    ("zwj_zwnj_wj_bom", "a\u200db\u200cc\u2060d\ufeffe"),
    ("bom_start", "\ufeffstart of file"),
    ("soft_hyphen", "co\u00adoperate"),
    ("fullwidth", "ＡＢＣ１２３"),
    ("fullwidth_sentence", "Ｈｅｌｌｏ，ｗｏｒｌｄ！ ｘｙｚ？"),
    ("halfwidth_katakana", "ｶﾀｶﾅ ﾊﾟﾋﾟﾌﾟ"),
    ("compat_chars", "㎏ ① ﬁ ½ ™"),
    ("compat_more", "㈱ Ⅻ ℃ ㍻ ﬀ ﬃ ㎡ ℡ ¼ ¾ ⅓"),
    ("ligature_words", "ﬁnance ofﬁce ﬂow"),
    ("super_subscripts", "x² + y³ = z⁴, H₂O, 10⁻³"),
    ("circled_and_parenthesized", "ⓐⓑⓒ ⑴⑵ ⒈⒉ ㉑"),
    ("math_alphanumerics", "𝐀𝐁𝐂 𝒳 𝔸 𝟘𝟙"),
    ("angstrom_ohm_kelvin", "\u212b \u2126 \u212a Å Ω K"),
    ("accents_composed", "café résumé naïve"),
    ("accents_decomposed", "cafe\u0301 re\u0301sume\u0301 nai\u0308ve"),
    ("e_composed_alone", "\u00e9"),
    ("e_decomposed_alone", "e\u0301"),
    ("stacked_marks_2", "e\u0301\u0302"),
    ("stacked_marks_4", "a\u0301\u0302\u0303\u0304 o\u0308\u0304 e\u0323\u0302 q\u0307\u0323"),
    ("zalgo", "Z\u0351\u036b\u0343a\u0364l\u0350g\u034bo"),
    ("leading_combining_marks", "\u0301\u0302 starts with marks"),
    ("combining_mark_alone", "\u0301"),
    ("hangul_syllables", "한국어 텍스트"),
    ("hangul_jamo", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"),
    ("hangul_jamo_lv", "\u1100\u1161"),
    ("hangul_compat_jamo", "ㅎㅏㄴㄱㅜㄱ"),
    ("hangul_fillers", "\u3164\u115f\u1160"),
    ("emoji_simple", "I ❤️ 🍕 and 😀😀😀"),
    ("emoji_skin_tones", "👍🏻 👍🏼 👍🏽 👍🏾 👍🏿"),
    ("emoji_zwj", "👨‍👩‍👧‍👦 👩‍💻 🏳️‍🌈 🧑🏽‍🚀"),
    ("emoji_flags", "🇫🇷🇩🇪🇯🇵 🇺🇳"),
    ("emoji_tag_flag", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"),
    ("keycaps", "1️⃣ #️⃣ *️⃣"),
    ("variation_selectors", "☺︎ ☺️ 葛\U000e0100"),
    ("cjk_chinese", "我们喜欢机器学习！"),
    ("cjk_japanese", "人工知能は世界を変える。東京タワーは333メートルです"),
    ("arabic", "مرحبا بالعالم! كيف حالك؟"),
    ("arabic_harakat", "بِسْمِ اللَّهِ"),
    ("arabic_presentation_forms", "ﷺ ﻻ ﺍﻟﻌﺮﺑﻴﺔ"),
    ("hebrew", "שלום עולם, מה שלומך?"),
    ("hebrew_niqqud", "שָׁלוֹם"),
    ("rtl_ltr_mixed", "English עברית العربية 123 mixed"),
    ("bidi_controls", "\u202eabc\u202c \u200fRTL\u200e"),
    ("devanagari", "हिन्दी में क्षत्रिय और ज्ञान"),
    ("devanagari_conjuncts", "क्ष त्र ज्ञ श्र द्ध्य"),
    ("devanagari_nukta", "क़ ख़ ग़ \u0915\u093c"),
    ("thai", "ภาษาไทยไม่มีช่องว่าง"),
    ("greek", "Ελληνικά κείμενα ΐ ΰ"),
    ("cyrillic", "Привет, мир! Ёжик"),
    ("turkish_german", "İstanbul ıi ß ẞ"),
    ("digits", "0123456789 3.14159 1,000,000 -42 1e-10"),
    ("digit_run", "12345678901234567890"),
    ("punct_runs", "!!! ??? ... --- ___ *** ((( ))) \"\"\" ''' ;;; :::"),
    ("punct_glued", "Hello,world!How are you?I'm fine..."),
    ("typographic_punct", "wait… “quotes” ‘single’ — dash – «guillemets»"),
    ("url", "https://example.com/path?q=1&x=ü#frag"),
    ("code", "def f(x):\n    return x**2  # square"),
    ("special_eos_in_text", "hello </s> world"),
    ("special_eos_only", "</s>"),
    ("special_pad_in_text", "<pad>padded<pad>"),
    ("special_unk_in_text", "an <unk> token"),
    ("special_extra_id_in_text", "The <extra_id_0> walks in <extra_id_5> park"),
    ("special_extra_id_glued", "x<extra_id_5>y</s>z"),
    ("special_extra_id_99", "<extra_id_99>"),
    ("special_extra_id_100_not_a_token", "<extra_id_100>"),
    ("special_spaced", "a  <extra_id_5>  b"),
    ("special_lookalike", "< /s> <s> <extra_id_x>"),
    ("replacement_char", "bad \ufffd byte \ufffd\ufffd"),
    ("noncharacters", "\ufffe\uffff \U0001fffe"),
    ("private_use", "\ue000\uf8ff \U000f0000 \U0010fffd"),
    ("unassigned", "\u0378 \u2fe0 \U0001fffd \U000e0080 \U0010ffff"),
    ("c0_c1_controls", "a\x01b\x07c\x1bd\x7fe\x85f\x9fg"),
    ("line_separators", "one\u2028two\u2029three\x0bfour\x0cfive"),
    ("metaspace_char_in_text", "pre\u2581existing \u2581 marker"),
    ("table_border", "+-------------------------+"),
    ("dash_run", "-" * 60),
    ("equals_run", "=" * 70),
    ("long_word", "a" * 120),
    ("long_cjk_run", "机器学习" * 30),
    ("over_long_prompt", over_long_prompt()),
]

WHITESPACE = [" "] * 14 + ["  ", "   ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2009", "\u200b", " \t "]

# (first, last) code point ranges for random characters; surrogates and NUL never drawn
BLOCKS = [
    (0x21, 0x7E), (0x01, 0x1F), (0x7F, 0x9F), (0xA0, 0xFF), (0x100, 0x24F), (0x250, 0x2FF), (0x300, 0x36F),
    (0x370, 0x3FF), (0x400, 0x4FF), (0x530, 0x58F), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F),
    (0x980, 0x9FF), (0xE00, 0xE7F), (0xE80, 0xEFF), (0xF00, 0xFFF), (0x10A0, 0x10FF), (0x1100, 0x11FF),
    (0x1E00, 0x1EFF), (0x1F00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF),
    (0x2100, 0x214F), (0x2150, 0x218F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF),
    (0x2500, 0x257F), (0x2600, 0x26FF), (0x2700, 0x27BF), (0x2E80, 0x2FFF), (0x3000, 0x303F),
    (0x3040, 0x30FF), (0x3130, 0x318F), (0x3200, 0x32FF), (0x3300, 0x33FF), (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A3), (0xD7B0, 0xD7FF), (0xE000, 0xF8FF), (0xF900, 0xFAFF), (0xFB00, 0xFB4F),
    (0xFB50, 0xFDFF), (0xFE00, 0xFE0F), (0xFE10, 0xFE6F), (0xFE70, 0xFEFF), (0xFF00, 0xFFEF),
    (0xFFF0, 0xFFFF), (0x10000, 0x1007F), (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF), (0x1F300, 0x1F6FF),
    (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF), (0x20000, 0x2A6DF), (0xE0000, 0xE007F), (0xE0100, 0xE01EF),
    (0xF0000, 0xF00FF), (0x10FF00, 0x10FFFF),
]
COMBINING = [chr(c) for c in range(0x300, 0x370)]


def random_char(r):
    a, b = r.choice(BLOCKS)
    c = r.randint(a, b)
    return chr(c) if not 0xD800 <= c <= 0xDFFF else "?"


def make_generated(scripts, parts, which, n):
    """n seeded strings: corpus word mixes, random Unicode, and the two mixed with each other."""
    r = random.Random(f"{SEED}:strings:{which}")
    eng = parts["english"]
    names = [p for p, b in PART_BYTES.items() if p in scripts]
    out = []

    def words(k):
        ws = []
        for _ in range(k):
            u = r.random()
            if u < 0.45:
                line = eng[r.randrange(len(eng))].split()
                ws.append(r.choice(line) if line else "x")
            elif u < 0.85:
                ws.append(scripts[r.choice(names)].sample_words(r, 1)[0])
            elif u < 0.93:
                ws.append(numbers_line(r).split()[0])
            else:
                ws.append(r.choice(EMOJI))
        return ws

    def join(ws):
        s = ""
        for i, w in enumerate(ws):
            s += w if i == 0 else r.choice(WHITESPACE) + w
        if r.random() < 0.2:
            s = r.choice(WHITESPACE) + s
        if r.random() < 0.2:
            s += r.choice(WHITESPACE)
        return s

    for i in range(n):
        kind = ("words", "unicode", "mixed", "sentence")[i % 4]
        if kind == "words":
            s = join(words(r.randint(1, 8)))
        elif kind == "unicode":
            s = "".join(random_char(r) if r.random() < 0.8 else r.choice(WHITESPACE)
                        for _ in range(r.randint(1, 14)))
        elif kind == "mixed":
            ws = words(r.randint(1, 6))
            for _ in range(r.randint(1, 4)):
                j = r.randrange(len(ws))
                pos = r.randint(0, len(ws[j]))
                ins = r.choice(COMBINING) * r.randint(1, 3) if r.random() < 0.3 else random_char(r)
                ws[j] = ws[j][:pos] + ins + ws[j][pos:]
            if r.random() < 0.3:
                ws = [w.upper() if r.random() < 0.5 else w for w in ws]
            s = join(ws)
        else:
            line = eng[r.randrange(len(eng))]
            a = r.randrange(max(1, len(line) - 60))
            s = line[a:a + r.randint(10, 60)]
        out.append((f"g{i}_{kind}", s))
    return out


# ----------------------------------------------------------------------------------- cases

PADDED_ALWAYS = ["empty", "space", "whitespace_mix_only", "leading_trailing_spaces", "fullwidth", "compat_chars",
                 "accents_decomposed", "stacked_marks_4", "hangul_jamo", "emoji_zwj", "cjk_japanese", "arabic",
                 "devanagari_conjuncts", "special_eos_in_text", "special_extra_id_in_text", "special_extra_id_glued",
                 "replacement_char", "private_use", "long_word", "long_cjk_run", "over_long_prompt"]


def hf_normalized(raw, text):
    """What the fast tokenizer's normalizer and pre-tokenizer make of text (special tokens aside)."""
    norm = raw.normalizer.normalize_str(text) if raw.normalizer else text
    return "".join(p for p, _ in raw.pre_tokenizer.pre_tokenize_str(norm))


# Unicode White_Space: where tokenizers' WhitespaceSplit (Rust char::is_whitespace) splits
WHITE_SPACE = set(map(chr, [*range(0x9, 0xE), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
                            0x202F, 0x205F, 0x3000]))


class PrecompiledModel:
    """The two readings of the same precompiled charsmap (sentencepiece's decompiled rule list).

    sentencepiece: at each position the LONGEST rule key that prefixes the rest of the text.
    tokenizers' Precompiled normalizer: per extended grapheme cluster g, if g is under 6 UTF-8 bytes
    and some key prefixes g, the whole of g becomes the value of the SHORTEST such key (marks after
    it are dropped); otherwise each code point of g is mapped alone. Checked against
    raw.normalizer.normalize_str on every case (regex's \\X stands in for unicode-segmentation)."""

    def __init__(self, model_file):
        self.rules = dict(spm.SentencePieceNormalizer(model_file=str(model_file)).Decompile())
        self.max_key = max(len(k) for k in self.rules)

    def shortest(self, s):
        for n in range(1, min(len(s), self.max_key) + 1):
            if s[:n] in self.rules:
                return self.rules[s[:n]]
        return None

    def hf(self, text):
        out = []
        for g in regex.findall(r"\X", text):
            if len(g.encode()) < 6:
                t = self.shortest(g)
                if t is not None:
                    out.append(t)
                    continue
            out.extend(self.rules.get(c, c) for c in g)
        return "".join(out)


class ViterbiModel:
    """Unigram Viterbi as both libraries run it: left to right over start positions, pieces by
    length, a candidate replaces the best path ending at its end only when strictly better, a
    character no piece starts with becomes <unk> scored min_score - 10, runs of <unk> fuse.
    sentencepiece sums the scores in float32 over the whole normalized text; tokenizers in float64,
    each pre-tokenized word from 0. Equal real-valued sums then round apart and break ties apart."""

    def __init__(self, sp):
        self.unk = sp.unk_id()
        self.pieces = {sp.id_to_piece(i): (i, sp.get_score(i)) for i in range(sp.get_piece_size())
                       if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i))}
        self.max_len = max(len(p) for p in self.pieces)
        self.unk_score = min(sc for _, sc in self.pieces.values()) - 10.0

    def encode(self, text, f32):
        num = np.float32 if f32 else float
        best = [None] * (len(text) + 1)
        best[0] = (num(0.0), -1, -1)
        for s in range(len(text)):
            single = False
            for n in range(1, min(self.max_len, len(text) - s) + 1):
                hit = self.pieces.get(text[s:s + n])
                if hit is None:
                    continue
                single |= n == 1
                cand = num(hit[1]) + best[s][0]
                if best[s + n] is None or cand > best[s + n][0]:
                    best[s + n] = (cand, s, hit[0])
            if not single:
                cand = num(self.unk_score) + best[s][0]
                if best[s + 1] is None or cand > best[s + 1][0]:
                    best[s + 1] = (cand, s, self.unk)
        ids, e = [], len(text)
        while e > 0:
            ids.append(best[e][2])
            e = best[e][1]
        ids.reverse()
        return [i for k, i in enumerate(ids) if not (i == self.unk and k and ids[k - 1] == self.unk)]


def esc(text):
    """Printable ASCII as is, everything else as \\uXXXX / \\UXXXXXXXX."""
    return "".join(c if " " <= c <= "~" and c != "\\" else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                   else f"\\U{ord(c):08x}" for c in text)


def short(text, n=40):
    return '"' + esc(text if len(text) <= n else text[:n]) + ('"...' if len(text) > n else '"')


def disagreement_reason(text, norm, hf_norm, specials, pm, sp, vm, hf_words, ids_spm, ids_hf):
    found = sorted({t for t in specials if t in text})
    if found:
        return "special token in text, hf splits it out: " + " ".join(found)
    if norm == hf_norm:
        if (vm.encode(norm, True) == ids_spm[:-1]
                and [i for w in hf_words for i in vm.encode(w, False)] == ids_hf[:-1]):
            return "score tie: float32 sums (sentencepiece) and float64 sums (tokenizers) break it apart"
        return "same normalized form, different segmentation"
    why = []
    ws = sorted({c for c in text if c in WHITE_SPACE and c in sp.normalize("a" + c + "b")})
    if ws:
        why.append("hf WhitespaceSplit splits at " + " ".join(esc(c) for c in ws) + " which nmt_nfkc keeps")
    graphemes = [g for g in regex.findall(r"\X", text)
                 if len(g) > 1 and pm.hf(g).strip() != sp.normalize(g).replace("\u2581", " ").strip()]
    if graphemes:
        why.append("hf Precompiled maps grapheme(s) " + " ".join(esc(g) for g in graphemes[:4]) + " differently")
    return "; ".join(why) or "hf Precompiled: a rule spans grapheme clusters, sentencepiece applies it"


def build_cases(name, folder, tok_pre, scripts, parts, tmp, corpus):
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    hf, raw = load_hf_from_json(folder, tmp)
    pm = PrecompiledModel(folder / "spiece.model")
    vm = ViterbiModel(sp)
    emulation_misses = []
    specials = [t.content for t in raw.get_added_tokens_decoder().values() if t.special]
    strings = HARD_CASES + make_generated(scripts, parts, MODELS[name][1], N_GENERATED)
    names = [n for n, _ in strings]
    assert len(set(names)) == len(names)
    r = random.Random(f"{SEED}:padded:{name}")
    rest = [n for n in names if n not in PADDED_ALWAYS]
    padded = set(PADDED_ALWAYS) | set(r.sample(rest, N_PADDED - len(PADDED_ALWAYS)))
    cases, disagree = [], []
    for case_name, text in strings:
        assert "\x00" not in text
        ids_spm = sp.encode(text) + [sp.eos_id()]
        ids_hf = hf(text)["input_ids"]
        if raw.encode(text).ids != ids_hf or tok_pre(text)["input_ids"] != ids_hf:
            sys.exit(f"{name}/{case_name}: tokenizer.json, Tokenizer.from_file and the pre-save tokenizer disagree")
        hf_words = [w for w, _ in raw.pre_tokenizer.pre_tokenize_str(raw.normalizer.normalize_str(text))]
        if pm.hf(text) != raw.normalizer.normalize_str(text):
            emulation_misses.append(case_name + " (normalizer)")
        if not any(t in text for t in specials):
            if vm.encode(sp.normalize(text), True) != ids_spm[:-1]:
                emulation_misses.append(case_name + " (spm viterbi)")
            if [i for w in hf_words for i in vm.encode(w, False)] != ids_hf[:-1]:
                emulation_misses.append(case_name + " (hf viterbi)")
        case = {"name": case_name, "text": text, "cps": [ord(c) for c in text], "norm": sp.normalize(text),
                "spm": ids_spm, "hf": ids_hf}
        if ids_spm != ids_hf:
            case["hf_norm"] = hf_normalized(raw, text)
            case["reason"] = disagreement_reason(text, case["norm"], case["hf_norm"], specials, pm, sp, vm,
                                                 hf_words, ids_spm, ids_hf)
            disagree.append(case)
        if case_name in padded:
            case["padded"] = {}
            for n in PAD_LENGTHS:
                enc = hf(text, max_length=n, padding="max_length", truncation=True)
                case["padded"][str(n)] = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        cases.append(case)
    vocab = raw.get_vocab(with_added_tokens=True)
    layout = {"model": name, "spm_vocab_size": sp.get_piece_size(), "hf_vocab_size": raw.get_vocab_size(),
              "pad_id": sp.pad_id(), "eos_id": sp.eos_id(), "unk_id": sp.unk_id(), "bos_id": sp.bos_id(),
              "extra_id_0": vocab["<extra_id_0>"], "extra_id_99": vocab["<extra_id_99>"],
              "model_max_length": hf.model_max_length, "pad_lengths": list(PAD_LENGTHS),
              "corpus_bytes": corpus[0], "corpus_sha256": corpus[1]}
    assert layout["extra_id_0"] == layout["spm_vocab_size"] + EXTRA_IDS - 1
    assert layout["extra_id_99"] == layout["spm_vocab_size"]
    if emulation_misses:
        print(f"  note: the emulations (PrecompiledModel, ViterbiModel) miss on {emulation_misses}")
    return layout, cases, disagree


def write_cases(path, layout, cases):
    head = dict(layout, versions=versions(), n_cases=len(cases),
                n_disagree=sum("reason" in c for c in cases))
    body = ",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "cases": [\n' + body + "\n]}\n"
    json.loads(text)
    path.write_text(text, encoding="utf-8")


def versions():
    return {p: metadata.version(p) for p in ("sentencepiece", "tokenizers", "transformers", "protobuf")}


def write_readme(out_dir, results, corpus_bytes):
    v = versions()
    lines = ["# T5 tokenizer fixtures (SentencePiece unigram)", "",
             "Made by `tools/reference_tokenizer.py` (read its docstring for the corpus and the case fields):", "",
             "    .venv/bin/python tools/reference_tokenizer.py tests/fixtures/t5tok", "",
             "Versions: " + ", ".join(f"{k} {x}" for k, x in v.items()) + ".", "",
             "Two models trained here on a generated corpus (not committed; `--keep-corpus DIR` writes it):",
             "unigram, `<pad>` 0, `</s>` 1, `<unk>` 2, no bos, nmt_nfkc, byte_fallback off, character_coverage "
             f"{SPM_TRAIN['character_coverage']}. Each folder holds spiece.model, the files of "
             "T5TokenizerFast.save_pretrained (tokenizer.json, tokenizer_config.json), a special_tokens_map.json "
             "written by the tool (transformers 5 writes none) and cases.json.", "",
             "| model | corpus bytes | corpus sha256 | spm vocab | hf vocab | extra ids | cases | spm != hf |",
             "|---|---|---|---|---|---|---|---|"]
    for name, (layout, cases, disagree) in results.items():
        lines.append(f"| {name} | {corpus_bytes[name][0]} | {corpus_bytes[name][1][:16]}... | "
                     f"{layout['spm_vocab_size']} | {layout['hf_vocab_size']} | "
                     f"<extra_id_99> {layout['extra_id_99']} .. <extra_id_0> {layout['extra_id_0']} | "
                     f"{len(cases)} | {len(disagree)} |")
    lines += ["", "cases.json: `text`, `cps` (code points), `norm` (SentencePieceProcessor.normalize), `spm` "
              "(encode + [1]), `hf` (tokenizer(text)[\"input_ids\"] of the fast tokenizer loaded from "
              "tokenizer.json alone); where spm != hf also `hf_norm` (the fast tokenizer's normalizer + "
              "pre-tokenizer output) and `reason`; for 50 cases `padded` {\"16\", \"77\"}: input_ids and "
              "attention_mask with padding=\"max_length\", truncation=True.", "",
              "## Disagreements (spm vs hf)", "",
              "Both read the same precompiled nmt_nfkc charsmap, differently (the tool checks this reading, "
              "PrecompiledModel, against the Precompiled normalizer on every case):",
              "- sentencepiece: at each position the longest rule key that prefixes the rest of the text; "
              "then runs of spaces collapse, the ends are trimmed and U+2581 is prepended;",
              "- tokenizers: per extended grapheme cluster g, if g is under 6 UTF-8 bytes and some key prefixes "
              "g, all of g becomes the value of the SHORTEST such key (later marks are dropped); otherwise "
              "each code point of g maps alone (so no composition in longer clusters, and no rule spans two "
              "clusters). Then WhitespaceSplit splits at every Unicode White_Space character, U+0085 "
              "included, which nmt_nfkc keeps as a character;",
              "- on an exact tie of real-valued path scores (e.g. one long piece among runs of a one-character "
              "piece) sentencepiece, summing float32 scores over the whole text, and tokenizers, summing "
              "float64 per word, round apart and keep different paths (both keep the first strictly best "
              "path, scanning start positions left to right);",
              "- added tokens (`</s>`, `<pad>`, `<unk>`, `<extra_id_N>`) are split out of the raw text by hf, "
              "sentencepiece encodes them as text.", ""]
    for name, (layout, cases, disagree) in results.items():
        lines.append(f"{name}: {len(disagree)} of {len(cases)}")
        for c in disagree:
            lines.append(f"  - {c['name']}: {short(c['text'])} ({c['reason']})")
        lines.append("")
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")


def du(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--keep-corpus", type=Path, help="also write the training text files here")
    args = ap.parse_args()
    transformers.logging.set_verbosity_error()
    out_dir = args.out_dir
    for name in MODELS:
        if (out_dir / name).exists():
            shutil.rmtree(out_dir / name)
    out_dir.mkdir(parents=True, exist_ok=True)
    print("building the corpus ...", flush=True)
    parts, scripts = build_corpus()
    results, corpus_bytes = {}, {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name in MODELS:
            print(f"training {name} ...", flush=True)
            folder, corpus_bytes[name] = train(name, parts, out_dir, args.keep_corpus)
            tok = export_hf(folder)
            layout, cases, disagree = build_cases(name, folder, tok, scripts, parts, tmp, corpus_bytes[name])
            write_cases(folder / "cases.json", layout, cases)
            results[name] = (layout, cases, disagree)
            print(f"  {name}: {len(cases)} cases, spm != hf on {len(disagree)}", flush=True)
            for c in disagree:
                print(f"    {c['name']}: {short(c['text'])} ({c['reason']})")
    write_readme(out_dir, results, corpus_bytes)
    total = du(out_dir)
    print(f"{out_dir}: {total} bytes")
    if total > SIZE_BUDGET_BYTES:
        sys.exit(f"fixtures take {total} bytes, over the budget of {SIZE_BUDGET_BYTES}")


if __name__ == "__main__":
    main()
