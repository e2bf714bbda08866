"""The calls the Call panel shows, followed from session events alone.

The session may have more than one call (a caller waiting, a call on hold).
The panel shows one of them on its ``Call`` line — the active one — and the
others below it. Which is which follows from the events in the order they
arrived (``call-state``, ``active-call``), never from a later view, so a
screen replayed from events (the snapshot tests) draws the same thing.

**(1.2)** Each line also follows its call's ``hold`` events (``by: local``
agrees with ``active-call``'s held ids: both come from the call table's one
hold, ``CallEntry.set_hold``; ``by: remote`` is the peer holding us) and the
DTMF digits sent and received on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.events import CallStateChanged, Event

LIVE = ("dialing", "ringing", "incoming", "active")


@dataclass(frozen=True)
class CallLine:
    """One call as the panel draws it; ``active_at`` is the UI clock at answer."""

    id: str
    remote: str
    state: str
    active_at: float | None = None
    held: bool = False
    reason: str | None = None
    held_remotely: bool = False  # (1.2) the peer holds us
    digits: str = ""  # (1.2) the last DTMF digits of this call, both ways


class CallLines:
    """``handle(event, at)``; then ``shown`` (the Call line) and ``others`` (the rest)."""

    def __init__(self) -> None:
        self._lines: dict[str, CallLine] = {}
        self._shown: str | None = None
        self._last: CallLine | None = None  # the call shown when it ended, still drawn

    @property
    def shown(self) -> CallLine | None:
        line = self._lines.get(self._shown) if self._shown is not None else None
        return line or self._last

    @property
    def others(self) -> tuple[CallLine, ...]:
        return tuple(line for key, line in self._lines.items() if key != self._shown)

    def handle(self, event: Event, at: float) -> bool:
        """Follow ``event``; True when it changed what the panel shows."""
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import (
            ActiveCallChanged,
            CallStateChanged,
            DtmfReceived,
            DtmfSent,
            HoldChanged,
        )

        match event:
            case CallStateChanged():
                self._on_state(event, at)
                return True
            case ActiveCallChanged(call=call, held=held):
                for key, line in self._lines.items():
                    self._lines[key] = replace(line, held=key in held)
                if call in self._lines:
                    self._show(call)
                return True
            case HoldChanged(call=call, on=on, by=by) if call in self._lines:
                line = self._lines[call]
                if by == "local":
                    self._lines[call] = replace(line, held=on)
                else:
                    self._lines[call] = replace(line, held_remotely=on)
                return True
            case DtmfReceived(call=call, digit=digit) | DtmfSent(call=call, digit=digit):
                if call in self._lines:
                    line = self._lines[call]
                    self._lines[call] = replace(line, digits=(line.digits + digit)[-24:])
                    return True
        return False

    def _on_state(self, event: CallStateChanged, at: float) -> None:
        key, state = event.call, event.state
        line = self._lines.get(key)
        if state in ("dialing", "incoming") or line is None:
            remote = event.to or event.from_ or (line.remote if line else "?")
            line = CallLine(key, remote, state)
            busy = any(other.state in LIVE for k, other in self._lines.items() if k != key)
            self._lines[key] = line
            if state == "dialing" or not busy:
                self._show(key)
        if state == "ended":
            ended = replace(line, state="ended", reason=event.reason)
            del self._lines[key]
            if self._shown == key:
                self._last = ended
                self._shown = next(reversed(self._lines), None)
            return
        if state == "active":
            since = at if line.active_at is None else line.active_at
            self._lines[key] = replace(line, state=state, active_at=since)
            if line.state == "incoming":  # answered: the call answered is the one talked to
                self._show(key)
        else:
            self._lines[key] = replace(self._lines[key], state=state)

    def _show(self, key: str) -> None:
        self._shown = key
