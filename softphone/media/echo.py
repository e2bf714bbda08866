"""The loop behind the built-in `echo` user: what it hears, it sends back."""

from __future__ import annotations

from collections import deque

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from .frames import FRAME_SAMPLES, Samples, silence
from .sinks import AudioSink, ConsumingSink
from .sources import PacedSource

#: At most half a second is held back; beyond that the oldest audio is dropped
#: so a stalled sender cannot build up an ever-growing delay.
MAX_FRAMES = 25


class _EchoBuffer:
    def __init__(self) -> None:
        self.frames: deque[Samples] = deque(maxlen=MAX_FRAMES)
        self._partial = np.zeros(0, dtype=np.int16)

    def push(self, samples: Samples) -> None:
        if self._partial.size == 0 and samples.size == FRAME_SAMPLES:
            self.frames.append(samples)  # the usual case: one decoded frame, kept as is
            return
        data = np.concatenate([self._partial, samples])
        whole = data.size - data.size % FRAME_SAMPLES
        for start in range(0, whole, FRAME_SAMPLES):
            self.frames.append(data[start : start + FRAME_SAMPLES])
        self._partial = data[whole:]


class EchoSink(ConsumingSink):
    def __init__(self, buffer: _EchoBuffer) -> None:
        super().__init__()
        self._buffer = buffer

    def _write(self, samples: Samples) -> None:
        self._buffer.push(samples)


class EchoSource(PacedSource):
    """Sends back the oldest buffered frame each tick, or silence when none came in."""

    def __init__(self, buffer: _EchoBuffer) -> None:
        super().__init__()
        self._buffer = buffer

    def next_samples(self) -> Samples:
        return self._buffer.frames.popleft() if self._buffer.frames else silence()


def create_echo() -> tuple[MediaStreamTrack, AudioSink]:
    """A source track and a sink joined by a bounded buffer."""
    buffer = _EchoBuffer()
    return EchoSource(buffer), EchoSink(buffer)
