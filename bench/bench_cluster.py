"""Two signaling nodes sharing Redis against one node, in the same run (``serve --redis``).

Same generators as bench_signaling (bench/signaling_generator.py), same
load: N clients (``-n``) with ``--presence subscribed`` and ``--contacts``
contacts each, registered in pairs; every call set-up is invite, ringing,
accept, offer, answer, 4 ice, hangup, each sent when the previous one
arrived. On one node both parties of a pair are on it; on two nodes every
caller is on node A and every callee on node B, so every message of every
set-up crosses Redis.

1. At ``--setup-rate`` (1000) set-ups a second for ``--setup-seconds``: set-up
   time and relay latency p50/p99, one node vs two.
2. Rising rates (``--rates``): the highest rate whose relay p99 stays within
   50 ms with every set-up started finished — one node vs two.

Goals (issue 11): cross-node relay p99 at most 2x the one-node figure, and two
nodes hold at least 1.6x the rate of one. CPU comes from /proc (% of one core)
for every server process, Redis included. One node cannot hold more than
RLIMIT_NOFILE connections: a bigger ``-n`` is clamped and the table says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_signaling import (
    FD_RESERVE,
    SERVE_OPTIONS,
    Child,
    cpu_seconds,
    stop_generators,
)
from bench.table import percentile
from softphone.signaling.limits import raise_open_files_limit
from tests.harness import Server
from tests.redis_server import RedisServer

# Two are enough (the lean generators use ~0.5 ms of CPU per set-up, a quarter
# of a core each at 1200 set-ups/s); more processes than cores only add
# scheduling delay to the relay latency being measured.
GENERATORS = 2
P99_LIMIT_MS = 50.0


@dataclass
class Setup:
    """One deployment under test: where callers and callees register, what to stop."""

    name: str
    caller_url: str
    callee_url: str
    pids: list[int]
    stop: Callable[[], Awaitable[None]]


async def one_node(workdir: Path) -> Setup:
    server = await Server.start(workdir, *SERVE_OPTIONS, "--presence", "subscribed", name="one")

    async def stop() -> None:
        await server.stop()

    return Setup("one node", server.url, server.url, [server.proc.pid], stop)


async def two_nodes(workdir: Path) -> Setup:
    redis = RedisServer()
    redis.start()
    common = (*SERVE_OPTIONS, "--presence", "subscribed", "--redis", redis.url)
    a = await Server.start(workdir, *common, "--node", "A", name="node-A")
    b = await Server.start(workdir, *common, "--node", "B", name="node-B")
    assert redis.proc is not None

    async def stop() -> None:
        await a.stop()
        await b.stop()
        for node in (a, b):
            if "Traceback" in node.stderr:
                print(node.stderr[-3000:])
            warnings = [line for line in node.stderr.splitlines() if "WARNING" in line]
            if warnings:
                print(f"  {node.name}: {len(warnings)} warning(s), last: {warnings[-3:]}")
        redis.stop()

    return Setup("two nodes", a.url, b.url, [a.proc.pid, b.proc.pid, redis.proc.pid], stop)


async def ask(gens: Sequence[Child], commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    for gen, cmd in zip(gens, commands, strict=True):
        gen.send(**cmd)
    return [json.loads(await g.readline()) for g in gens]


def _pairs(clients: int, generators: int) -> list[list[list[str]]]:
    pairs = [[f"u{2 * i}", f"u{2 * i + 1}"] for i in range(clients // 2)]
    return [pairs[i::generators] for i in range(generators)]


async def setups(gens: Sequence[Child], s: Setup, rate: float, seconds: float) -> dict[str, float]:
    """One phase of ``rate`` set-ups a second: latencies, completion, CPU of every server."""
    gen_pids = [g.pid for g in gens]
    before, wall = [cpu_seconds(p) for p in s.pids], time.monotonic()
    gen_before = [cpu_seconds(p) for p in gen_pids]
    cmd = {"cmd": "setups", "group": s.name, "rate": rate / len(gens), "seconds": seconds}
    results = await ask(gens, [cmd] * len(gens))
    elapsed = time.monotonic() - wall
    used = [cpu_seconds(p) - b for p, b in zip(s.pids, before, strict=True)]
    gen_used = sum(cpu_seconds(p) - b for p, b in zip(gen_pids, gen_before, strict=True))
    cpu = 100 * sum(used) / elapsed
    relay = [x for r in results for x in r["latencies"]]
    setup = [x for r in results for x in r["setup_ms"]]
    begun = sum(r["begun"] + r["skipped"] for r in results)
    done = sum(r["completed"] for r in results)
    return {
        "relay p50 ms": percentile(relay, 0.5),
        "relay p99 ms": percentile(relay, 0.99),
        "set-up p50 ms": percentile(setup, 0.5),
        "set-up p99 ms": percentile(setup, 0.99),
        "set-ups completed/s": done / max(r["elapsed"] for r in results),
        "set-ups not finished": begun - done,
        "connections closed": sum(r["dropped"] for r in results),
        "sends on closed sockets": sum(r["unsent"] for r in results),
        "server CPU % (all processes)": cpu,
        # CPU per finished set-up, each process: what the 2-core ceiling is made of.
        "server CPU ms/set-up": 1000 * sum(used) / max(done, 1),
        "per process CPU ms/set-up": [round(1000 * u / max(done, 1), 3) for u in used],
        "generators CPU ms/set-up": 1000 * gen_used / max(done, 1),
    }


async def measure(
    gens: Sequence[Child], s: Setup, args: argparse.Namespace, clients: int
) -> dict[str, Any]:
    cmds = [
        {"cmd": "register", "group": s.name, "url": s.caller_url, "callee_url": s.callee_url,
         "pairs": pairs, "contacts": args.contacts, "total": clients, "concurrency": 50}
        for pairs in _pairs(clients, len(gens))
    ]  # fmt: skip
    reg = await ask(gens, cmds)
    span = max(r["end"] for r in reg) - min(r["start"] for r in reg)
    out: dict[str, Any] = {
        "registered": clients - sum(r["failed"] for r in reg),
        "register all s": span,
    }
    out["fixed"] = await setups(gens, s, args.setup_rate, args.setup_seconds)
    ladder = []
    best = 0.0
    for rate in args.rates:
        figures = await setups(gens, s, rate, args.rate_seconds)
        ladder.append((rate, figures))
        print(f"  {s.name}: {rate:g}/s -> {json.dumps(figures)}", flush=True)
        ok = figures["relay p99 ms"] <= P99_LIMIT_MS and figures["set-ups not finished"] == 0
        if not ok:
            break
        best = rate
    out["ladder"] = ladder
    out["max rate"] = best
    await ask(gens, [{"cmd": "close", "group": s.name}] * len(gens))
    return out


def report(clients: int, note: str, args: argparse.Namespace, one: dict, two: dict) -> None:
    lines = [
        f"Cluster: N={clients} clients{note}, presence subscribed ({args.contacts} contacts), "
        f"{args.generators} generators; two nodes = callers on A, callees on B, Redis between",
        f"{'':<46} {'one node':>10} {'two nodes':>10} {'ratio':>7}",
    ]
    rows = [("registered", "registered"), ("register all: s", "register all s")]
    for label, key in rows:
        lines.append(f"{label:<46} {one[key]:>10.1f} {two[key]:>10.1f}")
    for key in one["fixed"]:
        a, b = one["fixed"][key], two["fixed"][key]
        if isinstance(a, list):
            lines.append(f"{args.setup_rate:g} set-ups/s: {key:<32} {a} {b}")
            continue
        ratio = f"{b / a:.2f}" if a else ""
        lines.append(f"{args.setup_rate:g} set-ups/s: {key:<32} {a:>10.1f} {b:>10.1f} {ratio:>7}")
    a, b = one["max rate"], two["max rate"]
    ratio = f"{b / a:.2f}" if a else ""
    label = f"max set-ups/s with relay p99 <= {P99_LIMIT_MS:g} ms"
    lines.append(f"{label:<46} {a:>10.0f} {b:>10.0f} {ratio:>7}")
    r99 = two["fixed"]["relay p99 ms"] / max(one["fixed"]["relay p99 ms"], 1e-9)
    lines.append(
        f"goal: cross-node relay p99 <= 2x one node: {r99:.2f}x "
        f"({'met' if r99 <= 2 else 'NOT met'}); two nodes >= 1.6x the rate of one: "
        f"{(b / a if a else float('nan')):.2f}x ({'met' if a and b / a >= 1.6 else 'NOT met'})"
    )
    print("\n".join(lines), flush=True)


async def run(args: argparse.Namespace) -> None:
    fd_limit = _raise_fd_limit()
    clients = min(args.n, fd_limit - FD_RESERVE) // (2 * args.generators) * 2 * args.generators
    note = f" (clamped from {args.n}: RLIMIT_NOFILE {fd_limit})" if clients < args.n else ""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        gens = [await Child.start("--generator") for _ in range(args.generators)]
        try:
            # Rounds interleave one node and two nodes: on a shared machine the
            # load drifts, and each round's ratio compares like with like.
            for round_no in range(1, args.rounds + 1):
                results = []
                for start in (one_node, two_nodes):
                    s = await start(workdir)
                    try:
                        results.append(await measure(gens, s, args, clients))
                    finally:
                        await s.stop()
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"round {round_no}/{args.rounds}, load average {load}:", flush=True)
                report(clients, note, args, *results)
        finally:
            await stop_generators(gens)


def _raise_fd_limit(wanted: int = 65536) -> int:
    """As root, lift the hard open-files limit too (servers and generators inherit it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    return raise_open_files_limit()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20000, help="clients, split across the nodes")
    parser.add_argument("--generators", type=int, default=GENERATORS)
    parser.add_argument("--contacts", type=int, default=10, help="subscriptions per client")
    parser.add_argument("--setup-rate", type=float, default=1000, help="set-ups a second")
    parser.add_argument("--setup-seconds", type=float, default=6)
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[1000, 1500, 2000, 3000, 4000, 6000]
    )
    parser.add_argument("--rounds", type=int, default=1, help="one node, then two, this often")
    parser.add_argument("--rate-seconds", type=float, default=4, help="length of each rate step")
    args, _others = parser.parse_known_args()  # python -m bench passes every bench's options
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
