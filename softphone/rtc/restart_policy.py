"""When to restart ICE, and what to do when a restart fails.

``restartIce()`` only records a request (W3C [[LocalIceCredentialsToReplace]])
and fires ``negotiationneeded`` once signaling is stable; the next offer then
carries new credentials. The request stands until a restart succeeds, so a
new generation that carried it and failed is requested again, at most
``restart_attempts`` times in all, after a backoff of ``restart_retry_backoff``
times the number of failed attempts (a peer that was not ready, a lost
nomination: transient causes pass). A restart that cannot succeed by
retrying (nothing gathered, a peer without ICE-restart support) ends the
request at once. When the health monitor declares the path failed, a restart
is requested on our own, at most three times until one succeeds.

Every step is reported through the ``icerestart`` event (phases ``begun``,
``gathered``, ``checking``, ``done``, ``failed``); this module emits the ones
about the request itself, ``generations`` the ones about checking.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .emitter import Emitter
from .ice import IceGeneration, IceTransport
from .states import ConnectionStates

logger = logging.getLogger(__name__)

#: Restarts the health monitor may request in a row before one succeeds.
AUTO_RESTARTS = 3


class RestartPolicy:
    """The pending restart request, its attempts, negotiationneeded and auto-restart."""

    def __init__(
        self,
        transport: IceTransport,
        negotiated: Callable[[], IceGeneration | None],
        states: ConnectionStates,
        emitter: Emitter,
        *,
        attempts: int,
        backoff: float,
        auto_restart: bool,
        make_before_break: bool,
        other_change: Callable[[], bool] = lambda: False,
    ) -> None:
        self._transport = transport
        self._negotiated = negotiated  # the generation of the current descriptions
        self._states = states
        self._emit = emitter.emit
        self._spawn = emitter.spawn
        self._attempts_max = max(1, attempts)
        self._backoff = backoff
        self._auto_restart = auto_restart
        self._make_before_break = make_before_break
        # Something besides a restart that an offer must carry (a hold: the direction).
        self._other_change = other_change
        self.requested = False
        self.attempt = 0  # attempt number of the pending request
        self._baseline: str | None = None  # negotiated ufrag when the request was made
        self._negotiation_needed = False
        self._nn_queued = False
        self._started: dict[int, float] = {}  # generation serial -> monotonic start
        # generation serial -> attempt number, for generations that satisfied our request
        self._attempt_of: dict[int, int] = {}
        self._auto_restarts = 0

    # --- the request and negotiationneeded --------------------------------------------------

    def restart_ice(self) -> None:
        self._request(1)

    def _request(self, attempt: int) -> None:
        if not self.requested:
            self.requested = True
            negotiated = self._negotiated()
            self._baseline = negotiated.ufrag if negotiated is not None else None
            self.attempt = attempt
        self.update_negotiation_needed()

    def settled(self) -> None:
        """Signaling is stable again: a request still standing asks to be negotiated."""
        self._negotiation_needed = False
        self.update_negotiation_needed()

    def update_negotiation_needed(self) -> None:
        if self._states.closed or self._negotiation_needed:
            return
        if not self.requested and not self._other_change():
            return
        if self._states.signaling != "stable":
            return  # re-checked when signaling is next stable
        self._negotiation_needed = True
        if not self._nn_queued:
            self._nn_queued = True
            asyncio.get_running_loop().call_soon(self._fire_negotiation_needed)

    def _fire_negotiation_needed(self) -> None:
        self._nn_queued = False
        if self._states.closed or not self._negotiation_needed:
            return
        if self._states.signaling != "stable":
            self._negotiation_needed = False  # fired again when stable
            return
        self._emit("negotiationneeded")

    # --- one restart's bookkeeping ----------------------------------------------------------

    def begin(self, gen: IceGeneration, side: str) -> None:
        """A restart generation exists: the peer's (``remote``) or ours (``local``)."""
        self._started[gen.serial] = time.monotonic()
        detail: dict[str, Any] = {"ufrag": gen.ufrag, "side": side}
        if side == "local" and self.requested:
            detail["attempt"] = self.attempt
        self._emit("icerestart", "begun", detail)
        transport = self._transport
        if not self._make_before_break and transport.active is not None:
            # Only for comparison (bench): drop the old path before the new one exists.
            transport.release(transport.active)

    def is_restarting(self, gen: IceGeneration) -> bool:
        return gen.serial in self._started

    def started_at(self, gen: IceGeneration) -> float:
        return self._started.get(gen.serial, time.monotonic())

    def attempt_of(self, gen: IceGeneration) -> int | None:
        """The attempt of our request that ``gen`` carries, if it carries one."""
        return self._attempt_of.get(gen.serial)

    def checks_ended(self, gen: IceGeneration) -> None:
        self._attempt_of.pop(gen.serial, None)

    def forget(self, gen: IceGeneration) -> None:
        self._started.pop(gen.serial, None)
        self._attempt_of.pop(gen.serial, None)

    def negotiated(self, gen: IceGeneration, previous: IceGeneration | None) -> None:
        """An exchange completed with ``gen``: if it is new, it carries our request."""
        if self.requested and gen.ufrag != self._baseline and previous is not None:
            self.requested = False
            # Whichever side offered it, this generation carries our request: if it
            # fails, the request is renewed (see failed()).
            self._attempt_of[gen.serial] = max(1, self.attempt)

    def succeeded(self, gen: IceGeneration) -> float:
        """``gen`` carries media: returns the restart's duration in ms."""
        elapsed_ms = (time.monotonic() - self.started_at(gen)) * 1000
        self._started.pop(gen.serial, None)
        self._auto_restarts = 0
        return elapsed_ms

    # --- failures ---------------------------------------------------------------------------

    def abandon(self, gen: IceGeneration, reason: str) -> None:
        """``gen`` cannot work and asking again would not help: the request ends."""
        detail: dict[str, Any] = {
            "ufrag": gen.ufrag,
            "reason": reason,
            "kept_old_path": self._transport.active is not None,
        }
        if self.requested:
            detail.update(attempt=self.attempt, will_retry=False)
        self.requested = False
        self._emit("icerestart", "failed", detail)

    def rolled_back(self, gen: IceGeneration) -> None:
        self._emit("icerestart", "failed", {"ufrag": gen.ufrag, "reason": "rolled back"})

    def failed(
        self, gen: IceGeneration, attempt: int | None, reason: str, *, superseded: bool
    ) -> None:
        """The checks of restart generation ``gen`` failed; renew our request if it carried it."""
        retry = (
            attempt is not None
            and not superseded
            and not self.requested
            and attempt < self._attempts_max
        )
        detail: dict[str, Any] = {
            "ufrag": gen.ufrag,
            "reason": reason,
            "kept_old_path": self._transport.active is not None,
        }
        if attempt is not None:
            detail["attempt"] = attempt
            detail["will_retry"] = retry
        self._emit("icerestart", "failed", detail)
        if retry:
            assert attempt is not None
            self._spawn(self._retry(gen, self._negotiated(), attempt + 1))

    async def _retry(
        self, failed: IceGeneration, running: IceGeneration | None, attempt: int
    ) -> None:
        """Request attempt ``attempt`` after the backoff, unless something superseded it.

        A restart requested or completed meanwhile makes this one moot.
        """
        await asyncio.sleep(self._backoff * (attempt - 1))
        if self._states.closed or self.requested or self._negotiated() is not running:
            return
        logger.info("ICE restart %s failed; requesting attempt %d", failed.ufrag, attempt)
        self._request(attempt)

    def auto_restart(self) -> None:
        """The health monitor says the path failed: restart, a few times at most."""
        if not self._auto_restart or self._states.closed or self._auto_restarts >= AUTO_RESTARTS:
            return
        if self._negotiated() is None:
            return
        self._auto_restarts += 1
        self.restart_ice()
