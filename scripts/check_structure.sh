#!/bin/sh
# The house's layering (docs/ARCHITECTURE.md), checked from the #include lines of the source tree:
# a file includes only headers of its own layer and the layers below it, never one above, and the
# layers are a fixed order, so no include circle can run between two of them.
#
#   core < backend < io < text < models < sample < cache < pipeline < metrics < api < cli
#   (text, sample, cache and models do not include each other; metrics only core and io)
#
# Besides the order:
#   - a model family (src/models/<family>/) includes only models/*.h and its own folder: a second
#     family is a sibling, never a branch; models/*.h include no family;
#   - backend/backend.h includes no backend implementation (backend/<impl>/);
#   - a cache policy file (one line in src/cache/registry.c) includes only cache/ and core/
#     headers;
#   - the command line (src/cli/) includes only include/ headers and its own;
#   - the public headers (include/) include only each other.
#
# Usage: scripts/check_structure.sh [ROOT]   (default: this checkout). Prints each violation as
# FILE: includes HEADER (why) and ends with "structure: N files, M violations"; exits 1 on any.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# The layers a folder of src/ may include, besides system and include/ headers.
allowed() {
    case $1 in
    core) echo "core" ;;
    backend) echo "core backend" ;;
    io) echo "core io" ;;
    text) echo "core io text" ;;
    models) echo "core backend io models" ;;
    sample) echo "core io sample" ;;
    cache) echo "core backend io cache" ;;
    pipeline) echo "core backend io text models sample cache pipeline" ;;
    metrics) echo "core io metrics" ;;
    api) echo "core backend io text models sample cache pipeline metrics api" ;;
    cli) echo "cli" ;;
    *) echo "" ;;
    esac
}

policies=$(sed -n 's/^ *X(\([a-z0-9_]*\)).*/\1/p' src/cache/registry.c 2>/dev/null)
files=0
bad=0
report() {
    echo "$1: includes $2 ($3)"
    bad=$((bad + 1))
}

for f in $(find src include -name '*.[ch]' | sort); do
    files=$((files + 1))
    case $f in
    include/*) layer=include ;;
    *) layer=$(echo "$f" | cut -d/ -f2) ;;
    esac
    sub=$(echo "$f" | cut -d/ -f3)
    [ "$sub" = "$(basename "$f")" ] && sub=""
    base=$(basename "$f" .c)
    policy=0
    if [ "$layer" = cache ] && [ -z "$sub" ]; then
        for p in $policies; do [ "$p" = "$base" ] && policy=1; done
    fi
    for h in $(sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f"); do
        hl=$(echo "$h" | cut -d/ -f1)
        hsub=$(echo "$h" | cut -d/ -f2)
        [ "$hsub" = "$(basename "$h")" ] && hsub=""
        case $layer in
        include)
            case $h in */*) report "$f" "$h" "a public header includes only public headers" ;; esac
            continue ;;
        esac
        # Public headers (no folder) are everyone's.
        case $h in */*) ;; *)
            if [ -f "include/$h" ]; then continue; fi
            report "$f" "$h" "a project header is named with its folder"
            continue ;;
        esac
        ok=0
        for a in $(allowed "$layer"); do [ "$a" = "$hl" ] && ok=1; done
        if [ $ok = 0 ]; then
            report "$f" "$h" "src/$layer may include $(allowed "$layer" | sed 's/ /, /g') and include/"
            continue
        fi
        if [ $policy = 1 ] && [ "$hl" != cache ] && [ "$hl" != core ]; then
            report "$f" "$h" "a cache policy file includes only cache/ and core/ headers"
        fi
        if [ "$hl" = models ] && [ -n "$hsub" ] && { [ "$layer" != models ] || [ "$sub" != "$hsub" ]; }; then
            report "$f" "$h" "a model family's headers are its own folder's: outside it, use models/*.h"
        fi
        if [ "$hl" = backend ] && [ -n "$hsub" ] && { [ "$layer" != backend ] || [ -z "$sub" ] || [ "$sub" != "$hsub" ]; }; then
            report "$f" "$h" "a backend implementation is reached through backend/backend.h only"
        fi
    done
done
echo "structure: $files files, $bad violations"
[ $bad -eq 0 ]
