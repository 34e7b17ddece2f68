#!/bin/sh
# The install, used from outside the source tree as a C program would use it:
#   1. `make install` into a temporary prefix (its own portable build, in the same temporary
#      folder): every file in its place, the shared library versioned and exporting sc_* only,
#      the demo model complete;
#   2. the usage example of the installed include/smoothcache.h, cut out of the header as it
#      stands, built with `cc $(pkg-config --cflags --libs smoothcache)` (shared), with
#      `pkg-config --cflags --libs smoothcache-static` and with the archive plus
#      `pkg-config --static --libs smoothcache` (static), and through a CMake project's
#      find_package(smoothcache) (smoothcache::smoothcache and smoothcache::static); each run on the
#      installed demo model writes latents equal, byte for byte, to the installed CLI's;
#   3. the installed CLI, run from another folder with no --model, finds the installed demo model;
#   4. the portable build writes the same bytes as the native build BUILD (when built) for the
#      same generation on this CPU;
#   5. `make uninstall` leaves the prefix without a file.
# Usage: scripts/test_install.sh [BUILD] (default build). Ends with "install: N checks passed" or
# the first failure; exit 1 on failure.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
native=${1:-build}
case $native in /*) ;; *) native="$root/$native" ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
n=0
ok() { n=$((n + 1)); echo "install: ok: $*"; }
fail() { echo "install: FAILED: $*" >&2; exit 1; }
run() { # log-name, command...: runs it, shows its output on failure
    log="$tmp/$1.log"
    shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$*"; }
}

# 1. The install.
run install make -C "$root" --no-print-directory install BUILD="$tmp/build" PREFIX="$prefix"
pc=$(find "$prefix" -name smoothcache.pc)
[ -n "$pc" ] || fail "no smoothcache.pc under the prefix"
export PKG_CONFIG_PATH="$(dirname "$pc")"
libdir=$(pkg-config --variable=libdir smoothcache)
demo=$(pkg-config --variable=demomodel smoothcache)
for f in bin/smoothcache include/smoothcache.h include/smoothcache_tools.h; do
    [ -f "$prefix/$f" ] || fail "$prefix/$f missing"
done
for f in libsmoothcache.a libsmoothcache.so pkgconfig/smoothcache-static.pc cmake/smoothcache/smoothcacheConfig.cmake \
    cmake/smoothcache/smoothcacheConfigVersion.cmake; do
    [ -f "$libdir/$f" ] || fail "$libdir/$f missing"
done
version=$(pkg-config --modversion smoothcache)
[ "$(readlink "$libdir/libsmoothcache.so")" = "libsmoothcache.so.${version%%.*}" ] &&
    [ "$(readlink "$libdir/libsmoothcache.so.${version%%.*}")" = "libsmoothcache.so.$version" ] &&
    [ -f "$libdir/libsmoothcache.so.$version" ] || fail "libsmoothcache.so links: $(ls -l "$libdir"/libsmoothcache.so*)"
readelf -d "$libdir/libsmoothcache.so.$version" | grep -q "SONAME.*\[libsmoothcache.so.${version%%.*}\]" ||
    fail "libsmoothcache.so.$version: SONAME is not libsmoothcache.so.${version%%.*}"
others=$(nm -D --defined-only "$libdir/libsmoothcache.so.$version" | awk '$3 !~ /^sc_/ && $2 ~ /[TDBR]/ {print $3}')
[ -z "$others" ] || fail "the shared library exports more than sc_*: $others"
diff -r "$root/models/demo" "$demo" >/dev/null || fail "$demo differs from models/demo"
ok "installed bin, include, lib (libsmoothcache.a, libsmoothcache.so -> .so.${version%%.*} -> .so.$version, sc_* only), pkgconfig, cmake, the demo model (PREFIX/${demo#"$prefix"/})"

# 2. The header's example, built four ways; the installed CLI's latents are the reference.
sed -n '/^ \*     #include <stdio.h>$/,/^ \*     }$/p' "$prefix/include/smoothcache.h" | sed -e 's/^ \*     //' -e 's/^ \*$//' \
    >"$tmp/example.c"
grep -q "int main" "$tmp/example.c" || fail "no usage example found in include/smoothcache.h"
cd "$tmp"
run cli "$prefix/bin/smoothcache" generate --model "$demo" --class 1,2 --steps 10 --seed 0 --cache fora:n=2 \
    --latents-out "$tmp/cli.npy" --quiet
cflags="-std=c11 -Wall -Wextra -Werror"
# shellcheck disable=SC2046,SC2086
run cc-shared cc $cflags example.c $(pkg-config --cflags --libs smoothcache) -o ex-shared
readelf -d ex-shared | grep -q "NEEDED.*libsmoothcache.so.${version%%.*}" || fail "ex-shared does not load libsmoothcache.so"
run ex-shared env LD_LIBRARY_PATH="$libdir" ./ex-shared "$demo" shared.npy
cmp -s shared.npy cli.npy || fail "the example (shared library) and the CLI wrote different latents"
ok "cc example.c \$(pkg-config --cflags --libs smoothcache): builds, runs, latents equal the CLI's"
# shellcheck disable=SC2046,SC2086
run cc-static cc $cflags example.c $(pkg-config --cflags --libs smoothcache-static) -o ex-static
# shellcheck disable=SC2046,SC2086
run cc-static2 cc $cflags example.c $(pkg-config --cflags smoothcache) "$libdir/libsmoothcache.a" -Wl,--as-needed \
    $(pkg-config --static --libs smoothcache) -o ex-static2
for e in ex-static ex-static2; do
    ! readelf -d $e | grep -q "NEEDED.*libsmoothcache" || fail "$e loads libsmoothcache.so: not a static link"
    run $e ./$e "$demo" $e.npy
    cmp -s $e.npy cli.npy || fail "the example ($e) and the CLI wrote different latents"
done
ok "static: pkg-config smoothcache-static, and the archive + pkg-config --static smoothcache: build, run, latents equal the CLI's"
mkdir cmake-example
cp example.c cmake-example/
cat >cmake-example/CMakeLists.txt <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(smoothcache_example C)
find_package(smoothcache 0.1 REQUIRED COMPONENTS static)
add_executable(ex-shared example.c)
target_link_libraries(ex-shared PRIVATE smoothcache::smoothcache)
add_executable(ex-static example.c)
target_link_libraries(ex-static PRIVATE smoothcache::static)
CMAKE
run cmake-configure cmake -S cmake-example -B cmake-build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
run cmake-build cmake --build cmake-build
for e in ex-shared ex-static; do
    run cmake-$e "./cmake-build/$e" "$demo" cmake-$e.npy
    cmp -s cmake-$e.npy cli.npy || fail "the example (CMake, $e) and the CLI wrote different latents"
done
ok "find_package(smoothcache): smoothcache::smoothcache and smoothcache::static build, run, latents equal the CLI's"

# 3. The installed CLI, elsewhere, without --model.
mkdir elsewhere
cd elsewhere
out=$(env -u SMOOTHCACHE_MODEL "$prefix/bin/smoothcache" info 2>&1) || { echo "$out" >&2; fail "installed CLI: info"; }
echo "$out" | grep -q "^model: *$demo\$" || { echo "$out" >&2; fail "installed CLI: info does not name $demo"; }
run default env -u SMOOTHCACHE_MODEL "$prefix/bin/smoothcache" generate --class 1,2 --steps 10 --seed 0 --cache fora:n=2 \
    --latents-out default.npy --quiet
cmp -s default.npy ../cli.npy || fail "installed CLI without --model: different latents"
cd "$tmp"
ok "the installed CLI, run from another folder without --model, uses PREFIX/${demo#"$prefix"/}"

# 4. Portable against native, on this CPU.
if [ -x "$native/smoothcache" ]; then
    run native "$native/smoothcache" generate --model "$demo" --class 0,1,2 --steps 5 --out native.npz --latents-out native.npy --quiet
    run portable "$prefix/bin/smoothcache" generate --model "$demo" --class 0,1,2 --steps 5 --out portable.npz --latents-out portable.npy --quiet
    cmp -s native.npz portable.npz && cmp -s native.npy portable.npy ||
        fail "the portable build and $native (native) wrote different outputs"
    ok "the portable build's generate output equals the native build's ($native), byte for byte"
else
    echo "install: note: no $native/smoothcache; portable against native not compared"
fi

# 5. Uninstall.
run uninstall make -C "$root" --no-print-directory uninstall BUILD="$tmp/build"
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall removed every installed file"
echo "install: $n checks passed"
[ -z "${SC_TEST_SUMMARY:-}" ] || echo "install: $n checks passed" >>"$SC_TEST_SUMMARY"
