#!/bin/sh
# The speed/quality frontier of every cache policy on the shipped demo model, with the
# calibrations shipped beside it (models/demo/cache, made by tools/demo/calibrate_caches.sh):
# the uncached baseline and every policy over a range of its main knob on the same 20 images
# (two per class, seed 100, DDIM 50 steps, guidance 4), 3 runs each (the fastest counts), with
# class accuracy. Writes docs/bench/demo-sweep.{txt,csv,json} and the two frontier plots.
# Usage: bench/sweep_demo.sh [threads]   (from anywhere; run `make` first)
set -eu
cd "$(dirname "$0")/.."
threads=${1:-2}
cal=models/demo/cache
out=docs/bench
mkdir -p "$out"
build/smoothcache bench --model models/demo --steps 50 --cfg 4 --threads "$threads" \
    --class 0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9 --seed 100 --repeats 3 --accuracy --force \
    --cache 'fora:n={2,3,4}' \
    --cache "smooth:errors=$cal/smooth-errors.json,alpha={0.05,0.08,0.1,0.15,0.2}" \
    --cache "smooth:errors=$cal/smooth-errors.json,alpha={0.08,0.1,0.15},predict=taylor1" \
    --cache 'taylorseer:interval={2,3,4},order=1' \
    --cache 'abcache:interval={2,3},k=2' \
    --cache 'adacache' \
    --cache "teacache:coef_file=$cal/teacache.json,thresh={0.01,0.02,0.04,0.08}" \
    --cache "magcache:ratios=$cal/magcache.json,thresh={0.02,0.06,0.12}" \
    --cache 'fbcache:thresh={0.05,0.1,0.2}' \
    --cache 'dbcache:fn=1,bn=1,warmup=2,thresh={0.05,0.1,0.2}' \
    --cache 'fastercache:uncond_every={2,3,5}' \
    --csv "$out/demo-sweep.csv" --json "$out/demo-sweep.json" \
    --plot "$out/demo-sweep.png" --plot-macs "$out/demo-sweep-macs.png" | tee "$out/demo-sweep.txt"
