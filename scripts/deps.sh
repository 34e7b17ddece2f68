#!/bin/sh
# Installs the Debian packages a step needs, only those missing, and says which.
#   scripts/deps.sh build   what `make` and `make install` need to build the CLI and the library
#   scripts/deps.sh test    that, plus what `make test` needs: the sanitizer and fuzzer toolchain
#                           (clang-14, its runtime), pngcheck and unzip (outside checks of the PNG
#                           and .npz files written); the install test (scripts/test_install.sh)
#                           needs nothing beyond the build set (cc, pkg-config, cmake); OpenMPI
#                           for the mpirun test of sharded sampling
# libmp3lame-dev: sndfile.pc names -lmp3lame among its static libraries, and Debian 12's
# libsndfile1-dev does not depend on it (pkg-config --static --libs smoothcache would fail).
# The README ("Building") lists both sets; keep them equal. As root it runs apt-get, otherwise
# sudo apt-get when sudo exists; without either it stops, naming the missing packages.
set -eu
build="cmake make gcc pkg-config libdnnl-dev libjansson-dev libpng-dev libutf8proc-dev libsndfile1-dev libmp3lame-dev"
test="clang-14 libclang-rt-14-dev pngcheck unzip libopenmpi-dev openmpi-bin"
case ${1:-build} in
build) need=$build ;;
test) need="$build $test" ;;
*) echo "usage: scripts/deps.sh build|test" >&2; exit 2 ;;
esac
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "deps: missing Debian packages:$missing (not root and no sudo: install them, then run make again)" >&2
    exit 1
fi
echo "deps: installing Debian packages:$missing${SUDO:+ (with sudo)}" >&2
$SUDO apt-get update -qq >/dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
echo "deps: installed$missing" >&2
