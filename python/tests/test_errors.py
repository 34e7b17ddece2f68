"""Failures: the library's become SmoothCacheError with its message and status; bad arrays and
arguments are refused in Python before anything reaches C (never a crash)."""
import numpy as np
import pytest

import smoothcache as sc
from conftest import THREADS


def test_missing_model(tmp_path):
    with pytest.raises(sc.SmoothCacheError) as e:
        sc.Model(tmp_path / "nothing-here")
    assert "nothing-here" in e.value.message and e.value.status == sc.Status.IO
    assert e.value.message == sc.last_error() and "[IO]" in str(e.value)


def test_malformed_model(tmp_path):
    (tmp_path / "config.json").write_text('{"_class_name": "DiTTransformer2DModel", "num_layers": ')
    with pytest.raises(sc.SmoothCacheError) as e:
        sc.Model(tmp_path)
    assert e.value.status == sc.Status.FORMAT and "config.json" in e.value.message


@pytest.mark.parametrize("kw,status,words", [
    (dict(cache="fora:n=2,bogus=1"), sc.Status.ARG, "unknown option 'bogus'"),
    (dict(cache="smooth:bogus=1"), sc.Status.ARG, "smooth"),
    (dict(cache="nosuchpolicy"), sc.Status.ARG, "nosuchpolicy"),
    (dict(cache="smooth:schedule=/nonexistent/s.json"), sc.Status.IO, "/nonexistent/s.json"),
    (dict(steps=0), sc.Status.ARG, "steps"),
    (dict(steps=1001), sc.Status.ARG, "steps"),
    (dict(cfg=0.5), sc.Status.ARG, "guidance scale"),
    (dict(classes=[10]), sc.Status.ARG, "class"),
    (dict(classes=[-1]), sc.Status.ARG, "class"),
])
def test_library_refusals(model, kw, status, words):
    kw = {"classes": [0], "steps": 2, **kw}
    with pytest.raises(sc.SmoothCacheError) as e:
        model.generate(threads=THREADS, **kw)
    assert e.value.status == status and words in e.value.message, e.value.message


def test_text_refused_by_a_class_model(model):
    with pytest.raises(sc.SmoothCacheError) as e:
        model.generate(text=np.zeros((1, 4, 8), dtype=np.float32), steps=2, threads=THREADS)
    assert e.value.status in (sc.Status.ARG, sc.Status.UNSUPPORTED)


@pytest.mark.parametrize("bad,exc,words", [
    (np.zeros((2, 3, 32, 32), dtype=np.float64), TypeError, "float32"),
    (np.zeros((2, 3, 32, 32), dtype=np.float16), TypeError, "float32"),
    (np.zeros((2, 3, 32, 32), dtype=np.int32), TypeError, "float32"),
    ([[0.0] * 4], TypeError, "numpy array"),
    (np.zeros((1, 3, 32, 32), dtype=np.float32), ValueError, "shape"),
    (np.zeros((2, 3, 16, 16), dtype=np.float32), ValueError, "shape"),
    (np.zeros((2, 3, 32), dtype=np.float32), ValueError, "shape"),
    (np.zeros((2, 3, 32, 64), dtype=np.float32)[:, :, :, ::2], ValueError, "C-contiguous"),
    (np.asfortranarray(np.zeros((2, 3, 32, 32), dtype=np.float32)), ValueError, "C-contiguous"),
])
def test_bad_latents_refused(model, bad, exc, words):
    with pytest.raises(exc, match=words):
        model.generate([0, 1], steps=2, latents=bad, threads=THREADS)


@pytest.mark.parametrize("bad,exc,words", [
    (np.zeros((2, 3, 32, 32), dtype=np.float64), TypeError, "float32"),
    (np.zeros((2, 3, 32, 32), dtype=np.uint8), TypeError, "float32"),
    ([[0.0] * 4], TypeError, "numpy array"),
    (np.zeros((2, 3, 16, 16), dtype=np.float32), ValueError, "shape"),
    (np.zeros((3, 32, 32), dtype=np.float32), ValueError, "shape"),
    (np.zeros((2, 3, 32, 64), dtype=np.float32)[:, :, :, ::2], ValueError, "C-contiguous"),
])
def test_bad_decode_input_refused(model, bad, exc, words):
    with pytest.raises(exc, match=words):
        model.decode(bad)


@pytest.mark.parametrize("kw,exc,words", [
    (dict(classes=[0.5]), TypeError, "not an integer"),
    (dict(classes=[True]), TypeError, "not an integer"),
    (dict(classes="abc"), TypeError, "not an integer"),
    (dict(classes=5), TypeError, "sequence of integers"),
    (dict(classes=[2**40]), ValueError, "out of range"),
    (dict(classes=np.array([[1]])), TypeError, "1-D integer"),
    (dict(sampler="euler-a"), ValueError, "ddim"),
    (dict(sampler=3), TypeError, "sampler"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=2**64), ValueError, "seed"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(cfg="4"), TypeError, "cfg"),
    (dict(cache=3), TypeError, "cache"),
    (dict(n=0), ValueError, "n: 0"),
    (dict(calibration="smooth"), TypeError, "Calibration"),
    (dict(shape=(1, 2, 3, 4, 5)), ValueError, "dimensions"),
    (dict(scalars={"fps": np.zeros(3, dtype=np.float32)}), ValueError, "shape"),
    (dict(text_mask=np.ones((1, 4), dtype=np.int32)), ValueError, "need text"),
])
def test_bad_arguments_refused(model, kw, exc, words):
    kw = {"classes": [0], "threads": THREADS, **kw}
    with pytest.raises(exc, match=words):
        model.generate(steps=2, **kw)
    with pytest.raises(ValueError, match="threads"):
        model.generate([0], steps=2, threads=-2)


def test_closed_objects_refuse(demo_path):
    m = sc.Model(demo_path)
    m.close()
    m.close()  # twice is fine
    assert m.closed and "closed" in repr(m)
    with pytest.raises(ValueError, match="closed"):
        m.generate([0], steps=1)
    cal = sc.Calibration("smooth")
    cal.close()
    with pytest.raises(ValueError, match="closed"):
        cal.samples


def test_bad_calibration_and_schedule_arguments(model, demo_cache, tmp_path):
    with pytest.raises(sc.SmoothCacheError, match="nosuch") as e:
        sc.Calibration("smooth:nosuch=1")
    assert e.value.status == sc.Status.ARG
    with pytest.raises(ValueError, match="not a policy that calibrates"):
        sc.calibrate(model, "fora")
    with pytest.raises(ValueError, match="samples"):
        sc.calibrate(model, classes=[1, 2], samples=3)
    errors = demo_cache / "smooth-errors.json"
    with pytest.raises(ValueError, match="exactly one"):
        sc.make_schedule(errors, alpha=0.1, target_macs=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        sc.make_schedule(errors)
    with pytest.raises(ValueError, match="needs target_macs"):
        sc.make_schedule(errors, alpha=0.1, solver="dp")
    with pytest.raises(sc.SmoothCacheError) as e:
        sc.make_schedule(tmp_path / "missing.json", alpha=0.1)
    assert e.value.status == sc.Status.IO and "missing.json" in e.value.message
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(sc.SmoothCacheError) as e:
        sc.make_schedule(errors, tmp_path / "s.json", alpha=0.1)
    assert e.value.status == sc.Status.EXISTS and "s.json" in e.value.message
    sc.make_schedule(errors, tmp_path / "s.json", alpha=0.1, force=True)
    with pytest.raises(sc.SmoothCacheError) as e:  # refused before any generation
        sc.calibrate(model, out=tmp_path / "s.json")
    assert e.value.status == sc.Status.EXISTS


def test_errors_are_per_call(model):
    with pytest.raises(sc.SmoothCacheError):
        model.generate([0], steps=0)
    lat, _ = model.generate([0], steps=1, threads=THREADS)  # a failure leaves nothing behind
    assert lat.shape == (1, 3, 32, 32)
