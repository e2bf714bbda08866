"""The signaling server's calls: which two connections each call id belongs to.

A call belongs to the two *connections* that set it up, not to two names, so
a user who reconnects never inherits a stale call. Each connection also keeps
the ids of its calls (to hang them up when it goes) and the number of its
invites not yet accepted (the ``pending_invites`` limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from softphone.signaling.connection import Connection

__all__ = ["Call", "CallTable"]


@dataclass(slots=True)
class Call:
    caller: Connection
    callee: Connection
    accepted: bool = False

    def other(self, party: Connection) -> Connection | None:
        if party is self.caller:
            return self.callee
        if party is self.callee:
            return self.caller
        return None

    def accept(self) -> None:
        """The callee accepted: the caller's invite no longer counts as pending."""
        if not self.accepted:
            self.accepted = True
            self.caller.pending -= 1


class CallTable:
    """Calls by id."""

    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def add(self, call_id: str, call: Call) -> None:
        """Record a call; one not yet accepted counts against its caller's pending invites."""
        self._calls[call_id] = call
        call.caller.calls.add(call_id)
        call.callee.calls.add(call_id)
        if not call.accepted:
            call.caller.pending += 1

    def end(self, call_id: str) -> Call | None:
        """Forget a call (and the caller's pending invite, if it was one)."""
        call = self._calls.pop(call_id, None)
        if call is None:
            return None
        call.caller.calls.discard(call_id)
        call.callee.calls.discard(call_id)
        if not call.accepted:
            call.caller.pending -= 1
        return call

    def end_all(self, party: Connection) -> list[tuple[str, Connection]]:
        """End every call of ``party``; returns each call id and the other party."""
        ended = []
        for call_id in list(party.calls):
            call = self.end(call_id)
            other = call.other(party) if call is not None else None
            if other is not None and other is not party:
                ended.append((call_id, other))
        party.calls.clear()
        return ended
