"""The main screen: the three panels and the event log.

The plain-letter keys are bound here rather than on the app, so a modal on
top (the incoming call, the dial box) hides them: pressing ``h`` while the
incoming-call modal is up must not hang up.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from softphone.ui.keymap import screen_bindings
from softphone.ui.widgets.call_controls import CallPanel
from softphone.ui.widgets.connection import ConnectionPanel
from softphone.ui.widgets.event_log import EventLog
from softphone.ui.widgets.ice_servers import IceServersPanel


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*screen_bindings()]
    # Focus goes to the first focusable widget (the scrolling body) after the first
    # frame, not before it: focusing restyles the body and everything in it, and the
    # focused body looks the same as the unfocused one.
    AUTO_FOCUS = ""

    class Ready(Message):
        """The panels exist; the app may now fill them and subscribe to the session."""

    def __init__(self, *, origin: float) -> None:
        super().__init__(id="main")
        self._origin = origin

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            with Grid(id="panels"):
                yield CallPanel(id="call")
                yield ConnectionPanel(origin=self._origin, id="connection")
                yield IceServersPanel(id="ice")
            yield EventLog(origin=self._origin, id="log")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.post_message(self.Ready())
        self.call_after_refresh(self._focus_first)

    def _focus_first(self) -> None:
        if self.focused is None and self.focus_chain:
            self.set_focus(self.focus_chain[0])
