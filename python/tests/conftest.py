"""Shared fixtures. The suite runs against the installed package and the library it finds
($SMOOTHCACHE_LIBRARY in CI); what it compares with comes from the source tree (found from this
file, or $SMOOTHCACHE_SOURCE): the command-line program build/smoothcache ($SMOOTHCACHE_CLI), the
demo model and the headers. Comparisons that need one of them skip when it is absent, unless
$SMOOTHCACHE_TEST_STRICT=1 (scripts/test_python.sh sets it), where they fail."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import smoothcache as sc

SOURCE = Path(os.environ.get("SMOOTHCACHE_SOURCE") or Path(__file__).resolve().parents[2])
STRICT = os.environ.get("SMOOTHCACHE_TEST_STRICT") == "1"
# Both sides of every comparison run on one thread (the same seed, options and thread count give
# bit-identical latents; docs/RELIABILITY.md), which also keeps the suite fast on a busy machine.
THREADS = 1


# DiT's components and diffusers' module names for them: smoothcache reads both spellings in
# schedule and calibration files, and may write either for a diffusers-layout model (the demo).
ALIASES = {"attn": "attn1", "mlp": "ff"}


def key(d, comp: str, suffix: str = "") -> str:
    """The key naming component `comp` (+ suffix such as "-3") in a file's dict, in either spelling."""
    for name in (comp, ALIASES.get(comp)):
        if name and name + suffix in d:
            return name + suffix
    raise AssertionError(f"neither {comp}{suffix} nor {ALIASES.get(comp)}{suffix} in {sorted(d)}")


def need(path: Path, what: str) -> Path:
    if not path.exists():
        if STRICT:
            pytest.fail(f"{what} not found at {path}")
        pytest.skip(f"{what} not found at {path}")
    return path


@pytest.fixture(scope="session")
def source() -> Path:
    return need(SOURCE / "include" / "smoothcache.h", "the source tree (include/smoothcache.h)").parents[1]


@pytest.fixture(scope="session")
def cli() -> Path:
    return need(Path(os.environ.get("SMOOTHCACHE_CLI") or SOURCE / "build" / "smoothcache"),
                "the command-line program")


@pytest.fixture(scope="session")
def demo_path() -> str:
    p = sc.demo_model_path()
    if p is None:
        need(SOURCE / "models" / "demo", "the demo model")
        p = str(SOURCE / "models" / "demo")
    return str(Path(p).resolve())


@pytest.fixture(scope="session")
def model(demo_path):
    m = sc.Model(demo_path)
    yield m
    m.close()


@pytest.fixture(scope="session")
def demo_cache(source) -> Path:
    return need(source / "models" / "demo" / "cache", "the demo model's cache folder")


def run_cli(cli, *args, cwd=None):
    r = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert r.returncode == 0, f"{cli} {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}"
    return r


@pytest.fixture(scope="session")
def cc():
    exe = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not exe:
        if STRICT:
            pytest.fail("no C compiler (cc, gcc, clang) for the layout check")
        pytest.skip("no C compiler")
    return exe


def same_bits(a: np.ndarray, b: np.ndarray):
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    assert a.tobytes() == b.tobytes(), f"differ: max |a - b| = {np.max(np.abs(a.astype(np.float64) - b))}"
