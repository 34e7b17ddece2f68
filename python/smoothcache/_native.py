"""The shared library: where it is found, and its C declarations as ctypes.

Every structure here mirrors include/smoothcache.h field for field, in order; a mismatch would
corrupt memory silently, so the test suite compiles a C program that prints each field's offset
and each structure's size and compares them with these (tests/test_layout.py).
"""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
                    c_long, c_size_t, c_uint8, c_uint64, c_void_p)
from pathlib import Path

SONAME = "libsmoothcache.so.0"
PACKAGE_DIR = Path(__file__).resolve().parent

SC_MAX_RANK = 4
SC_MAX_SCALARS = 8
SC_MAX_COMPONENTS = 8
SC_FIGURE_MAX_SERIES = 12
SC_SAMPLER_COUNT = 8


# ---------------------------------------------------------------------------------- structures

class sc_shape(Structure):
    _fields_ = [("rank", c_int), ("dims", c_int * SC_MAX_RANK)]


class sc_scalar(Structure):
    _fields_ = [("name", c_char_p), ("values", POINTER(c_float))]


class sc_cond(Structure):
    _fields_ = [("n", c_int),
                ("classes", POINTER(c_int)),
                ("text", POINTER(c_float)),
                ("text_mask", POINTER(c_int)),
                ("neg_text", POINTER(c_float)),
                ("neg_text_mask", POINTER(c_int)),
                ("text_len", c_int), ("text_dim", c_int),
                ("pooled", POINTER(c_float)),
                ("neg_pooled", POINTER(c_float)),
                ("pooled_dim", c_int),
                ("scalars", sc_scalar * SC_MAX_SCALARS),
                ("n_scalars", c_int)]


class sc_load_opts(Structure):
    _fields_ = [("origin", c_int), ("num_heads", c_int), ("input_size", c_int), ("check_weights", c_int),
                ("no_pack", c_int), ("dtype", c_int)]


class sc_model_info(Structure):
    _fields_ = [("family", c_char_p), ("layout", c_char_p), ("numerics", c_char_p),
                ("origin", c_int),
                ("dtype", c_char_p),
                ("depth", c_int), ("hidden", c_int), ("heads", c_int), ("head_dim", c_int), ("patch", c_int),
                ("latent", sc_shape),
                ("in_channels", c_int), ("out_channels", c_int),
                ("num_classes", c_int),
                ("takes_text", c_int), ("text_dim", c_int), ("text_len", c_int),
                ("default_steps", c_int), ("default_cfg", c_float), ("default_sampler", c_int),
                ("learned_sigma", c_int),
                ("tokens", c_int),
                ("params", c_uint64),
                ("macs_per_forward", c_uint64),
                ("n_components", c_int),
                ("components", c_char_p * SC_MAX_COMPONENTS),
                ("macs_component", c_uint64 * SC_MAX_COMPONENTS),
                ("scheduler", c_char_p),
                ("compute_dtype", c_char_p),
                ("weight_bytes", c_uint64),
                ("weights_source", c_char_p)]


class sc_vae_info(Structure):
    _fields_ = [("naming", c_char_p),
                ("latent_channels", c_int), ("out_channels", c_int), ("blocks", c_int), ("layers_per_block", c_int),
                ("groups", c_int),
                ("block_out", c_int * 8),
                ("upscale", c_int),
                ("scaling_factor", c_double),
                ("sample_rate", c_int)]


# int (*)(void *user, int step, int steps, double seconds_elapsed, const float *latents)
sc_progress_fn = CFUNCTYPE(c_int, c_void_p, c_int, c_int, c_double, POINTER(c_float))


class sc_cache_stats(Structure):
    _fields_ = [("n_components", c_int),
                ("components", c_char_p * SC_MAX_COMPONENTS),
                ("computed", c_long * SC_MAX_COMPONENTS),
                ("skipped", c_long * SC_MAX_COMPONENTS),
                ("macs", c_double), ("macs_uncached", c_double), ("seconds", c_double),
                ("policy_seconds", c_double), ("setup_seconds", c_double)]


class sc_gen_params(Structure):
    _fields_ = [("cond", POINTER(sc_cond)),
                ("shape", sc_shape),
                ("seed", c_uint64),
                ("steps", c_int),
                ("sampler", c_int),
                ("cfg", c_float),
                ("threads", c_int),
                ("latents_in", POINTER(c_float)),
                ("check_finite", c_int),
                ("progress", sc_progress_fn),
                ("progress_user", c_void_p),
                ("cache", c_char_p),
                ("stats", POINTER(sc_cache_stats)),
                ("calibration", c_void_p),
                ("noise_in", POINTER(c_float))]


class sc_policy_desc(Structure):
    _fields_ = [("name", c_char_p), ("about", c_char_p), ("options", c_char_p), ("calibration", c_char_p),
                ("calibration_options", c_char_p), ("calibration_samples", c_int)]


class sc_series(Structure):
    _fields_ = [("name", c_char_p),
                ("x", POINTER(c_double)), ("y", POINTER(c_double)),
                ("n", c_int),
                ("palette", c_int),
                ("dashed", c_int), ("markers", c_int),
                ("labels", POINTER(c_char_p))]


class sc_figure(Structure):
    _fields_ = [("title", c_char_p), ("x_label", c_char_p), ("y_label", c_char_p),
                ("n_series", c_int),
                ("series", sc_series * SC_FIGURE_MAX_SERIES),
                ("storage", c_void_p)]


class sc_schedule_opts(Structure):
    _fields_ = [("alpha", c_double), ("target_macs", c_double), ("per_block", c_int), ("solver", c_int)]


class sc_schedule_summary(Structure):
    _fields_ = [("alpha", c_double),
                ("computed", c_int),
                ("mac_ratio", c_double),
                ("depth", c_int), ("steps", c_int), ("n_components", c_int),
                ("components", (c_char * 32) * SC_MAX_COMPONENTS),
                ("computes", c_long * SC_MAX_COMPONENTS)]


class sc_tokenizer_info(Structure):
    _fields_ = [("vocab_size", c_int), ("pad_id", c_int), ("eos_id", c_int), ("model_max_length", c_int),
                ("path", c_char_p), ("semantics", c_char_p)]


class sc_text_encoder_info(Structure):
    _fields_ = [("family", c_char_p), ("variant", c_char_p),
                ("vocab_size", c_int), ("width", c_int), ("depth", c_int),
                ("params", c_uint64),
                ("dtype", c_char_p), ("path", c_char_p),
                ("compute_dtype", c_char_p), ("weight_bytes", c_uint64)]


class sc_shard(Structure):
    _fields_ = [("index", c_int), ("count", c_int), ("source", c_char_p)]


class sc_shard_info(Structure):
    _fields_ = [("index", c_int), ("count", c_int),
                ("begin", c_uint64), ("end", c_uint64), ("num", c_uint64),
                ("batch", c_int), ("steps", c_int), ("side", c_int),
                ("seed", c_uint64),
                ("cfg", c_double),
                ("sampler", c_char_p), ("dtype", c_char_p), ("cache", c_char_p),
                ("model", c_char_p),
                ("model_fingerprint", c_char_p), ("vae_fingerprint", c_char_p)]


# The structures tests/test_layout.py checks against the C compiler, by C type name.
STRUCTS = [sc_shape, sc_scalar, sc_cond, sc_load_opts, sc_model_info, sc_vae_info, sc_cache_stats, sc_gen_params,
           sc_policy_desc, sc_series, sc_figure, sc_schedule_opts, sc_schedule_summary, sc_tokenizer_info,
           sc_text_encoder_info, sc_shard, sc_shard_info]

# ---------------------------------------------------------------------------------- functions

_p = c_void_p
_fp = POINTER(c_float)
_ip = POINTER(c_int)
_u8p = POINTER(c_uint8)
_i32p = POINTER(c_int32)

# name: (restype, argtypes); an sc_status is a C int.
PROTOTYPES = {
    "sc_last_error": (c_char_p, []),
    "sc_last_status": (c_int, []),
    "sc_set_quiet": (None, [c_int]),
    # models
    "sc_model_load": (c_int, [c_char_p, POINTER(sc_load_opts), POINTER(_p)]),
    "sc_model_free": (None, [_p]),
    "sc_model_get_info": (None, [_p, POINTER(sc_model_info)]),
    "sc_latent_bytes": (c_size_t, [_p, c_int]),
    "sc_model_forward": (c_int, [_p, POINTER(sc_cond), _fp, _fp, _fp, c_int]),
    "sc_model_forward_shape": (c_int, [_p, POINTER(sc_cond), POINTER(sc_shape), _fp, _fp, _fp, c_int]),
    "sc_model_component_path": (c_int, [_p, c_char_p, ctypes.c_char_p, c_size_t]),
    "sc_convert_checkpoint": (c_int, [c_char_p, c_char_p, c_int, POINTER(c_size_t)]),
    # decoders
    "sc_vae_load": (c_int, [c_char_p, POINTER(_p)]),
    "sc_vae_free": (None, [_p]),
    "sc_vae_get_info": (None, [_p, POINTER(sc_vae_info)]),
    "sc_image_side": (c_int, [_p, _p]),
    "sc_decode_images": (c_int, [_p, _p, c_int, _fp, _u8p, c_int]),
    "sc_audio_length": (c_int64, [_p, c_int64]),
    "sc_decode_audio": (c_int, [_p, c_int, c_int, c_int64, _fp, _fp, c_int]),
    # sampling
    "sc_gen_params_default": (sc_gen_params, []),
    "sc_generate": (c_int, [_p, POINTER(sc_gen_params), _fp]),
    "sc_sampler_timesteps": (c_int, [_p, c_int, c_int, _ip]),
    "sc_sampler_name": (c_char_p, [c_int]),
    "sc_sampler_from_name": (c_int, [c_char_p]),
    "sc_draw_classes": (None, [c_uint64, c_int, c_long, _ip]),
    # cache policies, calibrations, figures, schedules
    "sc_policy_at": (c_int, [c_int, POINTER(sc_policy_desc)]),
    "sc_calibration_new": (c_int, [c_char_p, POINTER(_p)]),
    "sc_calibration_free": (None, [_p]),
    "sc_calibration_samples": (c_int, [_p]),
    "sc_calibration_save": (c_int, [_p, c_char_p, c_int]),
    "sc_calibration_warning": (c_char_p, [_p]),
    "sc_calibration_figure": (c_int, [_p, POINTER(sc_figure)]),
    "sc_figure_free": (None, [POINTER(sc_figure)]),
    "sc_figure_write_png": (c_int, [POINTER(sc_figure), c_char_p, c_int]),
    "sc_schedule_make": (c_int, [c_char_p, POINTER(sc_schedule_opts), c_char_p, c_int, POINTER(sc_schedule_summary)]),
    # text
    "sc_tokenizer_load": (c_int, [c_char_p, c_int, POINTER(_p)]),
    "sc_tokenizer_free": (None, [_p]),
    "sc_tokenizer_get_info": (None, [_p, POINTER(sc_tokenizer_info)]),
    "sc_tokenize": (c_int, [_p, c_char_p, c_size_t, c_int, _i32p, _i32p, c_int, _ip]),
    "sc_tokenizer_piece": (c_char_p, [_p, c_int]),
    "sc_text_encoder_load": (c_int, [c_char_p, POINTER(_p)]),
    "sc_text_encoder_free": (None, [_p]),
    "sc_text_encoder_get_info": (None, [_p, POINTER(sc_text_encoder_info)]),
    "sc_dtype_supported": (c_int, [c_int]),
    "sc_convert_checkpoint_dtype": (c_int, [c_char_p, c_char_p, c_int, c_int, POINTER(c_size_t)]),
    "sc_vae_load_opts": (c_int, [c_char_p, POINTER(sc_load_opts), POINTER(_p)]),
    "sc_model_fingerprint": (c_int, [_p, c_char_p]),
    "sc_vae_fingerprint": (None, [_p, c_char_p]),
    "sc_shard_detect": (c_int, [c_char_p, c_int, POINTER(sc_shard)]),
    "sc_shard_range": (None, [c_uint64, c_int, c_int, c_int, POINTER(c_uint64), POINTER(c_uint64)]),
    "sc_shard_names": (c_int, [c_char_p, c_int, c_int, c_char_p, c_char_p, c_size_t]),
    "sc_shard_manifest_write": (c_int, [c_char_p, POINTER(sc_shard_info), c_int]),
    "sc_shard_is_complete": (c_int, [c_char_p, c_char_p, POINTER(sc_shard_info), c_char_p, c_size_t]),
    "sc_calibration_export": (c_int, [_p, POINTER(c_double), c_size_t, POINTER(c_size_t)]),
    "sc_calibration_absorb": (c_int, [_p, POINTER(c_double), c_size_t]),
    "sc_shard_merge": (c_int, [c_char_p, POINTER(c_char_p), c_int, c_int, POINTER(c_uint64)]),
    "sc_dtype_name": (c_char_p, [c_int]),
    "sc_dtype_parse": (c_int, [c_char_p, POINTER(c_int)]),
    "sc_text_encoder_load_opts": (c_int, [c_char_p, POINTER(sc_load_opts), POINTER(_p)]),
    "sc_text_encode": (c_int, [_p, c_int, c_int, _i32p, _i32p, _fp, c_int]),
    "sc_encode_prompts": (c_int, [_p, _p, _p, c_int, POINTER(c_char_p), c_int, _fp, _i32p, c_int]),
    # tools (smoothcache_tools.h)
    "sc_output_check": (c_int, [c_char_p, c_int]),
    "sc_images_write": (c_int, [c_char_p, _u8p, c_int, c_int, c_char_p, c_int]),
    "sc_psnr": (c_double, [_u8p, _u8p, c_size_t]),
    "sc_ssim": (c_double, [_u8p, _u8p, c_int, c_int, c_int]),
    "sc_rel_l2": (c_double, [_fp, _fp, c_size_t]),
    "sc_demo_classify": (c_int, [_u8p]),
    "sc_describe_file": (c_char_p, [c_char_p, c_char_p, c_size_t]),
}


# ---------------------------------------------------------------------------------- finding it

def _pkg_config_libdir():
    exe = shutil.which("pkg-config")
    if not exe:
        return None
    try:
        r = subprocess.run([exe, "--variable=libdir", "smoothcache"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = r.stdout.strip()
    return libdir if r.returncode == 0 and libdir else None


def candidates():
    """(how, what to pass to the loader) in the order they are tried, $SMOOTHCACHE_LIBRARY first."""
    out = []
    env = os.environ.get("SMOOTHCACHE_LIBRARY")
    if env:
        out.append(("$SMOOTHCACHE_LIBRARY", env))
        return out  # named explicitly: nothing else is tried
    bundled = PACKAGE_DIR / "_lib" / SONAME
    out.append(("bundled in the package", str(bundled)))
    found = ctypes.util.find_library("smoothcache")
    if found:
        out.append(("the system loader (find_library)", found))
    out.append(("the system loader", SONAME))
    libdir = _pkg_config_libdir()
    if libdir:
        out.append(("pkg-config's libdir", str(Path(libdir) / SONAME)))
    # Imported from a source checkout (python/ beside build/) rather than installed.
    out.append(("the source tree's build folder", str(PACKAGE_DIR.parent.parent / "build" / SONAME)))
    return out


def _declare(lib):
    for name, (res, args) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            return name
        fn.restype = res
        fn.argtypes = args
    return None


def load():
    """Returns (CDLL, the path or name it was loaded from); ImportError naming every place tried."""
    tried = []
    for how, what in candidates():
        if os.sep in what and not os.path.exists(what):
            tried.append(f"{how}: {what} (no such file)")
            continue
        try:
            lib = ctypes.CDLL(what)
        except OSError as e:
            tried.append(f"{how}: {what} ({e})")
            continue
        missing = _declare(lib)
        if missing:
            tried.append(f"{how}: {what} (lacks {missing}: a library older than this package?)")
            continue
        return lib, what
    raise ImportError("smoothcache: the shared library libsmoothcache.so.0 was not found. Build it (make) or install "
                      "it (make install), or set SMOOTHCACHE_LIBRARY to its path. Tried:\n  " + "\n  ".join(tried))


def loaded_path(lib_name):
    """The file the dynamic loader mapped for the library (its real location, whatever name found it)."""
    if os.sep in lib_name:
        return str(Path(lib_name).resolve())
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and "libsmoothcache.so" in os.path.basename(parts[5].strip()):
                    return parts[5].strip()
    except OSError:
        pass
    return lib_name


lib, lib_name = load()
LIBRARY_PATH = loaded_path(lib_name)
