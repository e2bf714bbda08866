"""The system microphone and speaker through sounddevice, with every failure diagnosed.

sounddevice is imported lazily: importing it loads PortAudio, which may be
missing, and a softphone without audio hardware must still start (and tell the
user why there is no sound). Device I/O runs in PortAudio's callback thread;
the event loop only touches deques, whose append/popleft are atomic.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from softphone.device_list import DeviceUnavailable, load_sounddevice

from .frames import FRAME_SAMPLES, SAMPLE_RATE, Samples, make_frame, silence
from .sinks import ConsumingSink
from .sources import PacedSource

#: PortAudio's "low" latency: 10-14 ms play-to-record through PulseAudio here,
#: against ~50 ms for "high"; a phone call wants the former.
LATENCY = "low"

#: Frames held between the device and the call; older audio is dropped so
#: latency cannot creep up when the two clocks drift apart.
MAX_BUFFERED = 10
#: Frames gathered before playback (or sending) starts, absorbing jitter.
PRIME_FRAMES = 2
#: How long a tick may wait for a microphone block that is slightly late.
UNDERRUN_GRACE = 0.015


_open_streams = 0


def reinitialise(sd: Any) -> None:
    """Make PortAudio rescan devices, e.g. when the sound server started after import.

    Only safe while none of our streams are open: terminating PortAudio would
    kill them.
    """
    if _open_streams == 0:
        sd._terminate()
        sd._initialize()


def rescan_if_idle() -> None:
    """Let PortAudio see devices plugged in since it started, when none of ours is open."""
    reinitialise(load_sounddevice())


def _open(
    kind: str, callback: Any, device: int | None = None, finished: Any = None
) -> tuple[Any, str]:
    """Open and start a `kind` ("input"/"output") stream on ``device`` (None: the default).

    Returns (stream, device name). ``finished`` is called from PortAudio's
    thread when the stream stops, which is how a device that disappears
    mid-call is noticed.
    """
    global _open_streams
    sd = load_sounddevice()
    last: Exception | None = None
    for attempt in range(2):
        if attempt:
            reinitialise(sd)
        try:
            info = sd.query_devices(kind=kind) if device is None else sd.query_devices(device)
            cls = sd.InputStream if kind == "input" else sd.OutputStream
            stream = cls(
                device=device,
                finished_callback=finished,
                samplerate=SAMPLE_RATE,
                blocksize=FRAME_SAMPLES,
                channels=1,
                dtype="int16",
                latency=LATENCY,
                callback=callback,
            )
            stream.start()
        except Exception as exc:  # PortAudioError, ValueError for a device without channels
            last = exc
            continue
        _open_streams += 1
        return stream, str(info.get("name", "default"))
    if device is not None:
        raise DeviceUnavailable(f"cannot open {kind} device {device} ({last})") from last
    if _default_index(sd, kind) < 0:
        raise DeviceUnavailable(
            f"no default {kind} device (is a sound server such as PulseAudio running?)"
        ) from last
    raise DeviceUnavailable(f"cannot open the default {kind} device ({last})") from last


def _default_index(sd: Any, kind: str) -> int:
    try:
        lib = sd._lib
        if kind == "input":
            return int(lib.Pa_GetDefaultInputDevice())
        return int(lib.Pa_GetDefaultOutputDevice())
    except Exception:
        return -1


def _release(stream: Any) -> None:
    """Close a stream; may block for a buffer's length, so callers may run it in a thread."""
    try:
        stream.abort()
        stream.close()
    except Exception:
        pass  # the device may already be gone; nothing left to release


def _forget() -> None:
    global _open_streams
    _open_streams = max(0, _open_streams - 1)


class DeviceWatch:
    """Notices, from PortAudio's thread, that a stream stopped without being asked to.

    A device unplugged (or a PulseAudio sink unloaded) mid-call ends its
    stream: PortAudio calls ``finished`` and nothing else. The flag is read on
    the event loop, once a frame, where ``on_lost`` is called once.
    """

    def __init__(self) -> None:
        self.closing = False
        self.lost = False
        self.on_lost: Callable[[], None] | None = None
        self._told = False

    def finished(self) -> None:
        if not self.closing:
            self.lost = True

    def check(self) -> None:
        if self.lost and not self._told and self.on_lost is not None:
            self._told = True
            self.on_lost()


class MicrophoneSource(PacedSource):
    """An input device (the default one unless ``device`` is an index), paced by our clock.

    PortAudio's callback appends 20 ms blocks; each tick takes the oldest one,
    or silence on underrun, so a stalled device never stalls the call.
    """

    def __init__(self, device: int | None = None) -> None:
        super().__init__()
        self._blocks: deque[Samples] = deque(maxlen=MAX_BUFFERED)
        self._primed = False
        self.watch = DeviceWatch()
        self._stream, self.device_name = _open("input", self._callback, device, self.watch.finished)

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self._blocks.append(np.array(indata[:, 0], dtype=np.int16))

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self.watch.check()
        if not self._primed:
            # Wait (bounded) for the device's first blocks so the first frames
            # sent are real audio rather than an underrun.
            await self._wait_for_blocks(PRIME_FRAMES, 0.25)
            self._primed = True
        pts = await self._pacer.next_pts()
        if not self._blocks and not self.watch.lost:
            # The device's 20 ms and ours are not in phase: a block due "now"
            # may land a few ms late. Waiting a little beats a 20 ms dropout.
            await self._wait_for_blocks(1, UNDERRUN_GRACE)
        if self.readyState != "live":
            raise MediaStreamError
        return make_frame(self.next_samples(), pts)

    async def _wait_for_blocks(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self._blocks) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.002)

    def next_samples(self) -> Samples:
        while len(self._blocks) > PRIME_FRAMES + 3:
            self._blocks.popleft()  # clock drift: drop the oldest to keep latency low
        try:
            block = self._blocks.popleft()
        except IndexError:
            return silence()
        if block.size != FRAME_SAMPLES:
            block = np.resize(block, FRAME_SAMPLES)
        return block

    def stop(self) -> None:
        super().stop()
        self.watch.closing = True
        if self._stream is not None:
            _release(self._stream)
            _forget()
            self._stream = None


class SpeakerSink(ConsumingSink):
    """An output device (the default one unless ``device`` is an index).

    The callback plays buffered blocks or silence.
    """

    def __init__(self, device: int | None = None) -> None:
        super().__init__()
        self._blocks: deque[Samples] = deque(maxlen=MAX_BUFFERED)
        self._current = np.zeros(0, dtype=np.int16)
        self._playing = False
        self._stream: Any = None
        self.watch = DeviceWatch()
        self._stream, self.device_name = _open(
            "output", self._callback, device, self.watch.finished
        )

    def _write(self, samples: Samples) -> None:
        self.watch.check()
        if samples.size:
            self._blocks.append(samples)

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        # Runs in PortAudio's thread: only atomic deque operations, no locks.
        out = outdata[:, 0]
        if not self._playing:
            if len(self._blocks) < PRIME_FRAMES:
                out[:] = 0
                return
            self._playing = True
        filled = 0
        while filled < frames:
            if self._current.size == 0:
                try:
                    self._current = self._blocks.popleft()
                except IndexError:
                    self._playing = False  # underrun: re-prime before playing again
                    break
            take = min(frames - filled, self._current.size)
            out[filled : filled + take] = self._current[:take]
            self._current = self._current[take:]
            filled += take
        out[filled:] = 0

    async def _close(self) -> None:
        self.watch.closing = True
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(_release, stream)
            _forget()
