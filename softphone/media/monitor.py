"""The configured input read between calls, so the level meter shows the mic works before dialing.

A call opens its own source, so before the first call (and between calls)
nothing reads the input and the Call panel could only name it. An
:class:`InputMonitor` reads the same ``--audio-in`` in one background task,
through a :class:`MutableSource` so the level is worked out as in a call: only
when read (the meter at its refresh rate); each frame costs what the source
itself does plus one reference.

A call releases the monitor before opening its own source rather than taking
it over: a file source would start the call mid-recording, the call's source
needs its own mute state and a fresh clock, and a frame in flight in the
reading task would have to be handed over. Reopening costs one device open at
a moment the call is being set up anyway.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .sources import MutableSource


class InputMonitor:
    """Reads ``track`` until closed; ``level`` is the last frame's peak, as in a call."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.source = MutableSource(track)
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await self.source.recv()  # paced by the source: 50 frames a second

    @property
    def level(self) -> float | None:
        return self.source.level

    def close(self) -> None:
        """Stop reading and release the device (synchronous: a call opens its own next)."""
        self._task.cancel()
        self.source.stop()
