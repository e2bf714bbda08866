"""The built-in ``echo`` user: answers every call and sends the caller's audio back.

It is the test call line a new user dials first (docs/protocol.md section 3), so
unlike a person it takes any number of calls at once. It speaks to the
signaling server as an ordinary client, which keeps the server free of media.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from softphone.call import Call
from softphone.events import CallStateChanged, Event
from softphone.media import create_echo
from softphone.rtc.configuration import Configuration
from softphone.signaling.adapter import (
    HungUp,
    Invited,
    RemoteCandidate,
    RemoteDescription,
    Signaling,
    SignalingEvent,
    SignalingUnavailable,
)

logger = logging.getLogger("softphone.echo")

ECHO_USER = "echo"


class EchoPeer:
    """Auto-answering echo: one :class:`Call` per caller, media looped back."""

    def __init__(
        self,
        signaling: Signaling,
        *,
        configuration: Configuration | None = None,
        host_addresses: list[str] | None = None,
    ) -> None:
        self.signaling = signaling
        self.configuration = configuration or Configuration()
        self.host_addresses = host_addresses
        self.calls: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await self.signaling.start(self._on_event)

    async def close(self) -> None:
        for call in list(self.calls.values()):
            await call.close("shutdown")
        self.calls.clear()
        for task in list(self._tasks):
            task.cancel()
        await self.signaling.close()

    def _on_event(self, event: SignalingEvent) -> None:
        task = asyncio.ensure_future(self._handle(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, event: SignalingEvent) -> None:
        match event:
            case Invited(call=call_id, resume=True):
                if call_id not in self.calls:  # the echo restarted with the server
                    with contextlib.suppress(SignalingUnavailable):
                        await self.signaling.hangup(call_id, "gone")
            case Invited(call=call_id, caller=caller):
                await self._answer(call_id, caller)
            case RemoteDescription(call=call_id, description=description):
                if (call := self.calls.get(call_id)) is not None:
                    await call.on_remote_description(description)
            case RemoteCandidate(call=call_id, candidate=candidate):
                if (call := self.calls.get(call_id)) is not None:
                    await call.on_remote_candidate(candidate)
            case HungUp(call=call_id, reason=reason):
                if (call := self.calls.pop(call_id, None)) is not None:
                    await call.close(reason or "hangup")
            case _:
                pass

    async def _answer(self, call_id: str, caller: str) -> None:
        source, sink = create_echo()

        def log_event(event: Event) -> None:
            logger.debug("echo call %s with %s: %s", call_id, caller, event)
            if isinstance(event, CallStateChanged) and event.state == "ended":
                self.calls.pop(call_id, None)

        call = Call(
            call_id=call_id,
            remote_user=caller,
            direction="incoming",
            signaling=self.signaling,
            emit=log_event,
            configuration=self.configuration,
            host_addresses=self.host_addresses,
            source=source,
            sink=sink,
        )
        self.calls[call_id] = call
        call.start_media()
        call.set_state("active")
        try:
            await self.signaling.accept(call_id)
        except SignalingUnavailable:
            self.calls.pop(call_id, None)
            await call.close("signaling-unavailable")
