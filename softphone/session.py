"""The session manager: the one place that owns calls, regions and their states.

Front ends (the Textual app, the headless JSON-lines loop) send it commands
through :func:`softphone.commands.execute`, render the typed events it emits
(:mod:`softphone.events`) and read the rest from its frozen views
(:attr:`SessionManager.view`, :meth:`SessionManager.regions`); none of them
touches aiortc, a call's peer connection or the signaling wire format. A user
mistake is a :class:`CommandRefused` that says why, never a broken call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from softphone import events as ev
from softphone.call import Call, pair_info
from softphone.call_audio import CallAudio
from softphone.call_audio import MediaChoice as MediaChoice  # re-exported: callers import it here
from softphone.commands import CommandRefused
from softphone.config import Settings
from softphone.device_list import AudioDevice, DeviceKind
from softphone.events import EventBus, EventSink
from softphone.media import MediaSpecError, MutableSource
from softphone.regions import SessionRegions, credential_refusals
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
    Ringing,
    Signaling,
    SignalingError,
    SignalingEvent,
    SignalingUnavailable,
)
from softphone.signaling.messages import is_user_name
from softphone.views import CallView, RegionView, SessionView

logger = logging.getLogger("softphone.session")

USER_NAME_RULE = "a user name is 1-64 of letters, digits, '.', '_', '-'"
# How long a call may stay "failed" (the peer connection retrying ICE) before it is ended.
FAILED_CALL_GRACE = 15.0


@dataclass
class SessionState:
    """The session's own mutable state; front ends read :attr:`SessionManager.view`."""

    user: str | None = None
    online: set[str] = field(default_factory=set)
    region: str | None = None
    signaling: str = "connecting"
    muted: bool = False


class SessionManager:
    """Owns at most one call at a time (a second caller gets ``busy``)."""

    def __init__(
        self,
        settings: Settings,
        signaling: Signaling,
        *,
        media: MediaChoice | None = None,
        check_ice_servers: bool = True,
    ) -> None:
        self.signaling = signaling
        self.media = media or MediaChoice(settings.audio_in, settings.audio_out)
        self.bus = EventBus()
        self.state = SessionState(user=signaling.user, region=settings.region)
        self.call: Call | None = None
        self._regions = SessionRegions(
            settings, self.state, self.emit, self._spawn, check_ice_servers=check_ice_servers
        )
        self._regions.live_call = lambda: self.call
        self.audio = CallAudio(self.media, self.emit)
        self._pending_tasks: set[asyncio.Future[Any]] = set()
        self._give_up: asyncio.TimerHandle | None = None
        self._closed = False
        self._lost_at: float | None = None

    @property
    def settings(self) -> Settings:
        """The settings in force: the server's regions are in them once adopted."""
        return self._regions.settings

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
        return SessionView(
            user=state.user,
            online=frozenset(state.online),
            region=state.region,
            signaling=state.signaling,
            muted=state.muted,
            call=self._call_view(),
        )

    def _call_view(self) -> CallView | None:
        call = self.call
        if call is None or call.ended:
            return None
        return CallView(
            id=call.id,
            remote=call.remote_user,
            state=call.state,
            direction=call.direction,
            active_since=call.active_since,
            has_media=call.peer is not None,
        )

    def regions(self) -> list[RegionView]:
        """Every configured region, in configuration order (server-offered ones once adopted)."""
        return self._regions.views()

    async def start(self) -> None:
        """Register with the signaling server; announces the starting region."""
        if self.signaling.notice is not None:
            self.emit(ev.Notice(message=self.signaling.notice))
        self._regions.announce_start()
        await self.signaling.start(self._on_signaling)

    async def close(self) -> None:
        """Hang up if needed and leave the server; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.call is not None and not self.call.ended:
            await self.hangup()
        for task in list(self._pending_tasks):
            task.cancel()
        await self._regions.preflight.close()
        await self.signaling.close()

    # --- commands ---------------------------------------------------------------

    async def dial(self, to: str) -> None:
        if self.call is not None:
            raise CommandRefused("busy", f"already in a call with {self.call.remote_user}")
        if not is_user_name(to):
            raise CommandRefused("bad-command", f"cannot call {to[:64]!r}: {USER_NAME_RULE}")
        if to == self.state.user:
            raise CommandRefused("bad-command", "you cannot call yourself")
        call = self._new_call(secrets.token_hex(8), to, "outgoing")
        if call is None:
            return
        self.call = call
        self.emit(ev.CallStateChanged(call=call.id, state="dialing", to=to))
        try:
            await self.signaling.invite(call.id, to)
        except SignalingUnavailable as exc:
            await self._end_call(call, "signaling-unavailable")
            raise CommandRefused("signaling-unavailable", f"cannot call {to}: {exc}") from exc

    async def answer(self) -> None:
        call = self.call
        if call is None or call.state != "incoming":
            raise CommandRefused("no-call", "there is no ringing call to answer")
        call.start_media()
        call.set_state("active")
        await self._send_or_end(call, self.signaling.accept(call.id))

    async def decline(self, reason: str = "declined") -> None:
        call = self.call
        if call is None or call.state != "incoming":
            raise CommandRefused("no-call", "there is no ringing call to decline")
        await self._send_or_end(call, self.signaling.decline(call.id, reason))
        await self._end_call(call, reason)

    async def hangup(self) -> None:
        call = self.call
        if call is None:
            raise CommandRefused("no-call", "there is no call to hang up")
        try:
            await self.signaling.hangup(call.id)
        except SignalingUnavailable:
            logger.info("hangup of %s not delivered: signaling is down", call.id)
        await self._end_call(call, "hangup")

    def mute(self, on: bool) -> None:
        self.state.muted = on
        if self.call is not None:
            source = self.call_source
            if source is not None:
                source.muted = on
        self.emit(ev.MuteChanged(on=on))

    async def switch_device(self, kind: DeviceKind, name: str) -> None:
        """(1.2) Another microphone or speaker, for the live call (no renegotiation) and after."""
        call = self.call
        await self.audio.switch(kind, name, call.id if call and call.peer is not None else None)

    def audio_choice(self) -> tuple[str, str]:
        """(1.2) The ``--audio-in`` and ``--audio-out`` specs in force now."""
        return self.media.audio_in, self.media.audio_out

    def audio_devices(self) -> list[AudioDevice]:
        """The sound devices there are; DeviceUnavailable when PortAudio cannot be loaded."""
        return self.audio.devices()

    def probe_regions(self) -> None:
        """(1.2) Probe every region in the background: ``region-probe`` events, then a ranking."""
        self._regions.probe()

    async def switch_region(self, name: str) -> None:
        """setConfiguration with the new servers, then restartIce (docs/protocol.md section 2)."""
        self._regions.switch(name, self.call)

    def restart_ice(self) -> None:
        call = self.call
        if call is None or call.peer is None:
            raise CommandRefused("no-call", "there is no call whose ICE could restart")
        call.restart_ice()

    async def stats(self) -> None:
        call = self.call
        if call is None or call.peer is None:
            raise CommandRefused("no-call", "there is no call to report stats for")
        stats = await call.stats()
        if stats is None:
            return
        pair = stats.selected_pair
        report = ev.StatsReport(
            call=call.id,
            rtt_ms=stats.rtt_ms,
            jitter_ms=stats.jitter_ms,
            packets_sent=stats.packets_sent,
            packets_received=stats.packets_received,
            packets_lost=stats.packets_lost,
            bytes_sent=stats.bytes_sent,
            bytes_received=stats.bytes_received,
            selected_pair=None if pair is None else pair_info(pair),
        )
        self.emit(self._with_audio(report))

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
                await self._resume_call()
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
                call = self._current(call_id)
                if call is not None and call.direction == "outgoing" and call.peer is None:
                    call.start_media()
                    call.set_state("active")
                    await call.negotiate()
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

    async def _resume_call(self) -> None:
        """After a reconnect, tell the server (which may have restarted) about the live call.

        Media is peer to peer and survives a signaling outage; this makes
        hangups and ICE restarts of that call reach the other side again.
        """
        call = self.call
        if call is None or call.state != "active":
            return
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
        if self.call is not None:
            with contextlib.suppress(SignalingUnavailable):
                await self.signaling.decline(call_id, "busy")
            self.emit(ev.MissedCall(call=call_id, from_=caller, reason="busy"))
            return
        call = self._new_call(call_id, caller, "incoming")
        if call is None:
            await self.signaling.decline(call_id, "unavailable")
            return
        self.call = call
        self.emit(ev.IncomingCall(call=call_id, from_=caller))
        self.emit(ev.CallStateChanged(call=call_id, state="incoming", from_=caller))
        await self._send_or_end(call, self.signaling.ringing(call_id))

    # --- helpers ---------------------------------------------------------------

    @property
    def call_source(self) -> MutableSource | None:
        return self.audio.source

    def _new_call(self, call_id: str, remote: str, direction: str) -> Call | None:
        """A call with fresh media; a bad audio spec is reported and refuses the call."""
        try:
            source, sink = self.audio.open(self.state.muted)
        except MediaSpecError as exc:
            self.emit(ev.ErrorReported(code="bad-audio", message=str(exc)))
            return None
        return Call(
            call_id=call_id,
            remote_user=remote,
            direction="outgoing" if direction == "outgoing" else "incoming",
            signaling=self.signaling,
            emit=self._call_event,
            configuration=self._regions.configuration,
            host_addresses=list(self.settings.ice_host_addresses) or None,
            source=source,
            sink=sink,
            on_connection_state=self._on_connection_state,
        )

    def _call_event(self, event: ev.Event) -> None:
        """A call's event, passed on; a TURN server refusing our credentials is also said."""
        self.emit(event)
        if isinstance(event, ev.IceRestartGathered):
            for message in credential_refusals(event.failures):
                self.emit(ev.Notice(message=message))

    def _on_connection_state(self, call: Call, state: str) -> None:
        """Recover from a dead path, or end the call cleanly and say so.

        The peer connection restarts ICE by itself once the path has failed;
        what it cannot know is where to: that is the fallback region, put in
        force here as soon as the path is lost so the restart gathers from it.
        """
        if call is not self.call:
            return
        if state == "disconnected":
            self._lost_at = asyncio.get_running_loop().time()
            self.emit(
                ev.Notice(
                    message=f'connection lost on region "{self.state.region}"; restarting ICE'
                )
            )
            self._regions.fall_back(call)
        elif state == "failed":
            if self._give_up is None:
                self._give_up = asyncio.get_running_loop().call_later(
                    FAILED_CALL_GRACE, self._abandon, call
                )
        elif state == "connected":
            if self._give_up is not None:
                self._give_up.cancel()
                self._give_up = None
            if self._lost_at is not None:
                lost_for = asyncio.get_running_loop().time() - self._lost_at
                self._lost_at = None
                self.emit(
                    ev.Notice(
                        message=f'call recovered on region "{self.state.region}" '
                        f"after {lost_for:.1f} s"
                    )
                )

    def _abandon(self, call: Call) -> None:
        """The path stayed dead: hang up for real rather than leave a silent call."""
        self._give_up = None
        if call is self.call:
            self.emit(ev.Notice(message="connection could not be recovered; call ended"))
            self._spawn(self._hangup_failed(call))

    async def _hangup_failed(self, call: Call) -> None:
        with contextlib.suppress(SignalingUnavailable):
            await self.signaling.hangup(call.id, "connection-failed")
        await self._end_call(call, "connection-failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._pending_tasks.add(task)
        task.add_done_callback(self._task_done)

    def _with_audio(self, report: ev.StatsReport) -> ev.StatsReport:
        """``report`` with what the sink received, when there is a sink."""
        sink = self.audio.sink
        if sink is None:
            return report
        stats = sink.stats
        # Each stats event opens a new window, so two stats events bracket a
        # moment (a region switch) and the second says the longest gap inside it.
        sink.new_window()
        return replace(
            report,
            audio_frames_received=stats.frames,
            audio_seconds_received=round(stats.seconds, 3),
            audio_max_gap_ms=round(stats.max_gap_ms, 1),
            audio_max_gap_since_last_stats_ms=round(stats.window_max_gap_ms, 1),
        )

    def _current(self, call_id: str | None) -> Call | None:
        call = self.call
        if call is None or call.id != call_id:
            return None
        return call

    async def _send_or_end(self, call: Call, send: Any) -> None:
        try:
            await send
        except SignalingUnavailable:
            await self._end_call(call, "signaling-unavailable")

    async def _end_call(self, call: Call, reason: str) -> None:
        if self.call is call:
            self.call = None
            self.audio.closed()
            self._lost_at = None
            if self._give_up is not None:
                self._give_up.cancel()
                self._give_up = None
        await call.close(reason)
