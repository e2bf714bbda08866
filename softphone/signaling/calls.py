"""The signaling server's calls: which two connections each call id belongs to.

A call belongs to the two *connections* that set it up, not to two names, so
a user who reconnects never inherits a stale call. Each connection also keeps
the ids of its calls (to hang them up when it goes) and the number of its
invites not yet accepted (the ``pending_invites`` limit).

A party is a :class:`~softphone.signaling.connection.Connection` on this
node or, with several nodes (:mod:`softphone.signaling.cluster`), a stand-in
for a connection on another node: both only need what :class:`Party` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Call", "CallTable", "Party"]


class Party(Protocol):
    """One end of a call: its name, its calls, its pending invites, and a way to reach it."""

    calls: set[str]
    pending: int

    @property
    def name(self) -> str | None: ...

    def send(self, text: str) -> None: ...

    def label(self) -> str: ...


@dataclass(slots=True)
class Call:
    caller: Party
    callee: Party
    accepted: bool = False

    def other(self, party: Party) -> Party | None:
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

    def rebind(self, call_id: str, party: Party, other: Party) -> bool:
        """A resume from ``party`` for a call its name had with ``other``'s: it is theirs now.

        With several nodes a party that came back after its node restarted is
        a new party under the old name, and the node of the other party may
        still hold the call with the old one (nobody told it the call ended).
        Returns whether the call was theirs by name, and so is now rebound.
        """
        call = self._calls[call_id]
        if not call.accepted:
            return False
        names = {call.caller.name, call.callee.name}
        if names != {party.name, other.name} or other not in (call.caller, call.callee):
            return False
        stale = call.caller if call.caller is not other else call.callee
        stale.calls.discard(call_id)
        party.calls.add(call_id)
        if call.caller is stale:
            call.caller = party
        else:
            call.callee = party
        return True

    def end_all(self, party: Party) -> list[tuple[str, Party]]:
        """End every call of ``party``; returns each call id and the other party."""
        ended = []
        for call_id in list(party.calls):
            call = self.end(call_id)
            other = call.other(party) if call is not None else None
            if other is not None and other is not party:
                ended.append((call_id, other))
        party.calls.clear()
        return ended
