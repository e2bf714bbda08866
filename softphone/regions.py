"""Regions as the session holds them: shown to front ends, and renewed by the server.

A server that mints TURN credentials (TURN REST API, ``softphone serve`` with
``shared_secret`` entries) pushes the same regions again with fresh
credentials before the old ones lapse. Only regions that came from the server
are renewed this way; regions the user configured are the user's and stay as
they are. Kept apart from the session manager, which only decides when to
apply what this module computes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from softphone.config import Region
from softphone.events import GatheringFailure
from softphone.rtc.configuration import IceServer, parse_ice_url, shown_url
from softphone.views import IceServerView, RegionView


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
        if "(401 " in failure.reason
    ]
