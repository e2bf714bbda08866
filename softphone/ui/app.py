"""The terminal softphone: a Textual front end of the session manager.

The app sends commands (:mod:`softphone.commands`) and renders typed events
(:mod:`softphone.events`); what it shows of a call or a region comes from the
session's read-only views, never from a call or its peer connection. It is put
together from one mixin per responsibility: the shared state and command
runner (:mod:`softphone.ui.base`), the session and its events
(:mod:`softphone.ui.session_events`) and the key actions
(:mod:`softphone.ui.actions`); this module holds the layout, the lifecycle and
the theme.

No module of ``softphone.ui`` imports the session, call, RTC or media modules
at module level, nor the typed events, commands and views (imported inside the
functions that use them: they load with the session, after the first frame);
the modal screens are imported when first pushed, and the event log's RichLog
with its first line: the first frame only pays for the main screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding

from softphone.ui.actions import Actions
from softphone.ui.clock import Clock, monotonic
from softphone.ui.commands import SoftphoneCommands
from softphone.ui.keymap import global_bindings
from softphone.ui.screens.main import MainScreen
from softphone.ui.session_events import SessionEvents, SessionFactory
from softphone.ui.themes import DEFAULT_THEME, discover_themes
from softphone.ui.ui_state import load_ui_state, save_ui_state

if TYPE_CHECKING:
    from softphone.session import SessionManager

APP_CSS = Path(__file__).with_name("app.tcss")


class SoftphoneApp(SessionEvents, Actions):
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
        monitor_input: bool = True,
    ) -> None:
        themes = discover_themes()
        super().__init__(css_path=[APP_CSS, *(t.path for t in themes)])
        for theme_file in themes:
            self.register_theme(theme_file.theme)
        self.session = None
        self._factory = None
        if callable(session):
            self._factory = session
        else:
            self.session = session
        self.clock = clock or monotonic
        self.origin = self.clock()
        self.state_dir = state_dir
        self.stats_interval = stats_interval
        self.cursor_blink = cursor_blink
        self.monitor_input = monitor_input
        self.ui_state = load_ui_state(state_dir)
        self.last_copied = None
        self.call_state = None
        self.remote = None
        self._theme_warning: str | None = None
        self._theme_ready = False
        self._incoming = None
        self._peers = {}
        self._unsubscribe = None
        self._stats_timer = None
        self._meter_timer = None
        self._closed = False
        self._signaling_state = "connecting"
        self.region_probes = {}
        self._set_initial_theme(theme)

    # --- layout and lifecycle -----------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        self.main = MainScreen(origin=self.origin)
        return self.main

    def on_mount(self) -> None:
        if self._theme_warning is not None:
            self.notify(self._theme_warning, severity="warning")

    async def on_unmount(self) -> None:
        await self._close_session()

    # --- theme ------------------------------------------------------------------------

    def _set_initial_theme(self, wanted: str | None) -> None:
        """Before the stylesheet is first parsed: set at mount, every rule would be parsed,
        and every widget styled and laid out, a second time before the first frame."""
        name = wanted or self.ui_state.theme or DEFAULT_THEME
        if name not in self.available_themes:
            self._theme_warning = f"unknown theme {name!r}; using {DEFAULT_THEME}"
            name = DEFAULT_THEME
        dark = self.available_themes[name].dark
        if dark == self.current_theme.dark:
            # What Textual's theme watcher does, less the stylesheet refresh it queues:
            # that would parse every rule again and restyle the app before the first frame.
            # (A light theme changes the ANSI colour filter too: the watcher does that.)
            self.set_reactive(App.theme, name)
            self.set_class(True, f"-theme-{name}", update=False)
            self.set_class(dark, "-dark-mode", update=False)
            self.set_class(not dark, "-light-mode", update=False)
            self.stylesheet.set_variables(self.get_css_variables())
        else:
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
