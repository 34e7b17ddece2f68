"""Exact analytic checker of the audio demo's sounds (no learning; ported to C as-is in
src/metrics/audiodemo_check.c): does a waveform sound like what its caption names?

read(wave, sr) -> what is heard, a dict: kind (-1 nothing clear, 0 tone, 1 chord, 2 noise,
3 sweep, 4 rhythm), midi (a tone's note), timbre (0 steady, 1 tremolo), root (a chord's lowest
note, MIDI), quality (0 major, 1 minor), direction (0 rising, 1 falling), rate (0 slow, 1 fast),
seconds (how long the sound lasts); every field -1 when it does not apply.

 1. mono x = the mean of the channels, in float64. Frame sizes follow the rate: H = round(0.016
    sr) (128 at 8 kHz), F = 2 H; N = the smallest power of two >= 0.256 sr (2048), M = N / 4.
    Hann windows are periodic: w[n] = 0.5 - 0.5 cos(2 pi n / len). Below 8 kHz (the band
    reaches 3.5 kHz) nothing is heard.
 2. Envelope: e[t] = sqrt(mean of x^2 over [t H, t H + F)), t = 0 .. (samples - F) // H;
    emax = max e. Nothing is heard (kind -1) when samples < N or emax < 1e-3.
 3. Bursts: walking t upwards, a burst begins when e[t] > 0.3 emax (outside a burst) and ends
    when e[t] < 0.1 emax; onsets = the frames where bursts begin. seconds = ((t1 - t0) H + F) /
    sr for the first and last t with e[t] > 0.1 emax (t0 and t1). The swing: over the inner
    frames t0 + 3 .. t1 - 3 (clear of the attack and release), 1 - min e / max e; 0 when there
    are fewer than 3 such frames or all are silent (steady tones swing 0.015 at most, tremolo ones 0.55 or more).
 4. Three or more bursts: a rhythm; period = (last onset - first onset) H / sr / (bursts - 1);
    fast when period < 0.26 s, else slow. Two bursts: kind -1.
 5. P[k] (k = 0 .. N/2) = the mean over frames j (start j N/4, while start + N <= samples) of
    |DFT of the Hann-windowed frame|^2. The band: klo = ceil(100 N / sr) .. khi = floor(3500 N
    / sr); pmax = max P over the band.
 6. Noise: flatness = exp(mean ln(P + 1e-10 pmax)) / mean(P + 1e-10 pmax) over the band; a
    noise burst when flatness > 0.25.
 7. Sweep: frames of M samples at hop M / 2 (Hann), energy E_j = sum_k |X_j[k]|^2 (k = 0 .. M/2);
    the frames with E_j >= 0.1 max E, in order (m of them, m >= 6), each gives its peak bin (the
    largest |X_j[k]|^2 for k in ceil(100 M / sr) .. floor(3500 M / sr), lowest k on ties); a =
    the median of the first m // 3 peak bins, b = of the last m // 3 (the mean of the middle two
    when even). Rising when b > 2 a, falling when a > 2 b: more than an octave (the data set's
    sweeps span 2..2.6 octaves, the middles of their first and last thirds 1.3..1.7 octaves apart; a
    chord's loudest note may change from frame to frame, but within a fifth).
 8. Tonal: peaks = bins k in klo .. floor(3000 N / sr) with P[k] > P[k-1], P[k] >= P[k+1] and
    P[k] >= 10^-1.5 pmax, each at f = (k + d) sr / N, d = (ln P[k-1] - ln P[k+1]) / (2 (ln P[k-1]
    - 2 ln P[k] + ln P[k+1])). Taken by P descending (lower k on ties), a peak is dropped when
    its f is within 3 % of h g for a kept peak's g and h = 1..8 (a harmonic, or a side of the
    same peak), else kept. Each kept peak's note is round(69 + 12 log2(f / 440)), or off-pitch
    when farther than 0.4 from it. One kept peak: a tone, midi = its note; timbre tremolo when
    the swing (step 3) is > 0.3, else steady. Three kept peaks: a chord when the notes, ascending, are r, r + 4, r + 7 (major) or r,
    r + 3, r + 7 (minor): root r. Any other count, or an off-pitch note: kind -1.
    The order of the tests is 4, 6, 7, 8.

hears(wave, sr, caption) -> 1 when the caption's sound is heard, 0 when not, -1 when the caption
names no known sound. Words: lower-cased, split on spaces. The kind is the first of "chord",
"tone", "noise", "sweep", "rhythm" (or "clicks") among the words. A chord needs its root letter
right before "major" or "minor"; a tone a timbre ("steady", "tremolo") and a note ("c4" .. "a5");
a sweep "rising" or "falling"; a rhythm "slow" or "fast". "short" (seconds < 0.75) and "long"
(>= 0.75) are checked for tones and noise bursts when the caption has one.

Command line: `python tools/audiodemo/check.py [--n 1000] [--seed 1]` reports the checker on
data-set clips (its own caption, and a caption of another kind or word); `--fixture DIR` writes
the clips and verdicts the C port is tested against.
"""

import argparse
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

KINDS = ["tone", "chord", "noise", "sweep", "rhythm"]
NOTES = {"c4": 60, "e4": 64, "g4": 67, "a4": 69, "c5": 72, "e5": 76, "g5": 79, "a5": 81}
ROOTS = {"c": 60, "d": 62, "e": 64, "f": 65, "g": 67, "a": 69}
TIMBRES = ["steady", "tremolo"]
QUALITIES = ["major", "minor"]
DIRECTIONS = ["rising", "falling"]
RATES = ["slow", "fast"]
SHORT_BELOW = 0.75
FIXTURE_SAMPLES = 10240


def _pow2_at_least(v):
    n = 1
    while n < v:
        n *= 2
    return n


def _hann(n):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _power_frames(x, n, hop):
    """|rfft|^2 of the Hann-windowed frames of n samples at hop: [frames, n/2 + 1]."""
    count = (len(x) - n) // hop + 1
    idx = np.arange(n)[None, :] + hop * np.arange(count)[:, None]
    X = np.fft.rfft(x[idx] * _hann(n)[None, :], axis=1)
    return X.real ** 2 + X.imag ** 2


def _median(v):
    v = sorted(v)
    m = len(v)
    return v[m // 2] if m % 2 else 0.5 * (v[m // 2 - 1] + v[m // 2])


def read(wave, sr):
    w = np.asarray(wave, dtype=np.float64)
    x = w if w.ndim == 1 else w.mean(axis=0)
    out = dict(kind=-1, midi=-1, timbre=-1, root=-1, quality=-1, direction=-1, rate=-1, seconds=-1.0)
    H = int(round(0.016 * sr))
    F = 2 * H
    N = _pow2_at_least(0.256 * sr)
    M = N // 4
    if sr < 8000 or len(x) < N:
        return out
    # 2. envelope
    T = (len(x) - F) // H + 1
    e = np.array([math.sqrt(float(np.mean(x[t * H:t * H + F] ** 2))) for t in range(T)])
    emax = float(e.max())
    if emax < 1e-3:
        return out
    # 3. bursts and duration
    onsets, on = [], False
    for t in range(T):
        if not on and e[t] > 0.3 * emax:
            on = True
            onsets.append(t)
        elif on and e[t] < 0.1 * emax:
            on = False
    active = np.nonzero(e > 0.1 * emax)[0]
    t0, t1 = int(active[0]), int(active[-1])
    out["seconds"] = ((t1 - t0) * H + F) / sr
    inner = e[t0 + 3:t1 - 2]
    swing = 1.0 - float(inner.min()) / float(inner.max()) if len(inner) >= 3 and inner.max() > 0 else 0.0
    # 4. rhythm
    if len(onsets) >= 3:
        period = (onsets[-1] - onsets[0]) * H / sr / (len(onsets) - 1)
        out.update(kind=4, rate=1 if period < 0.26 else 0)
        return out
    if len(onsets) == 2:
        return out
    # 5. mean power spectrum
    P = _power_frames(x, N, N // 4).mean(axis=0)
    klo, khi = math.ceil(100 * N / sr), math.floor(3500 * N / sr)
    band = P[klo:khi + 1]
    pmax = float(band.max())
    # 6. noise
    b = band + 1e-10 * pmax
    if math.exp(float(np.mean(np.log(b)))) / float(np.mean(b)) > 0.25:
        out["kind"] = 2
        return out
    # 7. sweep
    S = _power_frames(x, M, M // 2)
    E = S.sum(axis=1)
    slo, shi = math.ceil(100 * M / sr), math.floor(3500 * M / sr)
    peaks = [slo + int(np.argmax(S[j, slo:shi + 1])) for j in range(len(E)) if E[j] >= 0.1 * E.max()]
    if len(peaks) >= 6:
        a, bb = _median(peaks[:len(peaks) // 3]), _median(peaks[-(len(peaks) // 3):])
        if bb > 2 * a or a > 2 * bb:
            out.update(kind=3, direction=0 if bb > 2 * a else 1)
            return out
    # 8. tonal
    cand = [k for k in range(klo, math.floor(3000 * N / sr) + 1)
            if P[k] > P[k - 1] and P[k] >= P[k + 1] and P[k] >= 10 ** -1.5 * pmax]
    cand.sort(key=lambda k: (-P[k], k))
    kept = []
    for k in cand:
        la, lb, lc = math.log(P[k - 1]), math.log(P[k]), math.log(P[k + 1])
        f = (k + (la - lc) / (2.0 * (la - 2.0 * lb + lc))) * sr / N
        if any(abs(f / (h * g) - 1.0) < 0.03 for g, _ in kept for h in range(1, 9)):
            continue
        kept.append((f, k))
    notes = []
    for f, _ in kept:
        m = 69.0 + 12.0 * math.log2(f / 440.0)
        if abs(m - round(m)) > 0.4:
            return out
        notes.append(int(round(m)))
    if len(kept) == 1:
        out.update(kind=0, midi=notes[0], timbre=1 if swing > 0.3 else 0)
    elif len(kept) == 3:
        r, t, v = sorted(notes)
        if v - r == 7 and t - r in (3, 4):
            out.update(kind=1, root=r, quality=0 if t - r == 4 else 1)
    return out


def hears(wave, sr, caption):
    words = caption.lower().split(" ")

    def first(names):
        return next((w for w in words if w in names), None)

    kind = next((k for k in ["chord", "tone", "noise", "sweep", "rhythm", "clicks"] if k in words), None)
    if kind is None:
        return -1
    length = first(["short", "long"])
    if kind == "chord":
        i = next((i for i, w in enumerate(words) if w in QUALITIES), -1)
        if i < 1 or words[i - 1] not in ROOTS:
            return -1
        want = dict(kind=1, root=ROOTS[words[i - 1]], quality=QUALITIES.index(words[i]))
    elif kind == "tone":
        timbre, note = first(TIMBRES), first(NOTES)
        if timbre is None or note is None:
            return -1
        want = dict(kind=0, midi=NOTES[note], timbre=TIMBRES.index(timbre))
    elif kind == "noise":
        want = dict(kind=2)
    elif kind == "sweep":
        d = first(DIRECTIONS)
        if d is None:
            return -1
        want = dict(kind=3, direction=DIRECTIONS.index(d))
    else:
        r = first(RATES)
        if r is None:
            return -1
        want = dict(kind=4, rate=RATES.index(r))
    got = read(wave, sr)
    ok = all(got[k] == v for k, v in want.items())
    if ok and length is not None and kind in ("tone", "noise"):
        ok = (got["seconds"] < SHORT_BELOW) == (length == "short")
    return int(ok)


def wrong_caption(caption, rng):
    """A caption that must not be heard in a clip of `caption`: another sound of the same kind
    (another note, timbre, chord, direction or rate; the other length), or another kind."""
    import sounds

    words = caption.split(" ")
    if rng.uniform() < 0.5 or words == ["a", "noise", "burst"]:
        kind = next(k for k in ["chord", "tone", "noise", "sweep", "rhythm"] if k in words)
        other = [k for k in sounds.KINDS if k != kind]
        return sounds.random_item(other[int(rng.integers(len(other)))], rng)[0]
    if "tone" in words:
        t, n = words[-4], words[-1]
        if rng.uniform() < 0.5:
            t = "tremolo" if t == "steady" else "steady"
        else:
            n = [k for k in sounds.NOTES if k != n][int(rng.integers(len(sounds.NOTES) - 1))]
        return sounds.tone_caption(t, n)
    if "chord" in words:
        r, q = words[1], words[2]
        if rng.uniform() < 0.5:
            q = "minor" if q == "major" else "major"
        else:
            r = [k for k in sounds.ROOTS if k != r][int(rng.integers(len(sounds.ROOTS) - 1))]
        return sounds.chord_caption(r, q)
    if "noise" in words:
        return sounds.noise_caption("long" if "short" in words else "short")
    if "sweep" in words:
        return sounds.sweep_caption("falling" if "rising" in words else "rising")
    return sounds.rhythm_caption("slow" if "fast" in words else "fast")


def main():
    import sounds

    ap = argparse.ArgumentParser(description="the audio demo's checker on data-set clips")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fixture", help="write clips.npy and cases.json for the C port's test here")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    clips, caps, wrongs = [], [], []
    for i in range(args.n):
        cap, clip = sounds.random_item(sounds.KINDS[i % len(sounds.KINDS)], rng, held_out=(i // 5) % 4 == 3
                                       and i % 5 < 2)
        clips.append(clip)
        caps.append(cap)
        wrongs.append(wrong_caption(cap, rng))
    ok = np.array([hears(c, sounds.SAMPLE_RATE, p) for c, p in zip(clips, caps)])
    bad = np.array([hears(c, sounds.SAMPLE_RATE, p) for c, p in zip(clips, wrongs)])
    print(f"hears its caption: {100.0 * ok.mean():.2f}% of {args.n} data-set clips (seed {args.seed}); "
          f"hears a wrong caption: {100.0 * bad.mean():.2f}%")
    for k in sounds.KINDS:
        sel = [i for i in range(args.n) if sounds.KINDS[i % len(sounds.KINDS)] == k]
        print(f"  {k:7s} {100.0 * ok[sel].mean():6.2f}%  wrong heard {100.0 * bad[sel].mean():5.2f}%")
    for i in np.nonzero(ok == 0)[0][:10]:
        print("  missed:", caps[i], read(clips[i], sounds.SAMPLE_RATE))
    if args.fixture:
        # One clip of every kind and word (sounds.preview_items), cut to FIXTURE_SAMPLES to keep
        # the fixture small, each with its caption and a wrong one; then silence and noise too
        # quiet to hear.
        os.makedirs(args.fixture, exist_ok=True)
        items = sounds.preview_items(args.seed)
        quiet = np.random.default_rng(5).standard_normal(FIXTURE_SAMPLES) * 1e-4
        all_clips = np.stack([c[:FIXTURE_SAMPLES] for _, c in items] + [np.zeros(FIXTURE_SAMPLES), quiet])
        all_clips = all_clips.astype(np.float32)
        caps = [c for c, _ in items] + ["a noise burst", "a steady tone at C4"]
        cases = []
        for c, p in zip(all_clips, caps):
            wr = wrong_caption(p, rng)
            cases.append(dict(caption=p, wrong=wr, read=read(c, sounds.SAMPLE_RATE),
                              hears=hears(c, sounds.SAMPLE_RATE, p), hears_wrong=hears(c, sounds.SAMPLE_RATE, wr)))
        np.save(os.path.join(args.fixture, "clips.npy"), all_clips)
        with open(os.path.join(args.fixture, "cases.json"), "w") as f:
            json.dump(dict(tool="tools/audiodemo/check.py", sample_rate=sounds.SAMPLE_RATE, cases=cases), f, indent=0)
            f.write("\n")
        print(f"wrote {len(cases)} cases to {args.fixture}")


if __name__ == "__main__":
    main()
