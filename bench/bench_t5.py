#!/usr/bin/env python3
"""T5 encoder (float32): the C engine against transformers' T5EncoderModel on the same random
weights of a real T5's shapes and the same padded ids, in the same run.

    .venv/bin/python bench/bench_t5.py [--model t5-base] [--tokens 120] [--batch 1] [--threads 2] [--repeats 5]

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
}


def make_weights(name, folder):
    if os.path.exists(os.path.join(folder, "config.json")):
        return
    torch.manual_seed(0)
    model = T5EncoderModel(T5Config(**SHAPES[name])).eval()
    with torch.no_grad():  # T5's own init gives near-zero attention logits; widen it a little
        for p in model.parameters():
            p.mul_(4.0 if p.dim() == 2 else 1.0)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_torch(folder, ids, mask, threads, repeats):
    torch.set_num_threads(threads)
    before = rss_mb()
    model = T5EncoderModel.from_pretrained(folder, dtype=torch.float32).eval()
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
    with torch.inference_mode():  # the float64 forward both are measured against
        exact = model.double()(input_ids=i, attention_mask=m).last_hidden_state.numpy()
    return statistics.median(times), out.numpy(), exact, loaded - before, peak - before


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SHAPES), default="t5-base")
    ap.add_argument("--tokens", type=int, default=120)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    out_dir = os.path.join(ROOT, "bench", "out")
    folder = os.path.join(out_dir, f"{a.model}-random")
    make_weights(a.model, folder)
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
                        paths[2]], capture_output=True, text=True, env=env, check=True).stdout
    c = {k: float(v) for k, v in (kv.split("=") for kv in c.split())}
    pt_s, pt_out, exact, pt_loaded, pt_peak = time_torch(folder, ids, mask, a.threads, a.repeats)
    c_out = np.load(paths[2])
    rel = lambda x, ref: float(np.abs(x - ref).max() / np.abs(ref).max())
    print(f"{a.model} encoder, {a.batch} x {L} tokens, fp32, {a.threads} threads, median of {a.repeats}")
    print(f"  C engine : {c['median_s']:.3f} s (first {c['first_s']:.3f} s, load {c['load_s']:.2f} s); "
          f"{c['loaded_rss_mb']:.0f} MB resident after load, peak {c['maxrss_mb']:.0f} MB")
    print(f"  PyTorch  : {pt_s:.3f} s (torch {torch.__version__}); +{pt_loaded:.0f} MB after load, peak +{pt_peak:.0f} MB")
    print(f"  ratio C/PyTorch = {c['median_s'] / pt_s:.2f}")
    print(f"  embeddings, max |x - float64| / max |float64|: C {rel(c_out, exact):.2g}, PyTorch {rel(pt_out, exact):.2g}"
          f" (C against PyTorch {rel(c_out, pt_out):.2g})")


if __name__ == "__main__":
    main()
