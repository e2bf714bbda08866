"""ICE generations behind one transport: make-before-break for aiortc's DTLS.

aiortc binds a DTLS transport to one aioice ``Connection`` for life, so an ICE
restart there means a new DTLS handshake (or a dead call). Here each ICE
generation (one ``Connection``, its own ufrag/pwd, sockets and TURN
allocations) feeds one shared receive queue; DTLS reads from that queue and
sends through whichever generation is active. A restart gathers and checks a
new generation while media keeps flowing on the old one; once the new one has
a selected pair, sends move to it, and the old one is released once the
peer's packets arrive on the new one (the peer switches on its own schedule),
after a short linger and within a bound.

``IceTransport`` offers exactly what ``RTCDtlsTransport`` calls on its ICE
transport (see ``internals.DTLS_ICE_TRANSPORT_METHODS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence

from aioice import Candidate, Connection, stun
from aioice.ice import CandidatePair

from . import internals
from .configuration import Configuration, parse_ice_url
from .errors import RTCSyntaxError
from .gathering import GatherResult, gather
from .packet_queue import PacketQueue
from .stats import CandidateInfo, SelectedPair

logger = logging.getLogger(__name__)

_serials = itertools.count(1)


class IceGeneration:
    """One ICE generation: an aioice Connection with its own credentials and candidates."""

    def __init__(
        self,
        *,
        controlling: bool,
        on_data: Callable[[IceGeneration, bytes], None],
        triggered_check_fix: bool = True,
    ) -> None:
        self.serial = next(_serials)
        self.connection = Connection(ice_controlling=controlling, components=1)
        self.gathered: GatherResult | None = None
        self.state = "new"  # new, gathering, gathered, checking, connected, failed, closed
        self.remote_ufrag: str | None = None
        self.last_rx = 0.0
        self._remote_end = False
        self._gather_task: asyncio.Future[GatherResult] | None = None
        self._connect_task: asyncio.Future[bool] | None = None
        self._close_task: asyncio.Future[None] | None = None
        internals.install_data_receiver(self.connection, lambda data: on_data(self, data))
        if triggered_check_fix:
            internals.install_triggered_check_fix(self.connection)

    def __repr__(self) -> str:
        return f"IceGeneration({self.serial}, {self.ufrag}, {self.state})"

    @property
    def ufrag(self) -> str:
        return self.connection.local_username

    @property
    def pwd(self) -> str:
        return self.connection.local_password

    @property
    def local_candidates(self) -> list[Candidate]:
        return self.connection.local_candidates

    @property
    def remote_candidates(self) -> list[Candidate]:
        return self.connection.remote_candidates

    async def gather(
        self, configuration: Configuration, host_addresses: Sequence[str]
    ) -> GatherResult:
        """Gather once; concurrent callers share the same gathering."""
        if self._gather_task is None:
            self.state = "gathering"
            self._gather_task = asyncio.ensure_future(
                gather(self.connection, configuration, host_addresses)
            )
        result = await asyncio.shield(self._gather_task)
        self.gathered = result
        if self.state == "gathering":
            self.state = "gathered"
        return result

    def hold_checks(self, seconds: float) -> None:
        """Hold our checks until the peer's first check (at most ``seconds``); see internals."""
        if self._connect_task is None and not self.connection.remote_is_lite:
            internals.install_check_gate(self.connection, seconds)

    def set_remote(self, ufrag: str, pwd: str, ice_lite: bool = False) -> None:
        self.remote_ufrag = ufrag
        self.connection.remote_username = ufrag
        self.connection.remote_password = pwd
        self.connection.remote_is_lite = ice_lite

    async def add_remote_candidate(self, candidate: Candidate | None) -> None:
        """Add a remote candidate (None = end); late or repeated ends are ignored."""
        if self._remote_end or self.state == "closed":
            return
        if candidate is None:
            self._remote_end = True
        await self.connection.add_remote_candidate(candidate)

    async def connect(self, timeout: float) -> tuple[bool, str]:
        """Run the checks, bounded by ``timeout``; returns (success, reason)."""
        if self._connect_task is None:
            self.state = "checking"
            self._connect_task = asyncio.ensure_future(self._connect())
        done, _ = await asyncio.wait({self._connect_task}, timeout=timeout)
        if not done:
            self.state = "failed"
            return False, f"no candidate pair succeeded within {timeout:g} s"
        ok = self._connect_task.result()
        if not ok:
            return False, "every candidate pair failed"
        return True, ""

    async def _connect(self) -> bool:
        try:
            await self.connection.connect()
        except ConnectionError:
            if self.state != "closed":
                self.state = "failed"
            return False
        if self.state == "closed":
            return False
        self.state = "connected"
        return True

    def nominated(self) -> CandidatePair | None:
        return internals.nominated_pair(self.connection)

    def selected_pair(self) -> SelectedPair | None:
        pair = self.nominated()
        if pair is None:
            return None
        local = pair.local_candidate
        remote = pair.remote_candidate
        urls = self.gathered.urls if self.gathered else {}
        url = urls.get((local.host, local.port))
        return SelectedPair(
            local=CandidateInfo(
                type=local.type,
                protocol=local.transport.lower(),
                address=local.host,
                port=local.port,
                url=url,
                relay_protocol=_relay_protocol(local.type, url),
            ),
            remote=CandidateInfo(
                type=remote.type,
                protocol=remote.transport.lower(),
                address=remote.host,
                port=remote.port,
            ),
        )

    def close(self) -> asyncio.Future[None]:
        """Release sockets and TURN allocations in the background; idempotent, never cancelled."""
        if self._close_task is None:
            self.state = "closed"
            if self._gather_task is not None and not self._gather_task.done():
                # Closing must wait for gathering so the allocations it makes are released too.
                gather_task = self._gather_task

                async def close_after_gather() -> None:
                    await asyncio.wait({gather_task})
                    await self.connection.close()

                self._close_task = asyncio.ensure_future(close_after_gather())
            else:
                self._close_task = internals.close_connection_in_background(self.connection)
            self._close_task.add_done_callback(_log_close_error)
        return self._close_task


def _log_close_error(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.info("closing an ICE generation failed: %r", task.exception())


def no_candidates_reason(gen: IceGeneration) -> str:
    """Why gathering ``gen`` found nothing, without credentials."""
    failures = gen.gathered.failures if gen.gathered else []
    if not failures:
        return "no candidates: no ICE server configured for this policy"
    return "no candidates: " + "; ".join(f"{url}: {reason}" for url, reason in failures)


class IceTransport:
    """The ICE transport a DTLS transport sees: one queue in, the active generation out."""

    def __init__(
        self,
        *,
        linger: float = 2.0,
        switch_timeout: float = 10.0,
        nominate_interval: float = 0.1,
    ) -> None:
        self.active: IceGeneration | None = None
        self._controlling = False
        self._queue: PacketQueue[bytes | None] = PacketQueue()
        self._linger = linger
        self._switch_timeout = switch_timeout
        self._nominate_interval = nominate_interval
        self._generations: list[IceGeneration] = []
        self._closing_tasks: set[asyncio.Future[None]] = set()
        self._nominations: set[asyncio.Future[None]] = set()  # no Connection.close() inside
        self.last_rx = 0.0
        self.rx_packets = 0
        self.rtt_ms: float | None = None

    # --- what RTCDtlsTransport uses ---------------------------------------------------------

    @property
    def role(self) -> str:
        if self.active is not None:
            return "controlling" if self.active.connection.ice_controlling else "controlled"
        return "controlling" if self._controlling else "controlled"

    async def _recv(self) -> bytes:
        data = await self._queue.get()
        if data is None:
            self._queue.put_nowait(None)  # stay closed for any later reader
            raise ConnectionError("ICE transport closed")
        return data

    async def _send(self, data: bytes) -> None:
        """Send on the active generation; with none (or a send error) the packet is dropped.

        A ConnectionError reaching aiortc's RTCRtpSender stops it for good,
        so a failing path must look like loss, never like an error.
        """
        gen = self.active
        if gen is None:
            return
        with contextlib.suppress(ConnectionError, OSError):
            pending = internals.send_datagram(gen.connection, data)
            if pending is not None:
                await pending

    # --- generations --------------------------------------------------------------------------

    def set_controlling(self, controlling: bool) -> None:
        self._controlling = controlling

    @property
    def controlling(self) -> bool:
        if self.active is not None:
            return bool(self.active.connection.ice_controlling)
        return self._controlling

    def new_generation(self, *, triggered_check_fix: bool = True) -> IceGeneration:
        gen = IceGeneration(
            controlling=self.controlling,
            on_data=self._on_data,
            triggered_check_fix=triggered_check_fix,
        )
        self._generations.append(gen)
        return gen

    @property
    def checking(self) -> bool:
        """Whether some generation is running its connectivity checks (a restart under way)."""
        return any(gen.state == "checking" for gen in self._generations)

    def generation_by_ufrag(self, ufrag: str) -> IceGeneration | None:
        for gen in self._generations:
            if gen.ufrag == ufrag and gen.state != "closed":
                return gen
        return None

    def generation_by_remote_ufrag(self, ufrag: str) -> IceGeneration | None:
        for gen in reversed(self._generations):
            if gen.remote_ufrag == ufrag and gen.state != "closed":
                return gen
        return None

    def _on_data(self, gen: IceGeneration, data: bytes) -> None:
        now = time.monotonic()
        gen.last_rx = now
        self.last_rx = now
        self.rx_packets += 1
        self._queue.put_nowait(data)

    def activate(self, gen: IceGeneration) -> IceGeneration | None:
        """Move sends to ``gen``; the previous generation is retired once the peer moved too."""
        previous = self.active
        self.active = gen
        self.rtt_ms = None  # a new path: its own RTT
        if previous is not None and previous is not gen:
            task = asyncio.ensure_future(self._retire(previous, gen))
            self._closing_tasks.add(task)
            task.add_done_callback(self._closing_tasks.discard)
        return previous

    async def _retire(self, previous: IceGeneration, gen: IceGeneration) -> None:
        """Close ``previous`` once the peer's packets arrive on ``gen`` (bounded).

        The peer switches paths on its own schedule: libwebrtc as the
        controlled side keeps sending on its old pair until it has registered
        our nomination on the new one and checked that pair itself. Closing
        the old generation after a fixed delay cut the call until the peer
        timed its old pair out (~2.7 s). So the old generation stays open at
        least ``linger`` seconds and until data arrives on ``gen``, at most
        ``switch_timeout`` seconds; meanwhile the controlling side repeats
        its nomination of the new pair.
        """
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        deadline = loop.time() + max(self._switch_timeout, self._linger)
        earliest = loop.time() + self._linger
        next_nomination = loop.time() + self._nominate_interval
        while self.active is gen and gen.state != "closed":
            now = loop.time()
            moved = gen.last_rx > started
            if now >= deadline or (moved and now >= earliest):
                break
            if not moved and now >= next_nomination:
                next_nomination = now + self._nominate_interval
                self._spawn_nomination(gen)
            await asyncio.sleep(min(0.02, self._nominate_interval))
        if self.active is previous:
            return
        await asyncio.wait({previous.close()})
        if previous in self._generations:
            self._generations.remove(previous)

    def _spawn_nomination(self, gen: IceGeneration) -> None:
        """One USE-CANDIDATE check on ``gen``'s selected pair, if we are controlling."""
        pair = gen.nominated()
        connection = gen.connection
        if pair is None or not connection.ice_controlling or connection.remote_password is None:
            return
        request = internals.nomination_request(connection, pair)

        async def nominate() -> None:
            with contextlib.suppress(stun.TransactionError, ConnectionError, OSError):
                await pair.protocol.request(
                    request,
                    pair.remote_addr,
                    integrity_key=internals.remote_password_key(connection),
                    retransmissions=0,
                )

        task = asyncio.ensure_future(nominate())
        self._nominations.add(task)
        task.add_done_callback(self._nominations.discard)

    def release(self, gen: IceGeneration, delay: float = 0.0) -> None:
        """Close ``gen`` (after ``delay``) unless it became active meanwhile."""
        if gen is self.active and delay == 0.0:
            self.active = None

        async def later() -> None:
            if delay:
                await asyncio.sleep(delay)
            if gen is self.active:
                return
            await asyncio.wait({gen.close()})
            if gen in self._generations:
                self._generations.remove(gen)

        task = asyncio.ensure_future(later())
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)

    async def consent_check(self, timeout_retransmissions: int = 2) -> float | None:
        """One Binding request on the active pair; returns its RTT in ms, None on failure.

        aioice gives up on a try after 0.5 s, then doubles the wait: with no
        retransmission a slow but working path (RTT over 500 ms: a satellite
        hop, a congested uplink) would fail every check and be taken for dead.
        Two retransmissions answer a path up to ~3.5 s of RTT and survive a
        lost request; a caller in a hurry (the media watch) bounds the wait itself.
        """
        gen = self.active
        if gen is None or gen.connection.remote_password is None:
            return None
        pair = gen.nominated()
        if pair is None:
            return None
        request = internals.consent_request(gen.connection, pair)
        start = time.monotonic()
        try:
            await pair.protocol.request(
                request,
                pair.remote_addr,
                integrity_key=internals.remote_password_key(gen.connection),
                retransmissions=timeout_retransmissions,
            )
        except (stun.TransactionError, ConnectionError, OSError):
            return None
        rtt = (time.monotonic() - start) * 1000
        self.rtt_ms = rtt if self.rtt_ms is None else 0.8 * self.rtt_ms + 0.2 * rtt
        return rtt

    async def close(self, timeout: float = 2.0) -> None:
        """Close every generation, waiting at most ``timeout`` (a dead TURN server takes ~30 s)."""
        self.active = None
        for task in self._nominations:
            task.cancel()
        closes = {gen.close() for gen in self._generations}
        closes |= set(self._closing_tasks)
        self._queue.put_nowait(None)
        if closes:
            await asyncio.wait(closes, timeout=timeout)


def _relay_protocol(candidate_type: str, url: str | None) -> str | None:
    """udp, tcp or tls for a relay candidate whose TURN URL is known; None otherwise."""
    if candidate_type != "relay" or url is None:
        return None
    try:
        return parse_ice_url(url).wire_transport
    except RTCSyntaxError:
        return None
