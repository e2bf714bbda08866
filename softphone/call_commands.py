"""(1.2) The commands that act on one call's media: hold and DTMF.

The work is the call's (softphone/call.py, and below it the peer
connection's ``direction`` and ``dtmf`` parts) and the call table's
(:meth:`~softphone.session_calls.CallEntry.set_hold`, the one way a call is
held); this module says which call a command means (the one its ``call``
field names, else the active one: :meth:`SessionCalls.resolve`) and which
refusal a mistake gets, so the session stays a thin delegation.
"""

from __future__ import annotations

from softphone.commands import CommandRefused
from softphone.rtc.errors import DOMException
from softphone.session_calls import CallEntry, SessionCalls


def media_entry(calls: SessionCalls, call_id: str | None, what: str) -> CallEntry:
    """The call meant (``unknown-call`` for an id not ours), which must have media."""
    entry = calls.resolve(call_id, what)
    if entry.call.peer is None:
        raise CommandRefused("no-call", f"the call is not answered yet: nothing to {what}")
    return entry


async def hold(entry: CallEntry, on: bool, muted: bool) -> bool:
    """Hold (``on``) or resume ``entry``; True when it changed (the table's held ids did).

    The ``hold`` events follow once the re-offer is answered.
    """
    try:
        return await entry.set_hold(on, muted)
    except DOMException as exc:
        raise CommandRefused("no-call", f"hold: {exc}") from None


async def hold_others(calls: SessionCalls, keep: CallEntry, muted: bool) -> bool:
    """Hold every talking call but ``keep``; True when one was put on hold."""
    held = False
    for entry in calls:
        if entry is not keep and entry.call.state == "active" and not entry.held:
            held = await hold(entry, True, muted) or held
    return held


def dtmf(entry: CallEntry, digits: str, duration_ms: int) -> None:
    """Queue ``digits``; a bad digit or duration is ``bad-command`` naming it."""
    try:
        entry.call.send_dtmf(digits, duration_ms)
    except ValueError as exc:
        raise CommandRefused("bad-command", f"dtmf: {exc}") from None
    except DOMException as exc:
        raise CommandRefused("dtmf-unavailable", f"dtmf: {exc}") from None
