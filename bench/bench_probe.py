"""Preflight benchmark: probing three coturn regions, one blackholed, against one STUN round trip.

Run inside scripts/run-bench: ``scripts/run-bench bench_probe [-- --runs N --timeout S]``.

Three regions on loopback, as in tests/test_probe_regions.py: one healthy,
one whose UDP port is dropped by iptables (silent, as a real outage is), one
with wrong credentials. Rows, interleaved one of each per round:

- the whole probe of the three regions (what ``softphone probe`` waits for):
  bounded by the dead region's timeout, since every check runs at once;
- the session's preflight up to the healthy region's ``region-probe`` event
  (what the region picker and ``region = "auto"`` see first);
- the probe of the healthy region alone (five Binding samples + an Allocate).

Baseline, same rounds: one STUN Binding round trip to the healthy server.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.table import Row, print_table
from softphone import events as ev
from softphone.preflight import Preflight
from softphone.rtc.configuration import Configuration, IceServer
from softphone.rtc.probe import probe_regions
from softphone.rtc.server_check import check_servers
from tests.coturn import PASSWORD, TurnRegion, start_regions
from tests.test_rtc_restart import drop_udp_port

BASELINE = "baseline: one STUN Binding round trip (healthy)"
ALL = "probe: 3 regions (healthy, dead, wrong credentials)"
FIRST = "preflight: first region-probe (healthy)"
HEALTHY = "probe: healthy region alone"


def configurations(regions: dict[str, TurnRegion]) -> dict[str, Configuration]:
    out = {}
    for name, region in regions.items():
        server = region.ice_server(credential="wrong-one" if name == "wrong" else PASSWORD)
        out[name] = Configuration(ice_servers=(server,), ice_transport_policy="all")
    return out


async def one_round(
    configs: dict[str, Configuration], healthy: TurnRegion, timeout: float
) -> dict[str, float]:
    figures: dict[str, float] = {}
    stun = IceServer((f"stun:{healthy.address}:{healthy.port}",))
    started = time.perf_counter()
    (check,) = await check_servers((stun,))
    figures[BASELINE] = (time.perf_counter() - started) * 1000
    assert check.ok, check

    started = time.perf_counter()
    results = await probe_regions(configs, timeout=timeout)
    figures[ALL] = (time.perf_counter() - started) * 1000
    assert any(p.ok for p in results["healthy"]) and not any(p.ok for p in results["dead"])

    first = asyncio.get_running_loop().create_future()

    def seen(event: ev.Event) -> None:
        if isinstance(event, ev.RegionProbed) and event.region == "healthy" and not first.done():
            first.set_result(time.perf_counter())

    preflight = Preflight(seen)
    started = time.perf_counter()
    preflight.start(configs, timeout=timeout)
    figures[FIRST] = (await first - started) * 1000
    await preflight.close()

    started = time.perf_counter()
    await probe_regions({"healthy": configs["healthy"]}, timeout=timeout)
    figures[HEALTHY] = (time.perf_counter() - started) * 1000
    return figures


async def run(runs: int, timeout: float) -> None:
    healthy, dead, wrong = start_regions("127.0.12.1", "127.0.12.2", "127.0.12.3", base_port=54000)
    regions = {"healthy": healthy, "dead": dead, "wrong": wrong}
    drop_udp_port(dead.address, dead.port, on=True)
    rows = {name: Row(name, []) for name in (BASELINE, ALL, FIRST, HEALTHY)}
    try:
        configs = configurations(regions)
        await one_round(configs, healthy, timeout)  # warm-up, not counted
        for _ in range(runs):
            for name, value in (await one_round(configs, healthy, timeout)).items():
                rows[name].values.append(value)
    finally:
        drop_udp_port(dead.address, dead.port, on=False)
        for region in regions.values():
            region.stop()
    print_table(
        f"Preflight of three regions, one dead (timeout {timeout:g} s, n={runs}, interleaved)",
        list(rows.values()),
        baseline=rows[BASELINE],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (one of each row per round)")
    parser.add_argument("--timeout", type=float, default=2.0, help="bound of each check (s)")
    args = parser.parse_args()
    asyncio.run(run(args.runs, args.timeout))


if __name__ == "__main__":
    main()
