#!/bin/sh
# The speed/quality frontier of every cache policy on the shipped demo model: calibrates what
# needs calibrating (SmoothCache curves, TeaCache coefficients, MagCache ratios), then runs the
# uncached baseline and every policy over a range of its main knob on the same 20 images
# (two per class, DDIM 50 steps, guidance 4), and writes docs/bench/demo-sweep.{csv,json} and the
# two frontier plots. Usage: bench/sweep_demo.sh [threads]   (run `make` first)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
sc="$root/build/smoothcache"
out="$root/docs/bench"
threads=${1:-2}
mkdir -p "$out"
common="--model $root/models/demo --steps 50 --cfg 4 --threads $threads --force --quiet"
"$sc" calibrate $common --samples 10 --out "$out/demo-errors.json" --plot "$out/demo-errors.png"
"$sc" calibrate $common --for teacache --samples 10 --out "$out/demo-teacache.json"
"$sc" calibrate $common --for magcache --out "$out/demo-magcache.json"
classes=0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9
"$sc" bench --model "$root/models/demo" --steps 50 --cfg 4 --threads "$threads" --class $classes --seed 100 \
    --repeat 3 --accuracy --force \
    --cache 'fora:n={2,3,4}' \
    --cache "smooth:errors=$out/demo-errors.json,alpha={0.05,0.1,0.15,0.2,0.3}" \
    --cache 'taylorseer:interval={2,3,4},order=1' \
    --cache 'abcache:interval={2,3},k=2' \
    --cache 'adacache' \
    --cache "teacache:coef_file=$out/demo-teacache.json,thresh={0.01,0.02,0.04,0.08}" \
    --cache "magcache:ratios=$out/demo-magcache.json,thresh={0.02,0.06,0.12}" \
    --cache 'fbcache:thresh={0.05,0.1,0.2}' \
    --cache 'dbcache:fn=1,bn=1,warmup=2,thresh={0.05,0.1,0.2}' \
    --cache 'fastercache:uncond_every={2,3,5}' \
    --csv "$out/demo-sweep.csv" --json "$out/demo-sweep.json" \
    --plot "$out/demo-sweep.png" --plot-macs "$out/demo-sweep-macs.png" | tee "$out/demo-sweep.txt"
