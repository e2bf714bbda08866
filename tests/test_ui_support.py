"""Helpers for the UI tests (no tests here): real sessions on an embedded server.

Everything is real — signaling server, echo peer, session manager, aiortc —
except the clock, which tests pin so that snapshots repeat exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from softphone.cli import embedded_server
from softphone.config import Region, Settings
from softphone.events import Event
from softphone.rtc.configuration import IceServer
from softphone.session import MediaChoice, SessionManager
from softphone.signaling.client import JsonSignalingClient
from softphone.ui.app import SoftphoneApp
from softphone.ui.clock import ManualClock
from tests.event_codec import event_from_json

STUN_URL = "stun:127.0.0.1:3478"
TURN_URL = "turn:127.0.0.1:3479?transport=udp"
SECRET = "not-to-be-shown-0451"


def ui_settings(**changes: Any) -> Settings:
    """Two regions with servers that need not exist: rendering only reads them."""
    values: dict[str, Any] = {
        "user": "alice",
        "ice_host_addresses": ("127.0.0.1",),
        "region": "eu-west",
        "regions": (
            Region("eu-west", (IceServer((STUN_URL,)),)),
            Region("us-east", (IceServer((TURN_URL,), "alice", SECRET),)),
        ),
        "audio_in": "tone:440",
        "audio_out": "null",
    }
    values.update(changes)
    return Settings(**values)


class ScriptedSession(SessionManager):
    """A real session that tests can also feed events as headless prints them.

    ``emit("call-state", call="c1", state="active")`` is the JSON shape of
    docs/protocol.md section 2, decoded into the typed event; a typed event
    is emitted as it is.
    """

    def emit(self, event: Event | str, /, **fields: Any) -> None:
        if isinstance(event, str):
            event = event_from_json({"event": event, **fields})
        super().emit(event)


def make_session(
    url: str, settings: Settings, user: str | None = None, *, check_ice_servers: bool = True
) -> ScriptedSession:
    name = user or settings.user or "alice"
    return ScriptedSession(
        settings,
        JsonSignalingClient(url, name),
        media=MediaChoice(settings.audio_in, settings.audio_out),
        check_ice_servers=check_ice_servers,
    )


def make_app(
    session: SessionManager, state_dir: Path, clock: Callable[[], float] | None = None
) -> SoftphoneApp:
    return SoftphoneApp(
        session,
        theme=session.settings.theme,
        clock=clock or ManualClock(),
        state_dir=state_dir,
        stats_interval=0.5,
        cursor_blink=False,
    )


@contextlib.asynccontextmanager
async def server_url(settings: Settings) -> AsyncIterator[str]:
    async with embedded_server(settings) as url:
        yield url


@contextlib.contextmanager
def threaded_server(settings: Settings) -> Iterator[str]:
    """The embedded server on its own thread and loop, for sync snapshot tests."""
    ready: list[str] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with embedded_server(settings) as url:
            ready.append(url)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not started.wait(20):
        raise RuntimeError("embedded server did not start")
    try:
        yield ready[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()


def log_kinds(app: SoftphoneApp) -> list[str]:
    return [entry.kind for entry in app.event_log.entries]


def notices(app: SoftphoneApp) -> list[str]:
    return [n.message for n in app._notifications]
