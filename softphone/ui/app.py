"""The terminal softphone: a Textual front end of the session manager.

The app sends commands (dial, answer, switch region…) and renders events.
Session events arrive through a subscription callback and are re-posted as
Textual messages, so widgets only change inside the app's own message
handlers. Every command runs in a worker: a slow signaling round trip never
freezes the screen, and a refused command becomes a notice, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.timer import Timer

from softphone.events import Event
from softphone.ui.clock import Clock, monotonic
from softphone.ui.commands import SoftphoneCommands
from softphone.ui.keymap import global_bindings
from softphone.ui.messages import SessionEvent, SessionFailed, SessionStarted
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
from softphone.ui.widgets.ice_servers import IceServerLike, IceServersPanel

if TYPE_CHECKING:
    from softphone.session import SessionManager

logger = logging.getLogger("softphone.ui")

APP_CSS = Path(__file__).with_name("app.tcss")
CLOSE_TIMEOUT = 10.0
LIVE_CALL_STATES = ("dialing", "ringing", "incoming", "active")


def _is_refusal(exc: BaseException) -> bool:
    """Is ``exc`` a CommandRefused? Imported late: the session module is slow to import."""
    from softphone.session import CommandRefused

    return isinstance(exc, CommandRefused)


class SoftphoneApp(App[int]):
    """``SoftphoneApp(session)``; ``cli.py`` runs it and reads ``return_code``.

    ``clock``, ``state_dir``, ``stats_interval`` and ``cursor_blink`` exist
    for tests and benchmarks: a fixed clock and no blinking make snapshots
    repeatable; ``state_dir`` keeps the theme file out of the home directory.
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
        session: SessionManager,
        *,
        clock: Clock | None = None,
        state_dir: Path | None = None,
        stats_interval: float = 1.0,
        cursor_blink: bool = True,
    ) -> None:
        themes = discover_themes()
        super().__init__(css_path=[APP_CSS, *(t.path for t in themes)])
        for theme_file in themes:
            self.register_theme(theme_file.theme)
        self.session = session
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
        self._started = False
        self._signaling_state = "connecting"

    # --- layout -----------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        settings = self.session.settings
        regions: dict[str, Sequence[IceServerLike]] = {
            region.name: region.ice_servers for region in settings.regions
        }
        self.main = MainScreen(regions=regions, origin=self.origin)
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
        panel = self.call_panel
        panel.border_title = "Call"
        state = self.session.state
        panel.user = state.user or ""
        panel.signaling = state.signaling
        panel.muted = state.muted
        panel.set_online(sorted(state.online))
        self.ice_panel.show_region(state.region)
        self._unsubscribe = self.session.subscribe(self._session_callback)
        self._stats_timer = self.set_interval(self.stats_interval, self._tick, pause=True)
        self._start_session()

    def _session_callback(self, event: Event) -> None:
        """Called by the session on this loop; widgets are only touched in the handler."""
        self.post_message(SessionEvent(event, self.clock()))

    @work(group="session", exit_on_error=False)
    async def _start_session(self) -> None:
        try:
            await self.session.start()
        except Exception as exc:
            logger.warning("session start failed: %s", exc)
            self.post_message(SessionFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(SessionStarted())

    async def _close_session(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        try:
            await asyncio.wait_for(self.session.close(), CLOSE_TIMEOUT)
        except Exception:
            logger.exception("session did not close cleanly")

    async def on_unmount(self) -> None:
        await self._close_session()

    # --- theme ------------------------------------------------------------------------

    def _apply_initial_theme(self) -> None:
        wanted = getattr(self.session.settings, "theme", None) or self.ui_state.theme
        name = wanted or DEFAULT_THEME
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

    def on_session_started(self, message: SessionStarted) -> None:
        self._started = True

    def on_session_failed(self, message: SessionFailed) -> None:
        if not self._panels_ready():
            return
        self.call_panel.signaling = "failed"
        self.call_panel.signaling_detail = message.reason
        self.event_log.add_entry(LogEntry(self.clock(), "error", f"start: {message.reason}"))
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
        handler = getattr(self, f"_handle_{event.name.replace('-', '_')}", None)
        if handler is not None:
            handler(event, at)

    def _handle_call_state(self, event: Event, at: float) -> None:
        state = str(event.get("state"))
        self.call_state = state
        if state in ("dialing", "incoming"):
            self.remote = event.get("to") or event.get("from")
        if state != "incoming":
            self._dismiss_incoming()
        timer = self._stats_timer
        if timer is not None:
            if state == "active":
                timer.resume()
            elif state == "ended":
                timer.pause()
        if state == "ended":
            reason = event.get("reason")
            self.notify(
                f"call with {self.remote or '?'} ended" + (f" ({reason})" if reason else ""),
                timeout=4,
            )

    def _handle_incoming(self, event: Event, at: float) -> None:
        caller = str(event.get("from", "?"))
        self.remote = caller
        self._dismiss_incoming()
        screen = IncomingCallScreen(caller, event.get("call"))
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

    def _handle_notice(self, event: Event, at: float) -> None:
        self.notify(str(event.get("message", "")), title="Notice", severity="warning", timeout=8)

    def _handle_error(self, event: Event, at: float) -> None:
        code = str(event.get("code", "error"))
        self.notify(str(event.get("message", "")), title=code, severity="error", timeout=8)

    def _handle_missed(self, event: Event, at: float) -> None:
        reason = event.get("reason")
        self.notify(
            f"missed call from {event.get('from', '?')}" + (f" ({reason})" if reason else ""),
            title="Missed call",
            severity="warning",
        )

    def _handle_signaling(self, event: Event, at: float) -> None:
        state = event.get("state")
        if state == "reconnecting":
            retry = event.get("retry_in")
            when = f"; retrying in {retry:.1f}s" if isinstance(retry, int | float) else ""
            self.notify(
                f"signaling connection lost{when}", title="Reconnecting", severity="warning"
            )
        elif state == "connected" and self._signaling_state == "reconnecting":
            self.notify("signaling connection restored", title="Connected", timeout=3)
        self._signaling_state = str(state)

    def _handle_ice_restart(self, event: Event, at: float) -> None:
        if event.get("phase") == "failed":
            reason = event.get("reason", "")
            kept = " — the call stays on the old path" if event.get("kept_old_path") else ""
            self.notify(f"ICE restart failed: {reason}{kept}", severity="error", timeout=8)

    # --- periodic work ---------------------------------------------------------------------

    def _tick(self) -> None:
        self.call_panel.now = self.clock()
        if self.call_state == "active":
            self._poll_stats()

    @work(group="stats", exclusive=True, exit_on_error=False)
    async def _poll_stats(self) -> None:
        try:
            await self.session.stats()
        except Exception as exc:
            if not _is_refusal(exc):
                logger.warning("stats failed: %s", exc)

    # --- commands -----------------------------------------------------------------------

    def refuse(self, message: str) -> None:
        """A short notice for an action that makes no sense now."""
        self.event_log.add_entry(LogEntry(self.clock(), "refused", message))
        self.notify(message, title="Not now", severity="warning", timeout=4)

    def run_command(
        self,
        label: str,
        command: Callable[[], Awaitable[None] | None],
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self._command_worker(label, command, on_refused)

    @work(group="commands", exit_on_error=False)
    async def _command_worker(
        self,
        label: str,
        command: Callable[[], Awaitable[None] | None],
        on_refused: Callable[[str], None] | None,
    ) -> None:
        try:
            result = command()
            if result is not None:
                await result
        except Exception as exc:
            if _is_refusal(exc):
                if on_refused is not None:
                    on_refused(str(exc))
                self.refuse(str(exc))
            else:
                logger.exception("%s failed", label)
                self.notify(f"{label} failed: {exc}", severity="error", timeout=8)

    def _in_call(self) -> bool:
        call = self.session.call
        return call is not None and not call.ended

    def action_dial(self) -> None:
        call = self.session.call
        if call is not None and not call.ended:
            self.refuse(f"already in a call with {call.remote_user}")
            return
        online = sorted(self.session.state.online - {self.session.state.user or ""})
        self.push_screen(DialScreen(online, cursor_blink=self.cursor_blink), self._dial_chosen)

    def _dial_chosen(self, name: str | None) -> None:
        if name:
            self.dial(name)

    def dial(self, name: str) -> None:
        self.run_command("dial", lambda: self.session.dial(name))

    def action_answer(self) -> None:
        self.run_command("answer", self.session.answer)

    def action_decline(self) -> None:
        self.run_command("decline", self.session.decline)

    def action_hangup(self) -> None:
        self.run_command("hang up", self.session.hangup)

    def action_mute(self) -> None:
        on = not self.session.state.muted
        self.run_command("mute", lambda: self.session.mute(on))

    def region_names(self) -> list[str]:
        return [region.name for region in self.session.settings.regions]

    def action_pick_region(self) -> None:
        regions = self.session.settings.regions
        if not regions:
            self.refuse("no regions configured: add [[regions]] to the config file")
            return
        choices = [
            (r.name, sum(1 if isinstance(s.urls, str) else len(s.urls) for s in r.ice_servers))
            for r in regions
        ]
        self.push_screen(
            RegionPickerScreen(choices, self.session.state.region), self._region_chosen
        )

    def _region_chosen(self, name: str | None) -> None:
        if name:
            self.switch_region(name)

    def action_next_region(self) -> None:
        names = self.region_names()
        if len(names) < 2:
            self.refuse("there is no other region to switch to")
            return
        current = self.session.state.region
        index = names.index(current) if current in names else -1
        self.switch_region(names[(index + 1) % len(names)])

    def switch_region(self, name: str) -> None:
        """Start a region switch and show its progress step by step."""
        call = self.session.call
        in_call = call is not None and not call.ended and call.peer is not None
        progress = self.ice_panel.progress
        progress.begin_region(name, self.clock(), in_call=in_call)
        before = self.session.state.region

        def refused(message: str) -> None:
            where = f"; still on region {before}" if before else ""
            progress.fail(message + where, self.clock())

        self.run_command("region switch", lambda: self.session.switch_region(name), refused)

    def action_restart_ice(self) -> None:
        call = self.session.call
        if call is None or call.ended or call.peer is None:
            self.refuse("there is no call whose ICE could restart")
            return
        progress = self.ice_panel.progress
        progress.begin_restart(self.clock())
        self.run_command(
            "restart ICE",
            self.session.restart_ice,
            lambda message: progress.fail(message, self.clock()),
        )

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
        call = self.session.call
        if call is not None and not call.ended:
            question = f"A call with {call.remote_user} is in progress.\nHang up and quit?"
            self.push_screen(ConfirmScreen(question, "Quit"), self._quit_confirmed)
            return
        await self._quit()

    async def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            await self._quit()

    async def _quit(self) -> None:
        await self._close_session()
        self.exit(0)
