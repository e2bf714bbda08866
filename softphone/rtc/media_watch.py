"""Fast loss-of-media detection: missed packets confirmed by an unanswered consent check.

The health monitor's timers (disconnected after 1.5 s of failed consent
checks, failed 2 s later) are right for a path that degrades, but a region
that goes silent (a dead TURN server behind a firewall that drops, no ICMP)
must be left within about a second. Audio arrives 50 packets a second, so
``probe_after`` seconds without one (7 packets at 0.15 s) is already
unusual, yet jitter or a short stall can do it: so it only sends one consent
check (a STUN Binding request on the selected pair). If that check goes
unanswered for ``max(probe_wait, 3 * RTT)`` and nothing arrived meanwhile,
the path is lost (``on_lost``): no timer of seconds, and no false alarm from
jitter, since a live path answers the check.

Silence is only a sign when packets are expected: a peer on hold (direction
``inactive`` or ``recvonly`` on its side, or we do not receive) sends none,
so the watch stands aside (``expects_media``), and it waits while a restart
is being negotiated or checked (``busy``). Cost: one timer tick every
``tick`` seconds, and a STUN request only when the path is already silent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .emitter import Emitter
from .ice import IceTransport
from .states import ConnectionStates

#: Audio packets a second (20 ms Opus frames): to say how many were missed.
PACKETS_PER_SECOND = 50


class MediaWatch:
    """Watches the arrival of the peer's packets on the active path while media is expected."""

    def __init__(
        self,
        transport: IceTransport,
        states: ConnectionStates,
        emitter: Emitter,
        *,
        on_lost: Callable[[], None],
        healthy: Callable[[], bool],
        expects_media: Callable[[], bool],
        busy: Callable[[], bool],
        probe_after: float | None,
        probe_wait: float = 0.3,
        tick: float = 0.05,
        rest: float = 0.5,
    ) -> None:
        self._transport = transport
        self._states = states
        self._emit = emitter.emit
        self._spawn = emitter.spawn
        self._on_lost = on_lost
        self._healthy = healthy
        self._expects_media = expects_media
        self._busy = busy
        self._probe_after = probe_after
        self._probe_wait = probe_wait
        self._tick = tick
        self._rest = rest
        self._task: asyncio.Future[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._probe_after is not None

    def start(self) -> None:
        if self._task is None and self.enabled:
            self._task = self._spawn(self._run())

    def silent_for(self) -> float:
        """Seconds since the peer's last packet (0 before the first)."""
        if self._transport.rx_packets == 0:
            return 0.0
        return time.monotonic() - self._transport.last_rx

    def watching(self) -> bool:
        """Whether silence now means loss: connected, packets expected, none being restarted."""
        return (
            self.enabled
            and self._healthy()
            and self._transport.active is not None
            and self._transport.rx_packets > 0
            and self._expects_media()
        )

    def restart_offered(self) -> None:
        """The peer offers an ICE restart: if our path is silent too, it is lost now.

        Both ends of a dead region notice at about the same time; the one that
        offers first must not get an answer gathered on the dead region, so the
        answerer fails over before it gathers (the peer's offer is the check
        that confirms the silence).
        """
        if self.watching() and self.silent_for() >= 1.5 * (self._probe_after or 0.0):
            self._lost(self.silent_for(), "peer-restart")

    async def _run(self) -> None:
        assert self._probe_after is not None
        delay = self._tick
        while not self._states.closed:
            await asyncio.sleep(delay)
            delay = self._tick
            if not self.watching() or self._busy():
                continue
            # Packets flowing: silence cannot reach probe_after before last_rx + probe_after,
            # so sleep until then instead of waking every tick (1 / tick wake-ups a second
            # down to about 1 / probe_after); the tick still bounds it below.
            delay = max(self._tick, self._probe_after - self.silent_for())
            if self.silent_for() < self._probe_after:
                continue
            last_rx = self._transport.last_rx
            if await self._answered():
                await asyncio.sleep(self._rest)  # alive: a stall or a quiet peer, not a loss
                continue
            if self._transport.last_rx != last_rx or not self.watching() or self._busy():
                continue  # packets came back, or something else is handling it
            self._lost(self.silent_for(), "consent")

    async def _answered(self) -> bool:
        """One consent check, bounded by ``max(probe_wait, 3 * RTT)``."""
        rtt_ms = self._transport.rtt_ms or 0.0
        wait = max(self._probe_wait, 3 * rtt_ms / 1000)
        try:
            rtt = await asyncio.wait_for(self._transport.consent_check(), wait)
        except TimeoutError:
            return False
        return rtt is not None

    def _lost(self, silent: float, confirmed_by: str) -> None:
        detail: dict[str, Any] = {
            "silent_ms": round(silent * 1000, 1),
            "packets_missed": int(silent * PACKETS_PER_SECOND),
            "confirmed_by": confirmed_by,
        }
        self._emit("medialoss", detail)
        self._on_lost()
