#!/bin/sh
# The Python package (python/): `pip install ./python` into a fresh virtualenv in a temporary
# folder, then its pytest suite against the shared library of a build folder. Called by
# `make test`; usage: scripts/test_python.sh [BUILD]   (default build)
#
# The interpreter, numpy and pytest are Debian's (python3, python3-numpy, python3-pytest,
# installed here when missing, as scripts/deps.sh does); the virtualenv sees them through
# --system-site-packages, and pip builds and installs the package without the network
# (--no-index --no-build-isolation: setuptools and wheel are Debian's too). The package finds
# the library through $SMOOTHCACHE_LIBRARY.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build="$root/$build" ;; esac
lib="$build/libsmoothcache.so.0"
[ -f "$lib" ] || { echo "test_python: $lib not found (build first: make)" >&2; exit 1; }

need="python3 python3-venv python3-pip python3-numpy python3-pytest python3-setuptools python3-wheel"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "test_python: installing$missing" >&2
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
            echo "test_python: missing packages:$missing (run as root or install them)" >&2; exit 1; fi
    else SUDO=""; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
unset PYTHONPATH PYTHONHOME
export PYTHONDONTWRITEBYTECODE=1  # leaves no __pycache__ in the source tree
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
py="$tmp/venv/bin/python"
# From a copy, so that the build leaves nothing in the source tree (and finds nothing stale there).
cp -r "$root/python" "$tmp/src"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$py" -m pip install -q --no-index --no-build-isolation "$tmp/src"

# Run from the repository root: python/smoothcache is not on the path there, so the tests import
# the installed package (test_install.py checks that).
cd "$root"
st=0
env -u OMP_NUM_THREADS SMOOTHCACHE_LIBRARY="$lib" SMOOTHCACHE_CLI="$build/smoothcache" \
    SMOOTHCACHE_SOURCE="$root" SMOOTHCACHE_TEST_STRICT=1 \
    "$py" -m pytest -q -p no:cacheprovider -rfEs --junitxml="$tmp/junit.xml" "$root/python/tests" || st=$?
"$py" - "$tmp/junit.xml" "$st" <<'EOF'
import os, sys, xml.etree.ElementTree as ET
import numpy, pytest
try:
    s = ET.parse(sys.argv[1]).getroot()
    s = s if s.tag == "testsuite" else s.find("testsuite")
    n, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
except (OSError, ET.ParseError):
    n = f = e = k = 0
    if sys.argv[2] == "0":
        sys.argv[2] = "1"
print(f"python: pip install ./python in a fresh virtualenv, Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"pytest {pytest.__version__}")
line = f"python: {n - f - e - k} passed, {f + e} failed" + (f", {k} skipped" if k else "")
print(line)
summary = os.environ.get("SC_TEST_SUMMARY")
if summary and sys.argv[2] == "0":
    with open(summary, "a") as out:
        out.write(line + "\n")
sys.exit(int(sys.argv[2]))
EOF
