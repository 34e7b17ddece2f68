"""Procedural captioned sounds for the audio demo model (a small Stable Audio pipeline).

Every clip is mono, SAMPLE_RATE 8000 Hz, CLIP_SAMPLES 16384 samples (2.048 s: 64 latent frames
at the VAE's hop of 256), one sound starting 0..0.1 s in and silence after it. 8 kHz because
every sound here lives below 4 kHz (notes C4..A5 and their first harmonics, clicks and noise
need no more) and the VAE and DiT on a 2-core CPU cost in proportion to the samples.

Captions (a closed vocabulary; words matched by tools/audiodemo/check.py):

    "a steady tone at E4"           tones: TIMBRES x NOTES, duration 0.25..1.6 s
    "a short tremolo tone at C5"    a length word on 60 % of the tone captions:
    "a long steady tone at A4"        short 0.25..0.5 s, long 1.0..1.6 s
    "a C major chord"               chords: three sines (root in octave 4, third, fifth),
    "an A minor chord"                ROOTS x QUALITIES, 0.8..1.6 s
    "a noise burst"                 white noise, 0.25..1.6 s ("a short noise burst" /
                                      "a long noise burst" on 60 %)
    "a rising sweep"                a sine gliding exponentially over 2..2.6 octaves
    "a falling sweep"                 (between 150 and 1000 Hz), 0.8..1.6 s
    "a slow rhythm of clicks"       2 ms decaying noise clicks, one every 0.36..0.5 s
    "a fast rhythm of clicks"         (slow) or 0.12..0.18 s (fast), for 1.2..1.9 s

Tones are sines; a steady tone keeps its level, a tremolo tone's level swings at 5..6 Hz between
0.4 and 1 of its peak (gain 1 - 0.6 (1 - cos(2 pi r t + phase)) / 2). (The first timbres were sine
and band-limited square; the small autoencoder never learnt to give back a square's harmonics:
docs/AUDIODEMO.md.) Every sound has a 10 ms attack and a 30 ms release; peak levels 0.3..0.6.

HELD_OUT: two tone pairs (timbre, note) and two chords (root, quality) never in the training
set, to see whether the model composes words it has only seen apart.

Command line: `python tools/audiodemo/sounds.py --out DIR` writes one clip of every caption
kind as WAV files and a page of spectrograms (preview.png) for listening and looking.
"""

import argparse
import os

import numpy as np

SAMPLE_RATE = 8000
CLIP_SAMPLES = 16384
NOTES = {"C4": 60, "E4": 64, "G4": 67, "A4": 69, "C5": 72, "E5": 76, "G5": 79, "A5": 81}
TIMBRES = ["steady", "tremolo"]
TREMOLO_DEPTH = 0.6
TREMOLO_HZ = (5.0, 6.0)
ROOTS = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67, "A": 69}
QUALITIES = {"major": 4, "minor": 3}      # the third, in semitones above the root
LENGTHS = {"short": (0.25, 0.5), "long": (1.0, 1.6)}
DIRECTIONS = ["rising", "falling"]
RATES = {"slow": (0.36, 0.5), "fast": (0.12, 0.18)}   # seconds between clicks
SWEEP_HZ = (150.0, 1000.0)
SWEEP_OCTAVES = (2.0, 2.6)
HELD_OUT_TONES = [("tremolo", "E4"), ("steady", "G5")]
HELD_OUT_CHORDS = [("D", "minor"), ("F", "major")]
P_LENGTH_NAMED = 0.6
KINDS = ["tone", "chord", "noise", "sweep", "rhythm"]


def midi_hz(m):
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def tone_caption(timbre, note, length=None):
    return f"a {length + ' ' if length else ''}{timbre} tone at {note}"


def chord_caption(root, quality):
    return f"{'an' if root in ('A', 'E', 'F') else 'a'} {root} {quality} chord"  # letters read aloud


def noise_caption(length=None):
    return f"a {length + ' ' if length else ''}noise burst"


def sweep_caption(direction):
    return f"a {direction} sweep"


def rhythm_caption(rate):
    return f"a {rate} rhythm of clicks"


def tone_pairs(held_out=False):
    return [(t, n) for t in TIMBRES for n in NOTES if ((t, n) in HELD_OUT_TONES) == held_out]


def chord_pairs(held_out=False):
    return [(r, q) for r in ROOTS for q in QUALITIES if ((r, q) in HELD_OUT_CHORDS) == held_out]


def _envelope(n, attack=0.010, release=0.030):
    """[n] linear attack and release ramps (in samples of SAMPLE_RATE)."""
    t = np.arange(n, dtype=np.float64)
    a, r = attack * SAMPLE_RATE, release * SAMPLE_RATE
    return np.minimum(1.0, np.minimum((t + 1) / a, (n - t) / r))


def _place(sound, rng):
    """The sound at a random onset 0..0.1 s in a clip of CLIP_SAMPLES, float32."""
    out = np.zeros(CLIP_SAMPLES, dtype=np.float64)
    start = int(rng.integers(0, int(0.1 * SAMPLE_RATE) + 1))
    n = min(len(sound), CLIP_SAMPLES - start)
    out[start:start + n] = sound[:n]
    return out.astype(np.float32)


def _duration(length, rng, free=(0.25, 1.6)):
    lo, hi = LENGTHS[length] if length else free
    return rng.uniform(lo, hi)


def _gain(timbre, t, rng):
    """[len(t)] the level of a tone over time: 1 (steady), or the tremolo's swing."""
    if timbre == "steady":
        return np.ones_like(t)
    r = rng.uniform(*TREMOLO_HZ)
    return 1.0 - TREMOLO_DEPTH * (1.0 - np.cos(2 * np.pi * r * t + rng.uniform(0, 2 * np.pi))) / 2.0


def render_tone(timbre, note, length, rng):
    n = int(_duration(length, rng) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = midi_hz(NOTES[note])
    x = np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi)) * _gain(timbre, t, rng)
    x = x / np.abs(x).max() * rng.uniform(0.3, 0.6)
    return _place(x * _envelope(n), rng)


def render_chord(root, quality, rng):
    n = int(rng.uniform(0.8, 1.6) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    r = ROOTS[root]
    x = sum(10 ** (rng.uniform(-1.5, 1.5) / 20) * np.sin(2 * np.pi * midi_hz(m) * t + rng.uniform(0, 2 * np.pi))
            for m in (r, r + QUALITIES[quality], r + 7))
    x = x / np.abs(x).max() * rng.uniform(0.3, 0.6)
    return _place(x * _envelope(n), rng)


def render_noise(length, rng):
    n = int(_duration(length, rng) * SAMPLE_RATE)
    x = rng.standard_normal(n)
    x = x / np.abs(x).max() * rng.uniform(0.3, 0.6)
    return _place(x * _envelope(n), rng)


def render_sweep(direction, rng):
    n = int(rng.uniform(0.8, 1.6) * SAMPLE_RATE)
    octaves = rng.uniform(*SWEEP_OCTAVES)
    lo = rng.uniform(SWEEP_HZ[0], SWEEP_HZ[1] / 2 ** octaves)
    f_start, f_end = (lo, lo * 2 ** octaves) if direction == "rising" else (lo * 2 ** octaves, lo)
    T = n / SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    k = np.log(f_end / f_start) / T
    phase = 2 * np.pi * f_start * (np.exp(k * t) - 1) / k   # the integral of f_start e^(k t)
    x = np.sin(phase + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 0.6)
    return _place(x * _envelope(n), rng)


def render_rhythm(rate, rng):
    period = rng.uniform(*RATES[rate])
    total = rng.uniform(1.2, 1.9)
    click_n = int(0.012 * SAMPLE_RATE)
    decay = np.exp(-np.arange(click_n) / (0.002 * SAMPLE_RATE))
    n = int(total * SAMPLE_RATE) + click_n + 1   # the last click starts at round(total SR) at most
    x = np.zeros(n)
    level = rng.uniform(0.3, 0.6)
    for k in range(int(total / period) + 1):
        s = int(round(k * period * SAMPLE_RATE))
        c = rng.standard_normal(click_n) * decay
        x[s:s + click_n] += c / np.abs(c).max() * level * 10 ** (rng.uniform(-1, 1) / 20)
    return _place(x, rng)


def random_item(kind, rng, held_out=False):
    """(caption, clip float32 [CLIP_SAMPLES]) of one kind, words drawn at random."""
    def length():
        return str(rng.choice(list(LENGTHS))) if rng.uniform() < P_LENGTH_NAMED else None

    if kind == "tone":
        pairs = tone_pairs(held_out)
        timbre, note = pairs[int(rng.integers(len(pairs)))]
        ln = length()
        return tone_caption(timbre, note, ln), render_tone(timbre, note, ln, rng)
    if kind == "chord":
        pairs = chord_pairs(held_out)
        root, quality = pairs[int(rng.integers(len(pairs)))]
        return chord_caption(root, quality), render_chord(root, quality, rng)
    if kind == "noise":
        ln = length()
        return noise_caption(ln), render_noise(ln, rng)
    if kind == "sweep":
        d = DIRECTIONS[int(rng.integers(2))]
        return sweep_caption(d), render_sweep(d, rng)
    if kind == "rhythm":
        r = str(rng.choice(list(RATES)))
        return rhythm_caption(r), render_rhythm(r, rng)
    raise ValueError(kind)


# The training mix: tones and chords have the most words to learn.
KIND_WEIGHTS = {"tone": 0.35, "chord": 0.30, "noise": 0.1, "sweep": 0.125, "rhythm": 0.125}


def make_dataset(n, seed):
    """n training clips and captions: (float32 [n, CLIP_SAMPLES], list of str)."""
    rng = np.random.default_rng(seed)
    kinds = list(KIND_WEIGHTS)
    p = np.array([KIND_WEIGHTS[k] for k in kinds])
    clips = np.empty((n, CLIP_SAMPLES), dtype=np.float32)
    caps = []
    for i in range(n):
        cap, clips[i] = random_item(kinds[int(rng.choice(len(kinds), p=p))], rng)
        caps.append(cap)
    return clips, caps


def all_captions():
    """Every caption the training set can hold (what the tokenizer is trained on)."""
    out = [tone_caption(t, n, ln) for t, n in tone_pairs() for ln in [None] + list(LENGTHS)]
    out += [chord_caption(r, q) for r, q in chord_pairs()]
    out += [noise_caption(ln) for ln in [None] + list(LENGTHS)]
    out += [sweep_caption(d) for d in DIRECTIONS] + [rhythm_caption(r) for r in RATES]
    return out


def held_out_captions():
    return ([tone_caption(t, n) for t, n in tone_pairs(True)] +
            [chord_caption(r, q) for r, q in chord_pairs(True)])


def preview_items(seed=0):
    """One clip of each kind and word: [(caption, clip)]."""
    rng = np.random.default_rng(seed)
    items = [(tone_caption(t, n), render_tone(t, n, None, rng)) for t, n in
             [("steady", "C4"), ("tremolo", "C4"), ("steady", "A5"), ("tremolo", "G4")]]
    items += [(tone_caption("steady", "E4", ln), render_tone("steady", "E4", ln, rng)) for ln in LENGTHS]
    items += [(chord_caption(r, q), render_chord(r, q, rng)) for r, q in [("C", "major"), ("A", "minor")]]
    items += [(noise_caption(ln), render_noise(ln, rng)) for ln in LENGTHS]
    items += [(sweep_caption(d), render_sweep(d, rng)) for d in DIRECTIONS]
    items += [(rhythm_caption(r), render_rhythm(r, rng)) for r in RATES]
    return items


def write_wav(path, clip):
    import wave

    pcm = np.clip(np.rint(np.asarray(clip) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def main():
    ap = argparse.ArgumentParser(description="preview the audio demo's sounds: WAVs and spectrograms")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import librosa
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    items = preview_items(args.seed)
    fig, axes = plt.subplots(len(items), 1, figsize=(8, 1.6 * len(items)))
    for i, (cap, clip) in enumerate(items):
        write_wav(os.path.join(args.out, f"{i:02d} {cap}.wav"), clip)
        S = librosa.power_to_db(librosa.feature.melspectrogram(y=clip, sr=SAMPLE_RATE, n_fft=512, hop_length=128,
                                                               n_mels=64), ref=np.max)
        axes[i].imshow(S, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0)
        axes[i].set_title(cap, fontsize=8)
        axes[i].axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "preview.png"), dpi=80)
    print(f"wrote {len(items)} clips and preview.png to {args.out}")


if __name__ == "__main__":
    main()
