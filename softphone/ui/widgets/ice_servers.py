"""The ICE-servers panel: the region in force, its servers, and which one carries the call.

Servers come from the session's region views (never from an event) because
only the configuration knows whether a server has credentials; those are
shown as ``***`` and nothing else about them ever reaches the screen. The
server carrying the pair is the one whose URL the local candidate names: the
session reports both in the same credential-free spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.reactive import reactive
from textual.widget import Widget

from softphone.ui.clock import format_elapsed_ms
from softphone.ui.widgets.region_switch import SwitchProgress

if TYPE_CHECKING:
    from softphone.events import (
        CandidateInfo,
        Event,
    )
    from softphone.views import IceServerView, RegionView


@dataclass(frozen=True)
class Probe:
    """What the session reported about one server (``ice-server`` event), if anything."""

    ok: bool
    rtt_ms: float | None = None
    detail: str = ""


class ServerList(Widget):
    DEFAULT_CSS = """
    ServerList { height: auto; }
    """

    region_name: reactive[str | None] = reactive(None, layout=True)
    rows: reactive[tuple[IceServerView, ...]] = reactive((), layout=True)
    starting: reactive[bool] = reactive(False, layout=True)
    carrier_url: reactive[str | None] = reactive(None, layout=True)
    pair_type: reactive[str | None] = reactive(None, layout=True)
    probes: reactive[dict[str, Probe]] = reactive(dict, always_update=True, layout=True)

    def render(self) -> Content:
        if self.region_name:
            region = escape(self.region_name)
        elif self.starting:
            region = "[$text-muted]starting…[/]"
        else:
            region = "[$text-muted](none configured)[/]"
        count = len(self.rows)
        header = f"[b]Region[/] [b $accent]{region}[/]  [$text-muted]{count} server URL"
        header += "s[/]" if count != 1 else "[/]"
        lines = [header]
        if not self.rows:
            lines.append("  [$text-muted]no ICE servers: host candidates only[/]")
        carried = False
        for row in self.rows:
            carries = row.url == self.carrier_url
            carried = carried or carries
            marker = "[b $success]◆[/]" if carries else " "
            auth = " [$text-muted]auth ***[/]" if row.has_credentials else ""
            status = self._status(row, carries)
            lines.append(
                f"{marker} [b]{row.kind.upper():<5}[/] {row.transport:<3} "
                f"{escape(row.url)}{auth}{status}"
            )
        if self.pair_type and not carried:
            if self.pair_type == "host":
                lines.append("  [$text-muted]pair is direct (host): no server in the path[/]")
            elif self.pair_type in ("srflx", "prflx", "relay"):
                lines.append(
                    f"  [$text-muted]pair is {escape(self.pair_type)}; its server is not known[/]"
                )
        return Content.from_markup("\n".join(lines))

    def _status(self, row: IceServerView, carries: bool) -> str:
        probe = self.probes.get(row.url)
        text = ""
        if probe is not None:
            if probe.ok:
                rtt = ""
                if probe.rtt_ms is not None:
                    rtt = f" {format_elapsed_ms(probe.rtt_ms / 1000)}"
                text = f"  [$success]✓ answered{rtt}[/]"
            else:
                text = f"  [$error]✗ {escape(probe.detail or 'no answer')}[/]"
        elif carries:
            text = "  [$success]✓ answered[/]"
        if carries:
            text += "  [b $success]carries the pair[/]"
        return text


class IceServersPanel(Vertical):
    DEFAULT_CSS = """
    IceServersPanel { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = "ICE servers"

    def compose(self) -> ComposeResult:
        yield ServerList(id="server-list")
        yield SwitchProgress(id="switch-progress")

    @property
    def servers(self) -> ServerList:
        return self.query_one(ServerList)

    @property
    def progress(self) -> SwitchProgress:
        return self.query_one(SwitchProgress)

    def show_region(self, name: str | None, region: RegionView | None) -> None:
        """The region in force (``region``: its servers, from the session's views)."""
        servers = self.servers
        servers.starting = False
        servers.region_name = name
        servers.rows = region.servers if region is not None else ()
        servers.probes = {}

    def handle(self, event: Event, at: float) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import (
            CallStateChanged,
            IceRestartGathered,
            IceServerChecked,
            SelectedPairChanged,
            StatsReport,
        )

        servers = self.servers
        match event:
            case SelectedPairChanged(local=local):
                self._on_pair(local)
            case StatsReport(selected_pair=pair) if pair is not None:
                self._on_pair(pair.local)
            case IceRestartGathered(failures=failures):
                probes = dict(servers.probes)
                for failure in failures:
                    probes[failure.url] = Probe(ok=False, detail=failure.reason)
                servers.probes = probes
            case IceServerChecked(url=url, ok=ok, rtt_ms=rtt_ms, error=error):
                servers.probes = {
                    **servers.probes,
                    url: Probe(ok=ok, rtt_ms=rtt_ms, detail=error or ""),
                }
            case CallStateChanged(state="dialing" | "incoming" | "ended"):
                servers.carrier_url = None
                servers.pair_type = None
        self.progress.handle(event, at)

    def _on_pair(self, local: CandidateInfo) -> None:
        servers = self.servers
        servers.carrier_url = local.url
        servers.pair_type = local.type
