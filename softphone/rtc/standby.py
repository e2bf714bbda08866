"""A warm standby: one ICE generation gathered in the background on another region.

A failover restart that gathers first pays for its TURN allocations (two
round trips to a server that may be far away: the 401 challenge, then the
Allocate) before its offer can leave. A standby generation has done that
already: it is gathered on the standby configuration while the call runs, and
the restart that finds that configuration in force takes it, so the restart
costs one signaling round trip and one connectivity check.

The standby costs almost nothing while it waits: its sockets are idle, and
aioice refreshes each TURN allocation once, at 5/6 of its lifetime, before it
expires (``TurnClientMixin.refresh``). It is an ordinary generation of the
transport, so closing the connection (hangup) releases its allocations with
the others. Its result is reported through the ``standby`` peer event:
``("ready", {candidates, elapsed_ms, failures})`` or ``("failed", {reason,
failures})``; a gathering that yields nothing is a dead region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .configuration import Configuration
from .emitter import Emitter
from .ice import IceGeneration, IceTransport, no_candidates_reason


class Standby:
    """At most one gathered, unused generation for one configuration."""

    def __init__(
        self, transport: IceTransport, emitter: Emitter, host_addresses: Sequence[str]
    ) -> None:
        self._transport = transport
        self._emit = emitter.emit
        self._spawn = emitter.spawn
        self._host_addresses = list(host_addresses)
        self.configuration: Configuration | None = None
        self._gen: IceGeneration | None = None
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready and self._gen is not None

    def prepare(self, configuration: Configuration | None) -> None:
        """Gather a standby on ``configuration`` (None: no standby); the old one is released."""
        self.release()
        self.configuration = configuration
        if configuration is None:
            return
        gen = self._transport.new_generation()
        self._gen = gen
        self._spawn(self._gather(gen, configuration))

    async def _gather(self, gen: IceGeneration, configuration: Configuration) -> None:
        result = await gen.gather(configuration, self._host_addresses)
        if gen is not self._gen:
            return  # released or taken meanwhile
        failures = [{"url": url, "reason": reason} for url, reason in result.failures]
        if not result.candidates or gen.state == "closed":
            self._drop(gen)
            reason = no_candidates_reason(gen)
            self._emit("standby", "failed", {"reason": reason, "failures": failures})
            return
        self._ready = True
        detail: dict[str, Any] = {
            "candidates": len(result.candidates),
            "elapsed_ms": round(result.elapsed_ms, 1),
            "failures": failures,
        }
        self._emit("standby", "ready", detail)

    def take(self, configuration: Configuration) -> IceGeneration | None:
        """The standby generation, if it is ready and gathered on ``configuration``."""
        gen = self._gen
        if gen is None or not self._ready or configuration != self.configuration:
            return None
        if gen.state != "gathered":
            self._drop(gen)
            return None
        self._gen = None
        self._ready = False
        # Roles do not change in a restart: the generation takes the transport's.
        gen.connection.ice_controlling = self._transport.controlling
        return gen

    def give_back(self, gen: IceGeneration, configuration: Configuration) -> bool:
        """A taken generation that was never used (a rolled-back offer) waits again."""
        if self._gen is not None or configuration != self.configuration:
            return False
        if gen.state != "gathered" or gen.remote_ufrag is not None:
            return False
        self._gen = gen
        self._ready = True
        return True

    def release(self) -> None:
        gen = self._gen
        if gen is not None:
            self._drop(gen)
        self.configuration = None

    def _drop(self, gen: IceGeneration) -> None:
        self._gen = None
        self._ready = False
        self._transport.release(gen)
