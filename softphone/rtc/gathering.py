"""Candidate gathering from every configured STUN and TURN URL.

aioice gathers from only the first STUN and the first TURN server, so one
dead server sinks a whole region; it also leaves out 127.0.0.1, so a
loopback-only machine gathers nothing. This module replaces gathering for one
aioice ``Connection`` at a time (never by patching aioice globals), using
aioice's own ``server_reflexive_candidate`` and ``relayed_candidate`` helpers,
with every wait bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import ifaddr
from aioice import Candidate, Connection
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import StunProtocol, relayed_candidate, server_reflexive_candidate
from aioice.stun import TransactionFailed
from aioice.turn import UDP_SOCKET_BUFFER_SIZE

from . import internals
from .configuration import Configuration, IceUrl, parse_ice_url, shown_url
from .server_check import refusal

logger = logging.getLogger(__name__)

#: Longest wait for any STUN/TURN server during one gathering.
GATHER_TIMEOUT = 5.0
#: Once one server answered, how much longer the others get before we go on
#: without them (a dead first TURN server must not delay the restart by the
#: whole timeout).
GATHER_STRAGGLER_GRACE = 1.5


def default_host_addresses() -> list[str]:
    """docs/protocol.md §3: non-loopback addresses, or 127.0.0.1 when there is no other."""
    addresses: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                if not ipaddress.ip_address(ip.ip).is_loopback:
                    addresses.append(ip.ip)
            else:
                addr = ipaddress.ip_address(ip.ip[0])
                if not addr.is_loopback and not addr.is_link_local:
                    addresses.append(ip.ip[0])
    return addresses or ["127.0.0.1"]


@dataclass
class GatherResult:
    """What one gathering produced; ``urls`` maps a local candidate to its server URL.

    ``found_ms`` is when each candidate came, in ms since the gathering began
    (what ``softphone probe --candidates`` shows, like the Trickle ICE page).
    """

    candidates: list[Candidate] = field(default_factory=list)
    urls: dict[tuple[str, int], str] = field(default_factory=dict)
    found_ms: dict[tuple[str, int], float] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason), no secrets
    elapsed_ms: float = 0.0


async def gather(
    connection: Connection,
    configuration: Configuration,
    host_addresses: Sequence[str],
    *,
    timeout: float = GATHER_TIMEOUT,
    straggler_grace: float = GATHER_STRAGGLER_GRACE,
) -> GatherResult:
    """Gather host, srflx and relay candidates for ``connection`` and install them."""
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    result = GatherResult()
    relay_only = configuration.ice_transport_policy == "relay"

    # Host sockets. With the relay policy they are not gathered (RFC 9429 §3.5.3).
    host_protocols: list[StunProtocol] = []
    if not relay_only:
        for address in host_addresses:
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: StunProtocol(connection), local_addr=(address, 0)
                )
            except OSError as exc:
                result.failures.append((f"host:{address}", str(exc)))
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE)
            host, port = transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=1,
                transport="udp",
                priority=candidate_priority(1, "host"),
                host=host,
                port=port,
                type="host",
            )
            host_protocols.append(protocol)
            result.candidates.append(protocol.local_candidate)
            result.found_ms[(host, port)] = (time.monotonic() - start) * 1000

    protocols: list[StunProtocol] = list(host_protocols)
    Found = tuple[Candidate, StunProtocol | None]
    tasks: dict[asyncio.Future[Found], str] = {}
    for server in configuration.ice_servers:
        for url in server.urls:
            try:
                parsed: IceUrl = parse_ice_url(url)
            except Exception as exc:  # validated earlier; be safe anyway
                result.failures.append((shown_url(url), f"bad URL: {exc}"))
                continue
            if parsed.scheme == "stun":
                if relay_only:
                    continue
                for protocol in host_protocols:
                    if ipaddress.ip_address(protocol.local_candidate.host).version != 4:
                        continue
                    srflx: asyncio.Future[Found] = asyncio.ensure_future(
                        server_reflexive_candidate(protocol, (parsed.host, parsed.port))
                    )
                    tasks[srflx] = parsed.url
            elif parsed.scheme in ("turn", "turns"):
                transport_name = parsed.transport or ("tcp" if parsed.scheme == "turns" else "udp")
                relay: asyncio.Future[Found] = asyncio.ensure_future(
                    relayed_candidate(
                        component=1,
                        hide_related_address=relay_only,
                        protocol_factory=lambda: StunProtocol(connection),
                        turn_server=(parsed.host, parsed.port),
                        turn_username=server.username,
                        turn_password=server.credential,
                        turn_ssl=parsed.scheme == "turns",
                        turn_transport=transport_name,
                    )
                )
                tasks[relay] = parsed.url
            else:
                result.failures.append((shown_url(url), f"{parsed.scheme}: not supported"))

    pending = set(tasks)
    deadline = start + timeout
    answered = False
    while pending:
        now = time.monotonic()
        if now >= deadline:
            break
        done, pending = await asyncio.wait(
            pending, timeout=deadline - now, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            url = shown_url(tasks[task])
            error = task.exception()
            if error is not None:
                result.failures.append((url, _reason(error)))
                continue
            candidate, relay_protocol = task.result()
            answered = True
            if relay_protocol is not None:
                protocols.append(relay_protocol)
            elif any(
                c.host == candidate.host and c.port == candidate.port for c in result.candidates
            ):
                continue  # srflx equal to a host candidate is redundant (RFC 8445 §5.1.3)
            result.candidates.append(candidate)
            result.urls[(candidate.host, candidate.port)] = url
            result.found_ms[(candidate.host, candidate.port)] = (time.monotonic() - start) * 1000
        if answered and pending:
            deadline = min(deadline, time.monotonic() + straggler_grace)
    for task in pending:
        task.cancel()
        result.failures.append((shown_url(tasks[task]), "no answer (timed out)"))
    if pending:
        await asyncio.wait(pending)

    internals.set_local_candidates(connection, result.candidates, protocols)
    result.elapsed_ms = (time.monotonic() - start) * 1000
    for url, reason in result.failures:
        logger.info("gathering: %s failed: %s", url, reason)
    return result


def _reason(exc: BaseException) -> str:
    """A short reason that never carries credentials (aioice errors do not include them)."""
    if isinstance(exc, TransactionFailed):
        return f"TURN refused: {refusal(exc)}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
