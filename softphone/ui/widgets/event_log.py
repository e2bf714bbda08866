"""The event log: every session event as one line, scrollable and filterable.

Entries are kept as data, not only as rendered lines, so a new filter or a
theme change re-renders them all with the right colours.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color, ColorParseError
from textual.containers import Vertical
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import Input

from softphone.ui.clock import format_offset

if TYPE_CHECKING:
    from textual.widgets import RichLog

    from softphone.events import (
        Event,
    )

MAX_ENTRIES = 2000
# Fields that are noise on one line (they are in the stats panel already).
_QUIET_FIELDS = {"call"}


@dataclass(frozen=True)
class LogEntry:
    at: float
    kind: str
    text: str
    color: str = "foreground"  # a theme variable

    def line(self, origin: float) -> str:
        return f"{format_offset(self.at - origin):>9} {self.kind:<20} {self.text}"


def describe(event: Event) -> str:
    """A compact, credential-free one-line summary of an event's fields."""
    # Loaded after the first frame (tests/test_ui_start.py checks).
    from softphone.events import (
        ErrorReported,
        Notice,
        SelectedPairChanged,
    )

    match event:
        case ErrorReported(code=code, message=message):
            return f"{code}: {message}"
        case Notice(message=message):
            return message
        case SelectedPairChanged():
            return event.pair.describe()
    parts = []
    for key, value in event.to_json().items():
        if key == "event" or key in _QUIET_FIELDS:
            continue
        if isinstance(value, str | int | float | bool) or value is None:
            parts.append(f"{key}={value}")
        else:
            parts.append(f"{key}={json.dumps(value, separators=(',', ':'))}")
    return " ".join(parts)


def _color_for(event: Event) -> str:
    """The theme colour of each kind of line: what a region switch goes through stands out."""
    from softphone import events as ev  # not on the first frame

    if isinstance(event, ev.ErrorReported):
        return "error"
    if isinstance(event, ev.Notice | ev.MediaLost | ev.StandbyFailed):
        return "warning"
    accent = (
        ev.IceRestart
        | ev.ConfigurationSet
        | ev.RegionChanged
        | ev.SelectedPairChanged
        | ev.FailedOver
        | ev.StandbyReady
    )
    if isinstance(event, accent):
        return "accent"
    if isinstance(event, ev.DescriptionEvent | ev.NegotiationNeeded):
        return "primary"
    return "foreground"


class EmptyLog(ScrollView, can_focus=True):
    """What the log shows until its first line: an empty RichLog, without RichLog.

    Importing RichLog loads ``rich.pretty`` (and ``attr``), and styling it costs
    more than this plain widget: about a tenth of the first frame's work. It
    looks like an empty RichLog (same colours, the same scrollbar, the same
    focus tint) and is replaced by one when the first line is written.
    """

    DEFAULT_CSS = """
    EmptyLog {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def render(self) -> str:
        return ""


class EventLog(Vertical):
    """``/`` opens the filter; Esc in the filter clears it and returns to the log."""

    DEFAULT_CSS = """
    EventLog { height: 1fr; min-height: 5; }
    EventLog > Input { display: none; height: 1; border: none; padding: 0 1; }
    EventLog > Input.-shown { display: block; }
    EventLog > RichLog, EventLog > EmptyLog { height: 1fr; scrollbar-size-vertical: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=False)
    ]

    def __init__(self, *, origin: float, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = "Event log"
        self._origin = origin
        self.entries: deque[LogEntry] = deque(maxlen=MAX_ENTRIES)
        self.filter_text = ""
        self._lines: RichLog | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: text to match, Esc clears", id="log-filter")
        yield EmptyLog(id="log-empty")

    @property
    def lines(self) -> RichLog:
        """The RichLog of the lines, put in place of the empty log when first asked for."""
        if self._lines is None:
            from textual.widgets import RichLog  # not on the first frame: see EmptyLog

            log = RichLog(id="log-lines", wrap=False, markup=False, max_lines=MAX_ENTRIES)
            empty = self.query_one(EmptyLog)
            self.mount(log, after=empty)
            if empty.has_focus:
                log.focus()
            empty.remove()
            self._lines = log
        return self._lines

    def _view(self) -> Widget:
        """The widget that shows the lines now (and takes the focus back from the filter)."""
        return self.query_one(EmptyLog) if self._lines is None else self._lines

    def add(self, event: Event, at: float) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import StatsReport

        if isinstance(event, StatsReport):
            return  # once a second: it would drown every other line
        self.add_entry(LogEntry(at, event.NAME, describe(event), _color_for(event)))

    def add_entry(self, entry: LogEntry) -> None:
        self.entries.append(entry)
        if self._matches(entry):
            self.lines.write(self._render_entry(entry))

    def visible_lines(self) -> list[str]:
        return [e.line(self._origin) for e in self.entries if self._matches(e)]

    def _matches(self, entry: LogEntry) -> bool:
        if not self.filter_text:
            return True
        return self.filter_text.lower() in entry.line(self._origin).lower()

    def _theme_style(self, variable: str, *, bold: bool = False) -> Style:
        """A theme colour as a Rich style (RichLog lines are Rich text, not markup)."""
        variables = self.app.theme_variables
        try:
            color = Color.parse(variables[variable])
            if color.a < 1:
                color = Color.parse(variables.get("background", "black")) + color
        except (KeyError, ColorParseError):
            return Style(bold=bold)
        return Style(color=color.rich_color, bold=bold)

    def _render_entry(self, entry: LogEntry) -> Text:
        color = entry.color
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{format_offset(entry.at - self._origin):>9} ", Style(dim=True))
        text.append(f"{entry.kind:<20} ", self._theme_style(color, bold=True))
        text.append(entry.text, self._theme_style(color))
        return text

    def rerender(self) -> None:
        if self._lines is not None or self.entries:
            log = self.lines
            log.clear()
            for entry in self.entries:
                if self._matches(entry):
                    log.write(self._render_entry(entry))
        self.border_subtitle = f"filter: {self.filter_text}" if self.filter_text else ""

    def open_filter(self) -> None:
        field = self.query_one(Input)
        field.add_class("-shown")
        field.focus()

    @on(Input.Changed, "#log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.rerender()

    @on(Input.Submitted, "#log-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._view().focus()

    def action_clear_filter(self) -> None:
        field = self.query_one(Input)
        field.value = ""
        field.remove_class("-shown")
        self.filter_text = ""
        self.rerender()
        self._view().focus()
