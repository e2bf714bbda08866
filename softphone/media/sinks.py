"""Sinks: where received audio goes, with the arrival statistics used to measure gaps."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from .frames import SAMPLE_RATE, Samples


@dataclass(frozen=True)
class SinkStats:
    """What a sink has received so far.

    max_gap_ms is the longest wall-clock (monotonic) interval between two
    consecutive frames, across track changes: it is how long the listener heard
    nothing during an ICE restart or a renegotiation.
    """

    frames: int = 0
    seconds: float = 0.0
    max_gap_ms: float = 0.0
    last_frame_at: float | None = None
    # The longest gap since the last new_window(): lets a caller measure one
    # moment (a region switch) apart from the noise of the whole call.
    window_max_gap_ms: float = 0.0


@runtime_checkable
class AudioSink(Protocol):
    async def start(self, track: MediaStreamTrack) -> None:
        """Consume `track` in a task until it ends or stop() is called."""

    async def stop(self) -> None:
        """Stop consuming and release the output; safe to call twice."""

    @property
    def stats(self) -> SinkStats: ...

    def new_window(self) -> None:
        """Start a new measuring window for ``stats.window_max_gap_ms``."""


class MonoConverter:
    """Turns whatever aiortc decoded (Opus gives s16 stereo) into 48 kHz mono s16.

    The resampler is rebuilt when the input format changes, e.g. when a new
    track after renegotiation decodes with another codec.
    """

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None

    def convert(self, frame: AudioFrame) -> Samples:
        if (
            frame.format.name == "s16"
            and frame.layout.name == "mono"
            and frame.sample_rate == SAMPLE_RATE
        ):
            # What our Opus decoder gives (rtc/internals.py InlineDecoder): a view, no copy.
            samples: Samples = np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)
            return samples
        frame.pts = None  # pts of a new track may jump backwards; irrelevant here
        for _ in range(2):
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            try:
                out = self._resampler.resample(frame)
            except ValueError:  # "Frame does not match AudioResampler setup"
                self._resampler = None
                continue
            if not out:
                return np.zeros(0, dtype=np.int16)
            return np.concatenate([o.to_ndarray().reshape(-1) for o in out]).astype(np.int16)
        return np.zeros(0, dtype=np.int16)


class ConsumingSink:
    """Shared machinery: one consumer task, replaced when a new track arrives."""

    #: False for a sink that only counts frames: it is never handed samples.
    wants_samples = True

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        # Counted in plain attributes (a frozen SinkStats built per frame cost a
        # dataclass __init__ 50 times a second); `stats` assembles the snapshot.
        self._frames = 0
        self._seconds = 0.0
        self._max_gap_ms = 0.0
        self._last_frame_at: float | None = None
        self._window_max_gap_ms = 0.0
        self._converter = MonoConverter()

    @property
    def stats(self) -> SinkStats:
        return SinkStats(
            frames=self._frames,
            seconds=self._seconds,
            max_gap_ms=self._max_gap_ms,
            last_frame_at=self._last_frame_at,
            window_max_gap_ms=self._window_max_gap_ms,
        )

    def new_window(self) -> None:
        self._window_max_gap_ms = 0.0

    async def start(self, track: MediaStreamTrack) -> None:
        # A renegotiation can fire a new track while the old one is still live:
        # only the newest is heard, the output (file, device) stays the same.
        await self._cancel()
        self._task = asyncio.create_task(self._consume(track), name="audio-sink")

    async def stop(self) -> None:
        await self._cancel()
        await self._close()

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            self._record(frame)
            if self.wants_samples:
                self._write(self._converter.convert(frame))

    def _record(self, frame: AudioFrame) -> None:
        now = time.monotonic()
        last, self._last_frame_at = self._last_frame_at, now
        self._frames += 1
        self._seconds += frame.samples / (frame.sample_rate or SAMPLE_RATE)
        if last is not None:
            gap = (now - last) * 1000.0
            if gap > self._max_gap_ms:
                self._max_gap_ms = gap
            if gap > self._window_max_gap_ms:
                self._window_max_gap_ms = gap

    def _write(self, samples: Samples) -> None:
        """Deliver converted samples; must not block (the default discards)."""

    async def _close(self) -> None:
        """Release the output after the consumer stopped."""


class NullSink(ConsumingSink):
    """Discards audio but still counts it, so gap measurements work without output."""

    wants_samples = False


class SwitchableSink(ConsumingSink):
    """The call's sink: one consumer and one set of statistics, the output behind it replaceable.

    Switching the speaker mid-call swaps ``output`` only: the received track,
    the gap statistics and the call are untouched, so nothing is renegotiated.
    While ``paused`` (the call is held) frames are still counted but not played.
    """

    def __init__(self, output: ConsumingSink) -> None:
        super().__init__()
        self.output = output
        self.wants_samples = output.wants_samples
        self.paused = False

    def _write(self, samples: Samples) -> None:
        if not self.paused:
            self.output._write(samples)

    async def replace(self, output: ConsumingSink) -> None:
        """Play into ``output`` from the next frame on; the old output is released."""
        old, self.output = self.output, output
        self.wants_samples = output.wants_samples
        await old._close()

    async def _close(self) -> None:
        await self.output._close()


_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


class WavWriter:
    """A 48 kHz mono s16 WAV that is valid after every write.

    The RIFF sizes are patched after each chunk and the file flushed, so a
    recording survives the process being killed mid-call; reopening appends.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._data_bytes = 0
        self.open()

    def open(self) -> None:
        if self._file is not None:
            return
        if self._data_bytes == 0:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            self._patch()
        else:
            self._file = open(self.path, "r+b")  # noqa: SIM115
            self._file.seek(0, 2)

    def write(self, samples: Samples) -> None:
        if self._file is None:
            self.open()
        assert self._file is not None
        if samples.size == 0:
            return
        data = samples.astype("<i2", copy=False).tobytes()
        self._file.seek(0, 2)
        self._file.write(data)
        self._data_bytes += len(data)
        self._patch()

    def _patch(self) -> None:
        assert self._file is not None
        header = _HEADER.pack(
            b"RIFF",
            36 + self._data_bytes,
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            SAMPLE_RATE,
            SAMPLE_RATE * 2,
            2,
            16,
            b"data",
            self._data_bytes,
        )
        self._file.seek(0)
        self._file.write(header)
        self._file.seek(0, 2)
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class WavFileSink(ConsumingSink):
    """Records what the remote sent; every start() appends to the same file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._writer = WavWriter(path)  # OSError here becomes a MediaSpecError

    def _write(self, samples: Samples) -> None:
        self._writer.write(samples)

    async def _close(self) -> None:
        self._writer.close()
