#!/usr/bin/env python3
"""Reference values of the image metrics from scikit-image, for tests/test_metrics.c.

    .venv/bin/python tools/reference_metrics.py [OUTDIR]

Writes metrics_a.npy / metrics_b.npy (uint8 [n, h, w, 3] pairs stored as float32) and
metrics.json with skimage's PSNR (data_range 255) and SSIM (gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1) for each pair."""
import json
import sys
from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parent.parent


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures"
    rng = np.random.default_rng(0)
    pairs = []
    for h, w, noise in ((32, 32, 8), (40, 48, 30), (64, 64, 2)):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 3) % 256], -1).astype(np.float64)
        a = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        b = np.clip(a + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
        pairs.append((a, b))
    cases = []
    for i, (a, b) in enumerate(pairs):
        np.save(out / f"metrics_{i}_a.npy", a.astype("<f4"))
        np.save(out / f"metrics_{i}_b.npy", b.astype("<f4"))
        cases.append({"a": f"metrics_{i}_a.npy", "b": f"metrics_{i}_b.npy",
                      "psnr": float(peak_signal_noise_ratio(a, b, data_range=255)),
                      "ssim": float(structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                                          use_sample_covariance=False, data_range=255,
                                                          channel_axis=-1))})
    (out / "metrics.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
