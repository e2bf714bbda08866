"""The one audio format every source produces, and the real-time clock that paces it.

Every source hands aiortc 20 ms frames of signed 16-bit mono at 48 kHz: that is
what the Opus encoder consumes without resampling work, and one format
everywhere lets the mute wrapper and the echo buffer swap samples freely.
"""

from __future__ import annotations

import asyncio
import fractions
import time

import numpy as np
import numpy.typing as npt
from av import AudioFrame

SAMPLE_RATE = 48000
PTIME = 0.020
FRAME_SAMPLES = int(SAMPLE_RATE * PTIME)
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)

#: After a stall longer than this (a blocked event loop, a suspended laptop) the
#: clock is re-anchored instead of bursting out every missed frame at once.
MAX_LAG = 0.5

Samples = npt.NDArray[np.int16]


def silence() -> Samples:
    """One frame's worth of zero samples."""
    return np.zeros(FRAME_SAMPLES, dtype=np.int16)


def make_frame(samples: Samples, pts: int) -> AudioFrame:
    """Wrap mono samples (FRAME_SAMPLES of them, as every source makes) as an aiortc-ready frame.

    The frame is allocated empty and its plane filled: half the cost of
    ``AudioFrame.from_ndarray``, which validates and reshapes, per 20 ms.
    """
    samples = np.ascontiguousarray(samples, dtype=np.int16)
    frame = AudioFrame(format="s16", layout="mono", samples=len(samples))
    frame.planes[0].update(samples)  # type: ignore[arg-type]  # any buffer; typed as bytes
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


class Pacer:
    """Hands out pts values no faster than real time, like aiortc's AudioStreamTrack.

    The monotonic clock is used (not wall time) so an NTP step cannot make a
    source stall or burst.
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._pts = 0

    async def next_pts(self) -> int:
        """Wait until the next frame is due and return its pts."""
        if self._start is None:
            self._start = time.monotonic()
            self._pts = 0
            return 0
        self._pts += FRAME_SAMPLES
        wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -MAX_LAG:
            self._start = time.monotonic() - self._pts / SAMPLE_RATE
        return self._pts
