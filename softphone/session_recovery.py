"""Recovering a call whose media path died, or ending it cleanly and saying so.

The peer connection restarts ICE by itself once the path has failed; what it
cannot know is where to: that is the fallback region, put in force here as soon
as the path is lost so the restart gathers from it. A path that stays failed
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
    from softphone.regions import SessionRegions
    from softphone.session_calls import CallEntry

# How long a call may stay "failed" (the peer connection retrying ICE) before it is ended.
FAILED_CALL_GRACE = 15.0


class PathRecovery:
    """``on_state(entry, state)`` for every connection-state change of every call."""

    def __init__(
        self,
        emit: Callable[[ev.Event], None],
        regions: SessionRegions,
        region: Callable[[], str | None],
        abandon: Callable[[Call], None],
    ) -> None:
        self._emit = emit
        self._regions = regions
        self._region = region
        self._abandon = abandon

    def on_state(self, entry: CallEntry, state: str) -> None:
        loop = asyncio.get_running_loop()
        if state == "disconnected":
            entry.lost_at = loop.time()
            self._emit(
                ev.Notice(message=f'connection lost on region "{self._region()}"; restarting ICE')
            )
            self._regions.fall_back(entry.call)
        elif state == "failed":
            if entry.give_up is None:
                entry.give_up = loop.call_later(FAILED_CALL_GRACE, self._give_up, entry)
        elif state == "connected":
            self.forget(entry)
            if entry.lost_at is not None:
                lost_for = loop.time() - entry.lost_at
                entry.lost_at = None
                self._emit(
                    ev.Notice(
                        message=f'call recovered on region "{self._region()}" '
                        f"after {lost_for:.1f} s"
                    )
                )

    def forget(self, entry: CallEntry) -> None:
        """No give-up timer any more: the path came back, or the call ended."""
        if entry.give_up is not None:
            entry.give_up.cancel()
            entry.give_up = None

    def _give_up(self, entry: CallEntry) -> None:
        """The path stayed dead: hang up for real rather than leave a silent call."""
        entry.give_up = None
        if not entry.call.ended:
            self._emit(ev.Notice(message="connection could not be recovered; call ended"))
            self._abandon(entry.call)
