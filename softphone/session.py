"""The session manager: the one place that owns calls, regions and their states.

Front ends (the Textual app, the headless JSON-lines loop) send it commands
through :func:`softphone.commands.execute`, render the typed events it emits
(:mod:`softphone.events`) and read the rest from its frozen views
(:attr:`SessionManager.view`, :meth:`SessionManager.regions`,
:meth:`SessionManager.call_history`); none of them touches aiortc, a call's
peer connection or the signaling wire format. A user mistake is a
:class:`CommandRefused` that says why, never a broken call.

The calls themselves are in :class:`~softphone.session_calls.SessionCalls`
(which one is active, hold between them), each call's audio and the device
switches in :mod:`softphone.session_media`, the recovery of a dead path in
:mod:`softphone.session_recovery`, where ICE servers come from in
:mod:`softphone.regions`, a call's hold and DTMF in
:mod:`softphone.call_commands`, and every ended call goes to the
:mod:`softphone.history`; this module decides when calls come and go.

Why long: commands, signaling events and call events meet here, and each
decision about a call (dial, answer, hold the others, resume, end) reads the
same state; what is not such a decision already lives in the modules above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from softphone import call_commands, hold_sound
from softphone import events as ev
from softphone.call import Call
from softphone.commands import CommandRefused
from softphone.config import Settings
from softphone.device_list import AudioDevice, DeviceKind
from softphone.events import EventBus, EventSink
from softphone.failover import CallFailover
from softphone.history import CallHistory, CallRecord
from softphone.quality_watch import QualityWatch
from softphone.regions import SessionRegions, credential_refusals
from softphone.session_calls import CallEntry, SessionCalls
from softphone.session_media import CallMedia
from softphone.session_media import MediaChoice as MediaChoice  # re-exported: front ends use it
from softphone.session_recovery import PathRecovery
from softphone.signaling.adapter import (
    Accepted,
    ConnectionChanged,
    Declined,
    HungUp,
    Invited,
    Presence,
    RegionsRefreshed,
    Registered,
    RemoteCandidate,
    RemoteDescription,
    RemoteDtmf,
    Ringing,
    Signaling,
    SignalingError,
    SignalingEvent,
    SignalingUnavailable,
)
from softphone.views import MicView, RegionView, SessionView

logger = logging.getLogger("softphone.session")


@dataclass
class SessionState:
    """The session's own mutable state; front ends read :attr:`SessionManager.view`."""

    user: str | None = None
    online: set[str] = field(default_factory=set)
    region: str | None = None
    signaling: str = "connecting"
    muted: bool = False
    dnd: bool = False


class SessionManager:
    """Owns up to ``max_calls`` calls (one active, the others held); more callers get ``busy``."""

    def __init__(
        self,
        settings: Settings,
        signaling: Signaling,
        *,
        media: MediaChoice | None = None,
        check_ice_servers: bool = True,
        history: CallHistory | None = None,
    ) -> None:
        self.signaling = signaling
        self.media = media or MediaChoice(settings.audio_in, settings.audio_out)
        self._media = CallMedia(self.media, self.emit)
        self.bus = EventBus()
        self.state = SessionState(user=signaling.user, region=settings.region, dnd=settings.dnd)
        self.calls = SessionCalls(settings.max_calls)
        self.history = history if history is not None else CallHistory()
        self._regions = SessionRegions(
            settings, self.state, self.emit, self._spawn, check_ice_servers=check_ice_servers
        )
        self._failover = CallFailover(self._regions, self.emit)
        self._recovery = PathRecovery(self.emit, self._failover, self._abandon)
        self._regions.live_call = lambda: self.call
        self._pending_tasks: set[asyncio.Future[Any]] = set()
        self._closed = False

    @property
    def settings(self) -> Settings:
        """The settings in force: the server's regions are in them once adopted."""
        return self._regions.settings

    @property
    def call(self) -> Call | None:
        """The active call (the one a command without ``call`` means), if any."""
        entry = self.calls.active
        return None if entry is None else entry.call

    # --- lifecycle -----------------------------------------------------------

    def subscribe(self, sink: EventSink) -> Callable[[], None]:
        return self.bus.subscribe(sink)

    def emit(self, event: ev.Event) -> None:
        """Send ``event`` to every front end (headless also reports its own errors here)."""
        self.bus.emit(event)

    # --- views ----------------------------------------------------------------

    @property
    def view(self) -> SessionView:
        """A frozen copy of what the front ends draw; taken anew on each read."""
        state = self.state
        active = self.calls.active
        return SessionView(
            user=state.user,
            online=frozenset(state.online),
            region=state.region,
            signaling=state.signaling,
            muted=state.muted,
            call=None if active is None or active.call.ended else active.view(),
            calls=self.calls.views(),
            contacts=self.settings.contacts or (),
            contact_labels=self.settings.contact_labels,
            dnd=state.dnd,
            max_calls=self.calls.max_calls,
        )

    def mic(self) -> MicView:
        """The microphone as the Call panel shows it: what it is, and its level now."""
        active = self.calls.active
        return self._media.mic_view(None if active is None else active.source)

    def regions(self) -> list[RegionView]:
        """Every configured region, in configuration order (server-offered ones once adopted)."""
        return self._regions.views()

    def call_history(self) -> tuple[CallRecord, ...]:
        """Every call of the history (this run's and earlier ones'), oldest first."""
        return self.history.records()

    async def start(self) -> None:
        """Register with the signaling server; announces the starting region."""
        if self.signaling.notice is not None:
            self.emit(ev.Notice(message=self.signaling.notice))
        if self.history.notice is not None:
            self.emit(ev.Notice(message=self.history.notice))
        self._regions.announce_start()
        await self.signaling.start(self._on_signaling)

    async def close(self) -> None:
        """Hang up every call and leave the server; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for entry in self.calls:
            with contextlib.suppress(CommandRefused):  # it ended meanwhile
                await self.hangup(entry.id)
        self._media.monitor_wanted = False
        self._media.close_monitor()
        for task in list(self._pending_tasks):
            task.cancel()
        await self._regions.preflight.close()
        await self.signaling.close()

    # --- commands ---------------------------------------------------------------

    async def dial(self, to: str) -> None:
        """Call ``to``; a call already up is put on hold while this one is placed."""
        if self.calls.full:
            with_whom = ", ".join(entry.call.remote_user for entry in self.calls)
            raise CommandRefused(
                "busy", f"already in a call with {with_whom} (max_calls is {self.calls.max_calls})"
            )
        if (problem := self.signaling.callee_problem(to)) is not None:
            raise CommandRefused("bad-command", problem)
        if to == self.state.user:
            raise CommandRefused("bad-command", "you cannot call yourself")
        entry = self._new_entry(secrets.token_hex(8), to, "outgoing")
        if entry is None:
            return
        held = await call_commands.hold_others(self.calls, entry, self.state.muted)
        self.calls.add(entry, active=True)
        call = entry.call
        self.emit(ev.CallStateChanged(call=call.id, state="dialing", to=to))
        if held:
            self._announce_active()
        try:
            await self.signaling.invite(call.id, to)
        except SignalingUnavailable as exc:
            await self._end_call(call, "signaling-unavailable")
            raise CommandRefused("signaling-unavailable", f"cannot call {to}: {exc}") from exc
        if self.signaling.offer_in_invite:  # SIP: the INVITE carries the offer
            call.start_media()
            await call.negotiate()

    async def answer(self, call_id: str | None = None) -> None:
        """Answer the ringing call (the named one); the call that was active goes on hold."""
        entry = self.calls.ringing(call_id, "answer")
        held = await call_commands.hold_others(self.calls, entry, self.state.muted)
        call = entry.call
        call.start_media()
        entry.answered = True
        self.calls.make_active(entry)
        await self._media.follow(entry.audio)  # devices chosen while it rang
        call.set_state("active")
        if held or len(self.calls) > 1:
            self._announce_active()
        await self._send_or_end(call, self.signaling.accept(call.id))
        if self.signaling.answer_carries_offer(call.id):  # SIP late offer: ours goes in the 200
            await call.negotiate()

    async def decline(self, reason: str = "declined", call_id: str | None = None) -> None:
        entry = self.calls.ringing(call_id, "decline")
        entry.declined = True
        await self._send_or_end(entry.call, self.signaling.decline(entry.id, reason))
        await self._end_call(entry.call, reason)

    async def hangup(self, call_id: str | None = None) -> None:
        """End the call (the named one); another call stays, on hold, and becomes active."""
        call = self.calls.resolve(call_id, "hang up").call
        try:
            await self.signaling.hangup(call.id)
        except SignalingUnavailable:
            logger.info("hangup of %s not delivered: signaling is down", call.id)
        await self._end_call(call, "hangup")

    async def switch_call(self, call_id: str | None = None) -> None:
        """Hold the active call and resume the named one (else the next); resume a lone held one."""
        current = self.calls.active
        if call_id is not None:
            target = self.calls.get(call_id)
        elif current is None:
            raise CommandRefused("no-call", "there is no call to switch to")
        else:
            target = self.calls.switch_target(current)
        if target.call.state == "incoming":
            raise CommandRefused("no-call", f'call "{target.id}" is ringing: answer it instead')
        await call_commands.hold_others(self.calls, target, self.state.muted)
        self.calls.make_active(target)
        await target.set_hold(False, self.state.muted)
        await self._media.follow(target.audio)  # devices chosen while it was held
        self._announce_active()

    def set_dnd(self, on: bool) -> None:
        """Do not disturb: while on, every incoming call is declined ``busy`` and missed."""
        self.state.dnd = on
        self.emit(ev.DndChanged(on=on))

    def mute(self, on: bool) -> None:
        self.state.muted = on
        for entry in self.calls:
            entry.apply_mute(on)
        self.emit(ev.MuteChanged(on=on))

    async def switch_device(self, kind: DeviceKind, name: str) -> None:
        """(1.2) Another microphone or speaker: the active call's at once (no renegotiation),
        every new call's, and a held call's once it is resumed."""
        active = self.calls.active
        await self._media.switch(kind, name, None if active is None else active.audio)

    async def monitor_input(self, on: bool) -> None:
        """(1.2) Read the input between calls so its level shows before dialing (or stop).

        The monitor is released whenever a call opens its source and comes back
        when the last call ends, until turned off or the session closes.
        """
        await self._media.monitor(on, idle=not self.calls and not self._closed)

    def audio_choice(self) -> tuple[str, str]:
        """(1.2) The ``--audio-in`` and ``--audio-out`` specs in force now."""
        return self.media.audio_in, self.media.audio_out

    def audio_devices(self) -> list[AudioDevice]:
        """The sound devices there are; DeviceUnavailable when PortAudio cannot be loaded."""
        return self._media.devices()

    def probe_regions(self) -> None:
        """(1.2) Probe every region in the background: ``region-probe`` events, then a ranking."""
        self._regions.probe()

    async def switch_region(self, name: str) -> None:
        """setConfiguration with the new servers, then restartIce (docs/protocol.md section 2).

        The active call moves; a held call keeps its servers until its own ICE restart.
        """
        self._regions.switch(name, self.call)

    async def hold(self, on: bool, call_id: str | None = None) -> None:
        """(1.2) Hold or resume a call; resuming one that is not the active one switches to it."""
        entry = call_commands.media_entry(self.calls, call_id, "hold")
        if not on and entry is not self.calls.active:
            await self.switch_call(entry.id)
        elif await call_commands.hold(entry, on, self.state.muted):
            self._announce_active()

    def dtmf(self, digits: str, duration_ms: int, call_id: str | None = None) -> None:
        """(1.2) Send DTMF digits on a call (softphone/call_commands.py)."""
        entry = call_commands.media_entry(self.calls, call_id, "send DTMF on")
        call_commands.dtmf(entry, digits, duration_ms)

    def restart_ice(self, call_id: str | None = None) -> None:
        call_commands.media_entry(self.calls, call_id, "restart ICE").call.restart_ice()

    async def stats(self, call_id: str | None = None) -> None:
        entry = call_commands.media_entry(self.calls, call_id, "report stats for")
        report = await entry.stats_report()
        if report is not None:
            self.emit(report)

    # --- signaling events --------------------------------------------------------

    def _on_signaling(self, event: SignalingEvent) -> None:
        self._spawn(self._handle(event))

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._pending_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("signaling event handler failed", exc_info=task.exception())

    async def _handle(self, event: SignalingEvent) -> None:
        match event:
            case Registered(user=user, online=online, regions=regions):
                self.state.user = user
                self.state.online = set(online)
                self.emit(ev.Registered(user=user, online=tuple(sorted(online))))
                if regions:
                    self._regions.offered(regions, self.call)
                await self._resume_calls()
            case RegionsRefreshed(regions=regions):
                self._regions.offered(regions, self.call)
            case Presence(user=user, online=online):
                if online:
                    self.state.online.add(user)
                else:
                    self.state.online.discard(user)
                self.emit(ev.PresenceChanged(user=user, online=online))
            case ConnectionChanged(state=state, detail=detail, retry_in=retry_in):
                self.state.signaling = state
                self.emit(
                    ev.SignalingChanged(
                        state=state,
                        detail=detail or None,
                        retry_in=None if retry_in is None else round(retry_in, 2),
                    )
                )
            case Invited(call=call_id, caller=caller, resume=True):
                await self._on_resumed(call_id, caller)
            case Invited(call=call_id, caller=caller):
                await self._on_invited(call_id, caller)
            case Ringing(call=call_id):
                call = self._current(call_id)
                if call is not None and call.state == "dialing":
                    call.set_state("ringing")
            case Accepted(call=call_id):
                entry = self.calls.find(call_id)
                call = None if entry is None else entry.call
                if entry and call and call.direction == "outgoing" and call.peer is None:
                    call.start_media()
                    call.set_state("active")
                    await call.negotiate()
                    if entry is not self.calls.active:  # the user switched away meanwhile
                        await entry.set_hold(True, self.state.muted)
                elif entry and call and call.direction == "outgoing":
                    call.set_state("active")  # offer_in_invite: media began at dial
            case Declined(call=call_id, reason=reason):
                call = self._current(call_id)
                if call is not None:
                    await self._end_call(call, reason or "declined")
            case HungUp(call=call_id, reason=reason):
                call = self._current(call_id)
                if call is not None:
                    await self._end_call(call, reason or "hangup")
            case RemoteDescription(call=call_id, description=description):
                call = self._current(call_id)
                if call is not None:
                    await call.on_remote_description(description)
            case RemoteCandidate(call=call_id, candidate=candidate):
                call = self._current(call_id)
                if call is not None:
                    await call.on_remote_candidate(candidate)
            case RemoteDtmf(call=call_id, digit=digit, duration_ms=duration_ms):
                if self._current(call_id) is not None:  # SIP INFO: the same event as RFC 4733
                    self.emit(ev.DtmfReceived(call=call_id, digit=digit, duration_ms=duration_ms))
            case SignalingError(code=code, message=message, call=call_id):
                self.emit(ev.ErrorReported(code=code, message=message, call=call_id))
                call = self._current(call_id) if call_id else None
                # After a server restart the server no longer knows an active
                # call; its media is peer to peer and goes on, so only a call
                # still being set up ends here.
                if (
                    call is not None
                    and code in ("unavailable", "unknown-call")
                    and call.state != "active"
                ):
                    await self._end_call(call, code)

    async def _resume_calls(self) -> None:
        """After a reconnect, tell the server (which may have restarted) about the live calls.

        Media is peer to peer and survives a signaling outage; this makes
        hangups and ICE restarts of those calls reach the other side again.
        """
        for entry in self.calls:
            call = entry.call
            if call.state != "active":
                continue
            with contextlib.suppress(SignalingUnavailable):
                await self.signaling.invite(call.id, call.remote_user, resume=True)
                self.emit(ev.CallResumed(call=call.id, by="us"))

    async def _on_resumed(self, call_id: str, caller: str) -> None:
        call = self._current(call_id)
        if call is not None and call.remote_user == caller:
            self.emit(ev.CallResumed(call=call_id, by=caller))
            return
        # A call we no longer have: end it on the other side too.
        with contextlib.suppress(SignalingUnavailable):
            await self.signaling.hangup(call_id, "gone")

    async def _on_invited(self, call_id: str, caller: str) -> None:
        """Ring (call waiting when a call is up), or decline ``busy``: do not disturb, or full."""
        if self.state.dnd or self.calls.full:
            with contextlib.suppress(SignalingUnavailable):
                await self.signaling.decline(call_id, "busy")
            self.emit(ev.MissedCall(call=call_id, from_=caller, reason="busy"))
            self.history.add(CallRecord.refused(call_id, caller, "busy"))
            return
        entry = self._new_entry(call_id, caller, "incoming")
        if entry is None:
            await self.signaling.decline(call_id, "unavailable")
            return
        self.calls.add(entry, active=False)
        self.emit(ev.IncomingCall(call=call_id, from_=caller))
        self.emit(ev.CallStateChanged(call=call_id, state="incoming", from_=caller))
        await self._send_or_end(entry.call, self.signaling.ringing(call_id))
        if self.settings.auto_answer and entry.call.state == "incoming":
            with contextlib.suppress(CommandRefused):  # the caller gave up meanwhile
                await self.answer(call_id)

    # --- helpers ---------------------------------------------------------------

    def _new_entry(self, call_id: str, remote: str, direction: str) -> CallEntry | None:
        """A call with fresh media; a bad audio spec is reported and refuses the call."""
        audio = self._media.open(call_id, self.state.muted)
        if audio is None:
            self._resume_monitor()  # the refused call released it
            return None
        call = Call(
            call_id=call_id,
            remote_user=remote,
            direction="outgoing" if direction == "outgoing" else "incoming",
            signaling=self.signaling,
            emit=self._call_event,
            configuration=self._regions.configuration,
            host_addresses=list(self.settings.ice_host_addresses) or None,
            source=audio.source,
            sink=audio.sink,
            on_connection_state=self._on_connection_state,
            hold_tone_hz=hold_sound.tone_hz(self.settings.hold_sound),
        )
        watch = QualityWatch(call_id, self.settings.quality, call.stats, audio.source, self.emit)
        return CallEntry(call=call, audio=audio, quality=watch.start())

    def _announce_active(self) -> None:
        active = self.calls.active
        self.emit(
            ev.ActiveCallChanged(
                call=None if active is None else active.id, held=self.calls.held_ids()
            )
        )

    def _call_event(self, event: ev.Event) -> None:
        """A call's event, passed on; a TURN server refusing our credentials is also said."""
        self.emit(event)
        entry = self.calls.find(getattr(event, "call", None))
        self._failover.event(None if entry is None else entry.call, event)
        if isinstance(event, ev.IceRestartGathered):
            for message in credential_refusals(event.failures):
                self.emit(ev.Notice(message=message))

    def _on_connection_state(self, call: Call, state: str) -> None:
        entry = self.calls.find(call.id)
        if entry is not None and entry.call is call:
            self._recovery.on_state(entry, state)

    def _abandon(self, call: Call) -> None:
        self._spawn(self._hangup_failed(call))

    async def _hangup_failed(self, call: Call) -> None:
        with contextlib.suppress(SignalingUnavailable):
            await self.signaling.hangup(call.id, "connection-failed")
        await self._end_call(call, "connection-failed")

    def _resume_monitor(self) -> None:
        """Between calls again: the monitor, if wanted, reads the input once more."""
        if not self.calls and not self._closed and self._media.monitor_wanted:
            self._spawn(self._media.resume_monitor())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._pending_tasks.add(task)
        task.add_done_callback(self._task_done)

    def _current(self, call_id: str | None) -> Call | None:
        entry = self.calls.find(call_id)
        return None if entry is None else entry.call

    async def _send_or_end(self, call: Call, send: Any) -> None:
        try:
            await send
        except SignalingUnavailable:
            await self._end_call(call, "signaling-unavailable")

    async def _end_call(self, call: Call, reason: str) -> None:
        """Close ``call``, put it in the history; another call, if any, becomes active."""
        was_active = self.call is call
        entry = self.calls.remove(call)
        if entry is not None:
            self._recovery.ended(entry)
        await call.close(reason)
        if entry is None:
            return
        self._resume_monitor()
        self.history.add(entry.record(reason))
        if was_active and self.calls.active is not None:
            self._announce_active()
