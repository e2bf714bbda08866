"""Time from the onset of 5 % packet loss to the ``high-packet-loss`` warning.

A ``softphone --headless`` call to echo through ``softphone serve`` on
loopback; loss is iptables' ``statistic`` match on every UDP datagram
(tests/impairments.py). Rows, all in one run:

- baseline: onset -> the first ``stats`` whose ``packets_lost`` grew (polled
  every 100 ms): how soon the loss can be seen at all in the session's figures;
- onset -> ``quality-warning`` ``high-packet-loss`` with the default
  thresholds (a sample a second, > 3 % over 7 intervals; the issue's bound
  is 15 s);
- rule removed -> ``quality-warning-cleared`` (defaults; cleared at 1 %);
- the same two with ``sample_interval = 0.25`` (configuration), to show what
  the window costs.

Run inside scripts/run-bench (root in a loopback-only namespace, for iptables).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.table import Row, print_table
from tests.harness import Headless, Server
from tests.impairments import random_udp_loss

LOSS = 0.05
AUDIO = ("--audio-in", "tone", "--audio-out", "null")


async def first_loss_seen(party: Headless, before: int, onset: float) -> float:
    """Seconds from ``onset`` to a ``stats`` event whose packets_lost passed ``before``."""
    while True:
        stats = await party.stats()
        if int(stats["packets_lost"]) > before:
            return float(stats["_received"]) - onset
        await asyncio.sleep(0.1)


async def one_onset(party: Headless, settle: float, baseline: bool) -> tuple[float, float, float]:
    """(seen, raised, cleared) seconds for one stretch of loss; baseline polls stats."""
    await asyncio.sleep(settle)  # the loss window is clean again
    lost_before = int((await party.stats())["packets_lost"])
    mark = party.mark()
    with random_udp_loss(LOSS):
        onset = time.monotonic()
        seen = await first_loss_seen(party, lost_before, onset) if baseline else float("nan")
        raised = await party.wait_for("quality-warning", 60, since=mark, name="high-packet-loss")
        healed = time.monotonic()
    print(f"  raised at {raised['value']} % lost over the window", flush=True)
    cleared = await party.wait_for(
        "quality-warning-cleared", 60, since=mark, name="high-packet-loss"
    )
    return seen, float(raised["_received"]) - onset, float(cleared["_received"]) - healed


async def measure(
    server: Server, workdir: Path, name: str, config: str, n: int, settle: float
) -> list[tuple[float, float, float]]:
    path = workdir / f"{name}.toml"
    path.write_text(config)
    party = await Headless.start(workdir, name, server.url, "--config", str(path), *AUDIO)
    results = []
    try:
        await party.wait_for("registered")
        await party.send(cmd="call", to="echo")
        await party.wait_for("connection-state", 30, state="connected")
        for i in range(n):
            results.append(await one_onset(party, settle, baseline=name == "defaults"))
            print(f"{name} {i + 1}/{n}: {results[-1]}", flush=True)
    finally:
        await party.quit()
    return results


async def run(n: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = await Server.start(workdir)
        try:
            defaults = await measure(server, workdir, "defaults", "", n, settle=8.0)
            fast = await measure(
                server, workdir, "fast", "[quality]\nsample_interval = 0.25\n", n, settle=3.0
            )
        finally:
            await server.stop()
    seen = Row("baseline: onset -> loss visible in stats", [1000 * s for s, _, _ in defaults])
    rows = [
        seen,
        Row(
            "onset -> high-packet-loss (defaults, 1 s samples)", [1000 * r for _, r, _ in defaults]
        ),
        Row("healed -> cleared (defaults)", [1000 * c for _, _, c in defaults]),
        Row("onset -> high-packet-loss (sample_interval 0.25)", [1000 * r for _, r, _ in fast]),
        Row("healed -> cleared (sample_interval 0.25)", [1000 * c for _, _, c in fast]),
    ]
    return print_table(f"5 % random loss -> quality warning (n={n})", rows, baseline=seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="loss onsets per row")
    asyncio.run(run(parser.parse_args().n))


if __name__ == "__main__":
    main()
