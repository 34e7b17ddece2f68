#!/bin/sh
# Small end-to-end runs under valgrind memcheck: load a fixture DiT, generate two images for
# two steps with a cache policy, decode them through a fixture VAE, write PNG and latents; and
# a text-to-image generation from two prompts with the shipped PixArt (tokenizer, T5, cross-
# attention) and a SmoothCache schedule; and a text-to-audio generation from two prompts with a
# tiny Stable Audio pipeline (T5, projection, DiT, the cosine DPM-Solver SDE, Oobleck) written as
# WAV files and log-mel spectrograms. The
# build is not -march=native (valgrind 3.19 lacks some AVX-512 opcodes), and oneDNN and our own
# vector kernels (src/backend/cpu/vec.h) are held to AVX2 for the same reason. Exits non-zero on any memcheck error or leak.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-vg"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSC_NATIVE=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target smoothcache_cli >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ONEDNN_MAX_CPU_ISA=AVX2 SMOOTHCACHE_MAX_ISA=avx2 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
    --suppressions="$root/scripts/valgrind.supp" \
    "$build/smoothcache" generate --model "$root/tests/fixtures/dit_a" --vae "$root/tests/fixtures/vae_a_diffusers" \
    --class 1,2 --steps 2 --threads 2 --cache fora:n=2 --out "$tmp/g.png" --latents-out "$tmp/z.npy" --quiet
ONEDNN_MAX_CPU_ISA=AVX2 SMOOTHCACHE_MAX_ISA=avx2 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
    --suppressions="$root/scripts/valgrind.supp" \
    "$build/smoothcache" generate --model "$root/models/textdemo" --prompt "a red ring" --prompt "a cyan frame" \
    --negative-prompt "a blue circle" --steps 3 --threads 2 --cache fora:n=2 --out "$tmp/t.png" --quiet
ONEDNN_MAX_CPU_ISA=AVX2 SMOOTHCACHE_MAX_ISA=avx2 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
    --suppressions="$root/scripts/valgrind.supp" \
    "$build/smoothcache" generate --model "$root/tests/fixtures/stableaudio/pipe" --prompt "a warm chord" \
    --prompt "a noise burst" --negative-prompt "low quality" --steps 3 --threads 2 --cache fora:n=2 \
    --seconds-start 0.01 --out "$tmp/a.wav" --spectrogram "$tmp/a.png" --compare-uncached --repeats 1 --quiet
echo "valgrind: clean (no memcheck errors, no leaks)"
