"""Recovering a call whose media path died, or ending it cleanly and saying so.

The peer connection restarts ICE by itself once the path has failed; what it
cannot know is where to: :class:`~softphone.failover.CallFailover` puts the
fallback region (its warm standby) in force as soon as the path is lost, and
says when the call recovered. A path that stays failed
for :data:`FAILED_CALL_GRACE` seconds ends the call rather than leave it
silent. Each call of the session is followed on its own (a held call can lose
its path too); the timers live on its :class:`~softphone.session_calls.CallEntry`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from softphone import events as ev

if TYPE_CHECKING:
    from softphone.call import Call
    from softphone.failover import CallFailover
    from softphone.session_calls import CallEntry

# How long a call may stay "failed" (the peer connection retrying ICE) before it is ended.
FAILED_CALL_GRACE = 15.0


class PathRecovery:
    """``on_state(entry, state)`` for every connection-state change of every call."""

    def __init__(
        self,
        emit: Callable[[ev.Event], None],
        failover: CallFailover,
        abandon: Callable[[Call], None],
    ) -> None:
        self._emit = emit
        self._failover = failover
        self._abandon = abandon

    def on_state(self, entry: CallEntry, state: str) -> None:
        if state == "disconnected":
            self._failover.path_lost(entry.call)
        elif state == "failed":
            if entry.give_up is None:
                loop = asyncio.get_running_loop()
                entry.give_up = loop.call_later(FAILED_CALL_GRACE, self._give_up, entry)
        elif state == "connected":
            self.forget(entry)
            self._failover.connected(entry.call)

    def forget(self, entry: CallEntry) -> None:
        """No give-up timer any more: the path came back, or the call ended."""
        if entry.give_up is not None:
            entry.give_up.cancel()
            entry.give_up = None

    def ended(self, entry: CallEntry) -> None:
        """The call ended: no timer, and its failover state (its standby) goes."""
        self.forget(entry)
        self._failover.forget(entry.call)

    def _give_up(self, entry: CallEntry) -> None:
        """The path stayed dead: hang up for real rather than leave a silent call."""
        entry.give_up = None
        if not entry.call.ended:
            self._emit(ev.Notice(message="connection could not be recovered; call ended"))
            self._abandon(entry.call)
