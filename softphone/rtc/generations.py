"""The life of each ICE generation of a connection: created, gathered, checked, carrying media.

``ice.py`` has the mechanics (one aioice Connection per generation behind one
transport, make-before-break). This module has their parts in negotiation
(the negotiated one, the one in our pending offer, the one for a pending
remote offer) and runs each negotiated generation: gather, check within a
timeout, then move media onto it, and report how it went through the
``selectedpairchange`` and ``icerestart`` events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from softphone.descriptions import Description

from . import sdpbuild
from .configuration import Configuration
from .emitter import Emitter
from .errors import InvalidStateError
from .health import HealthMonitor
from .ice import IceGeneration, IceTransport
from .restart_policy import RestartPolicy
from .standby import Standby
from .states import ConnectionStates
from .stats import CandidateInfo, SelectedPair


class Generations:
    """Which ICE generation plays which part in negotiation."""

    def __init__(self, transport: IceTransport, *, triggered_check_fix: bool) -> None:
        self.transport = transport
        self._triggered_check_fix = triggered_check_fix
        self.negotiated: IceGeneration | None = None  # of the current descriptions
        self.offered: IceGeneration | None = None  # in our pending offer
        self.answering: IceGeneration | None = None  # for a pending remote offer

    def new(self) -> IceGeneration:
        return self.transport.new_generation(triggered_check_fix=self._triggered_check_fix)

    def of_local_description(self, description: Description) -> IceGeneration:
        """The generation whose credentials ``description`` (one of ours) carries."""
        ufrag = sdpbuild.local_ufrag(description.sdp)
        gen = self.transport.generation_by_ufrag(ufrag) if ufrag else None
        if gen is None:
            raise InvalidStateError(
                "the local description was not created by this connection (unknown ice-ufrag)"
            )
        return gen

    def offered_is_fresh(self) -> bool:
        """Whether the offered generation can go into another offer (no answer reached it)."""
        gen = self.offered
        return (
            gen is not None
            and gen is not self.negotiated
            and gen.remote_ufrag is None
            and gen.state not in ("closed", "failed")
        )

    def newest_with_remote(self, ufrag: str | None = None) -> IceGeneration | None:
        """The newest generation that knows the peer's credentials (and has ``ufrag``'s)."""
        newest = next(
            (
                gen
                for gen in (self.answering, self.offered, self.negotiated)
                if gen is not None and gen.remote_ufrag is not None and gen.state != "closed"
            ),
            None,
        )
        if ufrag is None:
            return newest
        gen = self.transport.generation_by_remote_ufrag(ufrag)
        return gen if gen is not None and gen is newest else None


class GenerationRunner:
    """Gathers, checks and activates generations; ``configuration`` is what gathering uses."""

    def __init__(
        self,
        generations: Generations,
        policy: RestartPolicy,
        health: HealthMonitor,
        states: ConnectionStates,
        emitter: Emitter,
        on_connected: Callable[[], None],
        *,
        configuration: Configuration,
        host_addresses: Sequence[str],
        connect_timeout: float,
        restart_timeout: float,
        answerer_check_hold: float,
        standby: Standby,
    ) -> None:
        self._gens = generations
        self._transport = generations.transport
        self._policy = policy
        self._health = health
        self._states = states
        self._emit = emitter.emit
        self._spawn = emitter.spawn
        self._on_connected = on_connected
        self.configuration = configuration
        self._host_addresses = list(host_addresses)
        self._connect_timeout = connect_timeout
        self._restart_timeout = restart_timeout
        self._answerer_check_hold = answerer_check_hold
        self._standby = standby
        self._from_standby: set[int] = set()  # serials of generations the standby gave

    def restart_generation(self) -> IceGeneration:
        """A new generation for a restart: the warm standby if it was gathered on the
        configuration now in force (no gathering wait), else a fresh one."""
        gen = self._standby.take(self.configuration)
        if gen is None:
            return self._gens.new()
        self._from_standby.add(gen.serial)
        return gen

    async def gather(self, gen: IceGeneration) -> None:
        if gen.gathered is not None:
            if gen.serial in self._from_standby and self._policy.is_restarting(gen):
                self._emit_gathered(gen, standby=True)
            return
        self._states.set_gathering("gathering")
        await gen.gather(self.configuration, self._host_addresses)
        self._states.set_gathering("complete")
        if self._policy.is_restarting(gen):
            self._emit_gathered(gen, standby=False)

    def _emit_gathered(self, gen: IceGeneration, *, standby: bool) -> None:
        result = gen.gathered
        assert result is not None
        detail: dict[str, Any] = {
            "ufrag": gen.ufrag,
            "candidates": len(result.candidates),
            "elapsed_ms": round(result.elapsed_ms, 1),
            "failures": [{"url": u, "reason": r} for u, r in result.failures],
        }
        if standby:
            detail["standby"] = True  # gathered in advance: no wait for this restart
        self._emit("icerestart", "gathered", detail)

    def discard(self, gen: IceGeneration) -> None:
        """``gen`` will not be used (rolled back, superseded): release it unless it is active."""
        self._policy.forget(gen)
        from_standby = gen.serial in self._from_standby
        self._from_standby.discard(gen.serial)
        if from_standby and self._standby.give_back(gen, self.configuration):
            return  # a rolled-back offer's standby waits for the next restart
        if gen is not self._transport.active:
            self._transport.release(gen)

    def spawn_run(self, gen: IceGeneration, *, restart: bool, answerer: bool) -> None:
        self._spawn(self.run(gen, restart=restart, answerer=answerer))

    async def run(self, gen: IceGeneration, *, restart: bool, answerer: bool) -> None:
        """Check ``gen`` and, once it has a selected pair, move media onto it.

        ``answerer``: we answered the offer that brought ``gen``.
        """
        attempt = self._policy.attempt_of(gen)
        tag: dict[str, Any] = {} if attempt is None else {"attempt": attempt}
        if restart:
            self._emit("icerestart", "checking", {"ufrag": gen.ufrag, **tag})
        else:
            self._states.set_ice("checking")
            self._states.update_connection()
        if gen.gathered is None:
            await self.gather(gen)
        timeout = self._restart_timeout if restart else self._connect_timeout
        if restart and answerer:
            # Answering a restart: a check reaching libwebrtc before it applied our answer
            # is filed under an unknown generation and lost with its nomination, and the
            # restart stalls or media stays on the old path (issue 5).
            gen.hold_checks(self._answerer_check_hold)
        ok, reason = await gen.connect(timeout)
        if self._states.closed:
            return
        self._policy.checks_ended(gen)
        self._from_standby.discard(gen.serial)
        if not ok or gen.state == "closed":
            self._failed(gen, attempt, reason if not ok else "superseded", restart=restart)
            return
        previous = self._transport.activate(gen)
        elapsed_ms = self._policy.succeeded(gen)
        pair = gen.selected_pair()
        self._emit("selectedpairchange", pair)
        if previous is not None:
            self._emit(
                "icerestart",
                "done",
                {
                    "ufrag": gen.ufrag,
                    "elapsed_ms": round(elapsed_ms, 1),
                    "pair": _pair_detail(pair),
                    **tag,
                },
            )
        self._health.set("connected")
        self._spawn(self._transport.consent_check())  # an RTT for the new path at once
        self._health.start()
        self._on_connected()

    def _failed(
        self, gen: IceGeneration, attempt: int | None, reason: str, *, restart: bool
    ) -> None:
        superseded = gen.state == "closed" or self._gens.negotiated is not gen
        self._transport.release(gen)
        if self._gens.negotiated is gen and self._transport.active is not None:
            self._gens.negotiated = self._transport.active  # keep the old path, and say so
        if restart:
            self._policy.failed(gen, attempt, reason, superseded=superseded)
        if self._transport.active is None or self._health.health in ("disconnected", "failed"):
            self._health.set("failed")


def _candidate_detail(info: CandidateInfo) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "type": info.type,
        "protocol": info.protocol,
        "address": info.address,
        "port": info.port,
    }
    if info.relay_protocol is not None:  # udp, tcp or tls: it names no region
        detail["relay_protocol"] = info.relay_protocol
    return detail


def _pair_detail(pair: SelectedPair | None) -> dict[str, Any] | None:
    """The ``pair`` of an ``icerestart`` ``done`` detail (no server URL: it names the region)."""
    if pair is None:
        return None
    return {"local": _candidate_detail(pair.local), "remote": _candidate_detail(pair.remote)}
