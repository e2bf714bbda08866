"""The ICE-servers panel: the region in force, its servers, and which one carries the call.

Servers come from the settings (never from an event) because only the
settings know whether a server has credentials; those are shown as ``***``
and nothing else about them ever reaches the screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.reactive import reactive
from textual.widget import Widget

from softphone.events import Event
from softphone.rtc.configuration import IceUrl, parse_ice_url, shown_url
from softphone.ui.clock import format_elapsed_ms
from softphone.ui.widgets.region_switch import SwitchProgress


class IceServerLike(Protocol):
    """What the panel reads of an ICE server (credentials only to say they exist)."""

    @property
    def urls(self) -> Sequence[str] | str: ...

    @property
    def username(self) -> str | None: ...

    @property
    def credential(self) -> str | None: ...


@dataclass(frozen=True)
class ServerRow:
    """One URL of a region, safe to render."""

    url: str
    kind: str
    transport: str
    has_credentials: bool
    parsed: IceUrl | None


@dataclass(frozen=True)
class Probe:
    """What the session reported about one server (``ice-server`` event), if anything."""

    ok: bool
    rtt_ms: float | None = None
    detail: str = ""


def server_rows(servers: Sequence[IceServerLike]) -> list[ServerRow]:
    rows: list[ServerRow] = []
    for server in servers:
        urls = (server.urls,) if isinstance(server.urls, str) else tuple(server.urls)
        for url in urls:
            rows.append(row_for_url(url, bool(server.username or server.credential)))
    return rows


def row_for_url(url: str, has_credentials: bool = False) -> ServerRow:
    try:
        parsed: IceUrl | None = parse_ice_url(url)
    except ValueError:
        parsed = None
    if parsed is None:
        kind = url.split(":", 1)[0].upper()[:5] or "?"
        return ServerRow(shown_url(url), kind, "?", has_credentials, None)
    kind = {"stun": "STUN", "stuns": "STUNS", "turn": "TURN", "turns": "TURNS"}[parsed.scheme]
    if parsed.scheme == "turns" or parsed.scheme == "stuns":
        transport = "tls"
    else:
        transport = parsed.transport or "udp"
    return ServerRow(shown_url(url), kind, transport, has_credentials, parsed)


def same_server(row: ServerRow, url: str | None) -> bool:
    """Does the candidate's server ``url`` name this row's server (spelling aside)?"""
    if not url or row.parsed is None:
        return False
    try:
        other = parse_ice_url(url)
    except ValueError:
        return url == row.url
    mine = row.parsed
    return (
        mine.is_turn == other.is_turn
        and mine.host.lower() == other.host.lower()
        and mine.port == other.port
        and (mine.transport or "udp") == (other.transport or "udp")
    )


class ServerList(Widget):
    DEFAULT_CSS = """
    ServerList { height: auto; }
    """

    region_name: reactive[str | None] = reactive(None, layout=True)
    rows: reactive[tuple[ServerRow, ...]] = reactive((), layout=True)
    carrier_url: reactive[str | None] = reactive(None, layout=True)
    pair_type: reactive[str | None] = reactive(None, layout=True)
    probes: reactive[dict[str, Probe]] = reactive(dict, always_update=True, layout=True)

    def render(self) -> Content:
        if self.region_name:
            region = escape(self.region_name)
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
            carries = same_server(row, self.carrier_url)
            carried = carried or carries
            marker = "[b $success]◆[/]" if carries else " "
            auth = " [$text-muted]auth ***[/]" if row.has_credentials else ""
            status = self._status(row, carries)
            lines.append(
                f"{marker} [b]{row.kind:<5}[/] {row.transport:<3} {escape(row.url)}{auth}{status}"
            )
        if self.pair_type and not carried:
            if self.pair_type == "host":
                lines.append("  [$text-muted]pair is direct (host): no server in the path[/]")
            elif self.pair_type in ("srflx", "prflx", "relay"):
                lines.append(
                    f"  [$text-muted]pair is {escape(self.pair_type)}; its server is not known[/]"
                )
        return Content.from_markup("\n".join(lines))

    def _status(self, row: ServerRow, carries: bool) -> str:
        probe = next(
            (p for url, p in self.probes.items() if url == row.url or same_server(row, url)),
            None,
        )
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

    def __init__(
        self, *, regions: dict[str, Sequence[IceServerLike]], origin: float, id: str | None = None
    ) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = "ICE servers"
        self._regions = regions
        self._origin = origin

    def compose(self) -> ComposeResult:
        yield ServerList(id="server-list")
        yield SwitchProgress(id="switch-progress")

    @property
    def servers(self) -> ServerList:
        return self.query_one(ServerList)

    @property
    def progress(self) -> SwitchProgress:
        return self.query_one(SwitchProgress)

    def show_region(self, name: str | None, urls: Sequence[str] = ()) -> None:
        servers = self.servers
        servers.region_name = name
        if name is not None and name in self._regions:
            servers.rows = tuple(server_rows(self._regions[name]))
        else:
            servers.rows = tuple(row_for_url(url) for url in urls)
        servers.probes = {}

    def handle(self, event: Event, at: float) -> None:
        name = event.name
        servers = self.servers
        if name == "region":
            self.show_region(event.get("name"), list(event.get("urls") or []))
        elif name == "selected-pair":
            self._on_pair(event.get("local"))
        elif name == "stats":
            pair = event.get("selected_pair")
            if isinstance(pair, dict):
                self._on_pair(pair.get("local"))
        elif name == "ice-restart" and event.get("phase") == "gathered":
            failures = event.get("failures") or []
            probes = dict(servers.probes)
            for failure in failures:
                if isinstance(failure, dict) and failure.get("url"):
                    url = shown_url(str(failure["url"]))
                    probes[url] = Probe(ok=False, detail=str(failure.get("reason") or ""))
            servers.probes = probes
        elif name == "ice-server":
            url = str(event.get("url", ""))
            probes = dict(servers.probes)
            rtt = event.get("rtt_ms")
            probes[shown_url(url)] = Probe(
                ok=bool(event.get("ok")),
                rtt_ms=float(rtt) if isinstance(rtt, int | float) else None,
                detail=str(event.get("error") or ""),
            )
            servers.probes = probes
        elif name == "call-state" and event.get("state") in ("dialing", "incoming", "ended"):
            servers.carrier_url = None
            servers.pair_type = None
        self.progress.handle(event, at)

    def _on_pair(self, local: Any) -> None:
        if not isinstance(local, dict):
            return
        servers = self.servers
        servers.carrier_url = local.get("url")
        servers.pair_type = local.get("type")
