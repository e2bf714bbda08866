"""The call table alone (no network): which call a command means, switching, the hold seam."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from softphone.commands import CommandRefused
from softphone.events import ActiveCallChanged, CallStateChanged
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
    """A call with the per-call hold (``Call.hold(on)``) the hold helper provides."""

    holds: list[bool] = field(default_factory=list)

    async def hold(self, on: bool) -> None:
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


async def test_the_hold_seam_uses_call_hold_when_there_is_one() -> None:
    plain = entry(FakeCall("a"))
    await plain.set_hold(True, muted=False)
    assert plain.held and plain.source.muted  # the fallback: stop sending its audio
    assert plain.sink.paused  # and what it receives does not sound over the active call
    plain.apply_mute(False)
    assert plain.source.muted  # unmuting the microphone does not unhold it
    await plain.set_hold(False, muted=False)
    assert not plain.source.muted and not plain.sink.paused

    holding_call = HoldingCall("b")
    holding = entry(holding_call)
    await holding.set_hold(True, muted=False)
    assert holding_call.holds == [True] and holding.held
    assert not holding.source.muted  # the call holds itself (direction change), no muting
    await holding.set_hold(True, muted=False)
    assert holding_call.holds == [True]  # already held: nothing more


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
