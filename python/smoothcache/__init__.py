"""smoothcache: Python bindings over the smoothcache C library (libsmoothcache.so.0).

Diffusion Transformer sampling with training-free feature caching; numpy arrays in and out.

    import smoothcache as sc
    model = sc.Model()                                   # the shipped demo model
    lat, stats = model.generate([0, 1, 2], seed=0, steps=50,
                                cache="smooth:schedule=models/demo/cache/smooth-a0.08.json")
    rgb = model.decode(lat)                              # uint8 [3, 32, 32, 3]

The library is found at $SMOOTHCACHE_LIBRARY, else bundled in the package, else by the system
loader, else in pkg-config's libdir (smoothcache.library_path says which file was loaded).
"""
from ._version import __version__
from ._native import LIBRARY_PATH as library_path
from ._core import (CacheStats, Calibration, Figure, GenerationCancelled, Model, ModelInfo, Policy, Record, Report,
                    Schedule, Series, SmoothCacheError, Status, TextEncoder, TextEncoderInfo, Tokenizer, TokenizerInfo,
                    Vae, VaeInfo, calibrate, convert, demo_classify, demo_model_path, describe_file, draw_classes, dtype_supported,
                    last_error, merge_shards,
                    make_schedule,
                    policies, psnr, read_curves, read_json_arrays, read_report, read_schedule, rel_l2, sampler_names, set_quiet,
                    ssim, write_images)

__all__ = ["CacheStats", "Calibration", "Figure", "GenerationCancelled", "Model", "ModelInfo", "Policy", "Record",
           "Report", "Schedule", "Series", "SmoothCacheError", "Status", "TextEncoder", "TextEncoderInfo", "Tokenizer",
           "TokenizerInfo", "Vae", "VaeInfo", "calibrate", "convert", "demo_classify", "demo_model_path", "describe_file", "draw_classes",
           "dtype_supported", "merge_shards",
           "last_error", "make_schedule", "policies", "psnr", "read_curves", "read_json_arrays", "read_report", "read_schedule",
           "rel_l2", "sampler_names", "set_quiet", "ssim", "write_images", "library_path", "__version__"]
