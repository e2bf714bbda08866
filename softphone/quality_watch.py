"""The session's quality watch: one look at the call a second, warnings as events.

Why its own task: the warnings must come whether or not a front end asks for
``stats`` (headless scripts rarely do), so the session samples its call on
its own clock (``[quality] sample_interval``), feeds the pure
:class:`~softphone.quality.QualityMonitor`, and emits ``quality-warning`` /
``quality-warning-cleared``. The latest MOS it computed goes into every
``stats`` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from softphone import emodel
from softphone import events as ev
from softphone.media import MutableSource
from softphone.quality import QualityChange, QualityMonitor, QualitySample, QualityThresholds
from softphone.rtc.stats import CallStats

logger = logging.getLogger("softphone.quality")


class QualityWatch:
    """Samples one call until :meth:`stop`; ``emit`` gets the warnings."""

    def __init__(
        self,
        call_id: str,
        thresholds: QualityThresholds,
        stats: Callable[[], Awaitable[CallStats | None]],
        source: MutableSource,
        emit: Callable[[ev.Event], None],
    ) -> None:
        self.call_id = call_id
        self.monitor = QualityMonitor(thresholds)
        self._stats = stats
        self._source = source
        self._emit = emit
        self._task: asyncio.Task[None] | None = None

    def start(self) -> QualityWatch:
        """Begin sampling (once); returns the watch, so it can be made and started at once."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def mos_for(self, stats: CallStats) -> float | None:
        """The watch's latest MOS; before its first, one from this report's own figures."""
        if self.monitor.mos is not None:
            return self.monitor.mos
        if stats.rtt_ms is None:
            return None
        expected = stats.packets_received + stats.packets_lost
        loss = 100.0 * stats.packets_lost / expected if expected else 0.0
        return emodel.mos(stats.rtt_ms, stats.jitter_ms or 0.0, loss)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.monitor.thresholds.sample_interval
        next_at = loop.time()
        while True:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                stats = await self._stats()
            except Exception as exc:  # a closing peer connection: try again next time
                logger.debug("quality sample failed: %s", exc)
                continue
            if stats is None:
                continue
            source = self._source
            sample = QualitySample(
                at=loop.time(),
                rtt_ms=stats.rtt_ms,
                jitter_ms=stats.jitter_ms,
                packets_received=stats.packets_received,
                packets_lost=stats.packets_lost,
                mic_level=source.level,
                muted=source.muted,
            )
            for change in self.monitor.add(sample):
                self._emit(self._event(change))

    def _event(self, change: QualityChange) -> ev.Event:
        kind = ev.QualityWarning if change.raised else ev.QualityWarningCleared
        return kind(
            call=self.call_id, name=change.name, value=change.value, threshold=change.threshold
        )
