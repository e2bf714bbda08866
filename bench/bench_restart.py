"""Region switch and call set-up, measured at PeerConnection level over real coturn regions.

Run as root (it makes its own loopback-only network namespace):

    /tmp/venv/bin/python bench/bench_restart.py [--runs N]

Every path is relay-to-relay through loopback coturn regions on 127.0.0.2 and
127.0.0.3. For each strategy, a call on region A switches regions N times and
we record: switch -> new pair selected on both sides, and the longest gap
between received audio frames at either end (20 ms = no gap). Strategies:

- make-before-break: this implementation (restartIce, old path kept until
  the new pair is selected);
- break-before-make: the same, but the old path is dropped when the restart
  begins (a knob kept for this comparison);
- new RTCPeerConnection: plain aiortc 1.16; a brand-new pair of connections on
  the new region, renegotiated, as an application would do without restarts.

Then call set-up (first offer -> both connected) with and without the
RFC 8445 §7.3.1.4 triggered-check fix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)

from softphone.rtc.peer import PeerConnection  # noqa: E402
from tests.coturn import PASSWORD, USER, TurnRegion, start_regions  # noqa: E402
from tests.rtc_probe import FrameRecorder, Signaling, ToneTrack, wait_for  # noqa: E402

LOOPBACK = ["127.0.0.1"]
DELAY = 0.02  # one-way signaling delay, seconds (--signaling-delay)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class OurCall:
    def __init__(self, region: TurnRegion, **kwargs: Any) -> None:
        config = region.configuration("relay")
        self.caller = PeerConnection(config, host_addresses=LOOPBACK, **kwargs)
        self.callee = PeerConnection(config, host_addresses=LOOPBACK, **kwargs)
        self.heard = [FrameRecorder(), FrameRecorder()]
        for pc, rec, hz in ((self.caller, self.heard[0], 440), (self.callee, self.heard[1], 660)):
            pc.addTrack(ToneTrack(hz))
            pc.on("track", rec.start)
        self.signaling = Signaling(self.caller, self.callee, delay=DELAY)

    async def connect(self) -> float:
        start = time.monotonic()
        await self.signaling.start()
        await wait_for(
            lambda: self.caller.connectionState == self.callee.connectionState == "connected", 15
        )
        elapsed = (time.monotonic() - start) * 1000
        for rec in self.heard:
            await rec.wait_frames(10)
        return elapsed

    async def switch(self, region: TurnRegion) -> tuple[float, float]:
        self.caller.setConfiguration(region.configuration("relay"))
        self.callee.setConfiguration(region.configuration("relay"))
        start = time.monotonic()
        self.caller.restartIce()

        def moved() -> bool:
            a, b = self.caller.selected_pair(), self.callee.selected_pair()
            return (
                a is not None
                and b is not None
                and a.local.address == region.address
                and b.local.address == region.address
            )

        await wait_for(moved, 15, interval=0.002)
        elapsed = (time.monotonic() - start) * 1000
        await asyncio.sleep(0.6)
        gap = max(rec.max_gap_ms(start - 0.05, time.monotonic()) for rec in self.heard)
        return elapsed, gap

    async def close(self) -> None:
        for rec in self.heard:
            rec.stop()
        await asyncio.gather(self.caller.close(), self.callee.close())


async def aiortc_pair(
    region: TurnRegion,
) -> tuple[RTCPeerConnection, RTCPeerConnection, list[FrameRecorder]]:
    def config() -> RTCConfiguration:
        return RTCConfiguration(
            iceServers=[RTCIceServer(urls=[region.url], username=USER, credential=PASSWORD)],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )

    a, b = RTCPeerConnection(config()), RTCPeerConnection(config())
    recs = [FrameRecorder(), FrameRecorder()]
    for pc, rec, hz in ((a, recs[0], 440), (b, recs[1], 660)):
        pc.addTrack(ToneTrack(hz))
        pc.on("track", rec.start)
    await a.setLocalDescription(await a.createOffer())
    await asyncio.sleep(DELAY)
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await asyncio.sleep(DELAY)
    await a.setRemoteDescription(b.localDescription)
    return a, b, recs


async def bench_new_connection(
    regions: list[TurnRegion], runs: int
) -> tuple[list[float], list[float]]:
    """Baseline: a brand-new aiortc RTCPeerConnection pair on the new region."""
    times, gaps = [], []
    a, b, recs = await aiortc_pair(regions[0])
    await wait_for(lambda: a.connectionState == b.connectionState == "connected", 15)
    for rec in recs:
        await rec.wait_frames(10)
    for i in range(runs):
        region = regions[(i + 1) % 2]
        start = time.monotonic()
        # Hang up the old call, set up a new one on the new region.
        last_heard = [rec.arrivals[-1] for rec in recs]
        for rec in recs:
            rec.stop()
        await asyncio.gather(a.close(), b.close())
        a, b, recs = await aiortc_pair(region)
        await wait_for(
            lambda a=a, b=b: a.connectionState == b.connectionState == "connected",  # type: ignore[misc]
            15,
            interval=0.002,
        )
        times.append((time.monotonic() - start) * 1000)
        for rec in recs:
            await rec.wait_frames(3)
        gaps.append(
            max(rec.arrivals[0] - t for rec, t in zip(recs, last_heard, strict=True)) * 1000
        )
        await asyncio.sleep(0.3)
    for rec in recs:
        rec.stop()
    await asyncio.gather(a.close(), b.close())
    return times, gaps


async def bench_ours(
    regions: list[TurnRegion], runs: int, **kwargs: Any
) -> tuple[list[float], list[float]]:
    call = OurCall(regions[0], **kwargs)
    await call.connect()
    times, gaps = [], []
    for i in range(runs):
        elapsed, gap = await call.switch(regions[(i + 1) % 2])
        times.append(elapsed)
        gaps.append(gap)
    await call.close()
    return times, gaps


async def bench_setup(regions: list[TurnRegion], runs: int, fix: bool) -> list[float]:
    times = []
    for _ in range(runs):
        call = OurCall(regions[0], triggered_check_fix=fix)
        times.append(await call.connect())
        await call.close()
    return times


def row(name: str, values: list[float], gaps: list[float] | None = None) -> str:
    text = f"| {name:<38} | {statistics.median(values):8.1f} | {percentile(values, 0.9):8.1f} |"
    if gaps is not None:
        text += f" {statistics.median(gaps):8.1f} | {max(gaps):8.1f} |"
    else:
        text += "        - |        - |"
    return text


async def main(runs: int) -> None:
    regions = start_regions("127.0.0.2", "127.0.0.3", base_port=53000)
    try:
        results: list[tuple[str, list[float], list[float] | None]] = []
        strategies: list[tuple[str, Callable[[], Any]]] = [
            ("switch: make-before-break (this)", lambda: bench_ours(regions, runs)),
            (
                "switch: break-before-make",
                lambda: bench_ours(regions, runs, make_before_break=False),
            ),
            (
                "switch: make-before-break, fix off",
                lambda: bench_ours(regions, runs, triggered_check_fix=False),
            ),
            ("switch: new RTCPeerConnection (aiortc)", lambda: bench_new_connection(regions, runs)),
        ]
        for name, run in strategies:
            times, gaps = await run()
            results.append((name, times, gaps))
        for fix in (True, False):
            name = f"call set-up, triggered-check fix {'on' if fix else 'off'}"
            results.append((name, await bench_setup(regions, runs, fix), None))
    finally:
        for region in regions:
            region.stop()
    print(
        f"relay-to-relay through loopback coturn, {runs} runs each, "
        f"signaling delay {DELAY * 1000:g} ms one way, times in ms"
    )
    print("| what                                   | median   | p90      | gap med  | gap max  |")
    print("|----------------------------------------|----------|----------|----------|----------|")
    for name, times, gaps in results:
        print(row(name, times, gaps))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--signaling-delay", type=float, default=DELAY, help="seconds, one way")
    args = parser.parse_args()
    DELAY = args.signaling_delay
    if os.environ.get("SOFTPHONE_BENCH_NETNS") != "1":
        # Re-run inside a loopback-only namespace, as TESTING.md recommends.
        script = Path(__file__).resolve()
        command = f"ip link set lo up; exec {sys.executable} {script} --runs {args.runs}"
        command += f" --signaling-delay {args.signaling_delay}"
        env = dict(os.environ, SOFTPHONE_BENCH_NETNS="1")
        sys.exit(subprocess.call(["unshare", "--net", "bash", "-c", command], env=env))
    asyncio.run(main(args.runs))
