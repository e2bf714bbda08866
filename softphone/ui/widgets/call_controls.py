"""The call-controls panel: who you are, your contacts, the calls, the mic, the keys.

**(1.2)** With more than one call the ``Call`` line shows the active one and a
``Waiting`` line the others (a caller waiting to be answered, a call on hold);
which is which is followed by :class:`~softphone.ui.call_lines.CallLines`.

The Mic row says what is really sent: muted, silence for want of a
microphone (what the notice said), the ``silence`` source, or live with a
level meter of what the source gives now (the app reads it from the session
about ten times a second, only while a call is up and this screen is shown).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.content import Content
from textual.geometry import Size
from textual.markup import escape
from textual.reactive import reactive
from textual.widget import Widget

from softphone.ui.call_lines import CallLine, CallLines
from softphone.ui.clock import format_duration
from softphone.ui.health import state_markup
from softphone.ui.keymap import ACTIONS
from softphone.ui.wrapping import wrap_items

if TYPE_CHECKING:
    from softphone.events import (
        Event,
    )
    from softphone.views import MicView

NBSP = "\u00a0"
KEYS_INDENT = 8
METER_CELLS = 10
METER_FLOOR_DB = -60.0


def level_meter(level: float) -> str:
    """``██████░░░░ -24dB``: the peak level on a -60..0 dBFS scale, one cell per 6 dB."""
    db = 20 * math.log10(level) if level > 0 else -math.inf
    cells = 0 if db <= METER_FLOOR_DB else round(METER_CELLS * (1 - db / METER_FLOOR_DB))
    cells = max(0, min(METER_CELLS, cells))
    shown = "-∞" if db == -math.inf else f"{max(db, -99):.0f}"
    bar = f"[$success]{'█' * cells}[/][$text-muted]{'░' * (METER_CELLS - cells)}[/]"
    return f"{bar} [$text-muted]{shown}dB[/]"


def mic_markup(muted: bool, mic: MicView | None, in_call: bool) -> str:
    """The Mic row: never ``live`` while silence is what goes out."""
    if muted:
        return "[b $error]MUTED[/]"
    if mic is None:
        return "[$success]live[/]"
    if mic.fallback:
        return "[b $error]no microphone[/] [$error]— sending silence[/]"
    if mic.spec.strip() == "silence":
        return "[$warning]silence[/] [$text-muted](--audio-in silence)[/]"
    if not in_call:
        name = f"[$text-muted]{escape(mic.source or mic.spec)}[/]"
        # (1.2) Between calls the monitored input's level, when it is monitored.
        return name if mic.level is None else f"{name} {level_meter(mic.level)}"
    if mic.level is None:
        return "[$success]live[/]"
    return f"[$success]live[/] {level_meter(mic.level)}"


def keys_lines(width: int) -> list[str]:
    """``d dial  a answer …``, wrapped so that no entry is split across lines."""
    items = [
        (
            f"{a.key_display} {a.label.lower()}",
            f"[b $accent]{escape(a.key_display)}[/] {escape(a.label.lower())}",
        )
        for a in ACTIONS
    ]
    return wrap_items(items, width)


class CallPanel(Widget):
    """Renders from reactive attributes only; the app feeds it session events."""

    DEFAULT_CSS = """
    CallPanel { height: auto; }
    """

    user: reactive[str] = reactive("", layout=True)
    signaling: reactive[str] = reactive("connecting", layout=True)
    signaling_detail: reactive[str] = reactive("", layout=True)
    contacts: reactive[tuple[tuple[str, bool], ...]] = reactive((), layout=True)
    call_state: reactive[str | None] = reactive(None, layout=True)
    remote: reactive[str | None] = reactive(None, layout=True)
    end_reason: reactive[str | None] = reactive(None, layout=True)
    active_at: reactive[float | None] = reactive(None, layout=True)
    now: reactive[float] = reactive(0.0)
    muted: reactive[bool] = reactive(False, layout=True)
    held: reactive[bool] = reactive(False, layout=True)
    held_remotely: reactive[bool] = reactive(False, layout=True)
    digits: reactive[str] = reactive("", layout=True)  # DTMF of the shown call, both ways
    others: reactive[tuple[CallLine, ...]] = reactive((), layout=True)
    dnd: reactive[bool] = reactive(False, layout=True)
    has_contacts: reactive[bool] = reactive(False, layout=True)
    mic: reactive[MicView | None] = reactive(None)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = "Call"
        self._presence: dict[str, bool] = {}
        self._calls = CallLines()
        self._width = 0

    # --- feeding ------------------------------------------------------------

    def set_contacts(self, contacts: Iterable[str]) -> None:
        """The configured contacts: listed (offline until said otherwise) even when away."""
        for name in contacts:
            self._presence.setdefault(name, False)
            self.has_contacts = True
        self._publish_contacts()

    def set_online(self, users: Iterable[str]) -> None:
        for name in list(self._presence):
            self._presence[name] = False
        for name in users:
            self._presence[name] = True
        self._publish_contacts()

    def handle(self, event: Event, at: float) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import (
            ActiveCallChanged,
            CallStateChanged,
            DndChanged,
            DtmfReceived,
            DtmfSent,
            HoldChanged,
            MuteChanged,
            PresenceChanged,
            Registered,
            SignalingChanged,
        )

        match event:
            case Registered(user=user, online=online):
                self.user = user
                self.set_online(online)
            case PresenceChanged(user=user, online=online):
                self._presence[user] = online
                self._publish_contacts()
            case SignalingChanged(state=state, detail=detail, retry_in=retry):
                self.signaling = state
                text = detail or ""
                if retry is not None:
                    text = f"{text}, retry in {retry:.1f}s" if text else f"retry in {retry:.1f}s"
                self.signaling_detail = text
            case MuteChanged(on=on):
                self.muted = on
            case DndChanged(on=on):
                self.dnd = on
            case (
                CallStateChanged()
                | ActiveCallChanged()
                | HoldChanged()
                | DtmfReceived()
                | DtmfSent()
            ):
                self._calls.handle(event, at)
                self._publish_calls(at)

    def _publish_calls(self, at: float) -> None:
        shown = self._calls.shown
        self.now = at
        self.others = self._calls.others
        if shown is None:
            return
        self.remote = shown.remote
        self.active_at = shown.active_at
        self.end_reason = shown.reason
        self.held = shown.held
        self.held_remotely = shown.held_remotely
        self.digits = shown.digits
        self.call_state = shown.state

    def _publish_contacts(self) -> None:
        self.contacts = tuple(sorted((n, on) for n, on in self._presence.items() if n != self.user))

    # --- rendering ------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Keep the width the layout measures with: the key list wraps to it.

        Asking ``content_size`` in :meth:`render` instead would look the widget
        up in the screen's map while that map is being built (an auto height is
        measured by rendering), and make Textual lay the whole screen out twice.
        """
        self._width = width
        return super().get_content_height(container, viewport, width)

    def render(self) -> Content:
        signaling = state_markup(self.signaling)
        if self.signaling_detail:
            signaling += f" [$text-muted]({escape(self.signaling_detail)})[/]"
        dnd = "  [b $warning]do not disturb[/]" if self.dnd else ""
        lines = [
            f"[b]You[/]     [b]{escape(self.user or '?')}[/]  {signaling}{dnd}",
            f"[b]Call[/]    {self._call_markup()}",
        ]
        lines.extend(f"[b]Waiting[/] {self._other_markup(line)}" for line in self.others)
        lines += [
            "[b]Mic[/]     " + mic_markup(self.muted, self.mic, self.call_state == "active"),
            f"[b]{'People' if self.has_contacts else 'Online'}[/]  {self._contacts_markup()}",
        ]
        width = self._width or self.content_size.width
        keys = keys_lines(max(12, width - KEYS_INDENT))
        lines.append(f"[b]Keys[/]    {keys[0]}")
        lines.extend(" " * KEYS_INDENT + line for line in keys[1:])
        return Content.from_markup("\n".join(lines))

    def _call_markup(self) -> str:
        state = self.call_state
        who = escape(self.remote or "?")
        if state is None:
            return "[$text-muted]idle — press [b]d[/b] to dial[/]"
        if state == "dialing":
            return f"{state_markup('dialing')} {who}…"
        if state == "ringing":
            return f"{state_markup('ringing')} at {who}…"
        if state == "incoming":
            return f"{state_markup('incoming')} from [b]{who}[/]"
        if state == "active":
            since = self.active_at if self.active_at is not None else self.now
            talked = format_duration(self.now - since)
            if self.held:
                text = f"[b $warning]on hold[/] with [b]{who}[/]  {talked} — [b]s[/b] resumes"
            else:
                text = f"{state_markup('active')} with [b]{who}[/]  {talked}"
            return text + self._held_by_markup(who) + self._digits_markup()
        reason = f" ({escape(self.end_reason)})" if self.end_reason else ""
        return f"[$text-muted]ended{reason} — was with {who}[/]"

    def _held_by_markup(self, who: str) -> str:
        """``held by bob`` while the peer holds us (we may hold it too), else nothing."""
        return f"  [b $warning]held by {who}[/]" if self.held_remotely else ""

    def _digits_markup(self) -> str:
        return f"  [$text-muted]DTMF[/] {escape(self.digits)}" if self.digits else ""

    def _other_markup(self, line: CallLine) -> str:
        who = escape(line.remote)
        if line.state == "incoming":
            keys = "[b]a[/b] answers, [b]x[/b] declines"
            return f"{state_markup('incoming')} from [b]{who}[/] — {keys}"
        if line.state in ("dialing", "ringing"):
            return f"{state_markup(line.state)} {who}…"
        since = line.active_at if line.active_at is not None else self.now
        hold = "[b $warning]on hold[/]" if line.held else state_markup(line.state)
        by = f" [b $warning]held by {who}[/]" if line.held_remotely else ""
        talked = format_duration(self.now - since)
        return f"{hold} with [b]{who}[/]{by}  {talked} — [b]s[/b] switches"

    def _contacts_markup(self) -> str:
        if not self.contacts:
            return "[$text-muted]nobody else online[/]"
        parts = [
            f"[$success]●[/]{NBSP}{escape(name)}"
            if online
            else f"[$text-muted]○{NBSP}{escape(name)}[/]"
            for name, online in self.contacts
        ]
        return "  ".join(parts)
