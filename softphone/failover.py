"""Failing a call over to another region: the warm standby, dead regions, the report (1.2).

During a call the session keeps a warm standby (``PeerConnection.prepareStandby``)
on the region the call would fail over to: ``fallback_region``, or, when that
one is dead, the next region in configuration order. A region is dead for this
call when its standby gathered nothing (a blackholed or refusing TURN server)
or when the call's path on it died. When the path is lost, that region is put
in force with the standby's own configuration (same credentials), so the
restart takes the standby instead of gathering; once the call is connected
again a ``failover`` event says where to and how long it took, and a new
standby is gathered on the next healthy region, if there is one.

``standby = false`` in the config turns the standby off: the failover then
gathers on ``fallback_region`` when the path is lost, as before 1.2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from softphone import events as ev
from softphone.call import Call
from softphone.config import ConfigError, Settings
from softphone.regions import SessionRegions
from softphone.rtc.configuration import Configuration
from softphone.rtc.errors import DOMException


@dataclass
class _Loss:
    """A failover under way: from where, to where, since when."""

    from_region: str | None
    region: str
    standby: bool
    detect_ms: float | None
    restarted: bool = False


def failover_order(settings: Settings, current: str | None, dead: set[str]) -> list[str]:
    """Where a call on ``current`` may fail over to, best first: ``fallback_region``, then
    the other regions in configuration order; none without a ``fallback_region``."""
    fallback = settings.fallback_region
    if not fallback:
        return []
    names = [fallback] + [r.name for r in settings.regions if r.name != fallback]
    return [name for name in names if name != current and name not in dead]


class CallFailover:
    """The failover state of one call at a time: the last one whose path it was told about.

    Regions are the session's, not a call's, so one standby serves the session;
    a path change of another call (a held one) makes that call the one followed.
    """

    def __init__(self, regions: SessionRegions, emit: Callable[[ev.Event], None]) -> None:
        self._regions = regions
        self._emit = emit
        self._call: Call | None = None
        self._dead: set[str] = set()
        self._standby: tuple[str, Configuration] | None = None
        self._loss: _Loss | None = None
        self._lost_at: float | None = None
        self._silent_ms: float | None = None

    def _follow(self, call: Call) -> None:
        if call is not self._call:
            self.call_ended()
            self._call = call

    def forget(self, call: Call) -> None:
        """``call`` ended: if it is the one followed, its standby and state go."""
        if call is self._call:
            self.call_ended()

    def call_ended(self) -> None:
        self._call = None
        self._dead.clear()
        self._standby = None
        self._loss = None
        self._lost_at = None
        self._silent_ms = None

    def event(self, call: Call | None, event: ev.Event) -> None:
        """What the call says about its path and its standby."""
        if call is None or (self._call is not None and call is not self._call):
            return
        if isinstance(event, ev.MediaLost):
            self._silent_ms = event.silent_ms
        elif isinstance(event, ev.StandbyFailed):
            self._dead.add(event.region)
            self._standby = None
            self.arm(call)
        elif isinstance(event, ev.IceRestartDone) and self._loss is not None:
            self._loss.restarted = True

    def arm(self, call: Call) -> None:
        """A standby on the first healthy region the call could fail over to."""
        settings = self._regions.settings
        if not settings.standby or self._standby is not None or call.peer is None:
            return
        for name in failover_order(settings, self._regions.current, self._dead):
            try:
                configuration = settings.configuration_for(name)
                call.prepare_standby(name, configuration)
            except (ConfigError, DOMException) as exc:
                self._emit(ev.ErrorReported(code="standby-failed", message=str(exc), call=call.id))
                self._dead.add(name)
                continue
            self._standby = (name, configuration)
            return

    def path_lost(self, call: Call) -> None:
        """The call's path died: put the standby's region (or the fallback) in force."""
        self._follow(call)
        if self._lost_at is not None:
            return  # already recovering
        current = self._regions.current
        self._lost_at = asyncio.get_running_loop().time()
        self._emit(ev.Notice(message=f'connection lost on region "{current}"; restarting ICE'))
        standby = self._standby if self._standby is not None and call.standby_ready else None
        if standby is not None:
            region = self._regions.fall_back(call, standby[0], standby[1])
        else:
            order = failover_order(self._regions.settings, current, self._dead)
            region = self._regions.fall_back(call, order[0] if order else None)
        if region is not None:
            self._loss = _Loss(
                from_region=current,
                region=region,
                standby=standby is not None,
                detect_ms=self._silent_ms,
            )

    def connected(self, call: Call) -> None:
        """The call is connected: say it recovered, report a failover, then re-arm."""
        self._follow(call)
        if self._lost_at is not None:
            lost_ms = (asyncio.get_running_loop().time() - self._lost_at) * 1000
            self._lost_at = None
            loss, self._loss = self._loss, None
            message = (
                f'call recovered on region "{self._regions.current}" after {lost_ms / 1000:.1f} s'
            )
            if loss is not None and loss.restarted:
                message = (
                    f'call failed over from region "{loss.from_region}" to "{loss.region}" '
                    f"after {(lost_ms + (loss.detect_ms or 0.0)) / 1000:.1f} s"
                    + (" (warm standby)" if loss.standby else "")
                )
            self._emit(ev.Notice(message=message))
            if loss is not None and loss.restarted:
                self._report(call, loss, lost_ms)
        self._silent_ms = None
        self.arm(call)

    def _report(self, call: Call, loss: _Loss, recovery_ms: float) -> None:
        self._emit(
            ev.FailedOver(
                call=call.id,
                from_region=loss.from_region,
                region=loss.region,
                standby=loss.standby,
                detect_ms=loss.detect_ms,
                recovery_ms=round(recovery_ms, 1),
                elapsed_ms=round(recovery_ms + (loss.detect_ms or 0.0), 1),
            )
        )
        if loss.from_region is not None:
            self._dead.add(loss.from_region)
        if self._standby is not None and self._standby[0] == loss.region:
            self._standby = None  # taken by the restart
