"""The connection panel: the four W3C states, the selected pair and live stats.

Stats arrive as cumulative counters about once a second; loss and bitrate
are computed here from the difference between two samples, so the panel
shows what is happening now rather than an average since the call began.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.markup import escape
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from softphone.ui.clock import format_offset
from softphone.ui.health import state_markup

if TYPE_CHECKING:
    from softphone.events import (
        Event,
        PairInfo,
        StatsReport,
    )

# Rows keyed by event name (the NAME of each state event: written out, so the first
# frame does not import softphone.events), in the order the W3C flow goes through them.
STATE_ROWS: tuple[tuple[str, str], ...] = (
    ("signaling-state", "signaling"),
    ("ice-gathering-state", "gathering"),
    ("ice-connection-state", "ICE"),
    ("connection-state", "peer"),
)
HISTORY = 60


@dataclass(frozen=True)
class LiveStats:
    """One rendered sample: what the panel shows, derived from two raw samples."""

    rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_percent: float | None = None
    send_kbps: float | None = None
    recv_kbps: float | None = None
    packets_sent: int = 0
    packets_received: int = 0
    packets_lost: int = 0


def pair_sides(pair: PairInfo | None) -> tuple[str, str]:
    """(local, remote) as ``relay udp 10.0.0.1:50000``; the url is shown by the ICE panel."""
    if pair is None:
        return ("—", "—")
    return (pair.local.describe(), pair.remote.describe())


class StatesView(Widget):
    DEFAULT_CSS = """
    StatesView { height: auto; }
    """

    states: reactive[dict[str, tuple[str, float]]] = reactive(dict, always_update=True)
    pair: reactive[PairInfo | None] = reactive(None)
    live: reactive[LiveStats | None] = reactive(None)
    origin: reactive[float] = reactive(0.0)

    def render(self) -> Content:
        lines = []
        for key, label in STATE_ROWS:
            entry = self.states.get(key)
            if entry is None:
                lines.append(f"[b]{label:<9}[/] {state_markup(None)}")
            else:
                state, at = entry
                lines.append(
                    f"[b]{label:<9}[/] {state_markup(state)} "
                    f"[$text-muted]{format_offset(at - self.origin)}[/]"
                )
        local, remote = pair_sides(self.pair)
        lines.append(f"[b]local[/]     {escape(local)}")
        lines.append(f"[b]remote[/]    {escape(remote)}")
        lines.extend(self._stats_lines())
        return Content.from_markup("\n".join(lines))

    def _stats_lines(self) -> list[str]:
        live = self.live
        if live is None:
            return ["[b]RTT[/] —  [b]jitter[/] —  [b]loss[/] —", "[b]rate[/] —"]

        def ms(value: float | None) -> str:
            return "—" if value is None else f"{value:.1f}ms"

        loss = "—" if live.loss_percent is None else f"{live.loss_percent:.1f}%"
        loss_style = "$error" if (live.loss_percent or 0) >= 2 else "$success"

        def kbps(value: float | None) -> str:
            return "—" if value is None else f"{value:.1f}"

        return [
            f"[b]RTT[/] {ms(live.rtt_ms)}  [b]jitter[/] {ms(live.jitter_ms)}  "
            f"[b]loss[/] [{loss_style}]{loss}[/]",
            f"[b]rate[/] ↑{kbps(live.send_kbps)} ↓{kbps(live.recv_kbps)} kb/s  "
            f"[$text-muted]{live.packets_received} pkts in[/]",
        ]


class ConnectionPanel(Vertical):
    """States + pair + stats, and sparklines of RTT and loss."""

    DEFAULT_CSS = """
    ConnectionPanel { height: auto; }
    ConnectionPanel .history { height: 1; }
    ConnectionPanel .history Label { width: auto; padding-right: 1; }
    ConnectionPanel .history Sparkline { width: 1fr; height: 1; margin-right: 1; }
    """

    def __init__(self, *, origin: float, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = "Connection"
        self._origin = origin
        self._last: tuple[float, StatsReport] | None = None
        self._calls: set[str] = set()  # the calls not yet ended
        self._waiting: set[str] = set()  # callers waiting while another call is up
        self.rtt_history: deque[float] = deque(maxlen=HISTORY)
        self.loss_history: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        view = StatesView(id="states")
        view.origin = self._origin
        yield view
        with Horizontal(classes="history"):
            yield Label("[b]RTT[/]")
            yield Sparkline([], id="rtt-history")
            yield Label("[b]loss[/]")
            yield Sparkline([], id="loss-history")

    @property
    def view(self) -> StatesView:
        return self.query_one(StatesView)

    def handle(self, event: Event, at: float) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import (
            CallStateChanged,
            ConnectionStateChanged,
            IceConnectionStateChanged,
            IceGatheringStateChanged,
            SelectedPairChanged,
            SignalingStateChanged,
            StatsReport,
        )

        view = self.view
        match event:
            case CallStateChanged(call=call, state=state):
                self._on_call_state(call, state)
            case (
                SignalingStateChanged()
                | IceGatheringStateChanged()
                | IceConnectionStateChanged()
                | ConnectionStateChanged()
            ):
                view.states = {**view.states, event.NAME: (event.state, at)}
            case SelectedPairChanged():
                view.pair = event.pair
            case StatsReport():
                self._on_stats(event, at)

    def _on_call_state(self, call: str, state: str) -> None:
        """Start afresh for the call whose peer connection reports from now on.

        **(1.2)** A caller waiting while another call is up has no peer
        connection yet: the panel keeps the call being talked to until the
        waiting one is answered.
        """
        if state == "ended":
            self._calls.discard(call)
            self._waiting.discard(call)
            return
        if state == "incoming" and self._calls:
            self._waiting.add(call)
        elif state == "dialing" or state == "incoming" or call in self._waiting:
            self._waiting.discard(call)
            self._reset()
        self._calls.add(call)

    def _reset(self) -> None:
        view = self.view
        view.states = {}
        view.pair = None
        view.live = None
        self._last = None
        self.rtt_history.clear()
        self.loss_history.clear()
        self._publish_history()

    def _on_stats(self, stats: StatsReport, at: float) -> None:
        view = self.view
        if stats.selected_pair is not None:
            view.pair = stats.selected_pair
        live = self._derive(stats, at)
        self._last = (at, stats)
        view.live = live
        if live.rtt_ms is not None:
            self.rtt_history.append(live.rtt_ms)
        if live.loss_percent is not None:
            self.loss_history.append(live.loss_percent)
        self._publish_history()

    def _derive(self, stats: StatsReport, at: float) -> LiveStats:
        sent = stats.packets_sent
        received = stats.packets_received
        lost = stats.packets_lost
        loss = send_kbps = recv_kbps = None
        if self._last is not None:
            then, before = self._last
            dt = at - then
            got = received - before.packets_received
            missed = lost - before.packets_lost
            if got + missed > 0:
                loss = 100.0 * max(0, missed) / (got + max(0, missed))
            if dt > 0:
                send_kbps = 8 * (stats.bytes_sent - before.bytes_sent) / dt / 1000
                recv_kbps = 8 * (stats.bytes_received - before.bytes_received) / dt / 1000
        elif received + lost > 0:
            loss = 100.0 * lost / (received + lost)
        return LiveStats(
            rtt_ms=stats.rtt_ms,
            jitter_ms=stats.jitter_ms,
            loss_percent=loss,
            send_kbps=send_kbps,
            recv_kbps=recv_kbps,
            packets_sent=sent,
            packets_received=received,
            packets_lost=lost,
        )

    def _publish_history(self) -> None:
        self.query_one("#rtt-history", Sparkline).data = list(self.rtt_history)
        self.query_one("#loss-history", Sparkline).data = list(self.loss_history)

    def copy_text(self) -> str | None:
        """The selected pair and the last stats as plain text, for the clipboard."""
        view = self.view
        if view.pair is None and view.live is None:
            return None
        local, remote = pair_sides(view.pair)
        lines = [f"local  {local}", f"remote {remote}"]
        live = view.live
        if live is not None:
            lines.append(
                f"rtt_ms={live.rtt_ms} jitter_ms={live.jitter_ms} loss_percent="
                f"{None if live.loss_percent is None else round(live.loss_percent, 2)} "
                f"packets_sent={live.packets_sent} packets_received={live.packets_received} "
                f"packets_lost={live.packets_lost}"
            )
        return "\n".join(lines)
