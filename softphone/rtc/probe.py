"""Preflight of every region: each URL probed, the candidates gathered, the regions ranked.

``softphone probe`` answers "which region would carry a call best, and what is
wrong with the others" before a call, from the same code a call uses: the
URL checks of :mod:`.server_check` and the gathering of :mod:`.gathering`.
All regions run at once, each step bounded by the one timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aioice import Connection

from .configuration import Configuration, parse_ice_url
from .gathering import gather
from .server_check import UrlProbe, probe_servers, url_transport


@dataclass(frozen=True)
class FoundCandidate:
    """One candidate a region yields; ``url`` is the server it came from (none for host)."""

    type: str
    protocol: str
    address: str
    port: int
    priority: int
    gather_ms: float
    url: str | None
    relay_protocol: str | None  # how a relay candidate reaches its TURN server


async def probe_regions(
    regions: Mapping[str, Configuration], *, samples: int = 5, timeout: float = 2.0
) -> dict[str, list[UrlProbe]]:
    """Every URL of every region, all at once."""
    results = await asyncio.gather(
        *(
            probe_servers(config.ice_servers, samples=samples, timeout=timeout)
            for config in regions.values()
        )
    )
    return dict(zip(regions, results, strict=True))


def ranking(results: Mapping[str, Sequence[UrlProbe]]) -> list[str]:
    """Regions with a working URL, best first: least loss, then shortest round trip."""
    scores = {}
    for name, probes in results.items():
        working = [(p.loss or 0.0, p.rtt_ms or 0.0) for p in probes if p.ok]
        if working:
            scores[name] = min(working)
    return sorted(scores, key=lambda name: (scores[name], name))


async def region_candidates(
    configuration: Configuration, host_addresses: Sequence[str], timeout: float
) -> list[FoundCandidate]:
    """What one gathering with ``configuration`` yields, on a connection closed afterwards."""
    connection = Connection(ice_controlling=True)
    try:
        result = await gather(
            connection, configuration, host_addresses, timeout=timeout, straggler_grace=timeout
        )
    finally:
        await connection.close()
    found = []
    for candidate in result.candidates:
        key = (candidate.host, candidate.port)
        url = result.urls.get(key)
        relay_protocol = None
        if url is not None and candidate.type == "relay":
            relay_protocol = url_transport(parse_ice_url(url))
        found.append(
            FoundCandidate(
                type=candidate.type,
                protocol=candidate.transport,
                address=candidate.host,
                port=candidate.port,
                priority=candidate.priority,
                gather_ms=round(result.found_ms.get(key, 0.0), 2),
                url=url,
                relay_protocol=relay_protocol,
            )
        )
    return found


async def gather_regions(
    regions: Mapping[str, Configuration], host_addresses: Sequence[str], timeout: float
) -> dict[str, list[FoundCandidate]]:
    """:func:`region_candidates` for every region at once."""
    results = await asyncio.gather(
        *(region_candidates(config, host_addresses, timeout) for config in regions.values())
    )
    return dict(zip(regions, results, strict=True))
