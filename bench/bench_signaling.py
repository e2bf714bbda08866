"""Signaling server load against a bare aiohttp relay (bench/signaling_bare.py).

``softphone serve --no-echo`` runs as a real subprocess, with its limits
raised above what this load needs (every client comes from 127.0.0.1); so
does the baseline, which does the same work without validation, queues,
limits or logging. Both face the same load from generator processes
(bench/signaling_generator.py), each holding whole calls, so relay latency is
measured on one monotonic clock. Three tables:

1. Relay, N clients (``-n``), presence to everybody (``--presence all``):

   - registration: connect, hello, welcome, at most 25 in flight per generator;
   - fixed rate: ``--rate`` call messages a second in total (one ``sdp`` in
     five, the rest ``ice``) for ``--seconds``: latency and CPU at equal load;
   - saturation: every client keeps ``--window`` messages in flight to its
     peer: messages relayed per second (latency here is mostly queueing).

2. Scale, ``--scale`` clients with ``--presence subscribed`` and
   ``--contacts`` contacts each, over ``--scale-generators`` processes:
   time to register all (hello, welcome, subscribe, presence-snapshot),
   server RSS per client (VmRSS before and after), then ``--setup-rate``
   call set-ups a second for ``--setup-seconds`` (invite, ringing, accept,
   offer, answer, 4 ice, hangup, each sent when the previous one arrived):
   relay latency of every message, set-up time, CPU of server and generators.

3. Mass reconnect: ``--reconnect`` real JsonSignalingClient instances
   (20 contacts each) registered, then the server restarts on the same port;
   the clients' own backoff and jitter spread their return. Time from the
   stop until all registered again, and the new server's peak CPU.

The open-files limit caps one server at fewer than RLIMIT_NOFILE connections
(a few descriptors are the server's own); a bigger ``--scale`` is clamped and
the table says so. CPU comes from /proc/PID/task/*/schedstat (% of one core).
Traffic stays on 127.0.0.1; everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.signaling_generator import LOOPBACK
from bench.table import percentile
from softphone.eventloop import install_fast_loop
from softphone.signaling.limits import raise_open_files_limit
from tests.harness import Server

GENERATORS = 2
SCALE_GENERATORS = 4
FD_RESERVE = 40  # descriptors a server needs besides its clients'
HIGH = "1000000"  # a limit this load never reaches

#: ``softphone serve`` with its per-address and rate limits out of the way.
SERVE_OPTIONS = (
    "--no-echo",
    "--no-web",
    "--max-connections-per-address",
    HIGH,
    "--message-rate",
    HIGH,
    "--message-burst",
    HIGH,
)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process's live threads so far, in seconds.

    From /proc/PID/task/*/schedstat (nanoseconds) rather than /proc/PID/stat
    (10 ms ticks), because a registration burst lasts only tens of ms. Time of
    threads that already exited is missing, which is fine here: the servers and
    generators keep their threads.
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with (
            contextlib.suppress(FileNotFoundError, ProcessLookupError),
            open(f"/proc/{pid}/task/{task}/schedstat") as f,
        ):
            total += int(f.read().split()[0])
    return total / 1e9


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS), KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# --- helper processes --------------------------------------------------------------------


class Child:
    """A helper subprocess of this benchmark, spoken to in JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(cls, *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bench_signaling",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,
        )
        return cls(proc)

    async def readline(self, timeout: float = 300) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"helper process exited ({self.proc.returncode})")
        return line.decode()

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")

    async def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@dataclass
class Target:
    """One server under test and the figures measured on it, by metric name."""

    name: str
    url: str
    pid: int
    stop: Callable[[], Awaitable[object]]
    figures: dict[str, float] = field(default_factory=dict)
    stderr: Callable[[], str] = lambda: ""


async def start_bare(presence: str, port: int = 0) -> Target:
    child = await Child.start("--bare-server", presence, str(port))
    url = (await child.readline(20)).strip().removeprefix("listening on ")
    return Target("bare", url, child.pid, child.stop)


async def start_ours(workdir: Path, *extra: str) -> Target:
    server = await Server.start(workdir, *SERVE_OPTIONS, *extra, name=f"server-{time.time_ns()}")
    return Target(
        "softphone", server.url, server.proc.pid, server.stop, stderr=lambda: server.stderr
    )


def server_errors(t: Target) -> int:
    """Warnings, errors and tracebacks the server logged."""
    return sum(
        1
        for line in t.stderr().splitlines()
        if " WARNING " in line or " ERROR " in line or line.startswith("Traceback")
    )


# --- phases --------------------------------------------------------------------------------


@dataclass
class Phase:
    """What all generators reported for one phase, plus the CPU seen meanwhile."""

    results: list[dict[str, Any]]
    elapsed: float
    server_cpu: float  # % of one core
    generator_cpu: list[float]  # per generator, % of one core

    @property
    def latencies(self) -> list[float]:
        return [x for r in self.results for x in r["latencies"]]

    def total(self, key: str) -> int:
        return sum(int(r.get(key, 0)) for r in self.results)


async def phase(
    generators: Sequence[Child], server_pid: int, commands: Sequence[dict[str, Any]]
) -> Phase:
    pids = [server_pid] + [g.pid for g in generators]
    wall, before = time.monotonic(), [cpu_seconds(p) for p in pids]
    for gen, cmd in zip(generators, commands, strict=True):
        gen.send(**cmd)
    results = [json.loads(await g.readline()) for g in generators]
    elapsed = time.monotonic() - wall
    used = [100 * (cpu_seconds(p) - b) / elapsed for p, b in zip(pids, before, strict=True)]
    return Phase(results, elapsed, used[0], used[1:])


def _pairs(clients: int, generators: int) -> list[list[list[str]]]:
    pairs = [[f"u{2 * i}", f"u{2 * i + 1}"] for i in range(clients // 2)]
    return [pairs[i::generators] for i in range(generators)]


async def register(
    gens: Sequence[Child], t: Target, clients: int, *, contacts: int = 0, concurrency: int = 25
) -> Phase:
    cmds = [
        {
            "cmd": "register",
            "group": t.name,
            "url": t.url,
            "pairs": pairs,
            "contacts": contacts,
            "total": clients,
            "concurrency": concurrency,
        }
        for pairs in _pairs(clients, len(gens))
    ]
    return await phase(gens, t.pid, cmds)


def _registration_figures(t: Target, p: Phase, clients: int) -> None:
    span = max(r["end"] for r in p.results) - min(r["start"] for r in p.results)
    f = t.figures
    f["registration: clients/s"] = clients / span
    f["registration: connect to welcome median ms"] = percentile(p.latencies, 0.5)
    f["registration: connect to welcome p99 ms"] = percentile(p.latencies, 0.99)
    f["registration: server CPU ms per client"] = p.server_cpu / 100 * p.elapsed * 1000 / clients
    f["registrations failed"] = p.total("failed")


def _relay_figures(t: Target, label: str, p: Phase) -> None:
    elapsed = max(r["elapsed"] for r in p.results)
    relayed = p.total("in_window") / elapsed
    f = t.figures
    f[f"{label}: relayed msg/s"] = relayed
    f[f"{label}: latency median ms"] = percentile(p.latencies, 0.5)
    f[f"{label}: latency p99 ms"] = percentile(p.latencies, 0.99)
    f[f"{label}: latency max ms"] = max(p.latencies, default=float("nan"))
    f[f"{label}: server CPU %"] = p.server_cpu
    f[f"{label}: server CPU us/msg"] = p.server_cpu / 100 * 1e6 / max(1.0, relayed)
    f[f"{label}: busiest generator CPU %"] = max(p.generator_cpu)
    lost = p.total("sent") - p.total("received")
    f["messages lost or late (>5 s)"] = f.get("messages lost or late (>5 s)", 0) + lost
    f["error replies"] = p.total("errors")
    f["connections dropped"] = p.total("dropped")


async def close_group(gens: Sequence[Child], t: Target) -> None:
    await phase(gens, t.pid, [{"cmd": "close", "group": t.name}] * len(gens))


# --- table 1: relay ------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    clients: int
    rate: float  # messages/s in total, fixed-rate phase
    seconds: float  # each timed phase
    window: int  # messages in flight per client, saturation phase


async def compare_relay(gens: Sequence[Child], workdir: Path, spec: Load) -> tuple[Target, Target]:
    """Both servers up at once, each phase run on one right after the other.

    Idle connections cost nothing, and back-to-back phases see nearly the same
    background load on a shared machine, which keeps the ratios honest.
    """
    g = len(gens)
    targets: list[Target] = []
    try:
        targets.append(await start_bare("all"))
        targets.append(await start_ours(workdir))
        for t in targets:
            _registration_figures(t, await register(gens, t, spec.clients), spec.clients)
            await phase(gens, t.pid, [{"cmd": "pair", "group": t.name}] * g)
        rate = {"cmd": "rate", "rate": spec.rate / g, "seconds": spec.seconds}
        sat = {"cmd": "saturate", "seconds": spec.seconds, "window": spec.window}
        for label, cmd in (
            (f"fixed {spec.rate:g} msg/s", rate),
            (f"saturation, {spec.window} in flight/client", sat),
        ):
            for t in targets:
                _relay_figures(t, label, await phase(gens, t.pid, [{**cmd, "group": t.name}] * g))
        for t in targets:
            await close_group(gens, t)
            t.figures["server warnings/errors logged"] = server_errors(t)
        bare, ours = targets
        return ours, bare
    finally:
        for t in targets:
            await t.stop()


# --- table 2: scale -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    clients: int
    contacts: int
    setup_rate: float  # call set-ups a second, in total
    seconds: float


async def measure_scale(gens: Sequence[Child], t: Target, spec: Scale) -> None:
    """Register everybody with subscriptions, then run call set-ups at a fixed rate."""
    f = t.figures
    rss_before = rss_kib(t.pid)
    reg = await register(gens, t, spec.clients, contacts=spec.contacts, concurrency=50)
    span = max(r["end"] for r in reg.results) - min(r["start"] for r in reg.results)
    f["register all (hello+welcome+subscribe+snapshot): s"] = span
    _registration_figures(t, reg, spec.clients)
    f["registration: busiest generator CPU %"] = max(reg.generator_cpu)
    f["presence frames received"] = reg.total("presence")
    f["server RSS per client: KiB"] = (rss_kib(t.pid) - rss_before) / spec.clients
    cmd = {"cmd": "setups", "group": t.name, "rate": spec.setup_rate / len(gens)}
    p = await phase(gens, t.pid, [{**cmd, "seconds": spec.seconds}] * len(gens))
    label = f"{spec.setup_rate:g} set-ups/s"
    _relay_figures(t, label, p)
    elapsed = max(r["elapsed"] for r in p.results)
    f[f"{label}: set-ups completed/s"] = p.total("completed") / elapsed
    setup_ms = [x for r in p.results for x in r["setup_ms"]]
    f[f"{label}: set-up time (10 messages) median ms"] = percentile(setup_ms, 0.5)
    f[f"{label}: set-up time p99 ms"] = percentile(setup_ms, 0.99)
    f["set-ups not started (generator behind) or not finished"] = p.total("skipped") + (
        p.total("begun") - p.total("completed")
    )
    await close_group(gens, t)
    f["server warnings/errors logged"] = server_errors(t)


async def compare_scale(workdir: Path, spec: Scale, generators: int) -> tuple[Target, Target]:
    """One server at a time (20 000 connections each), the baseline first."""
    gens = [await Child.start("--generator") for _ in range(generators)]
    results: list[Target] = []
    try:
        for start in (
            lambda: start_bare("subscribed"),
            lambda: start_ours(workdir, "--presence", "subscribed", "--log-level", "INFO"),
        ):
            t = await start()
            try:
                await measure_scale(gens, t, spec)
            finally:
                await t.stop()
            results.append(t)
    finally:
        await stop_generators(gens)
    bare, ours = results
    return ours, bare


# --- table 3: mass reconnect ------------------------------------------------------------


async def peak_cpu(pid: int, stop: asyncio.Event, every: float = 0.25) -> float:
    """The highest CPU % of one core ``pid`` used over any ``every`` seconds until ``stop``."""
    peak = 0.0
    last, at = cpu_seconds(pid), time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            now, cpu = time.monotonic(), cpu_seconds(pid)
            peak = max(peak, 100 * (cpu - last) / max(now - at, 1e-3))
            last, at = cpu, now
    return peak


async def measure_reconnect(
    gens: Sequence[Child], start: Callable[[int], Awaitable[Target]], clients: int
) -> Target:
    port = free_port()
    first = await start(port)
    names = [f"u{i}" for i in range(clients)]
    for i, gen in enumerate(gens):
        gen.send(
            cmd="clients", url=first.url, names=names[i :: len(gens)], contacts=20, total=clients
        )
    for gen in gens:
        await gen.readline()
    stopped = time.perf_counter()
    await first.stop()
    again = await start(port)
    up = time.perf_counter()
    done = asyncio.Event()
    sampler = asyncio.create_task(peak_cpu(again.pid, done))
    try:
        p = await phase(gens, again.pid, [{"cmd": "registered_again", "timeout": 60}] * len(gens))
    finally:
        done.set()
        peak = await sampler
        await phase(gens, again.pid, [{"cmd": "stop_clients"}] * len(gens))
        again.figures["server warnings/errors logged"] = server_errors(again)
        await again.stop()
    times = sorted(x - stopped for r in p.results for x in r["times"])
    f = again.figures
    f["restart: stop to listening again s"] = up - stopped
    f["restart: stop to all registered again s"] = times[-1] if times else float("nan")
    f["restart: stop to half registered again s"] = percentile(times, 0.5)
    f["restart: server peak CPU % (250 ms windows)"] = peak
    f["restart: server mean CPU % until all back"] = p.server_cpu
    f["restart: reconnect attempts per client"] = p.total("attempts") / clients
    f["clients not back within 60 s"] = p.total("missing")
    f["clients that gave up"] = p.total("gave_up")
    return again


async def compare_reconnect(workdir: Path, clients: int, generators: int) -> tuple[Target, Target]:
    gens = [await Child.start("--generator") for _ in range(generators)]
    try:
        bare = await measure_reconnect(gens, lambda port: start_bare("subscribed", port), clients)
        ours = await measure_reconnect(
            gens,
            lambda port: start_ours(workdir, "--presence", "subscribed", "--port", str(port)),
            clients,
        )
    finally:
        await stop_generators(gens)
    return ours, bare


# --- report ----------------------------------------------------------------------------------


def format_table(title: str, ours: Target, base: Target) -> str:
    """Metric, softphone serve, bare relay, ratio (softphone / bare)."""
    header = f"{'':<64} {'softphone':>10} {'bare relay':>11} {'x baseline':>11}"
    lines = [title, "=" * len(header), header, "-" * len(header)]
    # Counts of what went wrong go last, after the measurements.
    names = sorted(ours.figures, key=lambda name: ":" not in name)
    for name in names:
        value = ours.figures[name]
        other = base.figures.get(name, float("nan"))
        ratio = f"{value / other:.2f}" if other and other == other else ""
        lines.append(f"{name:<64} {value:>10.1f} {other:>11.1f} {ratio:>11}")
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


async def stop_generators(gens: Sequence[Child]) -> None:
    for gen in gens:
        with contextlib.suppress(ConnectionError):
            gen.send(cmd="quit")
    await asyncio.gather(*(g.stop() for g in gens))


async def run(args: argparse.Namespace) -> None:
    fd_limit = raise_open_files_limit()  # inherited by the servers and generators
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        gens = [await Child.start("--generator") for _ in range(args.generators)]
        try:
            for n in args.n:
                ours, base = await compare_relay(
                    gens, workdir, Load(n, args.rate, args.seconds, args.window)
                )
                format_table(
                    f"Relay, N={n} clients ({n // 2} calls), presence to all, "
                    f"{args.generators} generators, {args.seconds:g} s per phase",
                    ours,
                    base,
                )
        finally:
            await stop_generators(gens)
        if args.scale:
            clients = min(args.scale, fd_limit - FD_RESERVE) // (2 * args.scale_generators)
            clients *= 2 * args.scale_generators
            note = f" (clamped from {args.scale}: RLIMIT_NOFILE {fd_limit})"
            spec = Scale(clients, args.contacts, args.setup_rate, args.setup_seconds)
            ours, base = await compare_scale(workdir, spec, args.scale_generators)
            format_table(
                f"Scale, N={clients} clients{note if args.scale > fd_limit - FD_RESERVE else ''}, "
                f"presence subscribed ({args.contacts} contacts each), "
                f"{args.scale_generators} generators, {args.setup_seconds:g} s of set-ups",
                ours,
                base,
            )
        if args.reconnect:
            ours, base = await compare_reconnect(workdir, args.reconnect, args.generators)
            format_table(
                f"Mass reconnect: server restart under {args.reconnect} JsonSignalingClients "
                f"(20 contacts each), {args.generators} generators",
                ours,
                base,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", type=int, nargs="*", default=[50, 200], help="clients of the relay tables (even)"
    )
    parser.add_argument("--seconds", type=float, default=6, help="length of each relay phase")
    parser.add_argument("--rate", type=float, default=1000, help="total msg/s, fixed-rate phase")
    parser.add_argument("--window", type=int, default=4, help="in flight per client, saturation")
    parser.add_argument("--generators", type=int, default=GENERATORS, help="generator processes")
    parser.add_argument(
        "--scale", type=int, default=2000, help="clients of the scale table (0: none)"
    )
    parser.add_argument("--scale-generators", type=int, default=SCALE_GENERATORS)
    parser.add_argument("--contacts", type=int, default=20, help="subscriptions per client")
    parser.add_argument("--setup-rate", type=float, default=1000, help="call set-ups a second")
    parser.add_argument("--setup-seconds", type=float, default=6, help="length of set-up phase")
    parser.add_argument(
        "--reconnect", type=int, default=1000, help="clients of the reconnect table (0: none)"
    )
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--bare-server", nargs=2, metavar=("PRESENCE", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.generator:
        from bench.signaling_generator import generator_main

        # The loop the servers and headless clients run on, and a cheaper one:
        # the generators' CPU is taken from the servers under test.
        install_fast_loop()
        asyncio.run(generator_main())
    elif args.bare_server:
        from bench.signaling_bare import bare_server

        presence, port = args.bare_server
        asyncio.run(bare_server(presence, int(port)))
    else:
        if any(n < 2 * args.generators or n % 2 for n in args.n):
            parser.error("-n: each size must be even and at least 2 per generator")
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
