#!/bin/sh
# Calibrates the shipped audio model (models/audiodemo) for SmoothCache with its folder's own
# sampler, steps and guidance (model_index.json's "_smoothcache") on its 10 calibration prompts,
# and writes
#   models/audiodemo/cache/smooth-errors.json   error curves (k = 3, pooled, as the official calibrator)
#   models/audiodemo/cache/smooth-a$ALPHA.json  the schedule at alpha ALPHA (diffusers' keys:
#                                               self-attention, cross-attention, feed-forward)
# and the curves' plot docs/bench/audiodemo-errors.png.
# Usage: tools/audiodemo/calibrate_caches.sh [alpha] [threads]   (from anywhere; run `make` first)
set -eu
cd "$(dirname "$0")/../.."
sc=build/smoothcache
m=models/audiodemo
alpha=${1:-0.3}
threads=${2:-2}
mkdir -p "$m/cache" docs/bench
"$sc" calibrate --model "$m" --prompts "$m/prompts-calibration.txt" --batch 10 --threads "$threads" --force \
    --out "$m/cache/smooth-errors.json" --plot docs/bench/audiodemo-errors.png
"$sc" schedule --errors "$m/cache/smooth-errors.json" --alpha "$alpha" --out "$m/cache/smooth-a$alpha.json" --force
