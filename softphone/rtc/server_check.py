"""Does each ICE server of a region answer, how fast, and does it allocate?

Gathering only says which candidates came back; an operator looking at a
region wants each server's own answer and round-trip time before switching a
live call to it. A STUN Binding request answers that for STUN and TURN servers
alike (TURN servers are STUN servers, RFC 8656 section 3), sent over the
transport the URL names (UDP, TCP, or TLS for ``turns:``/``stuns:``), so a
blocked transport shows as such. With credentials, an Allocate request then
says whether the server would relay a call, and if not, its STUN error code.

One checker serves both the session's ``ice-server`` events (:func:`check_url`,
no credential sent) and ``softphone probe`` (:func:`probe_url`). It runs on
aioice's own STUN transactions and TURN client protocols (``aioice.stun``,
``aioice.turn``), which frame STUN over TCP and answer the long-term
credential challenge; the one unexported thing used is the protocols'
``transactions`` table, where a Binding transaction is registered so that its
response is routed to it (aioice 0.13.0; ``TurnClientMixin.request`` does the
same but always retransmits, which would hide loss).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aioice import stun, turn

from .configuration import IceServer, IceUrl, parse_ice_url, shown_url

ProbeTransport = Literal["udp", "tcp", "tls"]

#: A Binding sample not answered within this long counts as lost (STUN's first RTO).
SAMPLE_WAIT = stun.RETRY_RTO


@dataclass(frozen=True)
class ServerCheck:
    """One URL's answer: ``ok`` with ``rtt_ms``, or the ``error`` that says why not."""

    url: str
    ok: bool
    rtt_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class UrlProbe:
    """One URL over one transport; ``url`` never carries credentials.

    ``rtt_ms`` is the median Binding round trip and ``loss`` the share of
    samples unanswered; ``allocate_ms`` and ``relay`` are set for a TURN URL
    that allocated. ``ok``: answered and, for TURN, allocated.
    """

    url: str
    transport: ProbeTransport
    ok: bool
    rtt_ms: float | None = None
    loss: float | None = None
    allocate_ms: float | None = None
    relay: str | None = None
    error: str | None = None


def url_transport(parsed: IceUrl) -> ProbeTransport:
    """The transport a URL names: ``turns:``/``stuns:`` are TLS, else ``?transport=`` or UDP."""
    return parsed.wire_transport


def tls_context() -> ssl.SSLContext:
    """How a TURN/STUN server's certificate is checked: the system store, as browsers do.

    ``ssl.create_default_context`` also honours ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR``, which is how a private CA (or the tests' one) is trusted.
    """
    return ssl.create_default_context()


async def _open(
    parsed: IceUrl, server: IceServer | None, transport: ProbeTransport, timeout: float
) -> turn.TurnClientProtocol:
    loop = asyncio.get_running_loop()
    address = (parsed.host, parsed.port)
    username = server.username if server else None
    password = server.credential if server else None
    args = (address, username, password)
    lifetime, refresh = turn.DEFAULT_ALLOCATION_LIFETIME, turn.DEFAULT_CHANNEL_REFRESH_TIME
    if transport == "udp":
        _, udp = await loop.create_datagram_endpoint(
            lambda: turn.TurnClientUdpProtocol(*args, lifetime, refresh), remote_addr=address
        )
        return udp
    _, tcp = await asyncio.wait_for(
        loop.create_connection(
            lambda: turn.TurnClientTcpProtocol(*args, lifetime, refresh),
            parsed.host,
            parsed.port,
            ssl=tls_context() if transport == "tls" else None,
        ),
        timeout,
    )
    return tcp


async def _binding_ms(protocol: turn.TurnClientProtocol, wait: float) -> float | None:
    """One Binding request sent once; its round trip, or None when unanswered."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    transaction = stun.Transaction(request, protocol.server, protocol, retransmissions=0)
    protocol.transactions[request.transaction_id] = transaction
    started = time.perf_counter()
    try:
        await asyncio.wait_for(transaction.run(), wait)
    except stun.TransactionFailed:
        pass  # an error response is an answer all the same
    except (stun.TransactionTimeout, TimeoutError):
        return None
    finally:
        del protocol.transactions[request.transaction_id]
    return (time.perf_counter() - started) * 1000


def refusal(exc: stun.TransactionFailed) -> str:
    """A TURN error response in words; a 401 after the credentials were sent means wrong ones."""
    code, raw = exc.response.attributes.get("ERROR-CODE", (0, "no error code"))
    reason = raw.rstrip("\x00")  # coturn pads the reason phrase with NULs
    if code == 401:
        return f"401 {reason}: wrong credentials (username or credential refused)"
    if code == 440:  # RFC 6156: aioice asks for no family, so the server must relay IPv4
        return (
            f"440 {reason}: the server has no IPv4 relay address, and this client"
            " (aioice) can only ask for IPv4 relays"
        )
    return f"{code} {reason}"


def _reason(exc: BaseException, timeout: float) -> str:
    """Why a check failed, in words; aioice's and the OS's errors carry no credentials."""
    if isinstance(exc, TimeoutError | stun.TransactionTimeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, stun.TransactionFailed):
        return refusal(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


async def _bindings(
    protocol: turn.TurnClientProtocol, samples: int, deadline: float
) -> tuple[list[float], int]:
    """Up to ``samples`` Binding round trips, one after the other, until ``deadline``."""
    rtts: list[float] = []
    sent = 0
    while sent < samples:
        wait = min(SAMPLE_WAIT, deadline - time.perf_counter())
        if wait <= 0:
            break
        sent += 1
        rtt = await _binding_ms(protocol, wait)
        if rtt is not None:
            rtts.append(rtt)
    return rtts, sent


async def _allocate(protocol: turn.TurnClientProtocol, deadline: float) -> tuple[float, str]:
    """An allocation's time and relayed address; it is deleted at once."""
    started = time.perf_counter()
    relay = await asyncio.wait_for(protocol.connect(), max(0.0, deadline - time.perf_counter()))
    allocate_ms = round((time.perf_counter() - started) * 1000, 2)
    # Not deleted in time: the server frees it when its lifetime ends (RFC 8656 section 6).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(protocol.delete(), max(0.1, deadline - time.perf_counter()))
    host, port = relay[:2]
    return allocate_ms, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def probe_url(
    url: str, server: IceServer | None = None, *, samples: int = 5, timeout: float = 2.0
) -> UrlProbe:
    """Check one URL over its transport; with ``server``'s credentials, allocate on TURN.

    Never raises, never takes much longer than ``timeout``.
    """
    shown = shown_url(url)
    try:
        parsed = parse_ice_url(url)
    except Exception as exc:
        return UrlProbe(shown, "udp", False, error=str(exc))
    transport = url_transport(parsed)
    deadline = time.perf_counter() + timeout
    protocol: turn.TurnClientProtocol | None = None
    rtt_ms = loss = None
    try:
        protocol = await _open(parsed, server, transport, timeout)
        rtts, sent = await _bindings(protocol, samples, deadline)
        rtt_ms, loss = _summary(rtts, sent)
        if not rtts:
            raise TimeoutError
        if not (parsed.is_turn and server is not None):
            return UrlProbe(shown, transport, True, rtt_ms, loss)
        allocate_ms, relay = await _allocate(protocol, deadline)
        return UrlProbe(shown, transport, True, rtt_ms, loss, allocate_ms, relay)
    except Exception as exc:
        return UrlProbe(shown, transport, False, rtt_ms, loss, error=_reason(exc, timeout))
    finally:
        if protocol is not None:
            protocol.transport.close()


def _summary(rtts: list[float], sent: int) -> tuple[float | None, float | None]:
    rtt = round(statistics.median(rtts), 2) if rtts else None
    return rtt, (round(1 - len(rtts) / sent, 3) if sent else None)


async def probe_servers(
    servers: Sequence[IceServer], *, samples: int = 5, timeout: float = 2.0
) -> list[UrlProbe]:
    """:func:`probe_url` on every URL of every server at once, with its credentials."""
    return list(
        await asyncio.gather(
            *(
                probe_url(url, server, samples=samples, timeout=timeout)
                for server in servers
                for url in server.urls
            )
        )
    )


async def check_url(url: str, timeout: float = 2.0) -> ServerCheck:
    """Check one ICE server URL without credentials; never raises, never waits past ``timeout``."""
    result = await probe_url(url, samples=3, timeout=timeout)
    return ServerCheck(url, result.ok, result.rtt_ms, result.error)


async def check_servers(servers: Sequence[IceServer], timeout: float = 2.0) -> list[ServerCheck]:
    """Check every URL of every server at once."""
    urls = [url for server in servers for url in server.urls]
    return list(await asyncio.gather(*(check_url(url, timeout) for url in urls)))
