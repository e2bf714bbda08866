"""The app's side of the session: building it, following its events, telling the user.

Session events arrive through a subscription callback and are re-posted as
Textual messages (:mod:`softphone.ui.messages`), so widgets only change inside
the app's own message handlers, in order. Each event feeds the panels; the
ones a user must not miss (a notice, an error, a missed call, a lost
signaling link) also become notifications.

The first frame comes before the media stack: given a session factory, the
app draws its panels ("starting…"), then imports ``softphone.session``
(aiortc, av, numpy) on a thread and builds the session.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.css.query import NoMatches

from softphone.ui.base import STARTING, SoftphoneBase
from softphone.ui.messages import SessionEvent, SessionFailed, SessionOpened
from softphone.ui.widgets.call_controls import mic_markup
from softphone.ui.widgets.event_log import LogEntry

if TYPE_CHECKING:
    from softphone.events import (
        CallStateChanged,
        Event,
        SignalingChanged,
    )
    from softphone.session import SessionManager
    from softphone.ui.screens.incoming import IncomingChoice
    from softphone.ui.screens.main import MainScreen
    from softphone.views import RegionView

logger = logging.getLogger("softphone.ui")

# Builds the session once the first frame is drawn (it may start an embedded server).
SessionFactory = Callable[[], Awaitable["SessionManager"]]
# What the factory needs loaded: the media stack, imported on a thread, off the loop.
SESSION_MODULE = "softphone.session"
# The mic level meter's refresh (seconds): during a call, and between calls while the
# input is monitored; the level is read only while the main screen is shown.
METER_INTERVAL = 0.1


class SessionEvents(SoftphoneBase):
    """Opens or follows the session once the main screen is up, and renders its events."""

    _factory: SessionFactory | None
    _peers: dict[str, str]

    # --- opening -------------------------------------------------------------------

    def on_main_screen_ready(self, message: MainScreen.Ready) -> None:
        self.call_panel.border_title = "Call"
        self._stats_timer = self.set_interval(self.stats_interval, self._tick, pause=True)
        self._meter_timer = self.set_interval(METER_INTERVAL, self._show_mic, pause=True)
        if self.session is not None:
            self._follow(self.session)
        elif self._factory is not None:
            self.call_panel.signaling = STARTING
            self.ice_panel.servers.starting = True
            self.call_after_refresh(self._open_session, self._factory)

    @work(group="session", exit_on_error=False)
    async def _open_session(self, factory: SessionFactory) -> None:
        """Load the media stack on a thread (the loop keeps drawing), then build the session."""
        try:
            await asyncio.to_thread(importlib.import_module, SESSION_MODULE)
            session = await factory()
        except Exception as exc:
            logger.warning("session could not be built: %s", exc)
            self.post_message(SessionFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(SessionOpened(session))

    def on_session_opened(self, message: SessionOpened) -> None:
        # Kept even after quit, so the caller's cleanup (cli.py) closes it.
        self.session = message.session
        if not self._closed and self._panels_ready():
            self._follow(message.session)

    def _follow(self, session: SessionManager) -> None:
        """Fill the panels from the session's view, follow its events, register."""
        view = session.view
        panel = self.call_panel
        panel.user = view.user or ""
        panel.signaling = view.signaling
        panel.muted = view.muted
        panel.dnd = view.dnd
        panel.set_contacts(view.contacts)
        panel.mic = session.mic()
        panel.set_online(sorted(view.online))
        self._show_region(view.region)
        self._unsubscribe = session.subscribe(self._session_callback)
        self._start_session(session)

    def _session_callback(self, event: Event) -> None:
        """Called by the session on this loop; widgets are only touched in the handler."""
        self.post_message(SessionEvent(event, self.clock()))

    @work(group="session", exit_on_error=False)
    async def _start_session(self, session: SessionManager) -> None:
        try:
            await session.start()
        except Exception as exc:
            logger.warning("session start failed: %s", exc)
            self.post_message(SessionFailed(str(exc) or type(exc).__name__))
        if self.monitor_input and not self._closed:
            self._monitor_between_calls()

    def _monitor_between_calls(self) -> None:
        """Once the session is built (never before the first frame): the level before dialing,
        registered or not (the microphone is worth checking offline too).

        The session releases the monitor while a call is up and brings it back
        after, and closes it on quit; the meter's timer runs from now on.
        """
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import MonitorInput

        self.send(MonitorInput(on=True))
        if self._meter_timer is not None:
            self._meter_timer.resume()

    def on_session_failed(self, message: SessionFailed) -> None:
        if not self._panels_ready():
            return
        self.call_panel.signaling = "failed"
        self.call_panel.signaling_detail = message.reason
        self.event_log.add_entry(
            LogEntry(self.clock(), "error", f"start: {message.reason}", "error")
        )
        self.notify(
            f"could not register with the signaling server: {message.reason}",
            title="Offline",
            severity="error",
            timeout=10,
        )

    # --- events ------------------------------------------------------------------------

    def on_session_event(self, message: SessionEvent) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import (
            AudioDeviceChanged,
            CallStateChanged,
            ErrorReported,
            IceRestartFailed,
            IncomingCall,
            MissedCall,
            Notice,
            RegionChanged,
            RegionProbed,
            RegionsRanked,
            SignalingChanged,
        )

        if self._closed or not self._panels_ready():
            return  # shutting down: the panels are already gone
        event, at = message.event, message.at
        try:
            self.event_log.add(event, at)
            self.call_panel.handle(event, at)
            self.connection_panel.handle(event, at)
            self.ice_panel.handle(event, at)
        except NoMatches:
            return  # the screen is being torn down while a late event arrives
        match event:
            case CallStateChanged():
                self._on_call_state(event)
            case IncomingCall(call=call_id, from_=caller):
                self._on_incoming(call_id, caller)
            case RegionChanged(name=name):
                self._show_region(name)
            case RegionProbed(region=region):
                self.region_probes[region] = event
                show = getattr(self.screen, "show_probe", None)
                if show is not None:
                    show(event)  # the region picker, when it is open
            case RegionsRanked():
                done = getattr(self.screen, "probe_done", None)
                if done is not None:
                    done()
            case AudioDeviceChanged(device=device, reason="switched"):
                self.notify(device, title="Audio", timeout=3)
            case Notice(message=text):
                self.notify(text, title="Notice", severity="warning", timeout=8)
            case ErrorReported(code=code, message=text):
                self.notify(text, title=code, severity="error", timeout=8)
            case MissedCall(from_=caller, reason=reason):
                self.notify(
                    f"missed call from {caller} ({reason})", title="Missed call", severity="warning"
                )
            case SignalingChanged():
                self._on_signaling(event)
            case IceRestartFailed(reason=reason, kept_old_path=kept):
                tail = " — the call stays on the old path" if kept else ""
                self.notify(f"ICE restart failed: {reason}{tail}", severity="error", timeout=8)

    def _show_region(self, name: str | None) -> None:
        self.ice_panel.show_region(name, self._region(name))

    def _region(self, name: str | None) -> RegionView | None:
        return next((r for r in self.regions() if r.name == name), None)

    def _on_call_state(self, event: CallStateChanged) -> None:
        state = event.state
        if state in ("dialing", "incoming"):
            self.remote = event.to or event.from_
            self._peers[event.call] = self.remote or "?"
        if state != "incoming":
            self._dismiss_incoming(event.call)
        others_talking = self.session is not None and any(
            call.state == "active" and call.id != event.call for call in self.session.view.calls
        )
        self.call_state = "active" if state == "ended" and others_talking else state
        timer = self._stats_timer
        if timer is not None:
            if state == "active":
                timer.resume()
            elif state == "ended" and not others_talking:
                timer.pause()
        meter = self._meter_timer
        if meter is not None:
            if state == "active":
                meter.resume()
            elif state == "ended" and not others_talking and not self.monitor_input:
                meter.pause()
        self._show_mic()
        if state == "ended":
            reason = event.reason
            who = self._peers.pop(event.call, None) or self.remote or "?"
            self.notify(f"call with {who} ended" + (f" ({reason})" if reason else ""), timeout=4)

    def _on_incoming(self, call_id: str, caller: str) -> None:
        """Ring: a modal with a bell, or (call waiting) the same modal without the bell."""
        from softphone.ui.screens.incoming import IncomingCallScreen  # not on the first frame

        self.remote = caller
        view = None if self.session is None else self.session.view
        talking = None
        call = None if view is None else view.call
        if call is not None and call.id != call_id and call.state == "active":
            talking = call.remote
        self._dismiss_incoming(None)
        screen = IncomingCallScreen(caller, call_id, waiting_for=talking)
        self._incoming = screen
        if talking is not None:
            self.notify(f"{caller} is calling; {talking} waits on hold if you answer", timeout=6)
        self.push_screen(screen, partial(self._incoming_choice, call_id))

    def _incoming_choice(self, call_id: str, choice: IncomingChoice | None) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import Answer, DeclineCall

        self._incoming = None
        if choice == "answer":
            self.send(Answer(call=call_id))
        elif choice == "decline":
            self.send(DeclineCall(call=call_id))

    def _dismiss_incoming(self, call_id: str | None) -> None:
        """Close the incoming-call modal (only if it is about ``call_id``, when given)."""
        screen = self._incoming
        if screen is None or (call_id is not None and screen.call_id != call_id):
            return
        self._incoming = None
        if screen.is_attached and screen in self.screen_stack:
            screen.dismiss(None)

    def _on_signaling(self, event: SignalingChanged) -> None:
        state = event.state
        if state == "reconnecting":
            retry = event.retry_in
            when = f"; retrying in {retry:.1f}s" if retry is not None else ""
            self.notify(
                f"signaling connection lost{when}", title="Reconnecting", severity="warning"
            )
        elif state == "connected" and self._signaling_state == "reconnecting":
            self.notify("signaling connection restored", title="Connected", timeout=3)
        self._signaling_state = state

    # --- periodic work ---------------------------------------------------------------------

    def _tick(self) -> None:
        if self._closed or not self._panels_ready():
            return  # a last tick while the screen is being torn down
        try:
            self.call_panel.now = self.clock()
        except NoMatches:
            return  # the panels went between the check and now
        if self.call_state == "active":
            self._poll_stats()

    def _show_mic(self) -> None:
        """The Call panel's Mic row from the session, redrawn only when its text changes."""
        if self.session is None or self._closed or not self._panels_ready():
            return
        if self.screen is not self.main:
            return  # the level is read only while it is on screen
        try:
            panel = self.call_panel
        except NoMatches:
            return  # the screen is being torn down
        mic = self.session.mic()
        in_call = self.call_state == "active"
        if mic_markup(panel.muted, mic, in_call) != mic_markup(panel.muted, panel.mic, in_call):
            panel.mic = mic

    @work(group="stats", exclusive=True, exit_on_error=False)
    async def _poll_stats(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import CommandRefused, Stats, execute

        if self.session is None:
            return
        try:
            await execute(self.session, Stats())
        except CommandRefused:
            pass  # the call ended between the tick and now
        except Exception as exc:
            logger.warning("stats failed: %s", exc)
