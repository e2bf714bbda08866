"""The SIP adapter's link: one WebSocket, the registration on it, keepalive, reconnects.

Kept apart from the calls so that the call state machine (adapter.py) only
sees "the link is up" and the events it must pass on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Final

from sipmessage import URI, Address

from softphone.signaling.adapter import ConnectionChanged, Registered, SignalingEvent
from softphone.signaling.sip import message as m
from softphone.signaling.sip.registration import Registration, RegistrationRefused
from softphone.signaling.sip.transport import WsTransport
from softphone.signaling.sip.ua import UserAgent

log = logging.getLogger("softphone.signaling.sip")

KEEPALIVE: Final = 30.0
RECONNECT_DELAYS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class Link:
    """Connect and register; on a drop, reconnect and register again (growing waits)."""

    def __init__(
        self, ua: UserAgent, emit: Callable[[SignalingEvent], None], keepalive: float = KEEPALIVE
    ) -> None:
        self.ua = ua
        self.keepalive = keepalive
        self.transport: WsTransport = ua.transport
        self.server = ua.transport.url
        self.user = ua.identity.aor.user or ""
        self._emit = emit
        self._registration: Registration | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    @property
    def up(self) -> bool:
        return self.transport.connected

    async def start(self) -> None:
        self._emit(ConnectionChanged("connecting"))
        await self._connect()
        self._spawn(self._keepalive())

    async def _connect(self) -> None:
        await self.transport.connect(self.ua.receive, self._on_closed)
        self._registration = Registration(self.ua, self.server)
        try:
            await self._registration.start()
        except BaseException:
            await self.transport.close()
            raise
        self._emit(ConnectionChanged("connected"))
        self._emit(Registered(user=self.user, online=()))

    async def close(self) -> None:
        """unREGISTER, then close the WebSocket; no reconnect after this."""
        self.closing = True
        if self._registration is not None:
            await self._registration.remove()
        for task in list(self._tasks):
            task.cancel()
        await self.transport.close()

    def _on_closed(self, detail: str) -> None:
        self.ua.fail_all(detail)
        if not self.closing:
            log.warning("SIP server %s: %s", self.server, detail)
            self._spawn(self._reconnect(detail))

    async def _reconnect(self, detail: str) -> None:
        """A new WebSocket and a new registration, until one works.

        A refusal (wrong credentials) ends the attempts: retrying cannot fix it.
        """
        if self._registration is not None:
            await self._registration.stop()
        for attempt in itertools.count():
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            shown = f"SIP server {self.server}: {detail}"
            self._emit(ConnectionChanged("reconnecting", shown, retry_in=delay))
            await asyncio.sleep(delay)
            if self.closing:
                return
            try:
                await self.transport.close()
                await self._connect()
            except RegistrationRefused as exc:
                self._emit(ConnectionChanged("closed", str(exc)))
                return
            except (ConnectionError, TimeoutError) as exc:
                detail = str(exc)
                continue
            return

    async def _keepalive(self) -> None:
        """OPTIONS to the registrar (RFC 5626 section 3.5.1 fallback) every ``keepalive`` s."""
        aor = self.ua.identity.aor
        registrar = URI(scheme=aor.scheme, host=aor.host, port=aor.port)
        while True:
            await asyncio.sleep(self.keepalive)
            request = self.ua.request(
                "OPTIONS",
                registrar,
                to=Address(uri=registrar),
                from_tag=m.new_tag(),
                call_id=m.new_call_id(),
                cseq=1,
            )
            try:
                response = await self.ua.transact(request)
                log.debug("keepalive answered %d", response.code)
            except (ConnectionError, TimeoutError) as exc:
                log.warning("keepalive to %s failed: %s", self.server, exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
