"""Measuring recorded audio: what was heard, how loud, and how long it went quiet.

Used only by tests to check a call end to end from a WAV recording, so it lives
beside them rather than in the package.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

Signal = npt.NDArray[np.float32]


def read_wav(path: str | Path) -> tuple[Signal, int]:
    """PCM WAV (8/16/24/32-bit) as float32 mono in [-1, 1], channels averaged."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        channels = wav.getnchannels()
        width = wav.getsampwidth()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    frames = data.size // channels
    mono = data[: frames * channels].reshape(frames, channels).mean(axis=1)
    return mono.astype(np.float32), rate


def dominant_frequency(samples: npt.ArrayLike, rate: int) -> float:
    """The strongest frequency, refined between FFT bins.

    A Hann window keeps leakage from neighbouring bins small; a parabola through
    the log magnitudes of the peak and its neighbours then places the peak to a
    small fraction of a bin (0.5 Hz for 2 s of audio).
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 4:
        return 0.0
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(x.size)))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < k < spectrum.size - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        if denom != 0:
            offset = 0.5 * (a - c) / denom
    return float((k + offset) * rate / x.size)


def rms(samples: npt.ArrayLike) -> float:
    """Root mean square level (1.0 = full-scale square wave)."""
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def longest_silence_ms(samples: npt.ArrayLike, rate: int, threshold: float = 0.01) -> float:
    """Longest run of consecutive samples with |x| <= threshold, in milliseconds.

    Sample-exact; a tone only dips below the threshold for a few samples at
    each zero crossing, so only a real dropout yields a long run.
    """
    quiet = np.abs(np.asarray(samples, dtype=np.float64)) <= threshold
    if not quiet.any():
        return 0.0
    padded = np.concatenate([[False], quiet, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = edges[1::2] - edges[0::2]
    return float(runs.max()) * 1000.0 / rate
