"""The session's preflight: every region probed in the background, figures as they come.

``softphone probe`` answers "which region is best" once, from the command
line; a running session wants the same answer without waiting for it. This
module probes each region's servers (:func:`softphone.rtc.probe`'s checks) in
a task, emits one ``region-probe`` event per region as soon as that region has
answered (or timed out), then a ``region-ranking``; the UI's region picker
draws them as they arrive, and ``region = "auto"`` switches to the best
region then. Nothing here ever waits on the caller's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from softphone import events as ev
from softphone.rtc.configuration import Configuration
from softphone.rtc.probe import ranking
from softphone.rtc.server_check import UrlProbe, probe_servers

logger = logging.getLogger("softphone.preflight")

#: Binding samples per URL: enough for a median and a loss figure, over in ~0.1 s when healthy.
SAMPLES = 3
#: Each check's bound: a dead region is reported dead after this long.
TIMEOUT = 2.0


def summary(region: str, probes: Sequence[UrlProbe]) -> ev.RegionProbed:
    """One region's figures: its best working URL's (least loss, then round trip), or why not."""
    working = sorted((p for p in probes if p.ok), key=lambda p: (p.loss or 0.0, p.rtt_ms or 0.0))
    if working:
        best = working[0]
        return ev.RegionProbed(
            region=region,
            ok=True,
            rtt_ms=best.rtt_ms,
            loss=best.loss,
            allocate_ms=best.allocate_ms,
        )
    error = next((p.error for p in probes if p.error), None) or "no answer"
    return ev.RegionProbed(region=region, ok=False, error=error)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("preflight failed", exc_info=task.exception())


class Preflight:
    """Runs one probe of a set of regions at a time; a new request replaces a running one."""

    def __init__(self, emit: Callable[[ev.Event], None]) -> None:
        self._emit = emit
        self._task: asyncio.Task[None] | None = None
        self.latest: dict[str, ev.RegionProbed] = {}

    def start(
        self,
        regions: Mapping[str, Configuration],
        *,
        auto: bool = False,
        on_ranked: Callable[[list[str]], None] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        """Probe ``regions`` (those with servers) in a task; ``on_ranked`` gets the ranking."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        with_servers = {name: c for name, c in regions.items() if c.ice_servers}
        self._task = asyncio.ensure_future(self._run(with_servers, auto, on_ranked, timeout))
        self._task.add_done_callback(_log_failure)

    async def _run(
        self,
        regions: Mapping[str, Configuration],
        auto: bool,
        on_ranked: Callable[[list[str]], None] | None,
        timeout: float,
    ) -> None:
        async def one(name: str, configuration: Configuration) -> tuple[str, list[UrlProbe]]:
            probes = await probe_servers(
                configuration.ice_servers, samples=SAMPLES, timeout=timeout
            )
            return name, probes

        results: dict[str, list[UrlProbe]] = {}
        for done in asyncio.as_completed([one(n, c) for n, c in regions.items()]):
            name, probes = await done
            results[name] = probes
            self.latest[name] = summary(name, probes)
            self._emit(self.latest[name])
        order = ranking(results)
        self._emit(
            ev.RegionsRanked(ranking=tuple(order), best=order[0] if order else None, auto=auto)
        )
        if on_ranked is not None:
            on_ranked(order)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
