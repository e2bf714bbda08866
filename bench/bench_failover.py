"""Silent outage -> audio back on the fallback region, with and without the 1.2 failover.

Run inside scripts/run-bench (a loopback-only namespace, as root: it uses iptables):

    scripts/run-bench bench_failover -- --runs 5

A relay-only call (two PeerConnections in this process, perfect negotiation
with a signaling delay) runs on region A (coturn on 127.0.0.2); region B
(127.0.0.3) is the fallback, reached directly (RTT ~0) and through a UDP relay
that delays each datagram (``--fallback-rtt``, default 100 ms: a farther region,
where gathering costs round trips). Each round starts a fresh call, waits for audio,
then drops everything to and from A with iptables, both ways (no ICMP: a
silent outage), and measures the time from the DROP until both sides have
heard 0.4 s of audio again. Each side does what the session does
(softphone/failover.py): when its connection turns ``disconnected`` it puts
B's configuration in force, and the peer connection restarts ICE by itself.
The variants run round by round in the same process:

- today (1.1): the consent timers only (disconnected 1.5 s, failed 2 s later),
  gathering on B when the restart begins;
- fast detection, no standby (``standby = false``): the media watch declares
  the loss, the restart gathers on B;
- fast detection + warm standby (the default): the restart takes the
  standby gathered on B during the call.

Goal (issue 12): audio back within 1.5 s of a silent outage. A last row is
the CPU standbys cost while they wait (process CPU over ``--idle`` s holding
ten standbys with their TURN allocations, against none, same run).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.udp_delay import DelayRelay  # noqa: E402
from softphone.rtc.configuration import Configuration, IceServer  # noqa: E402
from softphone.rtc.peer import PeerConnection  # noqa: E402
from tests.coturn import (  # noqa: E402
    PASSWORD,
    USER,
    TurnRegion,
    in_loopback_namespace,
    silenced,
    start_regions,
)
from tests.rtc_probe import FrameRecorder, Signaling, ToneTrack, wait_for  # noqa: E402

LOOPBACK = ["127.0.0.1"]
DELAY = 0.02  # one-way signaling delay, seconds
HEARD_FRAMES = 20  # 0.4 s of 20 ms frames
GAP = 0.25  # received audio stopped this long: the outage's gap
STANDBYS = 10  # standbys held at once for the CPU row

VARIANTS: dict[str, dict[str, Any]] = {
    "today (1.1 timers, no standby)": {"fast": False, "standby": False},
    "fast detection, standby = false": {"fast": True, "standby": False},
    "fast detection + warm standby": {"fast": True, "standby": True},
}


class FailoverCall:
    """Caller and callee on region ``a``; each fails over to ``fallback`` as the session does."""

    def __init__(
        self, a: TurnRegion, fallback: Configuration, *, fast: bool, standby: bool
    ) -> None:
        kwargs: dict[str, Any] = {} if fast else {"media_probe_after": None}
        self.fallback = fallback
        self.standby = standby
        self.peers = [
            PeerConnection(a.configuration("relay"), host_addresses=LOOPBACK, **kwargs)
            for _ in range(2)
        ]
        self.heard = [FrameRecorder(), FrameRecorder()]
        for pc, rec, hz in zip(self.peers, self.heard, (440, 660), strict=True):
            pc.addTrack(ToneTrack(hz))
            pc.on("track", rec.start)
            pc.on("connectionstatechange", self._fall_back(pc))
        self.signaling = Signaling(self.peers[0], self.peers[1], delay=DELAY)

    def _fall_back(self, pc: PeerConnection) -> Any:
        def on_state(state: str) -> None:
            if state == "disconnected" and pc.getConfiguration() != self.fallback:
                pc.setConfiguration(self.fallback)

        return on_state

    async def connect(self) -> None:
        await self.signaling.start()
        await wait_for(lambda: all(pc.connectionState == "connected" for pc in self.peers), 15)
        for rec in self.heard:
            await rec.wait_frames(10)
        if self.standby:
            for pc in self.peers:
                pc.prepareStandby(self.fallback)
            await wait_for(lambda: all(pc.standby_ready for pc in self.peers), 10)

    async def outage(self, address: str) -> float:
        """Seconds from the DROP until both sides heard HEARD_FRAMES frames after the gap."""
        with silenced(address):
            dropped = time.monotonic()
            back = [await self._heard_again(rec, dropped) for rec in self.heard]
        return max(back) - dropped

    @staticmethod
    async def _heard_again(rec: FrameRecorder, since: float) -> float:
        def resumed() -> int | None:
            times = rec.arrivals
            start = next((i for i, t in enumerate(times) if t > since), None)
            if start is None:
                return None
            for i in range(max(start, 1), len(times)):
                if times[i] - times[i - 1] >= GAP:
                    return i
            return None

        await wait_for(
            lambda: (i := resumed()) is not None and len(rec.arrivals) >= i + HEARD_FRAMES,
            20,
            interval=0.005,
        )
        index = resumed()
        assert index is not None
        return rec.arrivals[index + HEARD_FRAMES - 1]

    async def close(self) -> None:
        for rec in self.heard:
            rec.stop()
        await asyncio.gather(*(pc.close() for pc in self.peers))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def standby_cpu(region: Configuration, seconds: float, count: int) -> float:
    """CPU % of one core this process spends over ``seconds`` holding ``count`` standbys."""
    peers = [PeerConnection(region, host_addresses=LOOPBACK) for _ in range(count)]
    for pc in peers:
        pc.prepareStandby(region)
    await wait_for(lambda: all(pc.standby_ready for pc in peers), 10)
    start_cpu, start = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    used = (cpu_seconds() - start_cpu) / (time.monotonic() - start) * 100
    await asyncio.gather(*(pc.close() for pc in peers))
    return used


def through(region: TurnRegion, address: str) -> Configuration:
    """``region``'s configuration, reached at ``address`` (a DelayRelay in front of it)."""
    url = f"turn:{address}:{region.port}?transport=udp"
    return Configuration(
        ice_servers=(IceServer(urls=(url,), username=USER, credential=PASSWORD),),
        ice_transport_policy="relay",
    )


async def main(runs: int, idle: float, rtts_ms: list[float]) -> None:
    a, b = start_regions("127.0.0.2", "127.0.0.3", base_port=53400)
    relays = [
        DelayRelay((f"127.0.0.{10 + i}", b.port), (b.address, b.port), rtt / 2000)
        for i, rtt in enumerate(rtts_ms)
    ]
    results: dict[tuple[float, str], list[float]] = {}
    cpu: dict[int, list[float]] = {0: [], STANDBYS: []}
    try:
        for relay in relays:
            await relay.start()
        fallbacks = [through(b, relay.listen[0]) for relay in relays]
        for _ in range(runs):
            for rtt, fallback in zip(rtts_ms, fallbacks, strict=True):
                for name, variant in VARIANTS.items():
                    call = FailoverCall(a, fallback, **variant)
                    await call.connect()
                    results.setdefault((rtt, name), []).append(await call.outage(a.address))
                    await call.close()
                    await asyncio.sleep(0.3)
        for _ in range(3):
            for count in cpu:
                cpu[count].append(await standby_cpu(fallbacks[0], idle, count))
    finally:
        for relay in relays:
            relay.close()
        a.stop()
        b.stop()
    print(
        f"silent outage (iptables DROP both ways) -> {HEARD_FRAMES * 20} ms of audio heard "
        f"again at both ends, relay-only via loopback coturn, {runs} rounds, "
        f"signaling delay {DELAY * 1000:g} ms one way; goal: 1500 ms"
    )
    print("| fallback RTT | what                                | median ms | max ms | <= 1.5 s |")
    print("|--------------|-------------------------------------|-----------|--------|----------|")
    for (rtt, name), values in results.items():
        ms = [v * 1000 for v in values]
        within = f"{sum(v <= 1500 for v in ms)}/{len(ms)}"
        print(
            f"| {rtt:9.0f} ms | {name:<35} | {statistics.median(ms):9.0f} | {max(ms):6.0f} "
            f"| {within:>8} |"
        )
    print(
        f"CPU of the process over {idle:g} s (% of one core, median of 3): "
        f"{STANDBYS} waiting standbys {statistics.median(cpu[STANDBYS]):.2f}, "
        f"none {statistics.median(cpu[0]):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of CPU sampling")
    parser.add_argument("--signaling-delay", type=float, default=DELAY, help="seconds, one way")
    parser.add_argument(
        "--fallback-rtt",
        type=float,
        action="append",
        help="ms to the fallback TURN server (a delaying UDP relay); repeatable; default 0 and 100",
    )
    args = parser.parse_args()
    DELAY = args.signaling_delay
    if not in_loopback_namespace():
        sys.exit("bench_failover adds iptables rules: run it inside scripts/run-bench")
    asyncio.run(main(args.runs, args.idle, args.fallback_rtt or [0.0, 100.0]))
