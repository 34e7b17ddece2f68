"""The Pythonic layer over the C API: models, generation, decoding, calibration, schedules, text,
metrics and reports. Arrays go in and come out as numpy; nothing here computes what the library
computes (see include/smoothcache.h for the semantics of every call)."""
import ctypes
import dataclasses
import enum
import json
import math
import os
import re
import tempfile
import threading
from ctypes import (POINTER, byref, c_char_p, c_float, c_int, c_int32, c_size_t, c_uint8, c_uint64, c_void_p,
                    create_string_buffer)
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _native as N
from ._native import lib

# ---------------------------------------------------------------------------------- errors


class Status(enum.IntEnum):
    """sc_status: what kind of failure the library reported."""
    OK = 0
    IO = 1
    FORMAT = 2
    ARG = 3
    UNSUPPORTED = 4
    NOMEM = 5
    NUMERIC = 6
    EXISTS = 7


class SmoothCacheError(Exception):
    """A failure reported by the library: `message` is sc_last_error(), `status` the sc_status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        try:
            self.status = Status(status)
        except ValueError:
            self.status = status

    def __str__(self):
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        return f"{self.message} [{name}]"


class GenerationCancelled(SmoothCacheError):
    """The progress callable asked to stop (returned a true value)."""


def last_error() -> str:
    """sc_last_error() of this thread."""
    return (lib.sc_last_error() or b"").decode("utf-8", "replace")


def _check(status: int, cls=SmoothCacheError):
    if status != 0:
        raise cls(last_error(), status)


def set_quiet(quiet: bool = True):
    """Silences (True) or enables the library's warnings on stderr."""
    lib.sc_set_quiet(1 if quiet else 0)


# ---------------------------------------------------------------------------------- helpers

def _s(b) -> Optional[str]:
    return None if b is None else b.decode("utf-8", "replace")


def _path(p, what="path") -> bytes:
    if isinstance(p, (str, bytes, os.PathLike)):
        return os.fsencode(p)
    raise TypeError(f"{what} must be a str or os.PathLike, not {type(p).__name__}")


def _array(a, name: str, dtype, shape: Optional[Sequence[Optional[int]]] = None, rank: Optional[int] = None):
    """a as it is, once checked: a numpy array of exactly `dtype`, C-contiguous, of `shape`
    (None entries: any size) or `rank`. Nothing is converted: a wrong array is refused."""
    dtype = np.dtype(dtype)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of {dtype}, not {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, not {a.dtype} (convert with .astype(np.{dtype.name}))")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use np.ascontiguousarray)")
    if shape is not None:
        ok = a.ndim == len(shape) and all(w is None or w == g for w, g in zip(shape, a.shape))
        if not ok:
            want = "[" + ", ".join("*" if w is None else str(w) for w in shape) + "]"
            raise ValueError(f"{name} has shape {list(a.shape)}, expected {want}")
    if rank is not None and a.ndim != rank:
        raise ValueError(f"{name} must have {rank} dimensions, not {a.ndim} (shape {list(a.shape)})")
    return a


def _ints(v, name: str) -> np.ndarray:
    """A sequence of integers (or an integer numpy array) -> int32 [n], range-checked."""
    if isinstance(v, np.ndarray):
        if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer):
            raise TypeError(f"{name} must be a 1-D integer array, not {v.dtype} of shape {list(v.shape)}")
        vals = v.tolist()
    else:
        try:
            vals = list(v)
        except TypeError:
            raise TypeError(f"{name} must be a sequence of integers, not {type(v).__name__}") from None
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise TypeError(f"{name}: {x!r} is not an integer")
        if not -2**31 <= int(x) < 2**31:
            raise ValueError(f"{name}: {x} is out of range")
    return np.ascontiguousarray(np.array(vals, dtype=np.int32).reshape(len(vals)))


def _fptr(a: Optional[np.ndarray]):
    return None if a is None else a.ctypes.data_as(POINTER(c_float))


def _iptr(a: Optional[np.ndarray]):
    return None if a is None else a.ctypes.data_as(POINTER(c_int))


def _u8ptr(a: np.ndarray):
    return a.ctypes.data_as(POINTER(c_uint8))


def _int_arg(v, name, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
    if not lo <= int(v) <= hi:
        raise ValueError(f"{name}: {v} is not in {lo}..{hi}")
    return int(v)


def _relative(path: Path) -> str:
    """A path inside the working folder named from it (what files record), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def sampler_names() -> List[str]:
    """The samplers' names, in sc_sampler order."""
    return [_s(lib.sc_sampler_name(i)) for i in range(N.SC_SAMPLER_COUNT)]


def _sampler(s) -> int:
    if isinstance(s, str):
        k = lib.sc_sampler_from_name(s.encode())
        if k < 0:
            raise ValueError(f"sampler: '{s}' is not one of {', '.join(sampler_names())}")
        return k
    raise TypeError(f"sampler must be a name such as 'ddim', not {type(s).__name__}")


# ---------------------------------------------------------------------------------- the demo model

def demo_model_candidates() -> List[Path]:
    """Where the shipped demo model is looked for when no path is given, in order."""
    out = []
    env = os.environ.get("SMOOTHCACHE_MODEL")
    if env:
        return [Path(env)]
    lib_dir = Path(N.LIBRARY_PATH).resolve().parent if os.sep in N.LIBRARY_PATH else None
    if lib_dir:
        # build/libsmoothcache.so.0 -> models/demo of the source tree;
        # PREFIX/lib[/multiarch]/libsmoothcache.so.0 -> PREFIX/share/smoothcache/models/demo.
        for up in (lib_dir.parent, lib_dir.parent.parent):
            out += [up / "models" / "demo", up / "share" / "smoothcache" / "models" / "demo"]
    out.append(N.PACKAGE_DIR.parent.parent / "models" / "demo")  # imported from a source checkout
    seen, uniq = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    return uniq


def demo_model_path() -> Optional[str]:
    """$SMOOTHCACHE_MODEL, else the demo model beside the library or the package, else None."""
    env = os.environ.get("SMOOTHCACHE_MODEL")
    if env:
        return env
    for p in demo_model_candidates():
        if p.is_dir():
            return _relative(p)
    return None


# ---------------------------------------------------------------------------------- descriptions

@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """sc_model_info."""
    family: str
    layout: str
    numerics: str
    origin: str               # "auto", "original" or "diffusers"
    dtype: str
    depth: int
    hidden: int
    heads: int
    head_dim: int
    patch: int
    latent_shape: Tuple[int, ...]
    in_channels: int
    out_channels: int
    num_classes: int
    takes_text: bool
    text_dim: int             # the width of the text embeddings it takes (0: none)
    text_len: int             # the tokens its pipeline pads prompts to (0: takes no text)
    default_steps: int        # what its pipeline does unless told: steps,
    default_cfg: float        # guidance scale,
    default_sampler: int      # and sampler (an index into sampler_names())
    learned_sigma: bool
    tokens: int
    params: int
    macs_per_forward: int
    components: Tuple[str, ...]
    macs_component: Dict[str, int]
    scheduler: str
    compute_dtype: str        # "f32", "bf16" or "int8": the precision of the matrix products
    weight_bytes: int         # bytes the weights take in memory
    weights_source: str       # "mapped", "converted" or "mixed"

    def as_dict(self):
        return dataclasses.asdict(self)


_ORIGINS = {"auto": 0, "original": 1, "diffusers": 2}
_DTYPES = {"auto": 0, "f32": 1, "bf16": 2, "int8": 3}


def convert(src, dst, *, dtype: Optional[str] = None, force: bool = False) -> int:
    """A PyTorch checkpoint or safetensors file rewritten as safetensors (sc_convert_checkpoint_dtype):
    dtype None keeps every tensor as stored, "bf16" / "f32" writes the floating-point ones so.
    Returns the number of tensors written."""
    n = c_size_t(0)
    _check(lib.sc_convert_checkpoint_dtype(_path(src, "src"), _path(dst, "dst"), 1 if force else 0,
                                           _dtype_arg(dtype or "auto"), byref(n)))
    return n.value


def merge_shards(out, shards: Sequence, *, force: bool = False) -> int:
    """Complete shards of a sharded `smoothcache sample` run (their .npz paths) merged into out
    (sc_shard_merge); returns the number of images."""
    paths = [_path(p, "shard") for p in shards]
    if not paths:
        raise ValueError("shards: give at least one .npz")
    arr = (c_char_p * len(paths))(*paths)
    images = c_uint64(0)
    _check(lib.sc_shard_merge(_path(out, "out"), arr, len(paths), 1 if force else 0, byref(images)))
    return images.value


def dtype_supported(dtype: str) -> bool:
    """Whether this CPU has fast kernels for `dtype` ("f32", "bf16", "int8"; sc_dtype_supported)."""
    return bool(lib.sc_dtype_supported(_dtype_arg(dtype)))


def _dtype_arg(dtype):
    if dtype not in _DTYPES:
        raise ValueError(f"dtype: '{dtype}' is not one of {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """sc_cache_stats: the work one generation did, per component of the blocks."""
    components: Tuple[str, ...]
    computed: Dict[str, int]
    skipped: Dict[str, int]
    macs: float
    macs_uncached: float
    seconds: float
    policy_seconds: float
    setup_seconds: float

    @property
    def mac_ratio(self) -> float:
        return self.macs / self.macs_uncached if self.macs_uncached > 0 else 1.0

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["mac_ratio"] = self.mac_ratio
        return d


def _stats(st: N.sc_cache_stats) -> CacheStats:
    names = tuple(_s(st.components[i]) for i in range(st.n_components))
    return CacheStats(components=names,
                      computed={c: int(st.computed[i]) for i, c in enumerate(names)},
                      skipped={c: int(st.skipped[i]) for i, c in enumerate(names)},
                      macs=st.macs, macs_uncached=st.macs_uncached, seconds=st.seconds,
                      policy_seconds=st.policy_seconds, setup_seconds=st.setup_seconds)


@dataclasses.dataclass(frozen=True)
class VaeInfo:
    """sc_vae_info."""
    naming: str
    latent_channels: int
    out_channels: int
    blocks: int
    layers_per_block: int
    groups: int
    block_out: Tuple[int, ...]
    upscale: int
    scaling_factor: float

    def as_dict(self):
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------- handles

class _Handle:
    """An object the library allocated, freed once (close(), `with`, or when collected)."""
    _free = None

    def __init__(self):
        self._h = c_void_p()

    @property
    def closed(self) -> bool:
        return not self._h

    def _handle(self):
        if not self._h:
            raise ValueError(f"this {type(self).__name__} is closed")
        return self._h

    def close(self):
        if getattr(self, "_h", None):
            type(self)._free(self._h)
            self._h = c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Vae(_Handle):
    """The SD-VAE decoder (sc_vae_load): a VAE folder, a pipeline folder or a single file."""
    _free = staticmethod(lambda h: lib.sc_vae_free(h))

    def __init__(self, path, *, dtype: str = "auto"):
        super().__init__()
        self.path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else path
        opts = N.sc_load_opts(dtype=_dtype_arg(dtype))
        _check(lib.sc_vae_load_opts(_path(path), byref(opts), byref(self._h)))
        i = N.sc_vae_info()
        lib.sc_vae_get_info(self._h, byref(i))
        self.info = VaeInfo(naming=_s(i.naming), latent_channels=i.latent_channels, out_channels=i.out_channels,
                            blocks=i.blocks, layers_per_block=i.layers_per_block, groups=i.groups,
                            block_out=tuple(i.block_out[:max(0, min(i.blocks, 8))]), upscale=i.upscale,
                            scaling_factor=i.scaling_factor)


class Model(_Handle):
    """A model (sc_model_load). `path=None` loads the shipped demo model ($SMOOTHCACHE_MODEL, else
    models/demo beside the library or the package). Calls on one model are serialised."""
    _free = staticmethod(lambda h: lib.sc_model_free(h))

    def __init__(self, path=None, *, origin: str = "auto", num_heads: int = 0, input_size: int = 0,
                 check_weights: bool = False, pack: bool = True, dtype: str = "auto"):
        super().__init__()
        if path is None:
            path = demo_model_path()
            if path is None:
                tried = ", ".join(str(p) for p in demo_model_candidates())
                raise FileNotFoundError("no model path given and the shipped demo model was not found "
                                        f"(set SMOOTHCACHE_MODEL; tried {tried})")
        if origin not in _ORIGINS:
            raise ValueError(f"origin: '{origin}' is not one of {', '.join(_ORIGINS)}")
        self.path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else path
        opts = N.sc_load_opts(origin=_ORIGINS[origin], num_heads=_int_arg(num_heads, "num_heads", 0, 1 << 20),
                              input_size=_int_arg(input_size, "input_size", 0, 1 << 20),
                              check_weights=1 if check_weights else 0, no_pack=0 if pack else 1,
                              dtype=_dtype_arg(dtype))
        _check(lib.sc_model_load(_path(path, "path"), byref(opts), byref(self._h)))
        self._lock = threading.Lock()
        self._vae = None
        i = N.sc_model_info()
        lib.sc_model_get_info(self._h, byref(i))
        comps = tuple(_s(i.components[k]) for k in range(i.n_components))
        self.info = ModelInfo(
            family=_s(i.family), layout=_s(i.layout), numerics=_s(i.numerics),
            origin={v: k for k, v in _ORIGINS.items()}.get(i.origin, str(i.origin)), dtype=_s(i.dtype),
            depth=i.depth, hidden=i.hidden, heads=i.heads, head_dim=i.head_dim, patch=i.patch,
            latent_shape=tuple(i.latent.dims[:i.latent.rank]), in_channels=i.in_channels,
            out_channels=i.out_channels, num_classes=i.num_classes, takes_text=bool(i.takes_text), text_dim=i.text_dim,
            text_len=i.text_len, default_steps=i.default_steps, default_cfg=float(i.default_cfg),
            default_sampler=i.default_sampler,
            learned_sigma=bool(i.learned_sigma), tokens=i.tokens, params=int(i.params),
            macs_per_forward=int(i.macs_per_forward), components=comps,
            macs_component={c: int(i.macs_component[k]) for k, c in enumerate(comps)}, scheduler=_s(i.scheduler),
            compute_dtype=_s(i.compute_dtype), weight_bytes=int(i.weight_bytes), weights_source=_s(i.weights_source))

    def fingerprint(self) -> str:
        """16 hex digits identifying the weights (sc_model_fingerprint; reads them once)."""
        buf = create_string_buffer(17)
        with self._lock:
            _check(lib.sc_model_fingerprint(self._handle(), buf))
        return buf.value.decode()

    def close(self):
        if getattr(self, "_vae", None) is not None:
            self._vae.close()
            self._vae = None
        super().close()

    def __repr__(self):
        return f"Model({self.path!r})" if self._h else f"<closed Model {self.path!r}>"

    @property
    def latent_shape(self) -> Tuple[int, ...]:
        return self.info.latent_shape

    def component_path(self, component: str) -> Optional[str]:
        """The folder of a pipeline's component ("vae", "text_encoder", ...), or None."""
        buf = ctypes.create_string_buffer(4096)
        ok = lib.sc_model_component_path(self._handle(), component.encode(), ctypes.cast(buf, ctypes.c_char_p),
                                         len(buf))
        return buf.value.decode("utf-8", "replace") if ok else None

    def timesteps(self, sampler: str = "ddim", steps: int = 50) -> np.ndarray:
        """The integer model timesteps a sampler visits, in call order (sc_sampler_timesteps)."""
        steps = _int_arg(steps, "steps", 1, 100000)
        out = np.empty(steps, dtype=np.int32)
        _check(lib.sc_sampler_timesteps(self._handle(), _sampler(sampler), steps, _iptr(out)))
        return out

    # ------------------------------------------------------------------ conditioning

    def _cond(self, n, classes, text, text_mask, neg_text, neg_text_mask, pooled, neg_pooled, scalars, keep):
        c = N.sc_cond(n=n)
        if classes is not None:
            if len(classes) != n:
                raise ValueError(f"classes has {len(classes)} entries for {n} samples")
            keep.append(classes)
            c.classes = _iptr(classes)
        if text is not None:
            _array(text, "text", np.float32, rank=3)
            if text.shape[0] != n:
                raise ValueError(f"text has {text.shape[0]} rows for {n} samples")
            c.text, c.text_len, c.text_dim = _fptr(text), text.shape[1], text.shape[2]
            keep.append(text)
            for arr, name, field in ((text_mask, "text_mask", "text_mask"),
                                     (neg_text_mask, "neg_text_mask", "neg_text_mask")):
                if arr is not None:
                    _array(arr, name, np.int32, shape=(n, text.shape[1]))
                    setattr(c, field, _iptr(arr))
                    keep.append(arr)
            if neg_text is not None:
                _array(neg_text, "neg_text", np.float32, shape=text.shape)
                c.neg_text = _fptr(neg_text)
                keep.append(neg_text)
        elif any(v is not None for v in (text_mask, neg_text, neg_text_mask)):
            raise ValueError("text_mask, neg_text and neg_text_mask need text")
        if pooled is not None:
            _array(pooled, "pooled", np.float32, rank=2)
            if pooled.shape[0] != n:
                raise ValueError(f"pooled has {pooled.shape[0]} rows for {n} samples")
            c.pooled, c.pooled_dim = _fptr(pooled), pooled.shape[1]
            keep.append(pooled)
            if neg_pooled is not None:
                _array(neg_pooled, "neg_pooled", np.float32, shape=pooled.shape)
                c.neg_pooled = _fptr(neg_pooled)
                keep.append(neg_pooled)
        elif neg_pooled is not None:
            raise ValueError("neg_pooled needs pooled")
        if scalars:
            if len(scalars) > N.SC_MAX_SCALARS:
                raise ValueError(f"scalars: at most {N.SC_MAX_SCALARS}")
            for k, (name, vals) in enumerate(scalars.items()):
                _array(vals, f"scalars[{name!r}]", np.float32, shape=(n,))
                c.scalars[k].name = name.encode()
                c.scalars[k].values = _fptr(vals)
                keep.append(vals)
            c.n_scalars = len(scalars)
        return c

    # ------------------------------------------------------------------ sampling

    def encode_prompts(self, prompts: Sequence[str], *, tokenizer=None, text_encoder=None, max_length: int = 0,
                       threads: int = 0):
        """The text conditioning this text-to-image model's pipeline makes of prompts
        (sc_encode_prompts: PixArt lower-cases and strips them, pads to max_length, 0 = the
        pipeline's, 120 for PixArt-alpha): (embeds float32 [n, L, width], mask int32 [n, L]).
        tokenizer / text_encoder: a Tokenizer / TextEncoder, or None for the pipeline folder's."""
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise TypeError("prompts must be a sequence of str")
        if not prompts:
            raise ValueError("no prompts")
        own = []
        try:
            if tokenizer is None:
                tokenizer = Tokenizer(self.path)
                own.append(tokenizer)
            if text_encoder is None:
                text_encoder = TextEncoder(self.path)
                own.append(text_encoder)
            L = _int_arg(max_length, "max_length", 0, 4096) or self.info.text_len
            if not L:
                raise ValueError(f"{self.path}: this model takes no text")
            n = len(prompts)
            embeds = np.empty((n, L, text_encoder.info.width), dtype=np.float32)
            mask = np.empty((n, L), dtype=np.int32)
            arr = (ctypes.c_char_p * n)(*[p.encode() for p in prompts])
            _check(lib.sc_encode_prompts(self._handle(), tokenizer._handle(), text_encoder._handle(), n, arr, L,
                                         _fptr(embeds), mask.ctypes.data_as(POINTER(c_int32)),
                                         _int_arg(threads, "threads", 0, 1 << 16)))
            return embeds, mask
        finally:
            for o in own:
                o.close()

    def generate(self, classes=None, *, seed: int = 0, steps: Optional[int] = None, cfg: Optional[float] = None,
                 sampler: Optional[str] = None, cache: Optional[str] = None, latents: Optional[np.ndarray] = None,
                 shape=None, threads: int = 0, progress: Optional[Callable] = None, check_finite: bool = True,
                 calibration=None, prompts: Optional[Sequence[str]] = None, negative_prompt: str = "",
                 text=None, text_mask=None, neg_text=None, neg_text_mask=None, pooled=None, neg_pooled=None,
                 scalars: Optional[Dict[str, np.ndarray]] = None, n: Optional[int] = None):
        """Samples; returns (latents float32 [n, *latent_shape], CacheStats).

        classes: class ids, one sample each (without classes or text: one per class for models of
        at most 16 classes, class 0 otherwise, as `smoothcache generate`). Sample i uses seed + i.
        prompts: text-to-image models: one sample per prompt, encoded by the pipeline folder's
        tokenizer and text encoder with negative_prompt ("" as the pipelines) on the negative
        side (or give text / text_mask / neg_text / neg_text_mask from encode_prompts).
        steps, cfg, sampler: None = the model's pipeline's (DiT 50, 4, ddim; PixArt 20, 4.5, the
        folder's scheduler).
        cache: a policy spec ("smooth:schedule=FILE", "fora:n=2", ...; None = uncached).
        latents: the initial latents (float32 [n, *latent_shape]) instead of the seed's.
        progress(step, steps, seconds, latents) is called after each step with a copy of the
        current latents; a true return value cancels (GenerationCancelled); an exception raised
        in it cancels and is raised again here. calibration: a Calibration observing this run."""
        h = self._handle()
        keep = []
        if prompts is not None:
            if text is not None:
                raise ValueError("give prompts or text embeddings, not both")
            if isinstance(prompts, str):
                prompts = [prompts]
            g = float(self.info.default_cfg if cfg is None else cfg) > 1.0
            e, m = self.encode_prompts(list(prompts) + ([negative_prompt] if g else []), threads=threads)
            k = len(prompts)
            text, text_mask = e[:k], m[:k]
            if g:
                neg_text, neg_text_mask = np.repeat(e[k:], k, axis=0), np.repeat(m[k:], k, axis=0)
        if steps is None:
            steps = self.info.default_steps
        if cfg is None:
            cfg = self.info.default_cfg
        if sampler is None:
            sampler = sampler_names()[self.info.default_sampler]
        if classes is not None:
            classes = _ints(classes, "classes")
        if n is None:
            if classes is not None:
                n = len(classes)
            elif text is not None:
                n = text.shape[0] if isinstance(text, np.ndarray) and text.ndim >= 1 else 0
            elif pooled is not None and isinstance(pooled, np.ndarray) and pooled.ndim >= 1:
                n = pooled.shape[0]
            elif self.info.num_classes:
                k = self.info.num_classes if self.info.num_classes <= 16 else 1
                classes = np.arange(k, dtype=np.int32)
                n = k
            else:
                raise ValueError("give classes, text or n")
        n = _int_arg(n, "n", 1, 1 << 20)
        cond = self._cond(n, classes, text, text_mask, neg_text, neg_text_mask, pooled, neg_pooled, scalars, keep)
        p = lib.sc_gen_params_default()
        p.cond = ctypes.pointer(cond)
        if shape is not None:
            shape = tuple(_int_arg(d, "shape", 1, 1 << 30) for d in shape)
            if not 1 <= len(shape) <= N.SC_MAX_RANK:
                raise ValueError(f"shape must have 1..{N.SC_MAX_RANK} dimensions")
            p.shape.rank = len(shape)
            for k, d in enumerate(shape):
                p.shape.dims[k] = d
            per = shape
        else:
            per = self.info.latent_shape
        p.seed = _int_arg(seed, "seed", 0, 2**64 - 1)
        p.steps = _int_arg(steps, "steps", -2**31, 2**31 - 1)
        p.sampler = _sampler(sampler)
        if isinstance(cfg, bool) or not isinstance(cfg, (int, float, np.floating, np.integer)):
            raise TypeError(f"cfg must be a number, not {type(cfg).__name__}")
        p.cfg = float(cfg)
        p.threads = _int_arg(threads, "threads", 0, 1 << 16)
        p.check_finite = 1 if check_finite else 0
        if cache is not None:
            if not isinstance(cache, str):
                raise TypeError(f"cache must be a spec string such as 'smooth:schedule=FILE', not {type(cache).__name__}")
            p.cache = cache.encode()
        if latents is not None:
            _array(latents, "latents", np.float32, shape=(n,) + tuple(per))
            p.latents_in = _fptr(latents)
        if calibration is not None:
            if not isinstance(calibration, Calibration):
                raise TypeError("calibration must be a smoothcache.Calibration")
            p.calibration = calibration._handle()
        out = np.empty((n,) + tuple(per), dtype=np.float32)
        if shape is None and lib.sc_latent_bytes(h, n) != out.nbytes:
            raise ValueError(f"{n} samples of {list(per)} float32 do not fit this model's latent size")
        st = N.sc_cache_stats()
        p.stats = ctypes.pointer(st)
        raised = []

        def on_step(user, step, steps_, seconds, x):
            try:
                if progress is None:
                    return 0
                cur = np.ctypeslib.as_array(x, shape=out.shape).copy()
                return 1 if progress(step, steps_, seconds, cur) else 0
            except BaseException as e:  # noqa: BLE001 - re-raised after the C call returns
                raised.append(e)
                return 1

        cb = N.sc_progress_fn(on_step)  # referenced here until sc_generate returns
        p.progress = cb
        with self._lock:
            status = lib.sc_generate(h, byref(p), _fptr(out))
        del keep
        if raised:
            if status != 0:
                raise raised[0] from SmoothCacheError(last_error(), status)
            raise raised[0]
        if status != 0:
            msg = last_error()
            raise (GenerationCancelled if "cancelled" in msg else SmoothCacheError)(msg, status)
        return out, _stats(st)

    def forward(self, x: np.ndarray, t, classes) -> np.ndarray:
        """One forward pass on rows (sc_model_forward): x float32 [rows, *latent_shape], t the
        training timesteps [rows], classes [rows] (num_classes = the null class) -> float32
        [rows, out_channels, *spatial]."""
        h = self._handle()
        _array(x, "x", np.float32, shape=(None,) + tuple(self.info.latent_shape))
        rows = x.shape[0]
        if isinstance(t, np.ndarray):
            _array(t, "t", np.float32, shape=(rows,))
        else:
            t = np.ascontiguousarray(np.array(list(t), dtype=np.float32))
            if t.shape != (rows,):
                raise ValueError(f"t has {t.shape[0]} entries for {rows} rows")
        classes = _ints(classes, "classes")
        if len(classes) != rows:
            raise ValueError(f"classes has {len(classes)} entries for {rows} rows")
        cond = N.sc_cond(n=rows, classes=_iptr(classes))
        out = np.empty((rows, self.info.out_channels) + tuple(self.info.latent_shape[1:]), dtype=np.float32)
        with self._lock:
            _check(lib.sc_model_forward(h, byref(cond), _fptr(x), _fptr(t), _fptr(out), 0))
        return out

    def image_side(self, vae: Optional[Vae] = None) -> int:
        """Side in pixels of the pictures made from this model's latents (0: give a VAE)."""
        return lib.sc_image_side(self._handle(), vae._handle() if vae is not None else None)

    def decode(self, latents: np.ndarray, vae=None, threads: int = 0) -> np.ndarray:
        """latents float32 [n, *latent_shape] -> uint8 RGB [n, side, side, 3] (sc_decode_images).
        vae: a Vae, a path to one, or None: the pipeline's own vae/ when the model came from a
        pipeline folder, else the model's own output (pixel-space models such as the demo)."""
        h = self._handle()
        _array(latents, "latents", np.float32, shape=(None,) + tuple(self.info.latent_shape))
        if vae is None:
            if self._vae is None:
                pv = self.component_path("vae")
                if pv:
                    self._vae = Vae(pv)
            vae = self._vae
        elif not isinstance(vae, Vae):
            vae = Vae(vae)
        side = self.image_side(vae)
        if side <= 0:
            raise ValueError("this model makes latents, not pictures: give vae= (an SD-VAE folder or file)"
                             if vae is None else f"the VAE {vae.path} does not decode this model's latents")
        n = latents.shape[0]
        rgb = np.empty((n, side, side, 3), dtype=np.uint8)
        with self._lock:
            _check(lib.sc_decode_images(h, vae._handle() if vae is not None else None, n, _fptr(latents), _u8ptr(rgb),
                                        _int_arg(threads, "threads", 0, 1 << 16)))
        return rgb


def draw_classes(seed: int, num_classes: int, n: int) -> np.ndarray:
    """n class ids drawn uniformly from 0..num_classes-1 (what `smoothcache sample` uses)."""
    n = _int_arg(n, "n", 0, 1 << 31)
    out = np.empty(n, dtype=np.int32)
    lib.sc_draw_classes(_int_arg(seed, "seed", 0, 2**64 - 1), _int_arg(num_classes, "num_classes", 1, 2**31 - 1), n,
                        _iptr(out))
    return out


# ---------------------------------------------------------------------------------- policies

@dataclasses.dataclass(frozen=True)
class Policy:
    """sc_policy_desc: a cache policy and what its calibration measures (None: needs none)."""
    name: str
    about: str
    options: str
    calibration: Optional[str]
    calibration_options: Optional[str]
    calibration_samples: int


def policies() -> List[Policy]:
    """Every registered cache policy (sc_policy_at)."""
    out, d, i = [], N.sc_policy_desc(), 0
    while lib.sc_policy_at(i, byref(d)):
        out.append(Policy(_s(d.name), _s(d.about), _s(d.options), _s(d.calibration), _s(d.calibration_options),
                          d.calibration_samples))
        i += 1
    return out


# ---------------------------------------------------------------------------------- JSON files

def _to_numpy(v):
    """Lists of numbers (nested, rectangular) become numpy arrays: int64 when every number is an
    integer, else float64. Other values, and everything under "_meta", stay as JSON has them."""
    if isinstance(v, dict):
        return {k: (x if k == "_meta" else _to_numpy(x)) for k, x in v.items()}
    if isinstance(v, list) and v:
        try:
            a = np.array(v)
        except (ValueError, TypeError):
            a = None
        if a is not None and a.dtype.kind in "if":
            return a.astype(np.int64 if a.dtype.kind == "i" else np.float64)
        return [_to_numpy(x) for x in v]
    return v


def _pad(rows) -> np.ndarray:
    """Rows of decreasing length (lag j has one entry fewer than lag j - 1) -> [k, longest], NaN past each end."""
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for j, r in enumerate(rows):
        out[j, :len(r)] = r
    return out


def _curves(d: dict, per_block: bool, where: str) -> Dict[str, np.ndarray]:
    if not isinstance(d.get("per_block"), dict):
        raise ValueError(f"{where}: not SmoothCache error curves (no per_block entry; "
                         "teacache and magcache calibrations are read with data() or read_json_arrays)")
    comps = [k for k, v in d.items() if k not in ("_meta", "per_block") and isinstance(v, list)]
    if not per_block:
        return {c: _pad(d[c]) for c in comps}
    out = {}
    for c in comps:
        blocks = sorted((int(k.rsplit("-", 1)[1]), v) for k, v in d["per_block"].items() if k.rsplit("-", 1)[0] == c)
        out[c] = np.stack([_pad(v) for _, v in blocks])
    return out


def read_curves(path, per_block: bool = False) -> Dict[str, np.ndarray]:
    """SmoothCache error curves from a calibration file: component -> float64 [k, steps - 1] where
    [j, i] is the relative L1 change of its output between evaluations i and i + j + 1, averaged
    over the blocks (NaN past the last pair); per_block=True: [blocks, k, steps - 1]."""
    with open(path, encoding="utf-8") as f:
        return _curves(json.load(f), per_block, os.fsdecode(path))


def read_json_arrays(path) -> dict:
    """A calibration or schedule file as a dict, its lists of numbers as numpy arrays."""
    with open(path, encoding="utf-8") as f:
        return _to_numpy(json.load(f))


# ---------------------------------------------------------------------------------- figures

@dataclasses.dataclass
class Series:
    name: Optional[str]
    x: np.ndarray
    y: np.ndarray
    palette: int = 0
    dashed: bool = False
    markers: bool = False


@dataclasses.dataclass
class Figure:
    """sc_figure as data: what a calibration measured, as lines."""
    title: Optional[str]
    x_label: Optional[str]
    y_label: Optional[str]
    series: List[Series]

    def write_png(self, path, force: bool = False):
        """Draws it with the library's renderer (sc_figure_write_png)."""
        if len(self.series) > N.SC_FIGURE_MAX_SERIES:
            raise ValueError(f"at most {N.SC_FIGURE_MAX_SERIES} series")
        f = N.sc_figure()
        keep = []
        for attr in ("title", "x_label", "y_label"):
            v = getattr(self, attr)
            setattr(f, attr, None if v is None else v.encode())
        for k, s in enumerate(self.series):
            x = np.ascontiguousarray(s.x, dtype=np.float64)
            y = np.ascontiguousarray(s.y, dtype=np.float64)
            if x.shape != y.shape or x.ndim != 1:
                raise ValueError(f"series {k}: x and y must be 1-D of equal length")
            keep += [x, y]
            f.series[k].name = None if s.name is None else s.name.encode()
            f.series[k].x = x.ctypes.data_as(POINTER(ctypes.c_double))
            f.series[k].y = y.ctypes.data_as(POINTER(ctypes.c_double))
            f.series[k].n = len(x)
            f.series[k].palette = int(s.palette)
            f.series[k].dashed = int(bool(s.dashed))
            f.series[k].markers = int(bool(s.markers))
        f.n_series = len(self.series)
        _check(lib.sc_figure_write_png(byref(f), _path(path), 1 if force else 0))


# ---------------------------------------------------------------------------------- calibration

class Calibration(_Handle):
    """A calibration (sc_calibration_new) for a policy spec "NAME[:key=value,...]"
    ("smooth:k=3,averaging=mean", "teacache", "magcache"): pass it to Model.generate(calibration=)
    to observe uncached generations, then save() it or read what it measured with data()."""
    _free = staticmethod(lambda h: lib.sc_calibration_free(h))

    def __init__(self, spec: str = "smooth"):
        super().__init__()
        if not isinstance(spec, str):
            raise TypeError("spec must be a string such as 'smooth:k=3'")
        self.spec = spec
        _check(lib.sc_calibration_new(spec.encode(), byref(self._h)))
        self.path = None

    @property
    def samples(self) -> int:
        return lib.sc_calibration_samples(self._handle())

    @property
    def warning(self) -> Optional[str]:
        return _s(lib.sc_calibration_warning(self._handle()))

    def save(self, path, force: bool = False):
        _check(lib.sc_calibration_save(self._handle(), _path(path), 1 if force else 0))
        self.path = os.fsdecode(path)

    def _saved(self) -> dict:
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "calibration.json")
            _check(lib.sc_calibration_save(self._handle(), p.encode(), 0))
            with open(p, encoding="utf-8") as f:
                return json.load(f)

    def data(self) -> dict:
        """What was measured, as save() writes it, with its lists of numbers as numpy arrays
        (SmoothCache: data["attn"][j] is the error at lag j + 1 per evaluation pair; TeaCache:
        "coef", "x", "y"; MagCache: "ratios")."""
        return _to_numpy(self._saved())

    def curves(self, per_block: bool = False) -> Dict[str, np.ndarray]:
        """SmoothCache error curves: component -> float64 [k, steps - 1] (NaN past each lag's last
        pair), or [blocks, k, steps - 1] with per_block=True (see read_curves)."""
        return _curves(self._saved(), per_block, f"calibration {self.spec}")

    def write_png(self, path, force: bool = False):
        """Draws what was measured (sc_calibration_figure + sc_figure_write_png), as calibrate --plot."""
        f = N.sc_figure()
        _check(lib.sc_calibration_figure(self._handle(), byref(f)))
        try:
            _check(lib.sc_figure_write_png(byref(f), _path(path), 1 if force else 0))
        finally:
            lib.sc_figure_free(byref(f))

    def figure(self) -> Figure:
        """What was measured as lines (x, y numpy arrays per series)."""
        f = N.sc_figure()
        _check(lib.sc_calibration_figure(self._handle(), byref(f)))
        try:
            series = []
            for k in range(f.n_series):
                s = f.series[k]
                x = np.ctypeslib.as_array(s.x, shape=(s.n,)).copy() if s.n else np.empty(0)
                y = np.ctypeslib.as_array(s.y, shape=(s.n,)).copy() if s.n else np.empty(0)
                series.append(Series(_s(s.name), x, y, s.palette, bool(s.dashed), bool(s.markers)))
            return Figure(_s(f.title), _s(f.x_label), _s(f.y_label), series)
        finally:
            lib.sc_figure_free(byref(f))


def calibrate(model: Model, spec: str = "smooth", *, classes=None, samples: Optional[int] = None, seed: int = 0,
              steps: int = 50, cfg: float = 4.0, sampler: str = "ddim", batch: int = 1, threads: int = 0,
              out=None, plot=None, force: bool = False, progress: Optional[Callable] = None) -> Calibration:
    """Runs uncached generations and measures what a policy needs, as `smoothcache calibrate`
    does: `samples` samples (default: the policy's) of `classes` (default: spread evenly over the
    model's classes), sample i with seed + i, `batch` at a time. spec: "smooth" (error curves;
    options as "smooth:k=K,averaging=mean|pooled", the library's defaults otherwise), "teacache"
    or "magcache". Writes `out` (JSON) and
    `plot` (PNG) when given; returns the Calibration (curves() and data() give what it measured
    as numpy)."""
    name = spec.split(":", 1)[0] if isinstance(spec, str) else None
    pol = {p.name: p for p in policies()}
    if name not in pol or not pol[name].calibration:
        which = ", ".join(p.name for p in pol.values() if p.calibration)
        raise ValueError(f"spec: '{spec}' is not a policy that calibrates ({which})")
    if classes is not None:
        classes = _ints(classes, "classes")
    if samples is None:
        samples = len(classes) if classes is not None else pol[name].calibration_samples
    samples = _int_arg(samples, "samples", 1, 100000)
    batch = _int_arg(batch, "batch", 1, 256)
    if classes is not None and len(classes) != samples:
        raise ValueError(f"classes gives {len(classes)} classes but samples is {samples}")
    if classes is None:
        nc = model.info.num_classes
        classes = np.array([i * nc // samples for i in range(samples)], dtype=np.int32)
    for target in (out, plot):  # refuse an existing output before minutes of work, not after
        if target is not None:
            _check(lib.sc_output_check(_path(target), 1 if force else 0))
    cal = Calibration(spec)
    try:
        seed = _int_arg(seed, "seed", 0, 2**64 - 1)
        for s in range(0, samples, batch):
            model.generate(classes[s:s + batch], seed=(seed + s) % 2**64, steps=steps, cfg=cfg, sampler=sampler,
                           threads=threads, calibration=cal, progress=progress)
        if out is not None:
            cal.save(out, force)
        if plot is not None:
            cal.write_png(plot, force)
    except BaseException:
        cal.close()
        raise
    return cal


# ---------------------------------------------------------------------------------- schedules

@dataclasses.dataclass
class Schedule:
    """A SmoothCache schedule: entries maps a key ("attn", "mlp", "attn-3" per block, or the
    official helper's "attn1") to 0/1 per step (1 = compute, 0 = reuse)."""
    entries: Dict[str, np.ndarray]
    meta: dict
    path: Optional[str] = None
    alpha: float = math.nan          # the threshold used (greedy)
    computed: int = 0                # DP: computations per block and component
    mac_ratio: float = math.nan      # executed / uncached MACs (NaN without MAC counts)
    depth: int = 0
    steps: int = 0
    computes: Dict[str, int] = dataclasses.field(default_factory=dict)  # per component, over all blocks


def read_schedule(path) -> Schedule:
    """A schedule file (ours or the official SmoothCache code's) as a Schedule."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if not isinstance(d, dict):
        raise ValueError(f"{os.fsdecode(path)}: a schedule is a JSON object")
    entries = {}
    for k, v in d.items():
        if k == "_meta":
            continue
        if not isinstance(v, list) or any(e not in (0, 1) or isinstance(e, bool) for e in v):
            raise ValueError(f"{os.fsdecode(path)}: '{k}' is not a list of 0 and 1")
        entries[k] = np.array(v, dtype=np.uint8)
    meta = d.get("_meta", {})
    steps = max((len(v) for v in entries.values()), default=0)
    return Schedule(entries, meta, os.fsdecode(path), alpha=meta.get("alpha", math.nan), steps=steps,
                    mac_ratio=meta.get("mac_ratio", math.nan), depth=meta.get("blocks", 0))


def make_schedule(errors, out=None, *, alpha: Optional[float] = None, target_macs: Optional[float] = None,
                  per_block: bool = False, solver: str = "greedy", force: bool = False) -> Schedule:
    """A SmoothCache schedule from calibrated error curves (a file calibrate wrote), as
    `smoothcache schedule`: by threshold (alpha) or MAC budget (target_macs, a fraction of the
    uncached MACs); solver "greedy" (the paper's scan) or "dp" (needs target_macs). Written to
    `out` (the official JSON) when given, else only returned."""
    if (alpha is None) == (target_macs is None):
        raise ValueError("give exactly one of alpha and target_macs")
    if solver not in ("greedy", "dp"):
        raise ValueError(f"solver: '{solver}' is not greedy or dp")
    if solver == "dp" and target_macs is None:
        raise ValueError("solver='dp' needs target_macs (it optimises for a budget)")
    o = N.sc_schedule_opts(alpha=math.nan if alpha is None else float(alpha),
                           target_macs=math.nan if target_macs is None else float(target_macs),
                           per_block=1 if per_block else 0, solver=1 if solver == "dp" else 0)
    s = N.sc_schedule_summary()
    errors = _path(errors, "errors")
    with tempfile.TemporaryDirectory() as d:
        target = out if out is not None else os.path.join(d, "schedule.json")
        _check(lib.sc_schedule_make(errors, byref(o), _path(target), 1 if force else 0, byref(s)))
        sch = read_schedule(target)
    comps = [s.components[c].value.decode() for c in range(s.n_components)]
    sch.path = os.fsdecode(out) if out is not None else None
    sch.alpha, sch.computed, sch.mac_ratio = s.alpha, s.computed, s.mac_ratio
    sch.depth, sch.steps = s.depth, s.steps
    sch.computes = {c: int(s.computes[k]) for k, c in enumerate(comps)}
    return sch


# ---------------------------------------------------------------------------------- reports

class Record(dict):
    """A dict whose keys are also attributes (report["runs"] is report.runs)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _records(v):
    if isinstance(v, dict):
        return Record({k: _records(x) for k, x in v.items()})
    if isinstance(v, list):
        return [_records(x) for x in v]
    return v


class Report(Record):
    """A report written by `smoothcache generate --report` or `bench --json`: model, sampler, steps,
    cfg, seed, classes and runs (one per policy: policy, seconds, computed/skipped per component,
    macs, macs_uncached, mac_ratio, and against the uncached run speedup, latent_rel_l2, psnr, ssim;
    null where undefined, e.g. PSNR of identical pictures)."""

    def run(self, policy: str) -> Record:
        for r in self.get("runs", []):
            if r.get("policy") == policy:
                return r
        raise KeyError(f"no run of policy '{policy}' (have: {', '.join(r.get('policy', '?') for r in self.runs)})")

    @property
    def policies(self) -> List[str]:
        return [r.get("policy") for r in self.get("runs", [])]


def read_report(path) -> Report:
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if not isinstance(d, dict) or not isinstance(d.get("runs"), list):
        raise ValueError(f"{os.fsdecode(path)}: not a smoothcache report (no 'runs' list)")
    return Report(_records(d))


# ---------------------------------------------------------------------------------- text

@dataclasses.dataclass(frozen=True)
class TokenizerInfo:
    vocab_size: int
    pad_id: int
    eos_id: int
    model_max_length: int
    path: str
    semantics: str


class Tokenizer(_Handle):
    """T5's tokenizer (sc_tokenizer_load): tokenizer.json, spiece.model, a folder with either, or a
    pipeline folder. semantics "transformers" (what the pipelines run) or "sentencepiece"."""
    _free = staticmethod(lambda h: lib.sc_tokenizer_free(h))

    def __init__(self, path, semantics: str = "transformers"):
        super().__init__()
        sem = {"transformers": 0, "sentencepiece": 1}
        if semantics not in sem:
            raise ValueError(f"semantics: '{semantics}' is not transformers or sentencepiece")
        _check(lib.sc_tokenizer_load(_path(path), sem[semantics], byref(self._h)))
        i = N.sc_tokenizer_info()
        lib.sc_tokenizer_get_info(self._h, byref(i))
        self.info = TokenizerInfo(i.vocab_size, i.pad_id, i.eos_id, i.model_max_length, _s(i.path), _s(i.semantics))

    def encode(self, text: str, max_length: int = 0):
        """max_length 0: the ids (</s> included) -> int32 [n]. max_length > 0: as the pipelines call
        it (truncated, padded) -> (ids int32 [max_length], mask int32 [max_length], tokens)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        data = text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError here
        max_length = _int_arg(max_length, "max_length", 0, 1 << 24)
        n = c_int(0)
        h = self._handle()
        if max_length:
            ids = np.empty(max_length, dtype=np.int32)
            mask = np.empty(max_length, dtype=np.int32)
            _check(lib.sc_tokenize(h, data, len(data), max_length, ids.ctypes.data_as(POINTER(c_int32)),
                                   mask.ctypes.data_as(POINTER(c_int32)), max_length, byref(n)))
            return ids, mask, n.value
        cap = len(data) + 2
        for _ in range(2):
            ids = np.empty(cap, dtype=np.int32)
            status = lib.sc_tokenize(h, data, len(data), 0, ids.ctypes.data_as(POINTER(c_int32)), None, cap, byref(n))
            if status == 0:
                return ids[:n.value].copy()
            # normalisation can make more pieces than bytes: the library names the count it needs
            need = re.match(r"the text makes (\d+) tokens", last_error())
            if not need or int(need.group(1)) <= cap:
                break
            cap = int(need.group(1))
        _check(status)

    def piece(self, token_id: int) -> Optional[str]:
        return _s(lib.sc_tokenizer_piece(self._handle(), _int_arg(token_id, "token_id", -2**31, 2**31 - 1)))


@dataclasses.dataclass(frozen=True)
class TextEncoderInfo:
    family: str
    variant: str
    vocab_size: int
    width: int
    depth: int
    params: int
    dtype: str
    path: str
    compute_dtype: str
    weight_bytes: int


class TextEncoder(_Handle):
    """A T5 encoder (sc_text_encoder_load_opts): its folder or a pipeline folder's text_encoder/.
    dtype: "auto" (bf16 for 16-bit checkpoints, else f32), "f32", "bf16" or "int8"."""
    _free = staticmethod(lambda h: lib.sc_text_encoder_free(h))

    def __init__(self, path, *, dtype: str = "auto"):
        super().__init__()
        opts = N.sc_load_opts(dtype=_dtype_arg(dtype))
        _check(lib.sc_text_encoder_load_opts(_path(path), byref(opts), byref(self._h)))
        i = N.sc_text_encoder_info()
        lib.sc_text_encoder_get_info(self._h, byref(i))
        self.info = TextEncoderInfo(_s(i.family), _s(i.variant), i.vocab_size, i.width, i.depth, int(i.params),
                                    _s(i.dtype), _s(i.path), _s(i.compute_dtype), int(i.weight_bytes))
        self._lock = threading.Lock()

    def encode(self, ids: np.ndarray, mask: Optional[np.ndarray] = None, threads: int = 0) -> np.ndarray:
        """ids int32 [n, L] (and mask int32 [n, L], 1 = token) -> float32 [n, L, width]."""
        _array(ids, "ids", np.int32, rank=2)
        if mask is not None:
            _array(mask, "mask", np.int32, shape=ids.shape)
        n, L = ids.shape
        if n < 1 or L < 1:
            raise ValueError(f"ids has shape {list(ids.shape)}: at least one row and one token")
        out = np.empty((n, L, self.info.width), dtype=np.float32)
        with self._lock:
            _check(lib.sc_text_encode(self._handle(), n, L, ids.ctypes.data_as(POINTER(c_int32)),
                                      None if mask is None else mask.ctypes.data_as(POINTER(c_int32)), _fptr(out),
                                      _int_arg(threads, "threads", 0, 1 << 16)))
        return out


# ---------------------------------------------------------------------------------- measures, pictures

def describe_file(path) -> str:
    """What the file at path is, told from its bytes: "a PNG image", "a SmoothCache schedule",
    "a SmoothCache calibration file (error curves)", "missing"..."""
    buf = ctypes.create_string_buffer(256)
    lib.sc_describe_file(_path(path), buf, len(buf))
    return buf.value.decode("utf-8", "replace")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """10 log10(255^2 / MSE) of two uint8 arrays of one shape (inf when identical)."""
    _array(a, "a", np.uint8)
    _array(b, "b", np.uint8, shape=a.shape)
    return lib.sc_psnr(_u8ptr(a), _u8ptr(b), a.size)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 pictures [H, W, C] (or [n, H, W, C]: the mean over the n)."""
    _array(a, "a", np.uint8)
    _array(b, "b", np.uint8, shape=a.shape)
    if a.ndim == 3:
        return lib.sc_ssim(_u8ptr(a), _u8ptr(b), a.shape[1], a.shape[0], a.shape[2])
    if a.ndim == 4:
        if a.shape[0] == 0:
            raise ValueError("no pictures")
        return float(np.mean([ssim(np.ascontiguousarray(a[i]), np.ascontiguousarray(b[i])) for i in range(len(a))]))
    raise ValueError(f"a has shape {list(a.shape)}: expected [H, W, C] or [n, H, W, C]")


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| of two float32 arrays of one shape."""
    _array(a, "a", np.float32)
    _array(b, "b", np.float32, shape=a.shape)
    return lib.sc_rel_l2(_fptr(a), _fptr(b), a.size)


def demo_classify(img: np.ndarray) -> int:
    """The demo model's data set: the class (0..9) seen in a uint8 picture [32, 32, 3], or -1."""
    _array(img, "img", np.uint8, shape=(32, 32, 3))
    return lib.sc_demo_classify(_u8ptr(img))


def write_images(path, rgb: np.ndarray, comment: str = "", force: bool = False):
    """uint8 [n, side, side, 3] -> a PNG (one picture or a grid of all) or a .npz (sc_images_write)."""
    _array(rgb, "rgb", np.uint8, rank=4)
    n, h, w, c = rgb.shape
    if h != w or c != 3 or n < 1:
        raise ValueError(f"rgb has shape {list(rgb.shape)}, expected [n, side, side, 3]")
    _check(lib.sc_images_write(_path(path), _u8ptr(rgb), n, h, comment.encode(), 1 if force else 0))
