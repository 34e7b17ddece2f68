"""Calibration and schedules through the bindings: the files equal the command-line program's,
byte for byte, and what they hold comes back as numpy."""
import json

import numpy as np
import pytest

import smoothcache as sc
from conftest import THREADS, key, run_cli

STEPS = 10


def deep_equal(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def errors(model, cli, demo_path, tmp_path_factory):
    """One smooth calibration made both ways (3 samples, batch 2, 10 steps); (ours, the CLI's, Calibration)."""
    d = tmp_path_factory.mktemp("cal")
    cal = sc.calibrate(model, "smooth", samples=3, batch=2, steps=STEPS, seed=4, threads=THREADS, out=d / "py.json",
                       plot=d / "py.png")
    run_cli(cli, "calibrate", "--model", demo_path, "--samples", 3, "--batch", 2, "--steps", STEPS, "--seed", 4,
            "--threads", THREADS, "--out", d / "cli.json", "--plot", d / "cli.png", "--quiet")
    yield d / "py.json", d / "cli.json", cal
    cal.close()


def test_smooth_calibration_equals_the_cli(errors):
    py, cli, cal = errors
    assert py.read_bytes() == cli.read_bytes()
    assert py.with_suffix(".png").read_bytes() == cli.with_suffix(".png").read_bytes()
    assert cal.samples == 3 and cal.path == str(py)


def test_calibration_data_as_numpy(errors, model):
    py, _, cal = errors
    d = cal.data()
    assert deep_equal(d, sc.read_json_arrays(py))
    meta = d["_meta"]
    assert meta["samples"] == 3 and meta["classes"] == [0, 3, 6] and meta["k"] == 3 and meta["steps"] == STEPS
    raw = json.loads(py.read_text())
    curves, blocks = cal.curves(), cal.curves(per_block=True)
    assert deep_equal(curves, sc.read_curves(py)) and deep_equal(blocks, sc.read_curves(py, per_block=True))
    assert len(curves) == len(model.info.components)
    for comp in model.info.components:
        k = key(raw, comp)
        c = curves[k]
        assert c.dtype == np.float64 and c.shape == (3, STEPS - 1)  # lags 1..k, evaluation pairs
        assert blocks[k].shape == (6, 3, STEPS - 1)
        for j in range(3):  # lag j + 1 has STEPS - 1 - j pairs
            np.testing.assert_array_equal(c[j, :STEPS - 1 - j], raw[k][j])
            assert np.isnan(c[j, STEPS - 1 - j:]).all()
            np.testing.assert_array_equal(blocks[k][4, j, :STEPS - 1 - j], raw["per_block"][key(raw["per_block"], comp, "-4")][j])
        assert (c[~np.isnan(c)] >= 0).all()
        assert isinstance(d[k], list) and np.array_equal(d[k][0], raw[k][0])
    fig = cal.figure()
    assert fig.series and all(len(s.x) == len(s.y) for s in fig.series) and fig.title


def test_calibration_observes_generations(model):
    with sc.Calibration("smooth:k=2") as cal:
        assert cal.samples == 0
        model.generate([1], steps=6, threads=THREADS, calibration=cal)
        assert cal.samples == 1
        curves = cal.curves()
        assert curves[key(curves, "attn")].shape == (2, 5)


def test_other_calibrations_equal_the_cli(model, cli, demo_path, tmp_path):
    sc.calibrate(model, "magcache", steps=STEPS, threads=THREADS, out=tmp_path / "py.json").close()
    run_cli(cli, "calibrate", "--for", "magcache", "--model", demo_path, "--steps", STEPS, "--threads", THREADS,
            "--out", tmp_path / "cli.json", "--quiet")
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    ratios = sc.read_json_arrays(tmp_path / "py.json")["ratios"]
    assert ratios.shape == (STEPS,) and np.isfinite(ratios).all()
    with pytest.raises(ValueError, match="not SmoothCache error curves"):
        sc.read_curves(tmp_path / "py.json")


@pytest.mark.parametrize("opts,args", [
    (dict(alpha=0.1), ["--alpha", "0.1"]),
    (dict(alpha=0.05, per_block=True), ["--alpha", "0.05", "--per-block"]),
    (dict(target_macs=0.7), ["--target-macs", "0.7"]),
    (dict(target_macs=0.7, solver="dp"), ["--target-macs", "0.7", "--solver", "dp"]),
])
def test_schedule_equals_the_cli(errors, cli, tmp_path, opts, args):
    py_errors, _, _ = errors
    s = sc.make_schedule(py_errors, tmp_path / "py.json", **opts)
    run_cli(cli, "schedule", "--errors", py_errors, *args, "--out", tmp_path / "cli.json", "--quiet")
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    assert s.path == str(tmp_path / "py.json") and s.steps == STEPS and s.depth == 6
    names = [key(s.entries, c, "-0" if opts.get("per_block") else "").split("-")[0] for c in ("attn", "mlp")]
    keys = {f"{c}-{b}" for c in names for b in range(6)} if opts.get("per_block") else set(names)
    assert set(s.entries) == keys
    for v in s.entries.values():
        assert v.dtype == np.uint8 and v.shape == (STEPS,) and v[0] == 1 and v[-1] == 1
    per_block = 1 if opts.get("per_block") else 6
    assert set(s.computes) in ({"attn", "mlp"}, set(names))
    assert sorted(s.computes.values()) == sorted(
        per_block * sum(int(v.sum()) for k, v in s.entries.items() if k.split("-")[0] == c) for c in names)
    assert 0 < s.mac_ratio <= 1
    if "target_macs" in opts:
        assert s.mac_ratio <= opts["target_macs"] + 1e-9
    again = sc.make_schedule(py_errors, **opts)  # without a file
    assert again.path is None and all(np.array_equal(again.entries[k], v) for k, v in s.entries.items())


def test_shipped_schedule_is_remade(demo_cache, tmp_path):
    """models/demo/cache/smooth-a0.08.json is what make_schedule makes from the shipped curves."""
    s = sc.make_schedule(demo_cache / "smooth-errors.json", tmp_path / "s.json", alpha=0.08)
    shipped = sc.read_schedule(demo_cache / "smooth-a0.08.json")
    for comp in ("attn", "mlp"):
        assert np.array_equal(s.entries[key(s.entries, comp)], shipped.entries[key(shipped.entries, comp)])
    assert s.alpha == shipped.meta["alpha"] == 0.08 and s.steps == 50
    assert s.mac_ratio == pytest.approx(shipped.meta["mac_ratio"], rel=1e-9)
