"""One WebSocket to the SIP server (RFC 7118): a text frame per SIP message.

The transport knows nothing of SIP beyond framing: it hands every frame to
its receiver and says when the link is gone. The ``sip`` subprotocol is
required; a server that does not agree to it is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Final

import aiohttp

log = logging.getLogger("softphone.signaling.sip")

SUBPROTOCOL: Final = "sip"
HEARTBEAT: Final = 20.0

Receiver = Callable[[bytes], None]


class SipTransportError(ConnectionError):
    """The WebSocket could not be opened or was lost; the text names the server."""


class WsTransport:
    """Connect, send, receive; ``on_closed`` is called once when the link drops."""

    def __init__(self, url: str, *, ssl_context: ssl.SSLContext | bool | None = None) -> None:
        self.url = url
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def connect(self, receiver: Receiver, on_closed: Callable[[str], None]) -> None:
        self._session = aiohttp.ClientSession()
        try:
            ws = await self._session.ws_connect(
                self.url,
                protocols=(SUBPROTOCOL,),
                heartbeat=HEARTBEAT,
                ssl=self._ssl if self._ssl is not None else True,
                max_msg_size=1 << 20,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._session.close()
            self._session = None
            raise SipTransportError(f"cannot reach SIP server {self.url}: {exc}") from None
        if ws.protocol != SUBPROTOCOL:
            await ws.close()
            await self._session.close()
            self._session = None
            raise SipTransportError(
                f"SIP server {self.url} did not accept the 'sip' WebSocket subprotocol"
            )
        self._ws = ws
        self._reader = asyncio.ensure_future(self._read(ws, receiver, on_closed))

    async def _read(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        receiver: Receiver,
        on_closed: Callable[[str], None],
    ) -> None:
        detail = "closed by the server"
        try:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    receiver(frame.data.encode("utf-8"))
                elif frame.type == aiohttp.WSMsgType.BINARY:
                    receiver(frame.data)
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    detail = f"WebSocket error: {ws.exception()}"
                    break
        except Exception as exc:  # a receiver bug must not kill the link silently
            log.exception("SIP receive loop failed")
            detail = f"receive failed: {type(exc).__name__}"
        if self._ws is ws:
            on_closed(detail)

    async def send(self, data: bytes) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise SipTransportError(f"not connected to SIP server {self.url}")
        await ws.send_str(data.decode("utf-8"))

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._session is not None:
            await self._session.close()
            self._session = None
