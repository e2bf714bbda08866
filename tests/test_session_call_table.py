"""The call table alone (no network): which call a command means, switching, the hold seam."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from softphone.commands import CommandRefused
from softphone.events import (
    ActiveCallChanged,
    CallStateChanged,
    DtmfReceived,
    DtmfSent,
    HoldChanged,
)
from softphone.rtc.errors import InvalidStateError
from softphone.session_calls import CallEntry, SessionCalls
from softphone.session_media import CallAudio
from softphone.ui.call_lines import CallLines


@dataclass
class FakeCall:
    id: str
    state: str = "active"
    remote_user: str = "bob"
    direction: str = "incoming"
    active_since: float | None = None
    peer: Any = None

    @property
    def ended(self) -> bool:
        return self.state == "ended"


@dataclass
class HoldingCall(FakeCall):
    """A call with the per-call hold (``Call.hold(on)``: a re-offer; no media: refused)."""

    holds: list[bool] = field(default_factory=list)
    has_media: bool = True

    def hold(self, on: bool) -> None:
        if not self.has_media:
            raise InvalidStateError("the call has no media yet")
        self.holds.append(on)


@dataclass
class FakeSource:
    muted: bool = False


@dataclass
class FakeSink:
    paused: bool = False


def entry(call: FakeCall) -> CallEntry:
    audio = CallAudio(call.id, source=cast(Any, FakeSource()), sink=cast(Any, FakeSink()))
    return CallEntry(call=cast(Any, call), audio=audio)


def table(*calls: FakeCall) -> tuple[SessionCalls, list[CallEntry]]:
    made = SessionCalls(max_calls=3)
    entries = [entry(call) for call in calls]
    for item in entries:
        made.add(item, active=False)
    return made, entries


def test_a_command_means_the_named_call_else_the_active_one() -> None:
    calls, (a, b) = table(FakeCall("a"), FakeCall("b", state="incoming"))
    assert calls.active is a  # the first call becomes active by itself
    assert calls.resolve(None, "hang up") is a
    assert calls.resolve("b", "hang up") is b
    assert calls.ringing(None, "answer") is b
    with pytest.raises(CommandRefused) as info:
        calls.resolve("zz", "hang up")
    assert info.value.code == "unknown-call"
    assert str(info.value) == 'there is no call "zz" (calls now: a, b)'
    with pytest.raises(CommandRefused) as info:
        calls.ringing("a", "answer")
    assert info.value.code == "no-call" and '"a" is not ringing' in str(info.value)
    assert not calls.full and len(calls) == 2


def test_removing_the_active_call_makes_the_newest_remaining_one_active() -> None:
    calls, (a, b, c) = table(FakeCall("a"), FakeCall("b"), FakeCall("c"))
    assert calls.full
    calls.make_active(b)
    calls.remove(cast(Any, b.call))
    assert calls.active is c
    calls.remove(cast(Any, c.call))
    calls.remove(cast(Any, a.call))
    assert calls.active is None
    with pytest.raises(CommandRefused) as info:
        calls.resolve(None, "hang up")
    assert str(info.value) == "there is no call to hang up"


def test_switch_skips_ringing_calls_and_resumes_a_lone_held_one() -> None:
    calls, (a, _, c) = table(FakeCall("a"), FakeCall("b", state="incoming"), FakeCall("c"))
    assert calls.switch_target(a) is c
    assert calls.switch_target(c) is a
    calls.remove(cast(Any, c.call))
    with pytest.raises(CommandRefused):
        calls.switch_target(a)  # only a ringing call besides: answer it instead
    a.held = True
    assert calls.switch_target(a) is a


async def test_the_hold_seam_is_the_calls_own_hold() -> None:
    """``set_hold`` re-offers through ``Call.hold`` and moves the table's flag with it."""
    holding_call = HoldingCall("b")
    holding = entry(holding_call)
    assert await holding.set_hold(True, muted=False) is True
    assert holding_call.holds == [True] and holding.held
    assert not holding.source.muted  # the direction stops the audio, not the microphone
    assert holding.sink.paused  # what it receives does not sound over the active call
    assert await holding.set_hold(True, muted=False) is False
    assert holding_call.holds == [True]  # already held: nothing more
    await holding.set_hold(False, muted=True)
    assert holding_call.holds == [True, False] and not holding.held and holding.source.muted
    assert not holding.sink.paused

    refused = entry(HoldingCall("c", has_media=False))
    with pytest.raises(InvalidStateError):
        await refused.set_hold(True, muted=False)
    assert not refused.held and not refused.sink.paused  # a refused hold changes nothing


def test_the_panel_follows_hold_and_dtmf_per_call() -> None:
    """(1.2) ``hold`` and DTMF events land on their own call's line, not the shown one."""
    lines = CallLines()
    lines.handle(CallStateChanged(call="c1", state="dialing", to="echo"), 1.0)
    lines.handle(CallStateChanged(call="c1", state="active"), 2.0)
    lines.handle(CallStateChanged(call="c2", state="incoming", from_="carol"), 3.0)
    lines.handle(CallStateChanged(call="c2", state="active"), 4.0)
    lines.handle(ActiveCallChanged(call="c2", held=("c1",)), 4.0)
    lines.handle(HoldChanged(call="c1", on=True, by="local"), 4.1)
    lines.handle(HoldChanged(call="c1", on=True, by="remote"), 4.2)
    lines.handle(DtmfSent(call="c2", digit="5", duration_ms=100), 4.3)
    lines.handle(DtmfReceived(call="c2", digit="#", duration_ms=100), 4.4)
    shown = lines.shown
    assert shown is not None and (shown.id, shown.held, shown.digits) == ("c2", False, "5#")
    (other,) = lines.others
    assert (other.id, other.held, other.held_remotely, other.digits) == ("c1", True, True, "")
    assert not lines.handle(HoldChanged(call="zz", on=True, by="local"), 5.0)


def test_the_panel_follows_the_active_call_from_events() -> None:
    lines = CallLines()
    lines.handle(CallStateChanged(call="c1", state="dialing", to="echo"), 1.0)
    lines.handle(CallStateChanged(call="c1", state="active"), 2.0)
    lines.handle(CallStateChanged(call="c2", state="incoming", from_="carol"), 3.0)
    shown = lines.shown
    assert shown is not None and shown.id == "c1"  # a waiting caller does not take the line
    assert [o.remote for o in lines.others] == ["carol"]
    lines.handle(CallStateChanged(call="c2", state="active"), 4.0)
    lines.handle(ActiveCallChanged(call="c2", held=("c1",)), 4.0)
    shown = lines.shown
    assert shown is not None and (shown.id, shown.active_at) == ("c2", 4.0)
    assert [(o.id, o.held) for o in lines.others] == [("c1", True)]
    lines.handle(CallStateChanged(call="c2", state="ended", reason="hangup"), 5.0)
    shown = lines.shown
    assert shown is not None and shown.id == "c1" and lines.others == ()
    lines.handle(CallStateChanged(call="c1", state="ended", reason="hangup"), 6.0)
    shown = lines.shown
    assert shown is not None and (shown.id, shown.state, shown.reason) == ("c1", "ended", "hangup")
