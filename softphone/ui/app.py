"""The terminal softphone: a Textual front end of the session manager.

The app sends commands (:mod:`softphone.commands`) and renders typed events
(:mod:`softphone.events`); what it shows of a call or a region comes from the
session's read-only views, never from a call or its peer connection. Session
events arrive through a subscription callback and are re-posted as Textual
messages, so widgets only change inside the app's own message handlers. Every
command runs in a worker: a slow signaling round trip never freezes the
screen, and a refused command becomes a notice, never a crash.

The first frame comes before the media stack: given a session factory, the app
draws its panels ("starting…"), then imports ``softphone.session`` (aiortc,
av, numpy) on a thread and builds the session. No module of ``softphone.ui``
imports the session, call, RTC or media modules at module level.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.timer import Timer

from softphone.commands import (
    Answer,
    Command,
    CommandRefused,
    DeclineCall,
    Dial,
    Hangup,
    Mute,
    Quit,
    RestartIce,
    Stats,
    SwitchRegion,
    execute,
)
from softphone.events import (
    CallStateChanged,
    ErrorReported,
    Event,
    IceRestartFailed,
    IncomingCall,
    MissedCall,
    Notice,
    RegionChanged,
    SignalingChanged,
)
from softphone.ui.clock import Clock, monotonic
from softphone.ui.commands import SoftphoneCommands
from softphone.ui.keymap import global_bindings
from softphone.ui.messages import SessionEvent, SessionFailed, SessionOpened
from softphone.ui.screens.confirm import ConfirmScreen
from softphone.ui.screens.dial import DialScreen
from softphone.ui.screens.help import HelpScreen
from softphone.ui.screens.incoming import IncomingCallScreen, IncomingChoice
from softphone.ui.screens.main import MainScreen
from softphone.ui.screens.region_picker import RegionPickerScreen
from softphone.ui.themes import DEFAULT_THEME, discover_themes, next_theme
from softphone.ui.ui_state import UiState, load_ui_state, save_ui_state
from softphone.ui.widgets.call_controls import CallPanel
from softphone.ui.widgets.connection import ConnectionPanel
from softphone.ui.widgets.event_log import EventLog, LogEntry
from softphone.ui.widgets.ice_servers import IceServersPanel
from softphone.views import RegionView, SessionView

if TYPE_CHECKING:
    from softphone.session import SessionManager

logger = logging.getLogger("softphone.ui")

APP_CSS = Path(__file__).with_name("app.tcss")
CLOSE_TIMEOUT = 10.0
# Builds the session once the first frame is drawn (it may start an embedded server).
SessionFactory = Callable[[], Awaitable["SessionManager"]]
# What the factory needs loaded: the media stack, imported on a thread, off the loop.
SESSION_MODULE = "softphone.session"
STARTING = "starting…"


class SoftphoneApp(App[int]):
    """``SoftphoneApp(session_or_factory, theme=...)``; ``cli.py`` runs it, reads ``return_code``.

    ``session`` is a ready :class:`SessionManager` (tests) or an async factory
    of one, called once the first frame is drawn. ``clock``, ``state_dir``,
    ``stats_interval`` and ``cursor_blink`` exist for tests and benchmarks: a
    fixed clock and no blinking make snapshots repeatable; ``state_dir``
    keeps the theme file out of the home directory.
    """

    TITLE = "softphone"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *global_bindings(),
    ]
    COMMANDS = App.COMMANDS | {SoftphoneCommands}
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (declared by App without ClassVar)
        (0, "-narrow"),
        (120, "-wide"),
    ]

    def __init__(
        self,
        session: SessionManager | SessionFactory,
        *,
        theme: str | None = None,
        clock: Clock | None = None,
        state_dir: Path | None = None,
        stats_interval: float = 1.0,
        cursor_blink: bool = True,
    ) -> None:
        themes = discover_themes()
        super().__init__(css_path=[APP_CSS, *(t.path for t in themes)])
        for theme_file in themes:
            self.register_theme(theme_file.theme)
        self.session: SessionManager | None = None
        self._factory: SessionFactory | None = None
        if callable(session):
            self._factory = session
        else:
            self.session = session
        self._wanted_theme = theme
        self.clock: Clock = clock or monotonic
        self.origin = self.clock()
        self.state_dir = state_dir
        self.stats_interval = stats_interval
        self.cursor_blink = cursor_blink
        self.ui_state: UiState = load_ui_state(state_dir)
        self.last_copied: str | None = None
        self.call_state: str | None = None
        self.remote: str | None = None
        self._theme_ready = False
        self._incoming: IncomingCallScreen | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stats_timer: Timer | None = None
        self._closed = False
        self._signaling_state = "connecting"

    # --- layout -----------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        self.main = MainScreen(origin=self.origin)
        return self.main

    def _panels_ready(self) -> bool:
        main = getattr(self, "main", None)
        return main is not None and main.is_attached and bool(main.query(EventLog))

    @property
    def call_panel(self) -> CallPanel:
        return self.main.query_one(CallPanel)

    @property
    def connection_panel(self) -> ConnectionPanel:
        return self.main.query_one(ConnectionPanel)

    @property
    def ice_panel(self) -> IceServersPanel:
        return self.main.query_one(IceServersPanel)

    @property
    def event_log(self) -> EventLog:
        return self.main.query_one(EventLog)

    # --- lifecycle ------------------------------------------------------------------

    def on_mount(self) -> None:
        self._apply_initial_theme()

    def on_main_screen_ready(self, message: MainScreen.Ready) -> None:
        self.call_panel.border_title = "Call"
        self._stats_timer = self.set_interval(self.stats_interval, self._tick, pause=True)
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

    async def _close_session(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.session is None:
            return
        try:
            await asyncio.wait_for(execute(self.session, Quit()), CLOSE_TIMEOUT)
        except Exception:
            logger.exception("session did not close cleanly")

    async def on_unmount(self) -> None:
        await self._close_session()

    # --- theme ------------------------------------------------------------------------

    def _apply_initial_theme(self) -> None:
        name = self._wanted_theme or self.ui_state.theme or DEFAULT_THEME
        if name not in self.available_themes:
            self.notify(f"unknown theme {name!r}; using {DEFAULT_THEME}", severity="warning")
            name = DEFAULT_THEME
        self.theme = name
        self._theme_ready = True

    def watch_theme(self, name: str) -> None:
        if not self._theme_ready:
            return
        if self.ui_state.theme != name:
            self.ui_state.theme = name
            save_ui_state(self.ui_state, self.state_dir)
        if self._panels_ready():
            self.call_after_refresh(self.event_log.rerender)

    def set_theme(self, name: str) -> None:
        self.theme = name
        self.notify(f"theme: {name}", timeout=2)

    # --- session events ------------------------------------------------------------------

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

    def on_session_event(self, message: SessionEvent) -> None:
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
        session = self.session
        if session is None:
            return None
        return next((r for r in session.regions() if r.name == name), None)

    def _on_call_state(self, event: CallStateChanged) -> None:
        state = event.state
        self.call_state = state
        if state in ("dialing", "incoming"):
            self.remote = event.to or event.from_
        if state != "incoming":
            self._dismiss_incoming()
        timer = self._stats_timer
        if timer is not None:
            if state == "active":
                timer.resume()
            elif state == "ended":
                timer.pause()
        if state == "ended":
            reason = event.reason
            self.notify(
                f"call with {self.remote or '?'} ended" + (f" ({reason})" if reason else ""),
                timeout=4,
            )

    def _on_incoming(self, call_id: str, caller: str) -> None:
        self.remote = caller
        self._dismiss_incoming()
        screen = IncomingCallScreen(caller, call_id)
        self._incoming = screen
        self.push_screen(screen, self._incoming_choice)

    def _incoming_choice(self, choice: IncomingChoice | None) -> None:
        self._incoming = None
        if choice == "answer":
            self.action_answer()
        elif choice == "decline":
            self.action_decline()

    def _dismiss_incoming(self) -> None:
        screen = self._incoming
        self._incoming = None
        if screen is not None and screen.is_attached and screen in self.screen_stack:
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
        self.call_panel.now = self.clock()
        if self.call_state == "active":
            self._poll_stats()

    @work(group="stats", exclusive=True, exit_on_error=False)
    async def _poll_stats(self) -> None:
        if self.session is None:
            return
        try:
            await execute(self.session, Stats())
        except CommandRefused:
            pass  # the call ended between the tick and now
        except Exception as exc:
            logger.warning("stats failed: %s", exc)

    # --- commands -----------------------------------------------------------------------

    def refuse(self, message: str) -> None:
        """A short notice for an action that makes no sense now."""
        self.event_log.add_entry(LogEntry(self.clock(), "refused", message))
        self.notify(message, title="Not now", severity="warning", timeout=4)

    def send(self, command: Command, on_refused: Callable[[str], None] | None = None) -> None:
        """Run ``command`` in a worker through the same :func:`execute` as headless."""
        self._command_worker(command, on_refused)

    @work(group="commands", exit_on_error=False)
    async def _command_worker(
        self, command: Command, on_refused: Callable[[str], None] | None
    ) -> None:
        try:
            if self.session is None:
                raise CommandRefused("not-ready", f"still {STARTING}")
            await execute(self.session, command)
        except CommandRefused as exc:
            if on_refused is not None:
                on_refused(str(exc))
            self.refuse(str(exc))
        except Exception as exc:
            logger.exception("%s failed", command.CMD)
            self.notify(f"{command.CMD} failed: {exc}", severity="error", timeout=8)

    def _view_or_refuse(self) -> SessionView | None:
        """The session's view, or a refusal while it is still being built."""
        if self.session is None:
            self.refuse(f"still {STARTING}")
            return None
        return self.session.view

    def action_dial(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        if view.call is not None:
            self.refuse(f"already in a call with {view.call.remote}")
            return
        online = sorted(view.online - {view.user or ""})
        self.push_screen(DialScreen(online, cursor_blink=self.cursor_blink), self._dial_chosen)

    def _dial_chosen(self, name: str | None) -> None:
        if name:
            self.dial(name)

    def dial(self, name: str) -> None:
        self.send(Dial(name))

    def action_answer(self) -> None:
        self.send(Answer())

    def action_decline(self) -> None:
        self.send(DeclineCall())

    def action_hangup(self) -> None:
        self.send(Hangup())

    def action_mute(self) -> None:
        view = self._view_or_refuse()
        if view is not None:
            self.send(Mute(not view.muted))

    def regions(self) -> list[RegionView]:
        return [] if self.session is None else self.session.regions()

    def region_names(self) -> list[str]:
        return [region.name for region in self.regions()]

    def action_pick_region(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        regions = self.regions()
        if not regions:
            self.refuse("no regions configured: add [[regions]] to the config file")
            return
        choices = [(r.name, len(r.servers)) for r in regions]
        self.push_screen(RegionPickerScreen(choices, view.region), self._region_chosen)

    def _region_chosen(self, name: str | None) -> None:
        if name:
            self.switch_region(name)

    def action_next_region(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        names = self.region_names()
        if len(names) < 2:
            self.refuse("there is no other region to switch to")
            return
        index = names.index(view.region) if view.region in names else -1
        self.switch_region(names[(index + 1) % len(names)])

    def switch_region(self, name: str) -> None:
        """Start a region switch and show its progress step by step."""
        view = self._view_or_refuse()
        if view is None:
            return
        in_call = view.call is not None and view.call.has_media
        progress = self.ice_panel.progress
        progress.begin_region(name, self.clock(), in_call=in_call)
        before = view.region

        def refused(message: str) -> None:
            where = f"; still on region {before}" if before else ""
            progress.fail(message + where, self.clock())

        self.send(SwitchRegion(name), refused)

    def action_restart_ice(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        if view.call is None or not view.call.has_media:
            self.refuse("there is no call whose ICE could restart")
            return
        progress = self.ice_panel.progress
        progress.begin_restart(self.clock())
        self.send(RestartIce(), lambda message: progress.fail(message, self.clock()))

    def action_copy(self) -> None:
        text = self.connection_panel.copy_text()
        if text is None:
            self.refuse("nothing to copy yet: no selected pair or stats")
            return
        self.last_copied = text
        self.copy_to_clipboard(text)
        self.notify("selected pair and stats copied", timeout=2)

    def action_toggle_log(self) -> None:
        log = self.event_log
        log.display = not log.display

    def action_filter_log(self) -> None:
        log = self.event_log
        log.display = True
        log.open_filter()

    def action_cycle_theme(self) -> None:
        self.set_theme(next_theme(self.theme))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        call = None if self.session is None else self.session.view.call
        if call is not None:
            question = f"A call with {call.remote} is in progress.\nHang up and quit?"
            self.push_screen(ConfirmScreen(question, "Quit"), self._quit_confirmed)
            return
        await self._quit()

    async def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            await self._quit()

    async def _quit(self) -> None:
        await self._close_session()
        self.exit(0)
