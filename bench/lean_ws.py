"""A minimal WebSocket client for the signaling load generators (bench/signaling_generator.py).

Why it exists: an aiohttp client WebSocket costs tens of microseconds of
Python per message (a reader task woken per message, a message object, the
frame writer's masking and locks). On a 2-core machine the generators of
bench_cluster then used about as much CPU per call set-up as the servers
they measure and took the cores a second node needs. This client does the
HTTP Upgrade once, then writes pre-built frames straight to the transport and
hands every text frame to a callback from ``data_received``: no task, no
message object, no copy beyond the receive buffer.

What it leaves out, on purpose: TLS, extensions (no permessage-deflate is
offered, so the server never compresses), sending fragmented frames, and a
random masking key. RFC 6455 makes clients mask every frame but lets the key
be any 32-bit value; the mask is there so that browser-controlled bytes
cannot poison proxy caches, which loopback to our own server does not have.
With the zero key, masking is the identity, so a frame is header + payload
and the header depends on the payload length alone (cached by length).

Heartbeat: like ``aiohttp.ClientSession.ws_connect(heartbeat=h)`` (what
JsonSignalingClient uses), a socket that has heard nothing for ``h`` seconds
sends a ping and is closed (abnormally) if nothing arrives within ``h / 2``.
One :class:`Heartbeat` task checks every socket once a second instead of a
timer per socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
import time
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_ZERO_MASK = b"\0\0\0\0"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL = 1000

_text_headers: dict[int, bytes] = {}


def frame_header(length: int, opcode: int = OP_TEXT) -> bytes:
    """FIN, ``opcode``, the mask bit, the payload length (7, 16 or 64 bits) and a zero key."""
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + _ZERO_MASK


def text_header(length: int) -> bytes:
    """:func:`frame_header` of a text frame, built once per length."""
    header = _text_headers.get(length)
    if header is None:
        header = _text_headers[length] = frame_header(length)
    return header


def text_frame(payload: bytes) -> bytes:
    """A whole client text frame: build it once, send it as often as needed."""
    return text_header(len(payload)) + payload


class HandshakeError(ConnectionError):
    """The server did not switch protocols."""


class LeanWebSocket(asyncio.Protocol):
    """One client connection; ``on_text`` gets every text message's payload (UTF-8 bytes)."""

    def __init__(self, on_text: Callable[[bytes], None], heartbeat: Heartbeat | None = None):
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.closed = False  # no more frames may be sent
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._upgraded: asyncio.Future[None] | None = None
        self._accept = b""
        self._fragments: list[bytes] = []
        self._fragment_op = 0
        self._heartbeat = heartbeat
        self.heard = True  # something arrived since the last heartbeat check
        self.quiet_since = 0.0
        self.pinged_at = 0.0  # 0: no ping waiting for an answer

    @classmethod
    async def connect(
        cls,
        url: str,
        on_text: Callable[[bytes], None],
        *,
        heartbeat: Heartbeat | None = None,
        timeout: float = 60,
    ) -> LeanWebSocket:
        """Open ``ws://host:port/path`` and complete the Upgrade handshake."""
        parts = urlsplit(url)
        if parts.scheme != "ws" or parts.hostname is None:
            raise ValueError(f"only ws:// URLs: {url}")
        port = parts.port or 80
        loop = asyncio.get_running_loop()
        ws = cls(on_text, heartbeat)
        ws._upgraded = loop.create_future()
        key = base64.b64encode(os.urandom(16))
        ws._accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: ws, parts.hostname, port)
            assert ws.transport is not None
            host = parts.netloc.encode()
            path = (parts.path or "/").encode() + (
                b"?" + parts.query.encode() if parts.query else b""
            )
            ws.transport.write(
                b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, key)
            )
            try:
                await ws._upgraded
            except BaseException:
                ws.abort()
                raise
        if heartbeat is not None:
            ws.quiet_since = time.monotonic()
            heartbeat.sockets.add(ws)
        return ws

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's TCPTransport does not subclass asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._heartbeat is not None:
            self._heartbeat.sockets.discard(self)
        if self._upgraded is not None and not self._upgraded.done():
            self._upgraded.set_exception(exc or HandshakeError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        buf = self._buffer
        buf += data
        if self._upgraded is not None and not self._handshake():
            return
        self._parse()

    # --- receiving --------------------------------------------------------------------

    def _handshake(self) -> bool:
        """Read the 101 response; True once it is complete and frames may follow."""
        assert self._upgraded is not None
        buf = self._buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        upgraded, self._upgraded = self._upgraded, None
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in head[1:])
        )
        if head[0].split(b" ", 2)[1:2] != [b"101"] or fields.get(b"sec-websocket-accept") != (
            self._accept
        ):
            upgraded.set_exception(HandshakeError(f"no upgrade: {head[0]!r}"))
            return False
        upgraded.set_result(None)
        return True

    def _parse(self) -> None:
        """Handle every complete frame in the buffer; keep the rest for the next data."""
        buf = self._buffer
        size = len(buf)
        at = 0
        while size - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            length = b1 & 0x7F
            start = at + 2
            if length == 126:
                if size - at < 4:
                    break
                (length,) = struct.unpack_from("!H", buf, start)
                start += 2
            elif length == 127:
                if size - at < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, start)
                start += 8
            mask = b""
            if b1 & 0x80:  # servers must not mask; unmask anyway
                mask = bytes(buf[start : start + 4])
                start += 4
            end = start + length
            if end > size:
                break
            payload = bytes(buf[start:end])
            at = end
            if mask:
                payload = _unmask(payload, mask)
            opcode = b0 & 0x0F
            if opcode == OP_TEXT and b0 & 0x80:
                self.on_text(payload)
            else:
                self._on_other(opcode, bool(b0 & 0x80), payload)
            if self.closed:
                break
        if at:
            del buf[:at]

    def _on_other(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode in (OP_TEXT, OP_BINARY):  # first fragment of a message
            self._fragment_op, self._fragments = opcode, [payload]
        elif opcode == OP_CONTINUATION:
            self._fragments.append(payload)
            if fin:
                whole, self._fragments = b"".join(self._fragments), []
                if self._fragment_op == OP_TEXT:
                    self.on_text(whole)
        elif opcode == OP_PING:
            self._write(frame_header(len(payload), OP_PONG) + payload)
        elif opcode == OP_CLOSE:
            if not self.closed:  # the server closes: answer with its code
                self._write(frame_header(len(payload[:2]), OP_CLOSE) + payload[:2])
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        # OP_PONG (and binary messages): nothing to do beyond having heard something

    # --- sending ----------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_frame(self, frame: bytes) -> bool:
        """Send a frame built by :func:`text_frame`; False if the socket is closed."""
        if self.closed:
            return False
        assert self.transport is not None
        self.transport.write(frame)
        return True

    def send_text(self, payload: bytes) -> bool:
        """Send a text message; False if the socket is closed."""
        if self.closed:
            return False
        assert self.transport is not None
        self.transport.write(text_header(len(payload)) + payload)
        return True

    def ping(self) -> None:
        self._write(frame_header(0, OP_PING))

    async def close(self, timeout: float = 10) -> None:
        """Close handshake (code 1000), then wait for the server to close the connection."""
        if not self.closed:
            code = struct.pack("!H", CLOSE_NORMAL)
            self._write(frame_header(len(code), OP_CLOSE) + code)
            self.closed = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class Heartbeat:
    """Pings for every socket quiet for ``interval`` s; closes those unanswered for half that."""

    def __init__(self, interval: float, resolution: float = 1.0) -> None:
        self.interval = interval
        self.resolution = resolution
        self.sockets: set[LeanWebSocket] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.resolution)
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        for ws in list(self.sockets):
            if ws.heard:
                ws.heard = False
                ws.quiet_since = now
                ws.pinged_at = 0.0
            elif ws.pinged_at:
                if now - ws.pinged_at >= self.interval / 2:
                    ws.abort()  # no pong: closed abnormally, as aiohttp does
            elif now - ws.quiet_since >= self.interval:
                ws.pinged_at = now
                ws.ping()
