"""The session's call table: every call it has, which one is active, and hold between them.

A softphone user may have more than one call: a second caller while talking
(call waiting), a consultation call while the first waits. At most one call is
*active* (the one a command without ``"call"`` means, the one the microphone
talks to); the others are held. This module owns that table so the session
manager only decides *when* a call comes or goes, and so "which call does this
command mean" is answered in one place (:meth:`SessionCalls.resolve`), with a
clear refusal naming a call id that is not one of ours.

Holding a call is :meth:`CallEntry.set_hold`, and only that: the ``hold``
command, answering a second call and ``switch`` all go through it, so the
table's ``held`` flag and the call's re-offer (``Call.hold(on)``: the
direction ``inactive``, or ``sendonly`` with a hold sound, then ``sendrecv``
again; RFC 3264 section 8.4) never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from softphone import events as ev
from softphone.commands import CommandRefused
from softphone.config_values import DEFAULT_MAX_CALLS
from softphone.history import CallRecord
from softphone.views import CallView

if TYPE_CHECKING:
    import asyncio

    from softphone.call import Call
    from softphone.media import MutableSource
    from softphone.media.sinks import SwitchableSink
    from softphone.quality_watch import QualityWatch
    from softphone.session_media import CallAudio


@dataclass(eq=False)
class CallEntry:
    """One call of the table and what the session keeps about it besides the call itself.

    ``audio`` is the call's own source and sink
    (:class:`~softphone.session_media.CallAudio`; the sink's arrival
    statistics feed ``stats``); ``started`` the wall-clock time it began (for
    the history); ``answered`` whether it ever became active; ``declined``
    whether the user refused it (then it is not "missed"). ``give_up`` belongs to
    :class:`~softphone.session_recovery.PathRecovery`.
    """

    call: Call
    audio: CallAudio
    started: float = field(default_factory=time.time)
    held: bool = False
    answered: bool = False
    declined: bool = False
    give_up: asyncio.TimerHandle | None = None
    quality: QualityWatch | None = None  # (1.2) its quality warnings and MOS

    @property
    def id(self) -> str:
        return self.call.id

    @property
    def source(self) -> MutableSource:
        return self.audio.source

    @property
    def sink(self) -> SwitchableSink:
        return self.audio.sink

    async def set_hold(self, on: bool, muted: bool) -> bool:
        """Hold or resume this call (a re-offer follows); True when it changed.

        ``muted`` is the session's microphone mute. ``Call.hold`` raises a
        DOMException (no media yet, or closed) before the flag moves, so a
        refused hold leaves both as they were. What a held call receives is
        not played (:meth:`CallAudio.hold`), so it never sounds over the
        active call.
        """
        if self.held == on:
            return False
        self.call.hold(on)
        self.held = on
        self.audio.hold(on)
        self.apply_mute(muted)
        return True

    def apply_mute(self, muted: bool) -> None:
        """The microphone reaches this call unless muted (a hold stops it by its direction)."""
        self.source.muted = muted

    def record(self, reason: str) -> CallRecord:
        """The call as the history keeps it, once it ended with ``reason``."""
        call = self.call
        talked = 0.0 if call.active_since is None else time.monotonic() - call.active_since
        return CallRecord(
            call=call.id,
            direction=call.direction,
            remote=call.remote_user,
            start=self.started,
            duration=round(talked, 1),
            reason=reason,
            missed=call.direction == "incoming" and not self.answered and not self.declined,
        )

    async def stats_report(self) -> ev.StatsReport | None:
        """The call's ``stats`` event: its peer connection's figures and what its sink received.

        Each report opens a new window of the sink's statistics, so two stats
        events bracket a moment (a region switch) and the second says the
        longest gap inside it.
        """
        from softphone.call import pair_info

        stats = await self.call.stats()
        if stats is None:
            return None
        pair = stats.selected_pair
        audio = self.sink.stats
        self.sink.new_window()
        return ev.StatsReport(
            call=self.call.id,
            rtt_ms=stats.rtt_ms,
            jitter_ms=stats.jitter_ms,
            packets_sent=stats.packets_sent,
            packets_received=stats.packets_received,
            packets_lost=stats.packets_lost,
            bytes_sent=stats.bytes_sent,
            bytes_received=stats.bytes_received,
            selected_pair=None if pair is None else pair_info(pair),
            audio_frames_received=audio.frames,
            audio_seconds_received=round(audio.seconds, 3),
            audio_max_gap_ms=round(audio.max_gap_ms, 1),
            audio_max_gap_since_last_stats_ms=round(audio.window_max_gap_ms, 1),
            mos=None if self.quality is None else self.quality.mos_for(stats),
        )

    def view(self) -> CallView:
        call = self.call
        return CallView(
            id=call.id,
            remote=call.remote_user,
            state=call.state,
            direction=call.direction,
            active_since=call.active_since,
            has_media=call.peer is not None,
            held=self.held,
            held_remotely=call.held_remotely,
        )


class SessionCalls:
    """The calls in order of arrival, at most ``max_calls`` of them, and the active one."""

    def __init__(self, max_calls: int = DEFAULT_MAX_CALLS) -> None:
        self.max_calls = max_calls
        self._entries: dict[str, CallEntry] = {}
        self._active: str | None = None

    def __iter__(self) -> Iterator[CallEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def full(self) -> bool:
        return len(self._entries) >= self.max_calls

    @property
    def active(self) -> CallEntry | None:
        return None if self._active is None else self._entries.get(self._active)

    def held_ids(self) -> tuple[str, ...]:
        return tuple(entry.id for entry in self._entries.values() if entry.held)

    # --- changes --------------------------------------------------------------------

    def add(self, entry: CallEntry, *, active: bool) -> None:
        self._entries[entry.id] = entry
        if active or self._active is None:
            self._active = entry.id

    def make_active(self, entry: CallEntry) -> None:
        self._active = entry.id

    def remove(self, call: Call) -> CallEntry | None:
        """Forget ``call`` (its quality watch stops); if it was active, the most recent
        remaining call becomes active."""
        entry = self._entries.get(call.id)
        if entry is None or entry.call is not call:
            return None
        del self._entries[call.id]
        if entry.quality is not None:
            entry.quality.stop()
        if self._active == call.id:
            self._active = next(reversed(self._entries), None)
        return entry

    # --- lookups ----------------------------------------------------------------------

    def find(self, call_id: str | None) -> CallEntry | None:
        """The call a signaling message is about, or None (not ours, or already ended)."""
        return None if call_id is None else self._entries.get(call_id)

    def get(self, call_id: str) -> CallEntry:
        """The call named by a command; refused with ``unknown-call`` naming the id."""
        entry = self._entries.get(call_id)
        if entry is None:
            ids = ", ".join(self._entries) or "none"
            raise CommandRefused(
                "unknown-call", f'there is no call "{call_id[:64]}" (calls now: {ids})'
            )
        return entry

    def resolve(self, call_id: str | None, what: str) -> CallEntry:
        """The call a command means: the one named, else the active one.

        ``what`` completes the refusal: "there is no call to ``what``".
        """
        if call_id is not None:
            return self.get(call_id)
        entry = self.active
        if entry is None:
            raise CommandRefused("no-call", f"there is no call to {what}")
        return entry

    def ringing(self, call_id: str | None, what: str) -> CallEntry:
        """The incoming call to answer or decline: the one named, else the newest ringing one."""
        if call_id is not None:
            entry = self.get(call_id)
            if entry.call.state != "incoming":
                raise CommandRefused("no-call", f'call "{call_id}" is not ringing: cannot {what}')
            return entry
        for entry in reversed(list(self._entries.values())):
            if entry.call.state == "incoming":
                return entry
        raise CommandRefused("no-call", f"there is no ringing call to {what}")

    def switch_target(self, current: CallEntry) -> CallEntry:
        """Where ``switch`` goes from ``current``: the next call in order that is not
        ringing (wrapping around), else ``current`` itself when it is held (resume it)."""
        ids = list(self._entries)
        start = ids.index(current.id) if current.id in ids else 0
        for key in ids[start + 1 :] + ids[:start]:
            if self._entries[key].call.state != "incoming":
                return self._entries[key]
        if current.held:
            return current
        raise CommandRefused("no-call", "there is no other call to switch to")

    def views(self) -> tuple[CallView, ...]:
        return tuple(entry.view() for entry in self._entries.values() if not entry.call.ended)
