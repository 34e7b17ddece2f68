#!/bin/sh
# Calibrates the shipped text-to-image model (models/textdemo) for SmoothCache with its pipeline's
# sampler and steps (DPM-Solver++, 20) and guidance 3 (what it is measured at) on its 10
# calibration prompts, and writes
#   models/textdemo/cache/smooth-errors.json   error curves (k = 3, pooled, as the official calibrator)
#   models/textdemo/cache/smooth-a$ALPHA.json  the schedule at alpha ALPHA (diffusers' keys)
# and the curves' plot docs/bench/textdemo-errors.png.
# Usage: tools/textdemo/calibrate_caches.sh [alpha] [threads] [cfg]   (from anywhere; run `make` first)
set -eu
cd "$(dirname "$0")/../.."
sc=build/smoothcache
m=models/textdemo
alpha=${1:-0.15}
threads=${2:-2}
cfg=${3:-3}     # the guidance the model is measured and shipped at (models/README.md)
mkdir -p "$m/cache" docs/bench
"$sc" calibrate --model "$m" --prompts "$m/prompts-calibration.txt" --batch 10 --threads "$threads" --cfg "$cfg" --force \
    --out "$m/cache/smooth-errors.json" --plot docs/bench/textdemo-errors.png
"$sc" schedule --errors "$m/cache/smooth-errors.json" --alpha "$alpha" --out "$m/cache/smooth-a$alpha.json" --force
