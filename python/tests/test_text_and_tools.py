"""The tokenizer and the T5 encoder against the repository's transformers fixtures, and the
measures and picture writer against values computed here."""
import json
import os

import numpy as np
import pytest

import smoothcache as sc
from conftest import THREADS, need, run_cli


@pytest.fixture(scope="module")
def tok_dir(source):
    return need(source / "tests" / "fixtures" / "t5tok" / "tiny", "the tokenizer fixtures")


@pytest.fixture(scope="module")
def t5_dir(source):
    return need(source / "tests" / "fixtures" / "t5" / "v1_1", "the T5 encoder fixtures")


def test_tokenizer_matches_transformers(tok_dir):
    cases = json.loads((tok_dir / "cases.json").read_text())
    with sc.Tokenizer(tok_dir) as tok:
        assert (tok.info.vocab_size, tok.info.pad_id, tok.info.eos_id) == (cases["hf_vocab_size"], 0, 1)
        assert tok.info.semantics == "transformers" and tok.info.model_max_length == cases["model_max_length"]
        checked = 0
        for c in cases["cases"][:200]:
            ids = tok.encode(c["text"])
            assert ids.dtype == np.int32 and ids.tolist() == c["hf"], c["name"]
            for length, want in c.get("padded", {}).items():
                pids, mask, n = tok.encode(c["text"], max_length=int(length))
                assert pids.tolist() == want["input_ids"] and mask.tolist() == want["attention_mask"], c["name"]
                assert n == sum(want["attention_mask"])
            checked += 1
        assert checked == 200
        assert tok.piece(1) == "</s>" and tok.piece(10**6) is None
        text = "\ufdfa" * 3  # NFKC makes 18 characters of each 3-byte one: more tokens than bytes
        ids = tok.encode(text)
        assert len(ids) > len(text.encode()) + 2
        padded, mask, n = tok.encode(text, max_length=len(ids) + 5)
        assert n == len(ids) and padded[:n].tolist() == ids.tolist() and mask.sum() == n


def test_sentencepiece_semantics(tok_dir):
    cases = json.loads((tok_dir / "cases.json").read_text())
    with sc.Tokenizer(tok_dir / "spiece.model", semantics="sentencepiece") as tok:
        assert tok.info.semantics == "sentencepiece"
        differ = [c for c in cases["cases"] if c["spm"] != c["hf"]]
        assert differ, "the fixtures have cases where the two semantics differ"
        for c in differ + cases["cases"][:50]:
            assert tok.encode(c["text"]).tolist() == c["spm"], c["name"]
    with pytest.raises(ValueError, match="semantics"):
        sc.Tokenizer(tok_dir, semantics="bpe")


def test_text_encoder_matches_transformers(t5_dir):
    cases = json.loads((t5_dir / "cases.json").read_text())
    with sc.TextEncoder(t5_dir) as enc:
        assert enc.info.family == "t5" and enc.info.width == cases["d_model"] and enc.info.vocab_size == 96
        for c in cases["cases"]:
            ids, mask, ref = (np.load(t5_dir / c[k]) for k in ("ids", "mask", "out"))
            ids, mask = ids.astype(np.int32), mask.astype(np.int32)
            out = enc.encode(ids, mask if c["attention_mask_passed"] else None, threads=THREADS)
            assert out.shape == ref.shape and out.dtype == np.float32
            err = np.linalg.norm(out.astype(np.float64) - ref) / np.linalg.norm(ref)
            assert err <= 1e-4, (c["id"], err)
        with pytest.raises(TypeError, match="int32"):
            enc.encode(np.zeros((1, 4), dtype=np.int64))
        with pytest.raises(ValueError, match="shape"):
            enc.encode(np.zeros((1, 4), dtype=np.int32), np.ones((1, 5), dtype=np.int32))
        with pytest.raises(sc.SmoothCacheError) as e:
            enc.encode(np.full((1, 4), 96, dtype=np.int32))  # outside the vocabulary
        assert e.value.status == sc.Status.ARG


def test_measures():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    b = a.copy()
    assert sc.psnr(a, b) == float("inf")
    b[0, 0, 0, 0] ^= 0x10
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    assert sc.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-12)
    assert sc.ssim(a[0], a[0]) == pytest.approx(1.0) and 0 < sc.ssim(a[0], a[1]) < 0.5
    assert sc.ssim(a, b) == pytest.approx((sc.ssim(a[0], b[0]) + sc.ssim(a[1], b[1])) / 2)
    x = rng.standard_normal(100).astype(np.float32)
    y = x + np.float32(0.01) * rng.standard_normal(100).astype(np.float32)
    want = np.linalg.norm(x.astype(np.float64) - y) / np.linalg.norm(y.astype(np.float64))
    assert sc.rel_l2(x, y) == pytest.approx(want, rel=1e-5)
    with pytest.raises(TypeError, match="uint8"):
        sc.psnr(a.astype(np.int16), b)
    with pytest.raises(ValueError, match="shape"):
        sc.psnr(a, b[:1])
    with pytest.raises(ValueError, match="shape"):
        sc.demo_classify(a[0])


def test_write_images(model, tmp_path):
    lat, _ = model.generate([1, 2], steps=3, threads=THREADS)
    rgb = model.decode(lat)
    sc.write_images(tmp_path / "g.png", rgb, comment="hello")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sc.write_images(tmp_path / "g.npz", rgb)
    assert np.array_equal(np.load(tmp_path / "g.npz")["arr_0"], rgb)
    with pytest.raises(sc.SmoothCacheError) as e:
        sc.write_images(tmp_path / "g.npz", rgb)
    assert e.value.status == sc.Status.EXISTS
    with pytest.raises(ValueError, match="side"):
        sc.write_images(tmp_path / "h.png", np.zeros((1, 4, 5, 3), dtype=np.uint8))


def test_describe_file(demo_cache, tmp_path):
    assert sc.describe_file(demo_cache / "smooth-a0.08.json") == "a SmoothCache schedule"
    assert sc.describe_file(demo_cache / "smooth-errors.json") == "a SmoothCache calibration file (error curves)"
    assert sc.describe_file(demo_cache.parent / "samples.png") == "a PNG image"
    assert sc.describe_file(tmp_path / "nothing") == "missing"
    assert sc.describe_file(tmp_path) == "a folder"


def test_convert_to_bf16_and_merge_shards(tmp_path, cli):
    src = os.path.join(sc.demo_model_path(), "diffusion_pytorch_model.safetensors")
    assert sc.convert(src, tmp_path / "bf16.safetensors", dtype="bf16") == 120
    assert os.path.getsize(tmp_path / "bf16.safetensors") < os.path.getsize(src) * 1.01
    with pytest.raises(sc.SmoothCacheError, match="int8"):
        sc.convert(src, tmp_path / "i8.safetensors", dtype="int8")
    for i in range(2):
        run_cli(cli, "sample", "--num", "5", "--batch", "2", "--steps", "2", "--threads", "1", "--quiet",
                "--out", str(tmp_path / "s.npz"), "--shard", f"{i}/2")
    shards = [tmp_path / f"s.shard-0000{i}-of-00002.npz" for i in range(2)]
    assert sc.merge_shards(tmp_path / "m.npz", shards) == 5
    assert np.load(tmp_path / "m.npz")["arr_0"].shape == (5, 32, 32, 3)
    with pytest.raises(sc.SmoothCacheError, match="in no shard given"):
        sc.merge_shards(tmp_path / "m2.npz", shards[:1])
    assert len(sc.Model().fingerprint()) == 16


@pytest.fixture(scope="module")
def pixart_dir(source):
    return need(source / "tests" / "fixtures" / "pixart" / "pipe_alpha", "the PixArt pipeline fixtures")


def test_pixart_from_prompts_matches_diffusers(pixart_dir):
    """Prompts to final latents through the library, against diffusers' PixArtAlphaPipeline
    (tools/reference_pixart_pipeline.py): the pipeline folder's tokenizer, T5 and scheduler."""
    ref = pixart_dir / "ref"
    prompts = (ref / "prompts.txt").read_text().splitlines()
    with sc.Model(pixart_dir) as m:
        assert m.info.takes_text and m.info.text_len == 120 and m.info.default_steps == 20
        assert sc.sampler_names()[m.info.default_sampler] == "dpmpp2m" and m.info.default_cfg == 4.5
        lat, st = m.generate(prompts=prompts, latents=np.load(ref / "latents_in.npy"), steps=4, threads=THREADS)
        want = np.load(ref / "latents_out.npy")
        assert np.abs(lat - want).max() <= 1e-4 * np.abs(want).max()
        assert st.components == ("attn", "cross", "mlp")
        e, k = m.encode_prompts(prompts + [""], threads=THREADS)
        assert np.abs(e[:2] - np.load(ref / "prompt_embeds.npy")).max() <= 1e-5 * np.abs(e).max()
        assert (k[2] == np.load(ref / "negative_mask.npy")[0]).all()
        with pytest.raises(sc.SmoothCacheError, match="takes text embeddings, not class ids"):
            m.generate([1, 2], steps=2, n=2, text=e[:2], text_mask=k[:2], neg_text=e[:2], neg_text_mask=k[:2],
                       threads=THREADS)
