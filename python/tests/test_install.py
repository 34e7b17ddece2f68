"""The installed package and how it finds the library and the demo model: $SMOOTHCACHE_LIBRARY, a
copy bundled in the package, the system loader, pkg-config's libdir; each in a fresh interpreter
with a copy of the package."""
import ctypes.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import smoothcache as sc
from conftest import SOURCE, STRICT

LIB = Path(sc.library_path)


def test_the_installed_package_is_tested():
    where = Path(sc.__file__).resolve()
    if STRICT:  # scripts/test_python.sh: pip installed it into a fresh virtualenv
        assert SOURCE.resolve() / "python" not in where.parents, f"imported from the source tree: {where}"
        assert Path(sys.prefix) in where.parents
    assert LIB.is_file() and LIB.name.startswith("libsmoothcache.so.0")
    if os.environ.get("SMOOTHCACHE_LIBRARY"):
        assert LIB == Path(os.environ["SMOOTHCACHE_LIBRARY"]).resolve()


@pytest.fixture
def pkg_copy(tmp_path):
    """A copy of the imported package, without any bundled library."""
    dst = tmp_path / "site" / "smoothcache"
    shutil.copytree(Path(sc.__file__).parent, dst, ignore=shutil.ignore_patterns("_lib", "__pycache__"))
    return dst


def run_py(code, site, cwd, **env):
    e = {k: v for k, v in os.environ.items()
         if k not in ("SMOOTHCACHE_LIBRARY", "SMOOTHCACHE_MODEL", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH")}
    e.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=e,
                          cwd=cwd, timeout=60)


def system_has_it(site, cwd):
    """Whether the system loader alone finds a libsmoothcache.so.0 (an installed one)."""
    r = run_py("import ctypes, ctypes.util\n"
               "try:\n    ctypes.CDLL('libsmoothcache.so.0'); print('yes')\n"
               "except OSError:\n    print('yes' if ctypes.util.find_library('smoothcache') else 'no')", site, cwd)
    return r.stdout.strip() == "yes"


def test_named_library_that_is_missing(pkg_copy, tmp_path):
    r = run_py("import smoothcache", pkg_copy.parent, tmp_path, SMOOTHCACHE_LIBRARY=str(tmp_path / "nope.so"))
    assert r.returncode != 0 and "ImportError" in r.stderr
    assert "$SMOOTHCACHE_LIBRARY" in r.stderr and "nope.so" in r.stderr and "no such file" in r.stderr


def test_named_library_that_is_not_ours(pkg_copy, tmp_path):
    libm = ctypes.util.find_library("m")
    r = run_py("import smoothcache", pkg_copy.parent, tmp_path, SMOOTHCACHE_LIBRARY=libm or "libm.so.6")
    assert r.returncode != 0 and "lacks sc_last_error" in r.stderr


def test_bundled_copy(pkg_copy, tmp_path):
    (pkg_copy / "_lib").mkdir()
    shutil.copy(LIB, pkg_copy / "_lib" / "libsmoothcache.so.0")
    r = run_py("import smoothcache; print(smoothcache.library_path)", pkg_copy.parent, tmp_path)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == (pkg_copy / "_lib" / "libsmoothcache.so.0").resolve()


def test_system_loader(pkg_copy, tmp_path):
    r = run_py("import smoothcache; print(smoothcache.library_path)", pkg_copy.parent, tmp_path,
               LD_LIBRARY_PATH=str(LIB.parent))
    assert r.returncode == 0, r.stderr
    if not system_has_it(pkg_copy.parent, tmp_path):
        assert Path(r.stdout.strip()).resolve() == LIB.resolve()


def test_pkg_config_and_the_installed_demo_model(pkg_copy, tmp_path):
    """An installed layout: PREFIX/lib/libsmoothcache.so.0, PREFIX/lib/pkgconfig/smoothcache.pc,
    PREFIX/share/smoothcache/models/demo."""
    if not shutil.which("pkg-config"):
        if STRICT:
            pytest.fail("pkg-config is not installed")
        pytest.skip("no pkg-config")
    demo = SOURCE / "models" / "demo"
    if not demo.is_dir():
        pytest.skip("no demo model in the source tree")
    prefix = tmp_path / "prefix"
    (prefix / "lib" / "pkgconfig").mkdir(parents=True)
    shutil.copy(LIB, prefix / "lib" / "libsmoothcache.so.0")
    (prefix / "lib" / "pkgconfig" / "smoothcache.pc").write_text(
        f"prefix={prefix}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
        f"Name: smoothcache\nDescription: test\nVersion: {sc.__version__}\nLibs: -L${{libdir}} -lsmoothcache\n")
    (prefix / "share" / "smoothcache" / "models").mkdir(parents=True)
    shutil.copytree(demo, prefix / "share" / "smoothcache" / "models" / "demo")
    code = """
        import smoothcache as sc
        print(sc.library_path)
        print(sc.demo_model_path())
        with sc.Model() as m:
            print(m.info.num_classes, m.path)
    """
    r = run_py(code, pkg_copy.parent, tmp_path, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    if system_has_it(pkg_copy.parent, tmp_path):
        pytest.skip("a libsmoothcache.so.0 is installed on this system: the system loader finds it first")
    assert r.returncode == 0, r.stderr
    lib_path, model_path, info = r.stdout.splitlines()
    assert Path(lib_path) == (prefix / "lib" / "libsmoothcache.so.0").resolve()
    # named from the working folder when inside it, as the command line does
    assert model_path == "prefix/share/smoothcache/models/demo" and info == f"10 {model_path}"


def test_nothing_found(pkg_copy, tmp_path):
    if system_has_it(pkg_copy.parent, tmp_path):
        pytest.skip("a libsmoothcache.so.0 is installed on this system")
    r = run_py("import smoothcache", pkg_copy.parent, tmp_path, PKG_CONFIG_PATH=str(tmp_path))
    assert r.returncode != 0 and "libsmoothcache.so.0 was not found" in r.stderr
    for how in ("bundled in the package", "the system loader", "SMOOTHCACHE_LIBRARY"):
        assert how in r.stderr


def test_model_from_the_environment(pkg_copy, tmp_path, demo_path):
    code = "import smoothcache as sc\nprint(sc.demo_model_path())\nprint(sc.Model().info.depth)"
    r = run_py(code, pkg_copy.parent, tmp_path, SMOOTHCACHE_LIBRARY=str(LIB), SMOOTHCACHE_MODEL=demo_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [demo_path, "6"]
    r = run_py("import smoothcache as sc\nsc.Model()", pkg_copy.parent, tmp_path, SMOOTHCACHE_LIBRARY=str(LIB),
               SMOOTHCACHE_MODEL=str(tmp_path / "gone"))
    assert r.returncode != 0 and "SmoothCacheError" in r.stderr and "gone" in r.stderr
