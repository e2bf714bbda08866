"""The session's regions: which one is in force, switching, falling back, and renewal.

The session manager owns calls; this module owns where their ICE servers come
from. A region switch is setConfiguration then restartIce; the fallback region
is put in force when a path dies; each region announced is probed
(``ice-server`` events). A server that mints TURN credentials (TURN REST API,
``softphone serve`` with ``shared_secret`` entries) offers its regions in
``welcome`` and pushes them again with fresh credentials before the old ones
lapse. Only regions that came from the server are renewed this way; regions
the user configured are the user's and stay as they are.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any, Protocol

from softphone import events as ev
from softphone.call import Call
from softphone.commands import CommandRefused
from softphone.config import AUTO_REGION, ConfigError, Region, Settings, regions_from_data
from softphone.events import GatheringFailure
from softphone.preflight import Preflight
from softphone.rtc.configuration import (
    Configuration,
    IceServer,
    describe_urls,
    parse_ice_url,
    shown_url,
)
from softphone.rtc.errors import DOMException
from softphone.rtc.server_check import check_servers
from softphone.views import IceServerView, RegionView


class RegionHolder(Protocol):
    """Where the current region's name is kept for the front ends (the session's state)."""

    region: str | None


Spawn = Callable[[Coroutine[Any, Any, None]], None]


class SessionRegions:
    """The regions of one session and the configuration in force.

    ``settings`` is replaced, never changed in place, when the server's regions
    are adopted or renewed; ``configuration`` is what a new call starts with.
    """

    def __init__(
        self,
        settings: Settings,
        holder: RegionHolder,
        emit: Callable[[ev.Event], None],
        spawn: Spawn,
        *,
        check_ice_servers: bool,
    ) -> None:
        # region = "auto": start in the first region, move to the best once the probe answers.
        self._auto = settings.region == AUTO_REGION
        if self._auto:
            settings = replace(
                settings, region=settings.regions[0].name if settings.regions else None
            )
        self.settings = settings
        self.configuration = settings.configuration_for(settings.region)
        self.preflight = Preflight(emit)
        # The call a region chosen by the preflight is applied to (set by the session).
        self.live_call: Callable[[], Call | None] = lambda: None
        self._holder = holder
        self._emit = emit
        self._spawn = spawn
        # Probing each ICE server (ice-server events) is on for users; screen
        # snapshots turn it off because round-trip times differ every run.
        self._check_ice_servers = check_ice_servers
        # The regions that came from the server: only these take its fresh credentials.
        self._from_server: frozenset[str] = frozenset()

    @property
    def current(self) -> str | None:
        return self._holder.region

    def views(self) -> list[RegionView]:
        return [region_view(region) for region in self.settings.regions]

    def announce_start(self) -> None:
        if self.settings.region is not None:
            self._put_in_force(self.settings.region, self.configuration)
        if self._auto and self.settings.regions:
            self.probe(auto=True)

    def probe(self, *, auto: bool = False) -> None:
        """Probe every region in the background (``region-probe`` events, then a ranking).

        ``auto``: then switch to the best region, unless the user chose one meanwhile.
        """
        regions = {r.name: self.settings.configuration_for(r.name) for r in self.settings.regions}
        self.preflight.start(regions, auto=auto, on_ranked=self._adopt_best if auto else None)

    def _adopt_best(self, order: list[str]) -> None:
        if not self._auto:
            return  # the user picked a region while the probe ran: theirs stands
        self._auto = False
        if not order:
            self._emit(
                ev.Notice(message=f'region auto: no region answered; staying on "{self.current}"')
            )
            return
        if order[0] != self.current:
            self._switch(order[0], self.live_call())

    def switch(self, name: str, call: Call | None) -> None:
        """setConfiguration with the new servers, then restartIce (docs/protocol.md section 2)."""
        self._auto = False
        self._switch(name, call)

    def _switch(self, name: str, call: Call | None) -> None:
        try:
            configuration = self.settings.configuration_for(self.settings.region_named(name).name)
        except ConfigError as exc:
            raise CommandRefused("unknown-region", str(exc)) from exc
        if call is None or call.peer is None:
            self._put_in_force(name, configuration)
            return
        failure = f'setConfiguration for region "{name}" failed'
        still = f'still on region "{self.current}"'
        if not self._applied(call, configuration, failure, still=still):
            return
        self._put_in_force(name, configuration)
        self._emit(ev.ConfigurationSet(region=name, urls=tuple(describe_urls(configuration))))
        call.restart_ice()

    def fall_back(
        self, call: Call, to: str | None = None, configuration: Configuration | None = None
    ) -> str | None:
        """The path died: put a fallback region in force so the coming restart gathers there.

        ``to`` is the region (default ``fallback_region``) and ``configuration``
        its configuration when one is already in use for it (the warm standby's,
        whose credentials the restart must match). Returns the region put in force.
        """
        fallback = to or self.settings.fallback_region
        if not fallback or fallback == self.current or call.peer is None:
            return None
        try:
            if configuration is None:
                configuration = self.settings.configuration_for(fallback)
            call.set_configuration(configuration)
        except (ConfigError, DOMException) as exc:
            self._emit(ev.ErrorReported(code="fallback-failed", message=str(exc)))
            return None
        self._put_in_force(fallback, configuration)
        return fallback

    def offered(self, data: Any, call: Call | None) -> None:
        """Regions from ``welcome`` or a ``regions`` push (docs/protocol.md section 1).

        The first offer is adopted when the user configured no regions; later
        ones (a push before minted credentials lapse, a welcome after a
        reconnect) renew the credentials of the adopted regions.
        """
        if self.settings.regions and not self._from_server:
            return  # the user's own regions stand
        try:
            regions = regions_from_data(list(data), "server regions")
        except ConfigError as exc:
            self._emit(ev.ErrorReported(code="bad-regions", message=str(exc)))
            return
        if self._from_server:
            self._renew(regions, call)
            return
        first = regions[0].name if regions else None
        self.settings = replace(self.settings, regions=regions, region=first)
        self._from_server = frozenset(r.name for r in regions)
        self._emit(ev.RegionsAdopted(names=tuple(r.name for r in regions), source="server"))
        if first is not None and call is None:
            self._put_in_force(first, self.settings.configuration_for(first))
        if self._auto and regions:
            self.probe(auto=True)

    def _renew(self, fresh: tuple[Region, ...], call: Call | None) -> None:
        """Fresh TURN credentials for the server's regions; a live call gets them at once.

        setConfiguration with the same servers and new credentials is allowed
        (W3C) and restarts nothing: the call keeps its path, and its next
        gathering (a region switch, an ICE restart) authenticates with them.
        """
        regions, names = renewed(self.settings.regions, fresh, self._from_server)
        if not names:
            return
        self.settings = replace(self.settings, regions=regions)
        applied: str | None = None
        current = self.current
        if current in names:
            configuration = self.settings.configuration_for(current)
            if call is not None:
                failure = f'fresh credentials for region "{current}" not applied'
                if not self._applied(call, configuration, failure, about_call=True):
                    return
                applied = call.id if call.peer is not None else None
            self.configuration = configuration
        renewed_regions = [r for r in regions if r.name in names]
        self._emit(
            ev.CredentialsRefreshed(
                regions=names, expires_in=expires_in(renewed_regions), call=applied
            )
        )

    def _applied(
        self,
        call: Call,
        configuration: Configuration,
        failure: str,
        *,
        still: str = "",
        about_call: bool = False,
    ) -> bool:
        """setConfiguration on ``call``; a W3C refusal is an ``error`` event, nothing changes."""
        try:
            call.set_configuration(configuration)
        except DOMException as exc:
            message = f"{failure}: {exc}; {still}" if still else f"{failure}: {exc}"
            self._emit(
                ev.ErrorReported(
                    code=exc.name, message=message, call=call.id if about_call else None
                )
            )
            return False
        return True

    def _put_in_force(self, name: str, configuration: Configuration) -> None:
        self.configuration = configuration
        self._holder.region = name
        self._emit(ev.RegionChanged(name=name, urls=tuple(describe_urls(configuration))))
        if self._check_ice_servers and configuration.ice_servers:
            self._spawn(self._check_servers(name, configuration))

    async def _check_servers(self, region: str, configuration: Configuration) -> None:
        """One ``ice-server`` event per URL: did it answer, and its round-trip time."""
        for check in await check_servers(configuration.ice_servers):
            self._emit(
                ev.IceServerChecked(
                    region=region,
                    url=shown_url(check.url),
                    ok=check.ok,
                    rtt_ms=check.rtt_ms,
                    error=check.error or None,
                )
            )


def region_view(region: Region) -> RegionView:
    """A configured region as the front ends may show it: no credential, only that one exists."""
    return RegionView(
        name=region.name,
        servers=tuple(
            server_view(url, server) for server in region.ice_servers for url in server.urls
        ),
    )


def server_view(url: str, server: IceServer) -> IceServerView:
    """One URL of ``server``; the configuration was validated, so the URL parses."""
    parsed = parse_ice_url(url)
    secure = parsed.scheme in ("stuns", "turns")
    return IceServerView(
        url=shown_url(url),
        kind=parsed.scheme,
        transport="tls" if secure else (parsed.transport or "udp"),
        host=parsed.host,
        port=parsed.port,
        has_credentials=bool(server.username or server.credential),
    )


def renewed(
    current: Sequence[Region], fresh: Sequence[Region], from_server: frozenset[str]
) -> tuple[tuple[Region, ...], tuple[str, ...]]:
    """``current`` with every server-offered region replaced by its ``fresh`` copy.

    Returns the regions and the names renewed, in configuration order. A fresh
    region the session does not have, or one the user configured, is left out.
    """
    by_name = {region.name: region for region in fresh}
    regions: list[Region] = []
    names: list[str] = []
    for region in current:
        replacement = by_name.get(region.name) if region.name in from_server else None
        if replacement is None:
            regions.append(region)
        else:
            regions.append(replacement)
            names.append(region.name)
    return tuple(regions), tuple(names)


def expires_in(regions: Sequence[Region], now: float | None = None) -> int | None:
    """Seconds until the first minted credential of ``regions`` lapses; None if none says.

    TURN REST usernames start with their unix expiry (``"<expiry>:<user>"``),
    which is all a client can know of a credential's lifetime.
    """
    expiries = [
        int(prefix)
        for region in regions
        for server in region.ice_servers
        if server.username is not None
        for prefix in [server.username.partition(":")[0]]
        if prefix.isdigit() and ":" in server.username
    ]
    if not expiries:
        return None
    return max(0, min(expiries) - int(time.time() if now is None else now))


def credential_refusals(failures: Sequence[GatheringFailure]) -> list[str]:
    """One sentence for each TURN server that refused our credentials (STUN error 401).

    The gathering failure says "401 - Unauthorized"; this says what it means
    for the user, naming the server, never the credential.
    """
    return [
        f"{failure.url} refused the TURN credentials (401 Unauthorized): "
        "they are wrong or have expired"
        for failure in failures
        if _REFUSED_CREDENTIALS.search(failure.reason)
    ]


# A gathering failure's reason for a 401: "TURN refused: 401 Unauthorized: …"
# (softphone.rtc.server_check.refusal), or aioice's own "… (401 - Unauthorized)".
_REFUSED_CREDENTIALS = re.compile(r"(?:^TURN refused: |\()401\b")
