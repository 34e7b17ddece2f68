#!/usr/bin/env python3
"""Reference for the engine's log-mel spectrograms (generate --spectrogram, sc_spectrogram):
librosa's on the same signals, with the conventions the engine states (docs/AUDIO.md):
channels averaged, librosa.feature.melspectrogram(n_fft=2048, hop_length=512, n_mels=128,
power=2; centred frames padded with zeros, periodic Hann window, Slaney mel scale and norm,
0 Hz to half the rate), then librosa.power_to_db(ref=np.max, top_db=80).

    .venv/bin/python tools/reference_audio.py [OUT_DIR]       (tests/fixtures/audio)

Cases (OUT_DIR/mel_<name>_wave.npy float32 [channels, samples], mel_<name>_db.npy float32
[128, frames]; cases.json gives the rates):
  chord   16 kHz stereo, 0.75 s: a C major chord on the left, a rising sweep on the right, a
          noise burst in the middle
  short   44.1 kHz mono, 300 samples (shorter than one window)
  silent  8 kHz stereo, 0.2 s of zeros but one click
"""

import json
import sys
from pathlib import Path

import librosa
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def cases():
    rng = np.random.default_rng(5)
    sr = 16000
    t = np.arange(int(0.75 * sr)) / sr
    left = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    right = 0.5 * np.sin(2 * np.pi * (200 * t + 2000 * t * t))
    burst = (t > 0.3) & (t < 0.4)
    left = left + burst * 0.3 * rng.standard_normal(t.size)
    yield "chord", sr, np.stack([left, right]).astype(np.float32)
    sr = 44100
    t = np.arange(300) / sr
    yield "short", sr, (0.7 * np.sin(2 * np.pi * 3000 * t))[None].astype(np.float32)
    sr = 8000
    w = np.zeros((2, 1600), np.float32)
    w[:, 800] = 0.9
    yield "silent", sr, w


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "tests" / "fixtures" / "audio"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"librosa": librosa.__version__, "cases": {}}
    for name, sr, wave in cases():
        mono = wave.mean(axis=0)
        S = librosa.feature.melspectrogram(y=mono, sr=sr, n_fft=2048, hop_length=512, n_mels=128, power=2.0,
                                           center=True, pad_mode="constant", window="hann", htk=False, norm="slaney")
        db = librosa.power_to_db(S, ref=np.max, top_db=80.0).astype(np.float32)
        np.save(out / f"mel_{name}_wave.npy", wave)
        np.save(out / f"mel_{name}_db.npy", db)
        meta["cases"][name] = {"rate": sr, "channels": int(wave.shape[0]), "samples": int(wave.shape[1]),
                               "frames": int(db.shape[1])}
    with open(out / "cases.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(sys.argv)
