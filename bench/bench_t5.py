#!/usr/bin/env python3
"""T5 encoder: the C engine against transformers' T5EncoderModel on the same random weights of a
real T5's shapes and the same padded ids, in the same run.

    .venv/bin/python bench/bench_t5.py [--model t5-base] [--dtype f32] [--tokens 120] [--batch 1]
                                       [--threads 2] [--repeats 5]
    .venv/bin/python bench/bench_t5.py --model t5-v1_1-xxl --dtype bf16 --repeats 3

--dtype bf16 writes the random weights in bf16 (the file is then what a 16-bit checkpoint is) and
runs both engines in bf16: the C engine with --dtype bf16 (its default for such a file), PyTorch
on the model loaded with dtype=torch.bfloat16. t5-v1_1-xxl (PixArt's and Open-Sora's encoder,
4.76 B parameters; 9.5 GB in bf16, 19 GB in float32) only runs in bf16 here, and the float64
comparison is left out (38 GB); the C peak RSS is reported against the bf16 weights' size
(issue target: <= 1.15x).

--model: t5-base (Stable Audio Open's encoder: 12 layers, d_model 768, ReLU) or t5-v1_1-large
(24 layers, d_model 1024, gated-GELU, the v1.1 architecture of PixArt's T5-XXL at a size that
fits beside PyTorch here). The weights are generated deterministically into bench/out/ (never
committed; scaled up from T5's initialisation so that attention is not uniform). Prints each
engine's median encode time, their ratio, resident memory, and how far each engine's embeddings
lie from transformers' float64 forward. Only the ratio of one run is meaningful
on a shared machine.
"""
import argparse
import os
import resource
import statistics
import subprocess
import time

import numpy as np
import torch
from transformers import T5Config, T5EncoderModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHAPES = {
    "t5-base": dict(vocab_size=32128, d_model=768, d_kv=64, num_heads=12, d_ff=3072, num_layers=12,
                    feed_forward_proj="relu"),
    "t5-v1_1-large": dict(vocab_size=32128, d_model=1024, d_kv=64, num_heads=16, d_ff=2816, num_layers=24,
                          feed_forward_proj="gated-gelu"),
    "t5-v1_1-xxl": dict(vocab_size=32128, d_model=4096, d_kv=64, num_heads=64, d_ff=10240, num_layers=24,
                        feed_forward_proj="gated-gelu"),
}


def make_weights(name, folder, dtype):
    if os.path.exists(os.path.join(folder, "config.json")):
        return
    torch.manual_seed(0)
    if dtype == "bf16":  # made in bf16 from the start: T5-XXL in float32 would need 19 GB here
        torch.set_default_dtype(torch.bfloat16)
    model = T5EncoderModel(T5Config(**SHAPES[name])).eval()
    torch.set_default_dtype(torch.float32)
    with torch.no_grad():  # T5's own init gives near-zero attention logits; widen it a little
        for p in model.parameters():
            p.mul_(4.0 if p.dim() == 2 else 1.0)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    del model


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_torch(folder, ids, mask, threads, repeats, dtype, exact_too):
    torch.set_num_threads(threads)
    before = rss_mb()
    model = T5EncoderModel.from_pretrained(folder, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32).eval()
    loaded = rss_mb()
    i, m = torch.from_numpy(ids).long(), torch.from_numpy(mask).long()
    times = []
    with torch.inference_mode():
        out = model(input_ids=i, attention_mask=m).last_hidden_state  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model(input_ids=i, attention_mask=m).last_hidden_state
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    exact = None
    if exact_too:
        with torch.inference_mode():  # the float64 forward both are measured against
            exact = model.double()(input_ids=i, attention_mask=m).last_hidden_state.numpy()
    return statistics.median(times), out.float().numpy(), exact, loaded - before, peak - before


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SHAPES), default="t5-base")
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--tokens", type=int, default=120)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    xxl = a.model == "t5-v1_1-xxl"
    if xxl and a.dtype != "bf16":
        ap.error("t5-v1_1-xxl runs in bf16 only here (19 GB in float32)")
    out_dir = os.path.join(ROOT, "bench", "out")
    folder = os.path.join(out_dir, f"{a.model}-random" + ("-bf16" if a.dtype == "bf16" else ""))
    make_weights(a.model, folder, a.dtype)
    rng = np.random.default_rng(0)
    L = a.tokens
    ids = rng.integers(3, 32000, (a.batch, L)).astype(np.int32)
    mask = np.ones((a.batch, L), np.int32)
    for b in range(a.batch):  # rows of L, then shorter ones, ending in </s> and padded
        n = max(1, L - 17 * b)
        ids[b, n - 1], ids[b, n:], mask[b, n:] = 1, 0, 0
    paths = [os.path.join(out_dir, f"t5-{x}.npy") for x in ("ids", "mask", "out")]
    np.save(paths[0], ids)
    np.save(paths[1], mask)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_CORETYPE", None)  # it slows numpy/OpenBLAS; never set inside a benchmark
    c = subprocess.run([os.path.join(ROOT, "build", "bench_t5"), folder, *paths[:2], str(a.threads), str(a.repeats),
                        paths[2], a.dtype], capture_output=True, text=True, env=env, check=True).stdout
    c = {k: float(v) for k, v in (kv.split("=") for kv in c.split())}
    pt_s, pt_out, exact, pt_loaded, pt_peak = time_torch(folder, ids, mask, a.threads, a.repeats, a.dtype, not xxl)
    c_out = np.load(paths[2])
    rel = lambda x, ref: float(np.abs(x - ref).max() / np.abs(ref).max())
    l2 = lambda x, ref: float(np.linalg.norm(x - ref) / np.linalg.norm(ref))
    file_mb = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                  if f.endswith(".safetensors")) / 2**20
    print(f"{a.model} encoder, {a.batch} x {L} tokens, {a.dtype}, {a.threads} threads, median of {a.repeats}")
    print(f"  C engine : {c['median_s']:.3f} s (first {c['first_s']:.3f} s, load {c['load_s']:.2f} s); "
          f"{c['loaded_rss_mb']:.0f} MB resident after load, peak {c['maxrss_mb']:.0f} MB "
          f"= {c['maxrss_mb'] / file_mb:.2f}x the {file_mb:.0f} MB weight file (weights in memory {c['weight_mb']:.0f} MB)")
    print(f"  PyTorch  : {pt_s:.3f} s (torch {torch.__version__}); +{pt_loaded:.0f} MB after load, peak +{pt_peak:.0f} MB")
    print(f"  ratio C/PyTorch = {c['median_s'] / pt_s:.2f}")
    if exact is not None:
        print(f"  embeddings, max |x - float64| / max |float64|: C {rel(c_out, exact):.2g}, "
              f"PyTorch {rel(pt_out, exact):.2g} (C against PyTorch {rel(c_out, pt_out):.2g})")
    else:
        print(f"  embeddings, C against PyTorch: relative L2 {l2(c_out, pt_out):.2g}, max {rel(c_out, pt_out):.2g}")


if __name__ == "__main__":
    main()
