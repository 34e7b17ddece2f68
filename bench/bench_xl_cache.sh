#!/bin/sh
# Cached sampling of DiT-XL/2 at 256 px (random weights: the speed is real, the quality columns
# say nothing about real images): the uncached baseline and the paper's published schedules
# (FORA n=2 and SmoothCache alpha 0.18, DDIM 50 steps) on one guided image, then the cost of a
# SmoothCache calibration (1 sample, k = 3) against one uncached generation.
# Needs the random weights that bench/bench_step.py generates into bench/out/ (run it once).
# Usage: bench/bench_xl_cache.sh [threads]   (from anywhere; run `make` first)
set -eu
cd "$(dirname "$0")/.."
threads=${1:-2}
model=bench/out/dit-xl2-256-random
sched=tests/fixtures/smoothcache-schedules
[ -f "$model/config.json" ] || { echo "bench_xl_cache.sh: $model missing: run bench/bench_step.py first" >&2; exit 1; }
build/smoothcache bench --model "$model" --steps 50 --class 88 --threads "$threads" --force \
    --cache "smooth:schedule=$sched/50-N-2-fora.json" \
    --cache "smooth:schedule=$sched/50-N-3-threshold-0.18.json" \
    --json bench/out/xl-cache.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s.%N)
build/smoothcache generate --model "$model" --steps 50 --class 88 --threads "$threads" --quiet \
    --latents-out "$tmp/z.npy"
mid=$(date +%s.%N)
build/smoothcache calibrate --model "$model" --steps 50 --samples 1 --threads "$threads" --quiet \
    --out "$tmp/errors.json"
end=$(date +%s.%N)
echo "$start $mid $end" | awk '{ g = $2 - $1; c = $3 - $2;
    printf "uncached generation %.1f s; calibration (1 sample, k=3) %.1f s = %.3fx\n", g, c, c / g }'
