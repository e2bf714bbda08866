"""What every part of the app shares: its state, its panels and the way it runs commands.

:class:`~softphone.ui.app.SoftphoneApp` is put together from mixins, one per
responsibility (session events in :mod:`softphone.ui.session_events`, key
actions in :mod:`softphone.ui.actions`); each mixin subclasses this class, so
it is type-checked against the same attributes and helpers. Every command runs
in a worker through the same :func:`~softphone.commands.execute` as headless:
a slow signaling round trip never freezes the screen, and a refused command
becomes a "Not now" notice, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.timer import Timer

from softphone.ui.clock import Clock
from softphone.ui.ui_state import UiState
from softphone.ui.widgets.call_controls import CallPanel
from softphone.ui.widgets.connection import ConnectionPanel
from softphone.ui.widgets.event_log import EventLog, LogEntry
from softphone.ui.widgets.ice_servers import IceServersPanel

if TYPE_CHECKING:
    from softphone.commands import Command
    from softphone.events import RegionProbed
    from softphone.session import SessionManager
    from softphone.ui.screens.incoming import IncomingCallScreen
    from softphone.ui.screens.main import MainScreen
    from softphone.views import RegionView, SessionView

logger = logging.getLogger("softphone.ui")

CLOSE_TIMEOUT = 10.0
STARTING = "starting…"


class SoftphoneBase(App[int]):
    """The shared state (set by ``SoftphoneApp.__init__``) and the helpers built on it."""

    session: SessionManager | None
    main: MainScreen
    clock: Clock
    origin: float
    state_dir: Path | None
    stats_interval: float
    cursor_blink: bool
    monitor_input: bool  # (1.2) read the mic between calls for the level meter
    ui_state: UiState
    last_copied: str | None
    call_state: str | None
    remote: str | None
    _incoming: IncomingCallScreen | None
    _unsubscribe: Callable[[], None] | None
    _stats_timer: Timer | None
    _meter_timer: Timer | None
    _closed: bool
    _signaling_state: str
    region_probes: dict[str, RegionProbed]  # the latest preflight figures, for the picker

    # --- panels -----------------------------------------------------------------

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

    # --- the session ------------------------------------------------------------------

    def regions(self) -> list[RegionView]:
        return [] if self.session is None else self.session.regions()

    def region_names(self) -> list[str]:
        return [region.name for region in self.regions()]

    async def _close_session(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import Quit, execute

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
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import CommandRefused, execute

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
