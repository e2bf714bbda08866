"""Does each ICE server of a region answer, and how fast?

Gathering only says which candidates came back; an operator looking at a
region wants each server's own answer and round-trip time before switching a
live call to it. A STUN Binding request answers that for STUN and TURN servers
alike (TURN servers are STUN servers, RFC 8656 section 3); over TCP, the
connect time stands in. No credential is sent: a Binding request needs none.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .configuration import IceServer, IceUrl, parse_ice_url

BINDING_REQUEST = 0x0001
MAGIC_COOKIE = 0x2112A442


@dataclass(frozen=True)
class ServerCheck:
    """One URL's answer: ``ok`` with ``rtt_ms``, or the ``error`` that says why not."""

    url: str
    ok: bool
    rtt_ms: float | None = None
    error: str | None = None


class _BindingProtocol(asyncio.DatagramProtocol):
    def __init__(self, transaction: bytes, answered: asyncio.Future[float]) -> None:
        self._transaction = transaction
        self._answered = answered

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) >= 20 and data[8:20] == self._transaction and not self._answered.done():
            self._answered.set_result(time.perf_counter())

    def error_received(self, exc: Exception) -> None:
        if not self._answered.done():
            self._answered.set_exception(exc)


async def _udp_binding(host: str, port: int, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    transaction = os.urandom(12)
    request = struct.pack("!HHI", BINDING_REQUEST, 0, MAGIC_COOKIE) + transaction
    answered: asyncio.Future[float] = loop.create_future()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _BindingProtocol(transaction, answered), remote_addr=(host, port), family=family
    )
    try:
        started = time.perf_counter()
        deadline = started + timeout
        # Retransmit like STUN does (RFC 8489 section 6.2.1), within the budget.
        interval = 0.1
        while True:
            transport.sendto(request)
            wait = min(interval, deadline - time.perf_counter())
            if wait <= 0:
                raise TimeoutError
            try:
                done_at = await asyncio.wait_for(asyncio.shield(answered), wait)
                return (done_at - started) * 1000
            except TimeoutError:
                interval *= 2
    finally:
        transport.close()


async def _tcp_connect(host: str, port: int, timeout: float) -> float:
    started = time.perf_counter()
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    rtt = (time.perf_counter() - started) * 1000
    writer.close()
    return rtt


async def check_url(url: str, timeout: float = 2.0) -> ServerCheck:
    """Check one ICE server URL; never raises, never waits longer than ``timeout``."""
    try:
        parsed: IceUrl = parse_ice_url(url)
    except Exception as exc:
        return ServerCheck(url, False, error=str(exc))
    tcp = parsed.transport == "tcp" or parsed.scheme in ("stuns", "turns")
    try:
        if tcp:
            rtt = await _tcp_connect(parsed.host, parsed.port, timeout)
        else:
            rtt = await _udp_binding(parsed.host, parsed.port, timeout)
    except TimeoutError:
        return ServerCheck(url, False, error=f"no answer within {timeout:g} s")
    except OSError as exc:
        return ServerCheck(url, False, error=exc.strerror or type(exc).__name__)
    return ServerCheck(url, True, rtt_ms=round(rtt, 2))


async def check_servers(servers: Sequence[IceServer], timeout: float = 2.0) -> list[ServerCheck]:
    """Check every URL of every server at once."""
    urls = [url for server in servers for url in server.urls]
    return list(await asyncio.gather(*(check_url(url, timeout) for url in urls)))
