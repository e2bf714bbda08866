"""Signaling server load: registration rate, relay throughput, relay latency and server CPU.

``softphone serve --no-echo`` runs as a real subprocess; so does the baseline,
a bare aiohttp WebSocket relay written here (it json-parses each text frame and
forwards it to the other party, with the same hello/welcome/presence and
invite bookkeeping, but no validation, no queues, no limits). Both face the
same load from generator processes (2 by default, so the generator is not the
bottleneck on its own), each holding whole calls (both parties), so a relayed
message's latency is measured on one monotonic clock:

- registration: N clients connect, send hello and wait for welcome, at most
  25 in flight per generator (a bounded burst, not a SYN flood); the server
  also sends every joiner's presence to everyone online;
- pairing: every caller invites its callee, which accepts;
- fixed rate: ``--rate`` call messages per second in total, spread over all
  clients (one ``sdp`` in five, the rest ``ice``), for ``--seconds``: latency
  and server CPU at the same offered load;
- saturation: every client keeps one message in flight to its peer (each
  received message is answered at once) for ``--seconds``: messages relayed
  per second; latency here is mostly queueing (Little's law: N / throughput).

Server and generator CPU come from /proc/PID/stat (% of one core). Traffic
stays on 127.0.0.1; everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from bench.table import percentile
from tests.harness import Server

LOOPBACK = "127.0.0.1"
GENERATORS = 2
REGISTER_CONCURRENCY = 25  # per generator
SAMPLES_KEPT = 20000  # latencies each generator sends back per phase

_CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ srflx "
    "raddr 0.0.0.0 rport 0 generation 0",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "sXcL",
}
_SDP = "\r\n".join(
    [
        "v=0",
        "o=- 3926582370 3926582370 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic:WMS *",
        "m=audio 50000 UDP/TLS/RTP/SAVPF 96 0 8",
        "c=IN IP4 127.0.0.1",
        "a=sendrecv",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=mid:0",
        "a=msid:4e3d7f0c-6a52-4b1b-a5b4-8a3a9f1c2d3e 6b0e6c1a-27d4-4f59-9b2b-0c7c3b8f1e2a",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=rtcp-mux",
        "a=ssrc:1874402374 cname:7c7f2f1e-0e7e",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=candidate:842163049 1 udp 2130706431 127.0.0.1 50000 typ host",
        "a=end-of-candidates",
        "a=ice-ufrag:sXcL",
        "a=ice-pwd:Wq3Z1lQ0c7XbYy8gCkq7nE",
        "a=fingerprint:sha-256 3B:5C:0E:7A:1F:9D:44:21:AB:CD:EF:01:23:45:67:89:"
        "9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78",
        "a=fingerprint:sha-384 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:"
        "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5",
        "a=setup:actpass",
        "",
    ]
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


# --- the baseline: a bare aiohttp relay (``--bare-server``) ------------------------------


async def bare_server() -> None:
    """Relays text frames between the two parties of a call; knows nothing else."""
    users: dict[str, web.WebSocketResponse] = {}
    calls: dict[str, tuple[web.WebSocketResponse, web.WebSocketResponse]] = {}
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        name: str | None = None
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                obj = json.loads(msg.data)
                kind = obj.get("type")
                if kind == "hello":
                    name = str(obj["user"])
                    presence = dumps({"type": "presence", "user": name, "online": True})
                    for other in list(users.values()):
                        await other.send_str(presence)
                    users[name] = ws
                    await ws.send_str(
                        dumps({"type": "welcome", "user": name, "online": sorted(users)})
                    )
                    continue
                if kind == "invite":
                    target = users[obj["to"]]
                    calls[obj["call"]] = (ws, target)
                else:
                    a, b = calls[obj["call"]]
                    target = b if ws is a else a
                obj["from"] = name
                await target.send_str(dumps(obj))
        finally:
            if name is not None:
                users.pop(name, None)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    print(f"listening on ws://{LOOPBACK}:{runner.addresses[0][1]}/ws", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


# --- load generator (``--generator``): commands and results as JSON lines ---------------


class _Client:
    __slots__ = ("accepted", "call", "group", "name", "peer", "reader", "suffixes", "welcome", "ws")

    def __init__(self, group: str, name: str) -> None:
        self.group = group
        self.name = name
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.peer: _Client | None = None
        self.call = ""
        self.suffixes: tuple[str, ...] = ()
        self.welcome = asyncio.get_running_loop().create_future()
        self.accepted = asyncio.get_running_loop().create_future()
        self.reader: asyncio.Task[None] | None = None


class Generator:
    """Holds whole calls, so both ends of every relayed message are timed on one clock.

    Clients come in groups, one per server under test, so both servers can hold
    their registered clients while the other one is measured.
    """

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.groups: dict[str, list[_Client]] = {}
        self.received = 0
        self.errors: dict[str, int] = {}
        self.latencies: list[float] = []
        self.answer_until = 0.0  # saturation: answer each message until then
        self.sent = 0

    async def register(self, group: str, url: str, pairs: list[list[str]]) -> dict[str, Any]:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        clients = self.groups[group] = []
        self.errors[group] = 0
        for i, (a, b) in enumerate(pairs):
            caller, callee = _Client(group, a), _Client(group, b)
            caller.peer, callee.peer = callee, caller
            caller.call = callee.call = f"call-{a}-{i}"
            for c in (caller, callee):
                c.suffixes = _suffixes(c.call)
            clients += [caller, callee]
        limit = asyncio.Semaphore(REGISTER_CONCURRENCY)
        started = time.perf_counter()
        latencies = await asyncio.gather(*(self._register(c, url, limit) for c in clients))
        return {"start": started, "end": time.perf_counter(), "latencies": latencies}

    async def _register(self, client: _Client, url: str, limit: asyncio.Semaphore) -> float:
        assert self.session is not None
        async with limit:
            t0 = time.perf_counter()
            client.ws = await self.session.ws_connect(url, autoping=True, max_msg_size=1 << 24)
            client.reader = asyncio.create_task(self._read(client))
            await client.ws.send_str(json.dumps({"type": "hello", "user": client.name}))
            await asyncio.wait_for(client.welcome, 60)
            return (time.perf_counter() - t0) * 1000

    async def pair(self, group: str) -> dict[str, Any]:
        callers = self.groups[group][0::2]
        for c in callers:
            assert c.ws is not None and c.peer is not None
            await c.ws.send_str(json.dumps({"type": "invite", "call": c.call, "to": c.peer.name}))
        await asyncio.wait_for(asyncio.gather(*(c.accepted for c in callers)), 60)
        return {"calls": len(callers)}

    async def _read(self, client: _Client) -> None:
        assert client.ws is not None
        ws = client.ws
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            text: str = msg.data
            if text.startswith('{"ts":'):
                now = time.perf_counter()
                sent_at = float(text[6 : text.index(",", 6)])
                self.latencies.append((now - sent_at) * 1000)
                self.received += 1
                if now < self.answer_until:
                    await self._send(client)
                continue
            obj = json.loads(text)
            kind = obj.get("type")
            if kind == "welcome" and not client.welcome.done():
                client.welcome.set_result(None)
            elif kind == "invite":
                await ws.send_str(json.dumps({"type": "accept", "call": obj["call"]}))
            elif kind == "accept" and not client.accepted.done():
                client.accepted.set_result(None)
            elif kind == "error":
                self.errors[client.group] += 1
                print(
                    f"generator: server error {obj.get('code')}: {obj.get('message')}",
                    file=sys.stderr,
                )

    async def _send(self, client: _Client) -> None:
        assert client.ws is not None
        suffixes = client.suffixes
        self.sent += 1
        text = '{"ts":' + repr(time.perf_counter()) + suffixes[self.sent % len(suffixes)]
        await client.ws.send_str(text)

    def _reset(self) -> None:
        self.received = self.sent = 0
        self.latencies = []

    async def _drain(self, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while self.received < self.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def _result(self, group: str, elapsed: float, received_in_window: int) -> dict[str, Any]:
        lat = self.latencies
        if len(lat) > SAMPLES_KEPT:
            lat = lat[:: len(lat) // SAMPLES_KEPT + 1]
        return {
            "sent": self.sent,
            "received": self.received,
            "in_window": received_in_window,
            "elapsed": elapsed,
            "latencies": lat,
            "errors": self.errors[group],
        }

    async def rate(self, group: str, rate: float, seconds: float) -> dict[str, Any]:
        """Open loop: send at ``rate`` per second, round robin over the clients."""
        clients = self.groups[group]
        self._reset()
        started = time.perf_counter()
        end = started + seconds
        i = 0
        while (now := time.perf_counter()) < end:
            due = int(rate * (now - started)) - self.sent
            for _ in range(due):
                await self._send(clients[i % len(clients)])
                i += 1
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        in_window = self.received
        await self._drain()
        return self._result(group, elapsed, in_window)

    async def saturate(self, group: str, seconds: float, window: int) -> dict[str, Any]:
        """Closed loop: ``window`` messages in flight per client, each answered on arrival."""
        self._reset()
        started = time.perf_counter()
        self.answer_until = started + seconds
        for _ in range(window):
            for client in self.groups[group]:
                await self._send(client)
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        in_window = self.received
        await self._drain()
        return self._result(group, elapsed, in_window)

    async def close(self, group: str) -> dict[str, Any]:
        clients = self.groups.pop(group, [])
        for c in clients:
            if c.ws is not None:
                await c.ws.close()
        readers = [c.reader for c in clients if c.reader is not None]
        await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 10)
        return {"closed": len(clients)}

    async def quit(self) -> None:
        for group in list(self.groups):
            await self.close(group)
        if self.session is not None:
            await self.session.close()


def _suffixes(call: str) -> tuple[str, ...]:
    """Everything after the timestamp, for four ``ice`` messages and one ``sdp``."""
    ice = json.dumps({"type": "ice", "call": call, "candidate": _CANDIDATE}, separators=(",", ":"))
    sdp = json.dumps(
        {"type": "sdp", "call": call, "description": {"type": "offer", "sdp": _SDP}},
        separators=(",", ":"),
    )
    return ("," + sdp[1:],) + ("," + ice[1:],) * 4


async def generator_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    gen = Generator()
    while line := await reader.readline():
        cmd = json.loads(line)
        name = cmd.pop("cmd")
        if name == "quit":
            break
        result = await getattr(gen, name)(**cmd)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    await gen.quit()


# --- orchestration ----------------------------------------------------------------------


class Child:
    """A helper subprocess of this module, spoken to in JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, mode: str) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bench_signaling",
            mode,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,
        )
        return cls(proc)

    async def readline(self, timeout: float = 120) -> str:
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
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@dataclass
class Phase:
    """What all generators reported for one phase, plus the CPU seen meanwhile."""

    results: list[dict[str, Any]]
    elapsed: float
    server_cpu: float  # % of one core
    generator_cpu: float  # sum over generators, % of one core

    @property
    def latencies(self) -> list[float]:
        return [x for r in self.results for x in r["latencies"]]


async def phase(
    generators: Sequence[Child], server_pid: int, commands: Sequence[dict[str, Any]]
) -> Phase:
    pids = [server_pid] + [g.proc.pid for g in generators]
    wall, before = time.monotonic(), [cpu_seconds(p) for p in pids]
    for gen, cmd in zip(generators, commands, strict=True):
        gen.send(**cmd)
    results = [json.loads(await g.readline()) for g in generators]
    elapsed = time.monotonic() - wall
    used = [100 * (cpu_seconds(p) - b) / elapsed for p, b in zip(pids, before, strict=True)]
    return Phase(results, elapsed, used[0], sum(used[1:]))


@dataclass
class Target:
    """One server under test and the figures measured on it, by metric name."""

    name: str
    url: str
    pid: int
    figures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Load:
    clients: int
    rate: float  # messages/s in total, fixed-rate phase
    seconds: float  # each timed phase
    window: int  # messages in flight per client, saturation phase


async def register(gens: Sequence[Child], t: Target, spec: Load) -> None:
    g = len(gens)
    pairs = [[f"u{2 * i}", f"u{2 * i + 1}"] for i in range(spec.clients // 2)]
    reg = await phase(
        gens,
        t.pid,
        [
            {"cmd": "register", "group": t.name, "url": t.url, "pairs": pairs[i::g]}
            for i in range(g)
        ],
    )
    span = max(r["end"] for r in reg.results) - min(r["start"] for r in reg.results)
    f = t.figures
    f["registration: clients/s"] = spec.clients / span
    f["registration: connect+hello+welcome median ms"] = percentile(reg.latencies, 0.5)
    f["registration: connect+hello+welcome p99 ms"] = percentile(reg.latencies, 0.99)
    f["registration: server CPU ms per client"] = (
        reg.server_cpu / 100 * reg.elapsed * 1000 / spec.clients
    )
    await phase(gens, t.pid, [{"cmd": "pair", "group": t.name}] * g)


def _relay_figures(t: Target, label: str, p: Phase) -> None:
    elapsed = max(r["elapsed"] for r in p.results)
    relayed = sum(r["in_window"] for r in p.results) / elapsed
    f = t.figures
    f[f"{label}: relayed msg/s"] = relayed
    f[f"{label}: latency median ms"] = percentile(p.latencies, 0.5)
    f[f"{label}: latency p99 ms"] = percentile(p.latencies, 0.99)
    f[f"{label}: server CPU %"] = p.server_cpu
    f[f"{label}: server CPU us/msg"] = p.server_cpu / 100 * 1e6 / max(1.0, relayed)
    f[f"{label}: generators CPU % (sum)"] = p.generator_cpu
    lost = sum(r["sent"] - r["received"] for r in p.results)
    f["messages lost or late (>5 s)"] = f.get("messages lost or late (>5 s)", 0) + lost
    f["error replies"] = sum(r["errors"] for r in p.results)


async def fixed_rate(gens: Sequence[Child], t: Target, spec: Load) -> None:
    cmd = {"cmd": "rate", "group": t.name, "rate": spec.rate / len(gens), "seconds": spec.seconds}
    _relay_figures(t, f"fixed {spec.rate:g} msg/s", await phase(gens, t.pid, [cmd] * len(gens)))


async def saturation(gens: Sequence[Child], t: Target, spec: Load) -> None:
    cmd = {"cmd": "saturate", "group": t.name, "seconds": spec.seconds, "window": spec.window}
    _relay_figures(
        t,
        f"saturation, {spec.window} in flight/client",
        await phase(gens, t.pid, [cmd] * len(gens)),
    )


async def compare(gens: Sequence[Child], workdir: Path, spec: Load) -> tuple[Target, Target]:
    """Both servers up at once, each phase run on one right after the other.

    Idle connections cost nothing, and back-to-back phases see nearly the same
    background load on a shared machine, which keeps the ratios honest.
    """
    bare_proc = await Child.start("--bare-server")
    server: Server | None = None
    try:
        url = (await bare_proc.readline(20)).strip().removeprefix("listening on ")
        bare = Target("bare", url, bare_proc.proc.pid)
        server = await Server.start(workdir, "--no-echo", name=f"server-{spec.clients}")
        ours = Target("softphone", server.url, server.proc.pid)
        for step in (register, fixed_rate, saturation):
            for target in (bare, ours):
                await step(gens, target, spec)
        for target in (bare, ours):
            await phase(gens, target.pid, [{"cmd": "close", "group": target.name}] * len(gens))
        return ours, bare
    finally:
        if server is not None:
            await server.stop()
        await bare_proc.stop()


def format_table(title: str, ours: Target, base: Target) -> str:
    """Metric, softphone serve, bare relay, ratio (softphone / bare)."""
    header = f"{'':<60} {'softphone':>10} {'bare relay':>11} {'x baseline':>11}"
    lines = [title, "=" * len(header), header, "-" * len(header)]
    # Counts of what went wrong go last, after the measurements.
    names = sorted(ours.figures, key=lambda name: ":" not in name)
    for name in names:
        value = ours.figures[name]
        other = base.figures.get(name, float("nan"))
        ratio = f"{value / other:.2f}" if other and other == other else ""
        lines.append(f"{name:<60} {value:>10.1f} {other:>11.1f} {ratio:>11}")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


async def run(
    sizes: Sequence[int], rate: float, seconds: float, window: int, generators: int
) -> str:
    gens = [await Child.start("--generator") for _ in range(generators)]
    tables = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                ours, base = await compare(gens, Path(tmp), Load(n, rate, seconds, window))
                title = (
                    f"Signaling load, N={n} clients ({n // 2} calls), "
                    f"{generators} generator processes, {seconds:g} s per phase"
                )
                tables.append(format_table(title, ours, base))
                print(flush=True)
    finally:
        for gen in gens:
            with contextlib.suppress(ConnectionError):
                gen.send(cmd="quit")
        await asyncio.gather(*(g.stop() for g in gens))
    return "\n\n".join(tables)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", type=int, nargs="+", default=[50, 200], help="clients (even; two per call)"
    )
    parser.add_argument("--seconds", type=float, default=6, help="length of each timed phase")
    parser.add_argument(
        "--rate", type=float, default=1000, help="total messages/s in the fixed-rate phase"
    )
    parser.add_argument(
        "--window",
        type=int,
        default=4,
        help="messages in flight per client in the saturation phase",
    )
    parser.add_argument(
        "--generators", type=int, default=GENERATORS, help="load-generator processes"
    )
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generator:
        asyncio.run(generator_main())
    elif args.bare_server:
        asyncio.run(bare_server())
    else:
        if any(n < 2 * args.generators or n % 2 for n in args.n):
            parser.error("-n: each size must be even and at least 2 per generator")
        asyncio.run(run(args.n, args.rate, args.seconds, args.window, args.generators))


if __name__ == "__main__":
    main()
