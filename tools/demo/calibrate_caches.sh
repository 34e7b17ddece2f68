#!/bin/sh
# Calibrates the shipped demo model for the policies that need it and writes the files shipped
# beside it in models/demo/cache/ (DDIM, 50 steps, guidance 4: `generate`'s defaults):
#   smooth-errors.json   SmoothCache error curves (calibrate, 10 samples, k = 3, pooled)
#   smooth-a0.08.json    the schedule at alpha 0.08 (the README's first command)
#   teacache.json        TeaCache's rescaling polynomial (calibrate --for teacache)
#   magcache.json        MagCache's residual ratios (calibrate --for magcache)
# and their plots in docs/bench/demo-{errors,teacache,magcache}.png.
# Usage: tools/demo/calibrate_caches.sh [threads]   (from anywhere; run `make` first)
set -eu
cd "$(dirname "$0")/../.."
sc=build/smoothcache
out=models/demo/cache
threads=${1:-2}
plots=docs/bench
mkdir -p "$out" "$plots"
common="--model models/demo --steps 50 --cfg 4 --threads $threads --force"
"$sc" calibrate $common --samples 10 --out "$out/smooth-errors.json" --plot "$plots/demo-errors.png"
"$sc" schedule --errors "$out/smooth-errors.json" --alpha 0.08 --out "$out/smooth-a0.08.json" --force
"$sc" calibrate $common --for teacache --samples 10 --out "$out/teacache.json" --plot "$plots/demo-teacache.png"
"$sc" calibrate $common --for magcache --out "$out/magcache.json" --plot "$plots/demo-magcache.png"
