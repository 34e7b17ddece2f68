#!/bin/sh
# Scaling of sharded sampling on this machine: one process with one thread against two shard
# processes with one thread each, side by side (2 cores), the same run; then the merge, and a
# byte comparison of the merged output with the one-process one.
#   bench/bench_shards.sh [MODEL] [NUM] [BATCH] [STEPS]   (default: the demo model, 400 images
#                                                          in batches of 8, 50 steps)
# Prints both wall times, the speed-up, the parallel efficiency (speed-up / 2) and the merge time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cli="$root/build/smoothcache"
model=${1:-$root/models/demo}
num=${2:-400}
batch=${3:-8}
steps=${4:-50}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
unset OPENBLAS_CORETYPE
run="$cli sample --model $model --num $num --batch $batch --steps $steps --threads 1 --quiet"
now() { date +%s.%N; }
t0=$(now)
OMP_NUM_THREADS=1 $run --out "$out/one.npz"
t1=$(now)
OMP_NUM_THREADS=1 $run --out "$out/s.npz" --shard 0/2 &
p0=$!
OMP_NUM_THREADS=1 $run --out "$out/s.npz" --shard 1/2 &
p1=$!
wait $p0
wait $p1
t2=$(now)
"$cli" merge "$out/m.npz" "$out"/s.shard-*.npz --quiet
t3=$(now)
cmp -s "$out/one.npz" "$out/m.npz" && same=identical || same=DIFFERENT
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$num" -v same="$same" 'BEGIN {
    one = b - a; two = c - b; merge = d - c;
    printf "%d images: 1 process x 1 thread %.2f s (%.3f s/image); 2 shards x 1 thread %.2f s\n", n, one, one / n, two;
    printf "speed-up %.2fx, parallel efficiency %.0f%%; merge %.2f s; merged output %s to the one-process run\n",
           one / two, 100 * one / two / 2, merge, same }'
