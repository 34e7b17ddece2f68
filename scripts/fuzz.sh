#!/bin/sh
# Builds the libFuzzer targets (clang-14, ASan + UBSan) and runs each for a bounded time from
# seeds made now: the files the test suite generates for that parser (SC_CORPUS_DIR) plus the
# committed fixtures. A crash, leak or sanitizer report fails. Prints the executions per target
# and ends with "<N> passed, <N> failed". SC_FUZZ_SECONDS sets the time per target (default 30).
set -u
build=${1:-build-fuzz}
seconds=${SC_FUZZ_SECONDS:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=ON -DSC_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" >/dev/null || exit 1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
pass=0
fail=0
seed() { # target, test-name prefixes...
    t=$1
    shift
    mkdir -p "$build/corpus/$t"
    SC_CORPUS_DIR="$build/corpus/$t" "$build/run_tests" "$@" >/dev/null 2>&1
}
seed safetensors safetensors model
cp tests/fixtures/*.safetensors "$build/corpus/safetensors/" 2>/dev/null
seed torchzip torch pickle
cp tests/fixtures/torch/*.pt "$build/corpus/torchzip/" 2>/dev/null
seed npy npy cli_latents
cp tests/fixtures/a_forward_x.npy tests/fixtures/rng_seed0.npy "$build/corpus/npy/"
seed json model_config cache_schedule
cp tests/fixtures/dit_a/config.json tests/fixtures/cache/*.json tests/fixtures/smoothcache-schedules/*.json "$build/corpus/json/"
cp tests/fixtures/t5/v1_0/config.json "$build/corpus/json/t5_v1_0_config.json"
cp tests/fixtures/t5/v1_1/config.json "$build/corpus/json/t5_v1_1_config.json"
cp tests/fixtures/stableaudio/proj/transformer/config.json "$build/corpus/json/sa_transformer_config.json"
cp tests/fixtures/stableaudio/proj/projection_model/config.json "$build/corpus/json/sa_projection_config.json"
cp tests/fixtures/oobleck/vae/config.json "$build/corpus/json/oobleck_config.json"
printf '%s' '{"_class_name": "CosineDPMSolverMultistepScheduler", "sigma_min": 0.3, "sigma_max": 500, "sigma_data": 1.0, "sigma_schedule": "exponential", "prediction_type": "v_prediction"}' >"$build/corpus/json/cosine_dpm_scheduler.json"
printf '%s' '{"format": "smoothcache-shard", "version": 1, "shard": 1, "shards": 2, "begin": 6, "end": 11, "count": 5, "num": 11, "batch": 3, "seed": "5", "steps": 4, "sampler": "ddim", "cfg": 1.5, "cache": "", "dtype": "f32", "side": 32, "model": "m", "model_fingerprint": "0123456789abcdef", "vae_fingerprint": "", "complete": true}' >"$build/corpus/json/shard_manifest.json"
mkdir -p "$build/corpus/cache_spec"
for s in none fora fora:n=2 "fora:n=3,x=1" "smooth:alpha=0.1" "fora:n=-1" "a:b=c,d=e"; do
    printf '%s' "$s" >"$build/corpus/cache_spec/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
done
mkdir -p "$build/corpus/spm_model" "$build/corpus/tokenizer_json" "$build/corpus/prompt"
cp tests/fixtures/t5tok/tiny/spiece.model "$build/corpus/spm_model/"
cp tests/fixtures/t5tok/tiny/tokenizer.json "$build/corpus/tokenizer_json/"
i=0
for p in "" "a red fox in the snow" "  <extra_id_5> and </s> inside " "caf\303\251 e\314\201 \357\274\241\357\274\242" \
    "\344\270\255\346\226\207 \360\237\221\215\360\237\217\275 \342\226\201x" "tabs\tand\nnewlines\r\n"; do
    printf "$p" >"$build/corpus/prompt/seed$i"
    i=$((i + 1))
done
for t in safetensors torchzip npy json cache_spec spm_model tokenizer_json prompt; do
    log="$build/fuzz_$t.log"
    # The tokenizer files are large (a 240 kB character map): their seeds must fit whole.
    case $t in spm_model | tokenizer_json) max_len=600000 ;; *) max_len=65536 ;; esac
    if "$build/fuzz_$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len="$max_len" \
        -artifact_prefix="$build/crash-$t-" "$build/corpus/$t" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
        echo "fuzz_$t: ${runs:-done}, no crash ($(ls "$build/corpus/$t" | wc -l) corpus files)"
        pass=$((pass + 1))
    else
        echo "FAIL fuzz_$t (see $log; reproducer under $build/crash-$t-*, add it to tests/regress/$t/)"
        tail -30 "$log"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || exit 1
[ -z "${SC_TEST_SUMMARY:-}" ] || echo "fuzz: $pass targets passed" >>"$SC_TEST_SUMMARY"
