#!/bin/sh
# Removes what `make install` installed, as listed in the manifest cmake --install wrote
# (build-install/install_manifest.txt: one path a line, DESTDIR included), and the folders of
# our own that are left empty (share/smoothcache/..., lib/cmake/smoothcache); shared folders such
# as PREFIX/bin stay.
set -eu
manifest=${1:?usage: scripts/uninstall.sh MANIFEST}
if [ ! -f "$manifest" ]; then
    echo "uninstall: $manifest: not found (nothing was installed from this checkout, or its build folder was removed)" >&2
    exit 1
fi
n=0
while IFS= read -r f || [ -n "$f" ]; do
    [ -n "$f" ] || continue
    if [ -e "$f" ] || [ -L "$f" ]; then
        rm -f -- "$f"
        n=$((n + 1))
    fi
    d=$(dirname -- "$f")
    while :; do
        case $d in
        */smoothcache | */smoothcache/*) rmdir -- "$d" 2>/dev/null || break; d=$(dirname -- "$d") ;;
        *) break ;;
        esac
    done
done < "$manifest"
echo "uninstall: removed $n files listed in $manifest"
