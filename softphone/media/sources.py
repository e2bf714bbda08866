"""Synthetic and file sources, and the mute wrapper the session puts around every source."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from .frames import FRAME_SAMPLES, SAMPLE_RATE, Pacer, Samples, make_frame, silence

#: A tone at about -10 dBFS: clearly audible, far from clipping after Opus.
TONE_AMPLITUDE = 0.3


class PacedSource(MediaStreamTrack):
    """An audio track whose frames are clocked by real time, not by whoever calls recv.

    Subclasses only say what the next 20 ms sound like; pts, time_base and pacing
    are shared so every source looks the same to aiortc.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pacer = Pacer()

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next_pts()
        if self.readyState != "live":  # stopped while waiting
            raise MediaStreamError
        return make_frame(self.next_samples(), pts)

    @abstractmethod
    def next_samples(self) -> Samples:
        """The next FRAME_SAMPLES mono samples; must not block."""


class SilenceSource(PacedSource):
    """Sends nothing audible but keeps RTP flowing (and the remote's jitter buffer fed)."""

    def next_samples(self) -> Samples:
        return silence()


class ToneSource(PacedSource):
    """A sine wave; phase carries across frames so there is no click every 20 ms.

    A tone of a whole number of hertz repeats exactly after
    ``SAMPLE_RATE / gcd(SAMPLE_RATE, hz)`` samples (440 Hz: 1200), so after
    ``lcm`` of that and a frame's 960 samples (440 Hz: 5 frames, at most one
    second) the frames repeat too: they are computed once into a table, and a
    frame is a slice of it, with no numpy arithmetic per 20 ms (each of those
    calls costs tens of microseconds on a cache gone cold between frames).
    Any other frequency is computed per frame: sin(phase + step * n) =
    sin(phase) cos(step * n) + cos(phase) sin(step * n), from two tables.
    """

    def __init__(self, frequency: float = 440.0, amplitude: float = TONE_AMPLITUDE) -> None:
        super().__init__()
        self.frequency = frequency
        self._amplitude = amplitude * 32767
        self._phase = 0.0
        self._step = 2 * math.pi * frequency / SAMPLE_RATE
        offsets = self._step * np.arange(FRAME_SAMPLES)
        self._sin = np.sin(offsets)
        self._cos = np.cos(offsets)
        self._mix = np.empty(FRAME_SAMPLES)
        self._part = np.empty(FRAME_SAMPLES)
        self._samples: Samples = np.empty(FRAME_SAMPLES, dtype=np.int16)
        self._table = _repeating_frames(frequency, self._amplitude)
        self._next = 0

    def next_samples(self) -> Samples:
        """The next frame, in a buffer reused by the next call (make_frame copies it)."""
        if self._table is not None:
            frame = self._table[self._next]
            self._next = (self._next + 1) % len(self._table)
            return frame
        np.multiply(self._cos, self._amplitude * math.sin(self._phase), out=self._mix)
        np.multiply(self._sin, self._amplitude * math.cos(self._phase), out=self._part)
        np.add(self._mix, self._part, out=self._mix)
        np.copyto(self._samples, self._mix, casting="unsafe")  # truncates, as astype did
        self._phase = (self._phase + self._step * FRAME_SAMPLES) % (2 * math.pi)
        return self._samples


def _repeating_frames(frequency: float, amplitude: float) -> list[Samples] | None:
    """The frames of a whole-hertz tone up to where they repeat (see ToneSource); else None."""
    if frequency <= 0 or frequency != int(frequency):
        return None
    period = SAMPLE_RATE // math.gcd(SAMPLE_RATE, int(frequency))
    frames = math.lcm(period, FRAME_SAMPLES) // FRAME_SAMPLES
    n = np.arange(frames * FRAME_SAMPLES)
    # The phase wraps every period: sin of n mod period keeps the argument small and exact.
    wave = amplitude * np.sin(2 * math.pi * frequency * (n % period) / SAMPLE_RATE)
    samples = wave.astype(np.int16)  # truncates, as the per-frame path does
    return [samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(frames)]


class FileSource(PacedSource):
    """Plays an audio file once, then silence, so a call outlives its recording.

    Decoding happens 20 ms at a time inside recv: a WAV decode step is a small
    read plus a memcpy, cheaper than handing it to a thread.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        # Raises OSError / av.FFmpegError for a missing or undecodable file;
        # the factory turns those into MediaSpecError.
        self._container = av.open(str(path), mode="r")
        streams = self._container.streams.audio
        if not streams:
            self._container.close()
            raise ValueError("the file has no audio stream")
        stream = streams[0]
        self.source_rate = int(stream.rate or 0)
        self.source_channels = int(stream.channels or 0)
        self._frames: Iterator[AudioFrame] | None = self._container.decode(stream)
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.int16)

    def next_samples(self) -> Samples:
        while self._pending.size < FRAME_SAMPLES and self._frames is not None:
            self._decode_more()
        if self._pending.size == 0:
            return silence()
        chunk = self._pending[:FRAME_SAMPLES]
        self._pending = self._pending[FRAME_SAMPLES:]
        if chunk.size < FRAME_SAMPLES:
            chunk = np.concatenate([chunk, silence()[: FRAME_SAMPLES - chunk.size]])
        return chunk

    def _decode_more(self) -> None:
        assert self._frames is not None
        frame: AudioFrame | None
        try:
            frame = next(self._frames)
        except (StopIteration, av.FFmpegError):
            # A truncated file ends the recording early rather than the call.
            frame = None
        if frame is not None:
            frame.pts = None  # the resampler need not follow the file's timestamps
        out = self._resampler.resample(frame)
        if frame is None:
            self._close()
        parts = [self._pending, *(o.to_ndarray().reshape(-1) for o in out)]
        self._pending = np.concatenate(parts).astype(np.int16, copy=False)

    def _close(self) -> None:
        self._frames = None
        self._container.close()

    def stop(self) -> None:
        super().stop()
        if self._frames is not None:
            self._close()


def _silent_copy(frame: AudioFrame) -> AudioFrame:
    silent = AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=frame.samples)
    for plane in silent.planes:
        plane.update(bytes(plane.buffer_size))
    silent.sample_rate = frame.sample_rate
    silent.pts = frame.pts
    silent.time_base = frame.time_base
    return silent


def _tone_copy(frame: AudioFrame, hz: float) -> AudioFrame:
    """A frame at ``frame``'s pts holding a quiet sine at ``hz`` (the hold sound), in phase."""
    t = (np.arange(frame.samples) + (frame.pts or 0)) / SAMPLE_RATE
    wave = (TONE_AMPLITUDE * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    return make_frame(wave, frame.pts or 0)


class MutableSource(MediaStreamTrack):
    """Wraps a source so the user can mute without renegotiating.

    The wrapped source keeps being read while muted: its clock, pts and (for a
    microphone) its buffer continue, so unmuting neither jumps timestamps nor
    replays stale audio.
    """

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, muted: bool = False) -> None:
        super().__init__()
        self.source = source
        self.muted = muted
        # While the call is on hold with a hold sound: this tone replaces the source.
        self.hold_tone_hz: float | None = None
        self._last: AudioFrame | None = None

    async def recv(self) -> AudioFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self.source
            try:
                frame = await source.recv()
            except MediaStreamError:
                if self.source is not source:
                    continue  # replaced while we waited: read the new one
                self.stop()
                raise
            assert isinstance(frame, AudioFrame)
            self._last = frame
            if self.hold_tone_hz is not None:
                return _tone_copy(frame, self.hold_tone_hz)
            return _silent_copy(frame) if self.muted else frame

    def replace(self, source: MediaStreamTrack) -> None:
        """Send from ``source`` from the next frame on, without renegotiating.

        The new source takes over the old one's clock, so RTP timestamps go on
        from where they were rather than jumping back to zero.
        """
        old, self.source = self.source, source
        if isinstance(old, PacedSource) and isinstance(source, PacedSource):
            source._pacer = old._pacer
        old.stop()

    @property
    def level(self) -> float | None:
        """The peak of the last frame the source gave (0..1 of full scale), muted or not.

        Worked out only when asked (the level meter while it is on screen, the
        quality monitor once a second): the call's 50 frames a second cost one
        reference each, no arithmetic and no allocation. None before the first frame.
        """
        frame = self._last
        if frame is None:
            return None
        samples = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16, count=frame.samples)
        peak = max(int(samples.max()), -int(samples.min()))
        return min(1.0, peak / 32767)

    def stop(self) -> None:
        super().stop()
        self.source.stop()
