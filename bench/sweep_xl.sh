#!/bin/sh
# Every cache policy on DiT-XL/2-shaped random weights at 256 px (DDIM 50 steps, cfg 4, one
# guided image): wall-clock against MAC speed-up and each policy's own time (decisions and
# bookkeeping) against the time it saves. Random weights say nothing about image quality, so
# only the latent error is reported. MagCache's ratios are calibrated first (one generation).
# Needs the weights bench/bench_step.py generates into bench/out/ (run it once).
# Writes docs/bench/xl-sweep.{txt,csv,json}.
# Usage: bench/sweep_xl.sh [threads]   (from anywhere; run `make` first)
set -eu
cd "$(dirname "$0")/.."
threads=${1:-2}
model=bench/out/dit-xl2-256-random
sched=tests/fixtures/smoothcache-schedules
out=docs/bench
[ -f "$model/config.json" ] || { echo "sweep_xl.sh: $model missing: run bench/bench_step.py first" >&2; exit 1; }
mkdir -p "$out"
ratios=bench/out/xl-magcache.json
[ -f "$ratios" ] || build/smoothcache calibrate --for magcache --model "$model" --steps 50 --class 88 \
    --threads "$threads" --quiet --out "$ratios"
build/smoothcache bench --model "$model" --steps 50 --class 88 --threads "$threads" --force \
    --cache 'fora:n=2' \
    --cache "smooth:schedule=$sched/50-N-3-threshold-0.18.json" \
    --cache "smooth:schedule=$sched/50-N-3-threshold-0.18.json,predict=taylor1" \
    --cache 'taylorseer:interval=2,order=1' \
    --cache 'abcache:interval=2,k=2' \
    --cache 'adacache' \
    --cache 'teacache:thresh=0.1' \
    --cache "magcache:ratios=$ratios,thresh=0.06" \
    --cache 'fbcache:thresh=0.05' \
    --cache 'dbcache:fn=8,bn=0,warmup=8,thresh=0.08' \
    --cache 'fastercache:uncond_every=5' \
    --csv "$out/xl-sweep.csv" --json "$out/xl-sweep.json" | tee "$out/xl-sweep.txt"
