"""(1.2) The commands that act on one call's media: hold and DTMF.

The work is the call's (softphone/call.py, and below it the peer
connection's ``direction`` and ``dtmf`` parts); this module only says which
refusal a mistake gets, so the session stays a thin delegation to the call a
command means (the active call, or the one a ``call`` field names).
"""

from __future__ import annotations

from softphone.call import Call
from softphone.commands import CommandRefused
from softphone.rtc.errors import DOMException


def media_call(call: Call | None, what: str) -> Call:
    """``call`` when it has media; otherwise a refusal saying there is nothing to ``what``."""
    if call is None or call.ended:
        raise CommandRefused("no-call", f"there is no call to {what}")
    if call.peer is None:
        raise CommandRefused("no-call", f"the call is not answered yet: nothing to {what}")
    return call


def hold(call: Call | None, on: bool) -> None:
    """Hold (``on``) or resume; the ``hold`` events follow once the re-offer is answered."""
    try:
        media_call(call, "hold").hold(on)
    except DOMException as exc:
        raise CommandRefused("no-call", f"hold: {exc}") from None


def dtmf(call: Call | None, digits: str, duration_ms: int) -> None:
    """Queue ``digits``; a bad digit or duration is ``bad-command`` naming it."""
    target = media_call(call, "send DTMF on")
    try:
        target.send_dtmf(digits, duration_ms)
    except ValueError as exc:
        raise CommandRefused("bad-command", f"dtmf: {exc}") from None
    except DOMException as exc:
        raise CommandRefused("dtmf-unavailable", f"dtmf: {exc}") from None
