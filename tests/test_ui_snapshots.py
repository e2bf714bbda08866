"""Snapshot tests (pytest-textual-snapshot) of the main screen in its states and themes.

A real session registers on a real embedded server (on its own thread, since
snap_compare runs the app in its own loop); the call itself is played as
session events with fixed values, so ports, RTTs and times are the same on
every run. The clock is pinned, the cursor does not blink, and the app's
real-time stats timer is pinned to an interval no snapshot lasts: it used to
fire when a loaded machine took over half a second to take the picture, and
move the call timer to the manual clock's latest time (``00:06``). Each
picture is taken once the app has handled every event played to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from softphone.config import Settings
from softphone.ui.app import SoftphoneApp
from softphone.ui.clock import ManualClock
from tests.rtc_probe import wait_for
from tests.test_ui_support import make_session, threaded_server, ui_settings

SnapCompare = Callable[..., bool]
LOCAL = {"type": "relay", "protocol": "udp", "address": "127.0.0.3", "port": 50002,
         "url": "turn:127.0.0.1:3479?transport=udp"}  # fmt: skip
REMOTE = {"type": "host", "protocol": "udp", "address": "127.0.0.1", "port": 40000}
NEVER = 24 * 3600.0  # seconds: a stats interval no snapshot lasts


@pytest.fixture(scope="module")
def settings() -> Settings:
    return ui_settings()


@pytest.fixture
def url(settings: Settings) -> Iterator[str]:
    with threaded_server(settings) as address:
        yield address


def build(url: str, settings: Settings, tmp_path: Path) -> tuple[SoftphoneApp, ManualClock]:
    clock = ManualClock()
    session = make_session(url, settings, check_ice_servers=False)
    app = SoftphoneApp(
        session,
        theme=settings.theme,
        clock=clock,
        state_dir=tmp_path,
        stats_interval=NEVER,
        cursor_blink=False,
        monitor_input=False,  # a live level would differ on every run
    )
    return app, clock


async def settled(pilot: Pilot[Any]) -> None:
    """Every message already posted to the app is handled, and the screen redrawn.

    The app handles its messages in order, so a callback posted now runs
    after every session event emitted before it. The event log scrolls to
    its last line only after a refresh, so that is waited for too.
    """
    app = pilot.app
    assert isinstance(app, SoftphoneApp)
    handled = asyncio.Event()
    app.call_later(handled.set)
    await asyncio.wait_for(handled.wait(), 20)
    await pilot.wait_for_scheduled_animations()
    log = app.event_log.lines
    await wait_for(lambda: log.is_vertical_scroll_end, 20)
    await pilot.pause()


async def registered(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SoftphoneApp)
    await wait_for(
        lambda: app._panels_ready() and any(e.kind == "registered" for e in app.event_log.entries),
        20,
    )
    await settled(pilot)


def emit_call(app: SoftphoneApp, clock: ManualClock, *, switch: str | None = None) -> None:
    """A call to echo as the session would report it, at fixed times."""
    emit = app.session.emit
    steps: list[tuple[float, str, dict[str, Any]]] = [
        (1.0, "call-state", {"call": "c1", "state": "dialing", "to": "echo"}),
        (0.05, "call-state", {"call": "c1", "state": "active"}),
        (0.01, "ice-gathering-state", {"state": "gathering"}),
        (0.02, "ice-gathering-state", {"state": "complete"}),
        (0.0, "signaling-state", {"state": "have-local-offer"}),
        (0.0, "offer-sent", {"call": "c1"}),
        (0.03, "answer-received", {"call": "c1"}),
        (0.0, "signaling-state", {"state": "stable"}),
        (0.0, "ice-connection-state", {"state": "checking"}),
        (0.0, "connection-state", {"state": "connecting"}),
        (0.04, "selected-pair", {"local": LOCAL, "remote": REMOTE}),
        (0.0, "ice-connection-state", {"state": "connected"}),
        (0.01, "connection-state", {"state": "connected"}),
    ]
    for delta, name, fields in steps:
        clock.advance(delta)
        emit(name, **fields)
    sent = received = 0
    moses = (4.41, 4.41, 4.41, 4.0, 4.2, 4.3)
    for i, rtt in enumerate((1.2, 1.4, 1.1, 2.5, 1.3, 1.2)):
        clock.advance(1.0)
        sent += 50
        received += 49 if i == 3 else 50
        emit("stats", call="c1", rtt_ms=rtt, jitter_ms=0.8, packets_sent=sent,
             packets_received=received, packets_lost=1 if i >= 3 else 0,
             bytes_sent=sent * 160, bytes_received=received * 160,
             selected_pair={"local": LOCAL, "remote": REMOTE}, mos=moses[i])  # fmt: skip
    if switch:
        app.ice_panel.progress.begin_region(switch, clock(), in_call=True)
        switch_steps: list[tuple[float, str, dict[str, Any]]] = [
            (0.001, "region", {"name": switch, "urls": ["stun:127.0.0.1:3478"]}),
            (0.0, "set-configuration", {"region": switch, "urls": ["stun:127.0.0.1:3478"]}),
            (0.002, "negotiationneeded", {}),
            (0.004, "ice-restart", {"call": "c1", "phase": "begun", "ufrag": "abcd"}),
            (0.003, "offer-sent", {"call": "c1"}),
            (0.030, "answer-received", {"call": "c1"}),
        ]
        for delta, name, fields in switch_steps:
            clock.advance(delta)
            emit(name, **fields)


def run(
    snap_compare: SnapCompare,
    app: SoftphoneApp,
    before: Callable[[Pilot[Any]], Awaitable[None]],
    size: tuple[int, int] = (80, 24),
) -> bool:
    return snap_compare(app, terminal_size=size, run_before=before)


def test_idle_80x24(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    app, _ = build(url, settings, tmp_path)
    assert run(snap_compare, app, registered)


def in_call(
    app: SoftphoneApp, clock: ManualClock, switch: str | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def before(pilot: Pilot[Any]) -> None:
        await registered(pilot)
        emit_call(app, clock, switch=switch)
        await settled(pilot)

    return before


def test_in_call_80x24(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    app, clock = build(url, settings, tmp_path)
    assert run(snap_compare, app, in_call(app, clock))


def test_in_call_200x60(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    app, clock = build(url, settings, tmp_path)
    assert run(snap_compare, app, in_call(app, clock), size=(200, 60))


def test_region_switch_in_progress(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    app, clock = build(url, settings, tmp_path)
    assert run(snap_compare, app, in_call(app, clock, switch="us-east"), size=(120, 40))


def test_held_by_the_peer_with_dtmf(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    """(1.2) The Call panel says "held by echo" and shows the DTMF digits of the call."""
    app, clock = build(url, settings, tmp_path)

    async def before(pilot: Pilot[Any]) -> None:
        await registered(pilot)
        emit_call(app, clock)
        emit = app.session.emit
        emit("dtmf-sent", call="c1", digit="1", duration_ms=100)
        emit("dtmf", call="c1", digit="#", duration_ms=100)
        emit("hold", call="c1", on=True, by="remote")
        await settled(pilot)

    assert run(snap_compare, app, before, size=(120, 40))


def test_second_call_answered_first_on_hold(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    """(1.2) Call waiting: carol's call answered, the call with echo waits on hold below it.

    The hold is the real one (``hold`` by local follows ``active-call``), and
    the DTMF digit sent on carol's call shows on the Call line only.
    """
    app, clock = build(url, settings, tmp_path)

    async def before(pilot: Pilot[Any]) -> None:
        await registered(pilot)
        emit_call(app, clock)
        emit = app.session.emit
        for delta, name, fields in (
            (2.0, "call-state", {"call": "c2", "state": "incoming", "from": "carol"}),
            (3.0, "call-state", {"call": "c2", "state": "active"}),
            (0.0, "active-call", {"call": "c2", "held": ["c1"]}),
            (0.05, "ice-connection-state", {"state": "connected"}),
            (0.0, "connection-state", {"state": "connected"}),
            (0.0, "selected-pair", {"local": REMOTE, "remote": REMOTE}),
            (0.1, "hold", {"call": "c1", "on": True, "by": "local"}),
            (0.5, "dtmf-sent", {"call": "c2", "digit": "5", "duration_ms": 100}),
        ):
            clock.advance(delta)
            emit(name, **fields)
        clock.advance(3.35)
        app.call_panel.now = clock()
        await settled(pilot)

    assert run(snap_compare, app, before, size=(100, 30))


def test_help_screen(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    app, _ = build(url, settings, tmp_path)

    async def before(pilot: Pilot[Any]) -> None:
        await registered(pilot)
        await pilot.press("question_mark")
        await settled(pilot)

    assert run(snap_compare, app, before)


def test_quality_warnings_shown_until_cleared(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path
) -> None:
    """[Warnings visible] high-packet-loss and low-mos raised, high-rtt raised and cleared."""
    app, clock = build(url, settings, tmp_path)

    async def before(pilot: Pilot[Any]) -> None:
        await registered(pilot)
        emit_call(app, clock)
        for name, event, value, threshold in (
            ("high-rtt", "quality-warning", 512.0, 400.0),
            ("high-packet-loss", "quality-warning", 4.86, 3.0),
            ("low-mos", "quality-warning", 3.21, 3.5),
            ("high-rtt", "quality-warning-cleared", 120.0, 400.0),
        ):
            clock.advance(0.5)
            app.session.emit(event, call="c1", name=name, value=value, threshold=threshold)
        await settled(pilot)

    assert run(snap_compare, app, before, size=(100, 30))


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast"])
def test_theme(
    snap_compare: SnapCompare, url: str, settings: Settings, tmp_path: Path, theme: str
) -> None:
    from dataclasses import replace

    app, clock = build(url, replace(settings, theme=theme), tmp_path)
    assert run(snap_compare, app, in_call(app, clock), size=(100, 30))
