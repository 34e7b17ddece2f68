#!/bin/sh
# Installs the Debian packages the build needs, only when one is missing.
# Called by `make` and `make test`; safe to run again.
set -eu
need="cmake make gcc pkg-config libdnnl-dev libjansson-dev libpng-dev libutf8proc-dev pngcheck unzip"
if [ "${SC_WITH_SANITIZERS:-1}" = 1 ]; then need="$need clang-14 libclang-rt-14-dev"; fi
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: missing packages:$missing (run as root or install them)" >&2; exit 1; fi
else SUDO=""; fi
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
