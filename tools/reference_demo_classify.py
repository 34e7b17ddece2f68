#!/usr/bin/env python3
"""Reference labels of the demo dataset's analytic classifier (tools/demo/classify.py) for the C
port (src/metrics/demo_classify.c, tests/test_metrics.c): 60 dataset images, 60 degraded
copies (noise, blur-like averaging, colour shifts) so that rejections and near-threshold cases
are covered too, and every class's colour drawn in every class's shape (100 images) so that
each class's shape range is probed from both sides.

    .venv/bin/python tools/reference_demo_classify.py [OUTDIR]
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "demo"))
import classify  # noqa: E402
import dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures"
    images, _ = dataset.make_dataset(60, seed=5)
    rng = np.random.default_rng(6)
    degraded = images.astype(np.int64)
    degraded = degraded + rng.normal(0, 25, degraded.shape).round().astype(np.int64)   # noise
    degraded[20:40] = (degraded[20:40] + np.roll(degraded[20:40], 1, axis=1)) // 2     # smear
    degraded[40:60] += rng.integers(-60, 60, size=(20, 1, 1, 3))                        # colour shift
    degraded = np.clip(degraded, 0, 255).astype(np.uint8)
    shapes = [c[1] for c in dataset.CLASSES]
    crossed = np.stack([dataset.render(k, rng, shape=shapes[j])
                        for k in range(dataset.NUM_CLASSES) for j in range(len(shapes))])
    all_images = np.concatenate([images, degraded, crossed])
    labels = [int(classify.classify(im)) for im in all_images]
    np.save(out / "demo_classify_images.npy", all_images)
    (out / "demo_classify.json").write_text(json.dumps({"labels": labels}) + "\n")
    print(f"wrote {len(labels)} images; rejected {labels.count(-1)}")


if __name__ == "__main__":
    main()
