"""More than one call in one session: call waiting, switching, max_calls, dnd, auto-answer.

Real sessions on a real embedded server, in one process (cheaper than a
subprocess each): the same :func:`~softphone.commands.execute` the front ends
use, and the events they would render.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from softphone import events as ev
from softphone.commands import (
    Answer,
    CommandRefused,
    Dial,
    DoNotDisturb,
    Hangup,
    Stats,
    SwitchCall,
    execute,
)
from softphone.config import Settings
from softphone.history import CallHistory
from softphone.session import MediaChoice, SessionManager
from softphone.signaling.client import JsonSignalingClient
from tests.rtc_probe import wait_for
from tests.test_ui_support import server_url

BASE = Settings(ice_host_addresses=("127.0.0.1",), audio_in="tone:440", audio_out="null")


class Party:
    """One session and every event it emitted."""

    def __init__(self, url: str, user: str, history: Path | None = None, **settings: Any) -> None:
        config = dataclasses.replace(BASE, user=user, **settings)
        self.session = SessionManager(
            config,
            JsonSignalingClient(url, user),
            media=MediaChoice(config.audio_in, config.audio_out),
            check_ice_servers=False,
            history=CallHistory(history) if history is not None else None,
        )
        self.events: list[ev.Event] = []
        self.session.subscribe(self.events.append)

    def of(self, kind: type[ev.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def state_of(self, call_id: str) -> str | None:
        states = [e.state for e in self.of(ev.CallStateChanged) if e.call == call_id]
        return states[-1] if states else None

    def connected(self) -> int:
        return sum(1 for e in self.of(ev.ConnectionStateChanged) if e.state == "connected")

    async def incoming_from(self, caller: str) -> str:
        await wait_for(lambda: any(e.from_ == caller for e in self.of(ev.IncomingCall)), 15)
        return next(e.call for e in self.of(ev.IncomingCall) if e.from_ == caller)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with server_url(BASE) as address:
        yield address


async def started(*parties: Party) -> None:
    for party in parties:
        await party.session.start()
    for party in parties:
        await wait_for(lambda p=party: p.session.view.signaling == "connected", 10)  # type: ignore[misc]


async def closed(*parties: Party) -> None:
    for party in parties:
        await party.session.close()


async def test_second_call_waits_answering_holds_first_switch_and_hang_up_one(
    url: str, tmp_path: Path
) -> None:
    alice = Party(url, "alice", tmp_path / "alice")
    bob, carol = Party(url, "bob"), Party(url, "carol")
    await started(alice, bob, carol)
    try:
        await bob.session.dial("alice")
        first = await alice.incoming_from("bob")
        await execute(alice.session, Answer())
        await wait_for(lambda: alice.connected() >= 1 and bob.connected() >= 1, 20)

        await carol.session.dial("alice")
        second = await alice.incoming_from("carol")
        view = alice.session.view
        assert [c.id for c in view.calls] == [first, second]
        assert view.call is not None and view.call.id == first  # still talking to bob
        assert [c.state for c in view.calls] == ["active", "incoming"]

        await execute(alice.session, Answer(call=second))
        assert alice.of(ev.ActiveCallChanged)[-1] == ev.ActiveCallChanged(
            call=second, held=(first,)
        )
        view = alice.session.view
        assert view.call is not None and view.call.id == second
        assert [c.held for c in view.calls] == [True, False]
        await wait_for(lambda: alice.connected() >= 2 and carol.connected() >= 1, 20)

        # Commands name a call, or mean the active one; an unknown id is named back.
        mark = len(alice.events)
        await execute(alice.session, Stats(call=first))
        await execute(alice.session, Stats())
        reports = [e.call for e in alice.events[mark:] if isinstance(e, ev.StatsReport)]
        assert reports == [first, second]
        with pytest.raises(CommandRefused) as info:
            await execute(alice.session, Hangup(call="no-such-call"))
        assert info.value.code == "unknown-call"
        assert '"no-such-call"' in str(info.value) and first in str(info.value)

        await execute(alice.session, SwitchCall())
        assert alice.of(ev.ActiveCallChanged)[-1] == ev.ActiveCallChanged(
            call=first, held=(second,)
        )
        await execute(alice.session, SwitchCall(call=second))
        assert alice.session.view.call.id == second  # type: ignore[union-attr]

        # Hanging up the active call leaves the held one, which becomes active (still held).
        await execute(alice.session, Hangup())
        await wait_for(lambda: carol.state_of(second) == "ended", 10)
        assert bob.state_of(first) == "active"
        assert alice.of(ev.ActiveCallChanged)[-1] == ev.ActiveCallChanged(call=first, held=(first,))
        await execute(alice.session, SwitchCall())  # a lone held call: resume it
        view = alice.session.view
        assert [(c.id, c.held) for c in view.calls] == [(first, False)]
        await execute(alice.session, Hangup(call=first))
        await wait_for(lambda: bob.state_of(first) == "ended", 10)
        assert alice.session.view.calls == ()
    finally:
        await closed(alice, bob, carol)
    peers = [(r.remote, r.direction, r.missed) for r in CallHistory(tmp_path / "alice")]
    assert peers == [("carol", "incoming", False), ("bob", "incoming", False)]


async def test_above_max_calls_the_caller_gets_busy_and_it_is_missed(
    url: str, tmp_path: Path
) -> None:
    alice = Party(url, "alice", tmp_path / "alice")
    bob, carol, dave = Party(url, "bob"), Party(url, "carol"), Party(url, "dave")
    await started(alice, bob, carol, dave)
    try:
        await bob.session.dial("alice")
        await alice.incoming_from("bob")
        await carol.session.dial("alice")
        await alice.incoming_from("carol")
        await dave.session.dial("alice")
        await wait_for(lambda: dave.of(ev.CallStateChanged)[-1].state == "ended", 10)
        assert dave.of(ev.CallStateChanged)[-1].reason == "busy"
        assert [m.from_ for m in alice.of(ev.MissedCall)] == ["dave"]
        assert len(alice.session.view.calls) == 2
        with pytest.raises(CommandRefused) as info:
            await execute(alice.session, Dial("dave"))
        assert info.value.code == "busy" and "max_calls is 2" in str(info.value)
        records = alice.session.call_history()
        assert [(r.remote, r.reason, r.missed) for r in records] == [("dave", "busy", True)]
    finally:
        await closed(alice, bob, carol, dave)


async def test_max_calls_one_is_the_old_single_call(url: str, tmp_path: Path) -> None:
    alice = Party(url, "alice", tmp_path / "alice", max_calls=1)
    bob, carol = Party(url, "bob"), Party(url, "carol")
    await started(alice, bob, carol)
    try:
        await bob.session.dial("alice")
        await alice.incoming_from("bob")
        await carol.session.dial("alice")
        await wait_for(lambda: carol.of(ev.CallStateChanged)[-1].state == "ended", 10)
        assert carol.of(ev.CallStateChanged)[-1].reason == "busy"
    finally:
        await closed(alice, bob, carol)


async def test_dnd_declines_busy_and_lists_missed(url: str, tmp_path: Path) -> None:
    alice = Party(url, "alice", tmp_path / "alice")
    bob = Party(url, "bob")
    await started(alice, bob)
    try:
        await execute(alice.session, DoNotDisturb(True))
        assert alice.session.view.dnd and alice.of(ev.DndChanged) == [ev.DndChanged(on=True)]
        await bob.session.dial("alice")
        await wait_for(lambda: bob.of(ev.CallStateChanged)[-1].state == "ended", 10)
        assert bob.of(ev.CallStateChanged)[-1].reason == "busy"
        assert alice.of(ev.IncomingCall) == []
        assert [m.from_ for m in alice.of(ev.MissedCall)] == ["bob"]
        await execute(alice.session, DoNotDisturb(False))
        await bob.session.dial("alice")
        await alice.incoming_from("bob")
    finally:
        await closed(alice, bob)
    records = CallHistory(tmp_path / "alice").records()
    assert [(r.remote, r.reason, r.missed) for r in records] == [
        ("bob", "busy", True),
        ("bob", "hangup", True),  # rang, then we quit without answering
    ]


async def test_dnd_from_the_configuration(url: str, tmp_path: Path) -> None:
    alice = Party(url, "alice", tmp_path / "alice", dnd=True)
    bob = Party(url, "bob")
    await started(alice, bob)
    try:
        await bob.session.dial("alice")
        await wait_for(lambda: bob.of(ev.CallStateChanged)[-1].state == "ended", 10)
        assert bob.of(ev.CallStateChanged)[-1].reason == "busy"
    finally:
        await closed(alice, bob)


async def test_auto_answer_answers_every_call(url: str, tmp_path: Path) -> None:
    alice = Party(url, "alice", tmp_path / "alice", auto_answer=True)
    bob, carol = Party(url, "bob"), Party(url, "carol")
    await started(alice, bob, carol)
    try:
        await bob.session.dial("alice")
        await wait_for(lambda: alice.connected() >= 1 and bob.connected() >= 1, 20)
        await carol.session.dial("alice")
        second = await alice.incoming_from("carol")
        await wait_for(lambda: alice.connected() >= 2 and carol.connected() >= 1, 20)
        assert alice.session.view.call.id == second  # type: ignore[union-attr]
        assert [c.held for c in alice.session.view.calls] == [True, False]
    finally:
        await closed(alice, bob, carol)


async def test_history_survives_a_restart_and_a_corrupt_file_is_moved_aside(
    url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "alice"
    alice = Party(url, "alice", folder)
    await started(alice)
    try:
        await alice.session.dial("echo")
        await wait_for(lambda: alice.connected() >= 1, 20)
        await execute(alice.session, Hangup())
    finally:
        await closed(alice)

    again = Party(url, "alice", folder)  # a restart: a new session on the same state dir
    (record,) = again.session.call_history()
    assert (record.remote, record.direction, record.reason, record.missed) == (
        "echo",
        "outgoing",
        "hangup",
        False,
    )
    assert record.duration >= 0 and record.start > 0

    (folder / "history.json").write_text("{not json", encoding="utf-8")
    broken = Party(url, "alice", folder)
    assert broken.session.call_history() == ()
    aside = list(folder.glob("history.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == "{not json"
    await started(broken)
    try:
        notices = [n.message for n in broken.of(ev.Notice)]
        assert any("moved to" in n and "history.json.corrupt-" in n for n in notices)
    finally:
        await closed(broken)
