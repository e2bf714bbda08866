"""The connection health monitor: is media still getting through on the active path?

aioice only notices a dead path after ~30 s of consent failures; a phone
call must say so within seconds. So once ICE first connects, a consent check
(one STUN Binding request on the selected pair) runs every
``consent_interval``, and the arrival of the peer's packets is watched: a
failed check turns the state ``disconnected`` after ``disconnected_after``
(at once if the peer's media also stopped), ``failed`` after ``failed_after``
more, and a successful check makes it ``connected`` again. Silence alone is no
failure: the peer may be on hold.

A silent outage is left faster (1.2): the media watch (``media_watch.py``)
declares the path lost within about a second of the peer's last packet,
when packets were expected and a consent check confirms it (``lost``):
``disconnected`` then ``failed`` at once, so the fallback region is put in
force and the restart requested in the same moment.

The health is what ``iceConnectionState`` shows; on ``failed`` the restart
policy is told (``on_failed``), again every ``3 * failed_after`` while the
path stays dead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .emitter import Emitter
from .ice import IceTransport
from .media_watch import MediaWatch
from .states import ConnectionStates


class HealthMonitor:
    """new, connected, disconnected or failed, from consent checks and received packets."""

    def __init__(
        self,
        transport: IceTransport,
        states: ConnectionStates,
        emitter: Emitter,
        on_failed: Callable[[], None],
        *,
        consent_interval: float,
        disconnected_after: float,
        failed_after: float,
    ) -> None:
        self._transport = transport
        self._states = states
        self._spawn = emitter.spawn
        self._on_failed = on_failed
        self._interval = consent_interval
        self._disconnected_after = disconnected_after
        self._failed_after = failed_after
        self.health = "new"
        self._task: asyncio.Future[None] | None = None
        self.watch: MediaWatch | None = None  # the fast loss detector, set by the peer
        self._path_serial = 0

    def lost(self) -> None:
        """The media watch says the path is dead: fail now rather than after the timers."""
        if self.health == "connected":
            self.set("disconnected")
        if self.health == "disconnected":
            self.set("failed")

    def set(self, health: str) -> None:
        if health == self.health:
            return
        self.health = health
        if health == "connected":
            self._path_serial += 1  # a check started before this says nothing about now
        self._states.set_ice(health)
        self._states.update_connection()
        if health == "failed":
            self._on_failed()

    def start(self) -> None:
        """Start watching (once; the monitor follows whichever generation is active)."""
        if self._task is None:
            self._task = self._spawn(self._run())
        if self.watch is not None:
            self.watch.start()

    async def _run(self) -> None:
        failures = 0
        bad_since: float | None = None
        transport = self._transport
        while not self._states.closed:
            await asyncio.sleep(self._interval)
            if self._states.closed:
                return
            if transport.active is None:
                continue
            checked, serial = transport.active, self._path_serial
            rtt = await transport.consent_check()
            now = time.monotonic()
            if transport.active is not checked or self._path_serial != serial:
                # The path changed under the check (a restart moved media; a check
                # answered): an old path's failure must not count against the new one.
                failures, bad_since = 0, None
                continue
            failures = 0 if rtt is not None else failures + 1
            silent = (
                failures > 0
                and transport.rx_packets > 0
                and now - transport.last_rx > self._disconnected_after
            )
            if failures == 0:
                bad_since = None
                if self.health in ("disconnected", "failed"):
                    self.set("connected")
                continue
            if bad_since is None:
                bad_since = now
            if self.health == "connected" and (
                silent or now - bad_since + self._interval >= self._disconnected_after
            ):
                self.set("disconnected")
                bad_since = now
            elif self.health == "disconnected" and now - bad_since >= self._failed_after:
                self.set("failed")
            elif self.health == "failed" and now - bad_since >= self._failed_after * 3:
                # Still dead after a restart attempt: try again (the policy bounds how often).
                bad_since = now
                self._on_failed()
