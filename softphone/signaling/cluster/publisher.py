"""Call frames to Redis without waiting for Redis: one raw connection, written once per loop turn.

Measured (bench/bench_cluster.py, 200 set-ups/s): through redis-py each node
spent ~165 µs per relayed frame, twice what one node spends on a whole relay,
and the writer waited a Redis round trip before it could send the next batch,
so every hop queued behind the previous batch's reply. Here a frame is
appended to a buffer, and one ``call_soon`` per loop turn writes every buffered
frame as PUBLISH commands straight into the socket; replies (subscriber counts)
are read and thrown away, except errors, which switch this path off.

Only plain ``redis://`` TCP URLs take this path (TLS and unix sockets keep the
redis-py pipeline); when the connection is lost the link falls back to the
pipeline, which owns outage handling, and reconnects this with its heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

try:
    import hiredis
    from redis.asyncio.connection import parse_url
except ImportError:  # pragma: no cover - the pipeline path is used then
    hiredis = None  # type: ignore[assignment]

log = logging.getLogger("softphone.signaling.cluster")

__all__ = ["SEPARATOR", "Publisher"]

#: Between the frames of one published batch: JSON text never holds it raw.
SEPARATOR = "\x1e"


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class Publisher(asyncio.Protocol):
    """A write-only PUBLISH connection (see the module docstring)."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer: list[tuple[str, str]] = []
        self._scheduled = False
        self._reader: Any = hiredis.Reader() if hiredis is not None else None

    @staticmethod
    def usable(url: str) -> bool:
        return hiredis is not None and url.startswith("redis://")

    async def connect(self, url: str, timeout: float = 2.0) -> bool:
        """Open the connection (AUTH first when the URL has a password); False if it cannot."""
        if not self.usable(url):
            return False
        options = parse_url(url)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: self, options.get("host", "localhost"), options.get("port", 6379)
                ),
                timeout,
            )
        except (OSError, TimeoutError):
            return False
        password = options.get("password")
        if password and self._transport is not None:
            user = options.get("username")
            auth = [user.encode(), password.encode()] if user else [password.encode()]
            self._transport.write(_command(b"AUTH", *auth))
        return True

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def send(self, channel: str, payload: str) -> bool:
        """Buffer one frame for this loop turn's write; False when not connected."""
        if not self.connected:
            return False
        self._buffer.append((channel, payload))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return True

    def _flush(self) -> None:
        self._scheduled = False
        frames, self._buffer = self._buffer, []
        if not frames or self._transport is None:
            return
        batches: dict[str, list[str]] = {}
        for channel, payload in frames:
            batches.setdefault(channel, []).append(payload)
        self._transport.write(
            b"".join(
                _command(b"PUBLISH", channel.encode(), SEPARATOR.join(payloads).encode())
                for channel, payloads in batches.items()
            )
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's TCPTransport does not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._reader = hiredis.Reader()  # a fresh parser per connection

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if isinstance(reply, Exception):
                log.warning("Redis refused a fast-path PUBLISH (%s): using the pipeline", reply)
                self.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
