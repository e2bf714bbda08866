"""One client's WebSocket on the signaling server, and how frames get out to it.

Sends never block the sender and never wait for a loop iteration: a frame is
written to the socket at once when nothing is queued before it (aiohttp
buffers it in the transport; for an uncompressed frame that is all
``send_str`` does unless the transport is paused). Only when the transport
pushes back does a writer task appear; it finishes that frame, drains the
queue behind it and goes away. A client that does not read fills its queue;
past ``max_queue_bytes`` it is disconnected, so one slow client cannot hold
memory or delay anybody else. Twenty thousand idle clients are twenty
thousand sockets, not twenty thousand tasks and events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from aiohttp import WSCloseCode, web

from softphone.signaling.limits import RateGuard

log = logging.getLogger("softphone.signaling")

__all__ = ["Connection"]

_Send = Coroutine[Any, Any, None]


class Connection:
    """One WebSocket connection, its registration and its outgoing queue."""

    __slots__ = (
        "address",
        "calls",
        "close_code",
        "closed",
        "max_queue_bytes",
        "name",
        "pending",
        "queue",
        "queued_bytes",
        "rate",
        "refresh",
        "request",
        "subscriptions",
        "writer",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        rate: RateGuard,
        max_queue_bytes: int,
    ) -> None:
        self.ws = ws
        self.request = request
        self.address = request.remote or "?"
        self.rate = rate
        self.max_queue_bytes = max_queue_bytes
        self.name: str | None = None
        self.calls: set[str] = set()
        self.pending = 0  # invites we sent that are not yet accepted
        self.subscriptions: frozenset[str] = frozenset()
        self.queue: deque[str] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.refresh: asyncio.TimerHandle | None = None
        self.closed = False
        self.close_code: int = WSCloseCode.OK

    def label(self) -> str:
        if self.name is not None:
            return repr(self.name)
        return f"<unregistered from {self.address}>"

    def abort(self) -> None:
        """Drop the connection at once, without a closing handshake."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def stop_writing(self) -> None:
        """The connection is over: nothing more goes out."""
        self.closed = True
        if self.writer is not None:
            self.writer.cancel()

    def send(self, text: str) -> None:
        """Send ``text`` now if nothing is queued before it, else queue it."""
        if self.closed:
            return
        if self.writer is not None:
            self._enqueue(text)
            return
        send = self.ws.send_str(text)
        try:
            waiting = send.send(None)
        except StopIteration:
            return  # written (the usual case)
        except Exception as exc:  # connection reset
            self._failed(exc)
            return
        # The transport pushed back: a writer task finishes this frame and the queue.
        self.writer = asyncio.get_running_loop().create_task(self._write(send, waiting))

    def _enqueue(self, text: str) -> None:
        size = len(text)
        if self.queued_bytes + size > self.max_queue_bytes:
            log.info("disconnecting %s: it does not read its messages", self.label())
            self.queue.clear()
            self.queued_bytes = 0
            self.abort()
            return
        self.queue.append(text)
        self.queued_bytes += size

    async def _write(self, started: _Send, waiting: Any) -> None:
        """Finish the send that stopped on flow control, then drain the queue."""
        try:
            await _resume(started, waiting)
            queue = self.queue
            while queue:
                text = queue.popleft()
                self.queued_bytes -= len(text)
                await self.ws.send_str(text)
        except asyncio.CancelledError:
            started.close()
            raise
        except Exception as exc:
            self._failed(exc)
        finally:
            self.writer = None

    def _failed(self, exc: Exception) -> None:
        log.debug("send to %s failed: %s", self.label(), exc)
        self.abort()


async def _resume(send: _Send, waiting: Any) -> None:
    """Run ``send`` to its end; it is suspended on ``waiting`` (what it last yielded).

    What a task does for a coroutine: wait for the future it yielded, then
    step it again, until it returns.
    """
    while True:
        if waiting is None:
            await asyncio.sleep(0)
        else:
            await asyncio.wait([waiting])
        try:
            waiting = send.send(None)
        except StopIteration:
            return
