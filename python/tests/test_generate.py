"""Generation and decoding through the bindings, compared bit for bit with the command-line
program on the same model, seeds and options."""
import json

import numpy as np
import pytest

import smoothcache as sc
from conftest import THREADS, key, run_cli, same_bits

CLASSES = [0, 3, 7]
STEPS = 12


def test_model_info(model):
    i = model.info
    assert (i.family, i.layout, i.num_classes) == ("dit", "diffusers", 10)
    assert i.latent_shape == (3, 32, 32) and model.latent_shape == i.latent_shape
    assert i.depth == 6 and i.components == ("attn", "mlp")
    assert set(i.macs_component) == set(i.components) and all(v > 0 for v in i.macs_component.values())
    assert i.as_dict()["params"] == i.params > 0
    assert "Model(" in repr(model)


def test_default_model_is_the_demo(model):
    with sc.Model() as m:
        assert m.info == model.info


def test_uncached_matches_the_cli(model, cli, demo_path, tmp_path):
    lat, st = model.generate(CLASSES, seed=5, steps=STEPS, cfg=4.0, threads=THREADS)
    assert lat.shape == (3, 3, 32, 32) and lat.dtype == np.float32 and lat.flags.c_contiguous
    run_cli(cli, "generate", "--model", demo_path, "--class", "0,3,7", "--seed", 5, "--steps", STEPS, "--threads",
            THREADS, "--latents-out", tmp_path / "z.npy", "--quiet")
    same_bits(lat, np.load(tmp_path / "z.npy"))
    assert st.skipped == {"attn": 0, "mlp": 0}
    assert st.computed == {"attn": 6 * STEPS, "mlp": 6 * STEPS}
    assert st.macs == st.macs_uncached > 0 and st.mac_ratio == 1.0 and st.seconds > 0


def test_cached_matches_the_cli_and_its_report(model, cli, demo_path, demo_cache, tmp_path):
    spec = f"smooth:schedule={demo_cache / 'smooth-a0.08.json'}"
    lat, st = model.generate(CLASSES, seed=1, steps=50, cache=spec, threads=THREADS)
    run_cli(cli, "generate", "--model", demo_path, "--class", "0,3,7", "--seed", 1, "--steps", 50, "--threads",
            THREADS, "--cache", spec, "--latents-out", tmp_path / "z.npy", "--report", tmp_path / "r.json", "--quiet")
    same_bits(lat, np.load(tmp_path / "z.npy"))
    r = sc.read_report(tmp_path / "r.json")
    run = r.run(spec)
    assert run.computed == st.computed and run.skipped == st.skipped
    assert run.macs == pytest.approx(st.macs, rel=1e-7) and run.mac_ratio == pytest.approx(st.mac_ratio, rel=1e-7)
    assert 0.5 < st.mac_ratio < 0.7 and st.skipped["attn"] > 0
    sched = sc.read_schedule(demo_cache / "smooth-a0.08.json")
    assert st.computed["attn"] == 6 * int(sched.entries[key(sched.entries, "attn")].sum())
    # and it is not the uncached result
    ref, _ = model.generate(CLASSES, seed=1, steps=50, threads=THREADS)
    assert 0 < sc.rel_l2(lat, ref) < 0.2


def test_other_policies_and_samplers_match_the_cli(model, cli, demo_path, tmp_path):
    for k, (sampler, cache) in enumerate([("dpmpp2m", "fora:n=2"), ("k-euler", None)]):
        lat, _ = model.generate([2, 9], seed=11, steps=8, cfg=2.5, sampler=sampler, cache=cache, threads=THREADS)
        args = ["--cache", cache] if cache else []
        run_cli(cli, "generate", "--model", demo_path, "--class", "2,9", "--seed", 11, "--steps", 8, "--cfg", 2.5,
                "--sampler", sampler, "--threads", THREADS, *args, "--latents-out", tmp_path / f"z{k}.npy", "--quiet")
        same_bits(lat, np.load(tmp_path / f"z{k}.npy"))


def test_latents_in_matches_the_cli(model, cli, demo_path, tmp_path):
    x0 = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x0.npy", x0)
    lat, _ = model.generate([1, 4], steps=6, latents=x0, threads=THREADS)
    run_cli(cli, "generate", "--model", demo_path, "--class", "1,4", "--steps", 6, "--threads", THREADS,
            "--latents-in", tmp_path / "x0.npy", "--latents-out", tmp_path / "z.npy", "--quiet")
    same_bits(lat, np.load(tmp_path / "z.npy"))
    seeded, _ = model.generate([1, 4], steps=6, threads=THREADS)
    assert not np.array_equal(lat, seeded)


def test_without_classes_one_per_class_as_the_cli(model, cli, demo_path, tmp_path):
    lat, _ = model.generate(steps=3, threads=THREADS)
    run_cli(cli, "generate", "--model", demo_path, "--steps", 3, "--threads", THREADS, "--latents-out",
            tmp_path / "z.npy", "--quiet")
    same_bits(lat, np.load(tmp_path / "z.npy"))
    assert lat.shape[0] == 10


def test_decode_matches_the_cli(model, cli, demo_path, tmp_path):
    lat, _ = model.generate(CLASSES, seed=2, steps=STEPS, threads=THREADS)
    rgb = model.decode(lat)
    assert rgb.shape == (3, 32, 32, 3) and rgb.dtype == np.uint8
    run_cli(cli, "generate", "--model", demo_path, "--class", "0,3,7", "--seed", 2, "--steps", STEPS, "--threads",
            THREADS, "--out", tmp_path / "x.npz", "--quiet")
    same_bits(rgb, np.load(tmp_path / "x.npz")["arr_0"])
    # diffusers' mapping of the model's own output, computed here
    want = np.round(255 * np.clip(lat / 2 + 0.5, 0, 1)).astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.abs(rgb.astype(int) - want).max() <= 1


def test_demo_draws_its_classes(model):
    lat, _ = model.generate(list(range(10)), seed=0, steps=10, threads=THREADS)
    seen = [sc.demo_classify(np.ascontiguousarray(im)) for im in model.decode(lat)]
    assert sum(s == c for s, c in enumerate(seen)) >= 9, seen


def test_progress_is_called_each_step(model):
    calls = []
    lat, _ = model.generate([5], steps=4, threads=THREADS,
                            progress=lambda step, steps, secs, x: calls.append((step, steps, secs, x)))
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(c[3].shape == (1, 3, 32, 32) and c[3].dtype == np.float32 for c in calls)
    same_bits(calls[-1][3], lat)
    assert calls[0][2] <= calls[-1][2]


def test_progress_cancels(model):
    with pytest.raises(sc.GenerationCancelled, match="cancelled at step 2/5") as e:
        model.generate([5], steps=5, threads=THREADS, progress=lambda step, *a: step == 2)
    assert e.value.status == sc.Status.ARG


def test_progress_exception_is_raised_again(model):
    def boom(step, *a):
        raise KeyError("from the callback")
    with pytest.raises(KeyError, match="from the callback"):
        model.generate([5], steps=5, threads=THREADS, progress=boom)
    lat, _ = model.generate([5], steps=2, threads=THREADS)  # the model is still usable
    assert np.isfinite(lat).all()


def test_forward_matches_a_generation_step(model):
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    out = model.forward(x, [999.0, 500.0], [3, 10])
    assert out.shape == (2, 3, 32, 32) and np.isfinite(out).all()
    again = model.forward(x[:1].copy(), np.array([999.0], dtype=np.float32), [3])
    np.testing.assert_allclose(again[0], out[0], rtol=0, atol=1e-5)


def test_timesteps(model):
    t = model.timesteps("ddim", 10)
    assert t.tolist() == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]


def test_policies_listed(cli):
    ps = sc.policies()
    names = [p.name for p in ps]
    assert {"none", "fora", "smooth", "teacache", "magcache"} <= set(names)
    smooth = ps[names.index("smooth")]
    assert smooth.calibration and smooth.calibration_samples == 10 and "schedule" in smooth.options
    assert ps[names.index("fora")].calibration is None
    out = run_cli(cli, "policies").stdout + run_cli(cli, "policies").stderr
    assert all(n in out for n in names)


def test_draw_classes_and_samplers():
    a = sc.draw_classes(7, 1000, 16)
    assert a.dtype == np.int32 and a.shape == (16,) and a.min() >= 0 and a.max() < 1000
    assert np.array_equal(a, sc.draw_classes(7, 1000, 16)) and not np.array_equal(a, sc.draw_classes(8, 1000, 16))
    assert sc.sampler_names() == ["ddim", "iddpm", "dpmpp2m", "k-euler", "k-dpmpp2m", "flow-euler", "k-dpmpp3m-sde",
                                 "cosine-dpmpp2m-sde"]


def test_report_reading(cli, demo_path, tmp_path):
    run_cli(cli, "bench", "--model", demo_path, "--class", "1,2", "--steps", 10, "--threads", THREADS, "--cache",
            "fora:n={2,3}", "--json", tmp_path / "b.json")
    r = sc.read_report(tmp_path / "b.json")
    assert r.policies == ["none", "fora:n=2", "fora:n=3"] and r.steps == 10 and r.classes == [1, 2]
    assert r.run("fora:n=3").mac_ratio < r.run("fora:n=2").mac_ratio
    assert r["runs"] is r.runs and r.run("fora:n=2").mac_ratio < 1
    assert r.run("none").mac_ratio == 1.0 and r.run("none").psnr is None  # identical pictures: null
    assert json.loads((tmp_path / "b.json").read_text()) == r
    with pytest.raises(KeyError, match="no run of policy"):
        r.run("teacache")
    (tmp_path / "bad.json").write_text('{"model": "x"}')
    with pytest.raises(ValueError, match="not a smoothcache report"):
        sc.read_report(tmp_path / "bad.json")


@pytest.mark.parametrize("dtype", ["f32", "bf16", "int8"])
def test_model_dtype_sets_the_compute_precision(dtype):
    if not sc.dtype_supported(dtype):
        with pytest.raises(sc.SmoothCacheError, match=dtype):
            sc.Model(dtype=dtype)
        return
    m = sc.Model(dtype=dtype)
    assert m.info.compute_dtype == dtype
    assert m.info.weight_bytes > 0
    out, _ = m.generate(classes=[1], steps=4)
    assert np.isfinite(out).all()
    m.close()


def test_model_dtype_rejects_unknown_names():
    with pytest.raises(ValueError, match="dtype"):
        sc.Model(dtype="fp8")
