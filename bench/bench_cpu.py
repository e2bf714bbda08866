"""CPU per call: what one softphone process costs, next to a bare aiortc call.

Every figure is the process's utime+stime from /proc/PID/stat over a steady
window (after a short warm-up once the call is connected), as % of one core.
The machine is shared, so each row is compared with a baseline measured in the
same run: a bare aiortc 1.16 call between two plain Python processes, each
sending a generated 440 Hz sine and reading the received track into nothing,
negotiated over their stdin/stdout pipes. A second reference writes the
received audio to a WAV file with the standard ``wave`` module.

Rows:
- baseline: bare aiortc <-> bare aiortc (caller, callee);
- bare aiortc recording to WAV;
- ``softphone --headless`` registered and idle; ``softphone serve`` idle
  (the echo user online);
- softphone <-> softphone, tone both ways, ``--audio-out null``;
- the same with ``--audio-out file:...wav``;
- softphone -> echo: the caller, and the server process, whose echo user
  answers in-process (the server's cost above idle is the echo call's cost).

Run inside the loopback-only namespace (scripts/run-bench): bare aiortc leaves
127.0.0.1 out of its host candidates and uses the namespace's 127.0.0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from tests.harness import Headless, Server

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms
_TICKS = os.sysconf("SC_CLK_TCK")


# --- measuring -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a whole process (all its threads) so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces; everything after its ")" is fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class Usage:
    """One process's CPU over a window: the whole window and its equal parts."""

    name: str
    total: float  # % of one core over the whole window
    parts: list[float] = field(default_factory=list)


async def measure(pids: dict[str, int], seconds: float, parts: int = 3) -> dict[str, Usage]:
    """CPU % of one core for each named process over the same ``seconds``.

    The window is cut into ``parts`` so the table can show how steady it was;
    /proc counts in 10 ms ticks, so a part shorter than a few seconds is too coarse.
    """
    start_wall = time.monotonic()
    start = {name: cpu_seconds(pid) for name, pid in pids.items()}
    previous, previous_wall = dict(start), start_wall
    usage = {name: Usage(name, 0.0) for name in pids}
    for i in range(1, parts + 1):
        await asyncio.sleep(max(0.0, start_wall + seconds * i / parts - time.monotonic()))
        now_wall = time.monotonic()
        now = {name: cpu_seconds(pid) for name, pid in pids.items()}
        for name in pids:
            usage[name].parts.append(
                100 * (now[name] - previous[name]) / (now_wall - previous_wall)
            )
        previous, previous_wall = now, now_wall
    for name in pids:
        usage[name].total = 100 * (previous[name] - start[name]) / (previous_wall - start_wall)
    return usage


# --- the bare aiortc peer (run as ``python -m bench.bench_cpu --peer offer|answer``) ---


def _tone_track() -> Any:
    """A paced 440 Hz sine, written here so the baseline uses nothing of ours."""
    import numpy as np
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
    from av import AudioFrame

    # 440 Hz fits a whole number of periods in one second: loop one second of it.
    second = 0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)
    table = second.astype(np.int16)

    class Tone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._pts = 0
            self._start: float | None = None

        async def recv(self) -> AudioFrame:
            if self.readyState != "live":
                raise MediaStreamError
            if self._start is None:
                self._start = time.monotonic()
            else:
                self._pts += FRAME_SAMPLES
                wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            offset = self._pts % SAMPLE_RATE
            samples = table[offset : offset + FRAME_SAMPLES].reshape(1, -1)
            frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._pts
            frame.time_base = Fraction(1, SAMPLE_RATE)
            return frame

    return Tone()


async def _consume(track: Any, record: Path | None, counter: list[int]) -> None:
    from aiortc.mediastreams import MediaStreamError

    out: wave.Wave_write | None = None
    with contextlib.ExitStack() as stack:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            counter[0] += 1
            if record is None:
                continue
            if out is None:
                out = stack.enter_context(wave.open(str(record), "wb"))
                out.setnchannels(len(frame.layout.channels))
                out.setsampwidth(2)
                out.setframerate(frame.sample_rate)
            out.writeframes(frame.to_ndarray().tobytes())


async def peer(role: str, record: Path | None) -> None:
    """One side of the bare call; descriptions and commands as JSON lines on stdin/stdout."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    loop = asyncio.get_running_loop()

    async def read_line() -> str:
        return await loop.run_in_executor(None, sys.stdin.readline)

    def write(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(_tone_track())
    frames = [0]
    tasks: list[asyncio.Task[None]] = []
    connected = loop.create_future()

    @pc.on("track")
    def on_track(track: Any) -> None:
        tasks.append(asyncio.create_task(_consume(track, record, frames)))

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "connected" and not connected.done():
            connected.set_result(None)

    try:
        if role == "offer":
            await pc.setLocalDescription(await pc.createOffer())
            write({"type": pc.localDescription.type, "sdp": pc.localDescription.sdp})
            answer = json.loads(await read_line())
            await pc.setRemoteDescription(RTCSessionDescription(**answer))
        else:
            offer = json.loads(await read_line())
            await pc.setRemoteDescription(RTCSessionDescription(**offer))
            await pc.setLocalDescription(await pc.createAnswer())
            write({"type": pc.localDescription.type, "sdp": pc.localDescription.sdp})
        await asyncio.wait_for(connected, 30)
        write({"event": "connected"})
        while (line := await read_line()) and line.strip() != "quit":
            write({"event": "stats", "frames": frames[0]})
    finally:
        await pc.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class BarePeer:
    """A bare aiortc peer subprocess, driven through its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, role: str, record: Path | None) -> BarePeer:
        args = [sys.executable, "-m", "bench.bench_cpu", "--peer", role]
        if record is not None:
            args += ["--record", str(record)]
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        return cls(proc)

    async def read(self, timeout: float = 30) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("bare aiortc peer exited early")
        result: dict[str, Any] = json.loads(line)
        return result

    def write(self, obj: dict[str, Any] | str) -> None:
        assert self.proc.stdin is not None
        text = obj if isinstance(obj, str) else json.dumps(obj)
        self.proc.stdin.write(text.encode() + b"\n")

    async def frames(self) -> int:
        self.write("stats")
        return int((await self.read())["frames"])

    async def stop(self) -> None:
        with contextlib.suppress(ConnectionError):
            self.write("quit")
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# --- rows --------------------------------------------------------------------------


@dataclass
class Result:
    row: str
    usage: list[Usage]
    note: str = ""


async def bare_call(seconds: float, warmup: float, record_dir: Path | None) -> Result:
    caller = await BarePeer.start("offer", record_dir / "caller.wav" if record_dir else None)
    callee = await BarePeer.start("answer", record_dir / "callee.wav" if record_dir else None)
    try:
        callee.write(await caller.read())
        caller.write(await callee.read())
        await caller.read()
        await callee.read()
        await asyncio.sleep(warmup)
        before = await callee.frames()
        usage = await measure({"caller": caller.proc.pid, "callee": callee.proc.pid}, seconds)
        received = await callee.frames() - before
    finally:
        await caller.stop()
        await callee.stop()
    name = "bare aiortc <-> bare aiortc"
    if record_dir is not None:
        name += ", received -> WAV"
    else:
        name = "baseline: " + name
    return Result(name, list(usage.values()), f"callee got {received / seconds:.0f} frames/s")


async def _call(caller: Headless, callee: Headless | None, to: str) -> None:
    mark_a = caller.mark()
    mark_b = callee.mark() if callee is not None else 0
    await caller.send(cmd="call", to=to)
    if callee is not None:
        await callee.wait_for("incoming", 30, since=mark_b)
        await callee.send(cmd="answer")
        await callee.wait_for("connection-state", 30, since=mark_b, state="connected")
    await caller.wait_for("connection-state", 30, since=mark_a, state="connected")


async def _hangup(caller: Headless) -> None:
    mark = caller.mark()
    await caller.send(cmd="hangup")
    await caller.wait_for("call-state", 15, since=mark, state="ended")


async def _packets(phone: Headless) -> int:
    mark = phone.mark()
    await phone.send(cmd="stats")
    return int((await phone.wait_for("stats", 10, since=mark)).get("packets_received") or 0)


async def softphone_rows(seconds: float, warmup: float, workdir: Path) -> list[Result]:
    results: list[Result] = []
    server = await Server.start(workdir)
    null = ("--audio-in", "tone", "--audio-out", "null")
    phones: list[Headless] = []
    try:
        alice = await Headless.start(workdir, "alice", server.url, *null)
        bob = await Headless.start(workdir, "bob", server.url, *null)
        phones += [alice, bob]
        await alice.wait_for("registered", 30)
        await bob.wait_for("registered", 30)
        await asyncio.sleep(warmup)
        pids = {"alice": alice.proc.pid, "bob": bob.proc.pid, "server": server.proc.pid}
        idle = await measure(pids, seconds)
        results.append(
            Result("softphone headless, registered, no call", [idle["alice"], idle["bob"]])
        )
        results.append(Result("softphone serve, idle (echo user online)", [idle["server"]]))

        await _call(alice, bob, "bob")
        await asyncio.sleep(warmup)
        before = await _packets(bob)
        usage = await measure(pids, seconds)
        received = await _packets(bob) - before
        results.append(
            Result(
                "softphone <-> softphone, tone, --audio-out null",
                [usage["alice"], usage["bob"]],
                f"bob got {received / seconds:.0f} packets/s",
            )
        )
        await _hangup(alice)

        await _call(alice, None, "echo")
        await asyncio.sleep(warmup)
        before = await _packets(alice)
        usage = await measure(pids, seconds)
        received = await _packets(alice) - before
        results.append(
            Result(
                "softphone -> echo: caller",
                [usage["alice"]],
                f"alice got {received / seconds:.0f} packets/s",
            )
        )
        results.append(
            Result(
                "softphone -> echo: server (echo user in-process)",
                [usage["server"]],
                f"+{usage['server'].total - idle['server'].total:.1f} % over idle",
            )
        )
        await _hangup(alice)
        await asyncio.gather(alice.quit(), bob.quit())

        record = [
            ("--audio-in", "tone", "--audio-out", f"file:{workdir / n}.wav")
            for n in ("carol", "dave")
        ]
        carol = await Headless.start(workdir, "carol", server.url, *record[0])
        dave = await Headless.start(workdir, "dave", server.url, *record[1])
        phones += [carol, dave]
        await carol.wait_for("registered", 30)
        await dave.wait_for("registered", 30)
        await _call(carol, dave, "dave")
        await asyncio.sleep(warmup)
        before = await _packets(dave)
        usage = await measure({"carol": carol.proc.pid, "dave": dave.proc.pid}, seconds)
        received = await _packets(dave) - before
        results.append(
            Result(
                "softphone <-> softphone, tone, --audio-out file:.wav",
                list(usage.values()),
                f"dave got {received / seconds:.0f} packets/s",
            )
        )
        await _hangup(carol)
    finally:
        await asyncio.gather(*(p.quit() for p in phones), return_exceptions=True)
        await server.stop()
    return results


# --- table ---------------------------------------------------------------------------


def format_table(title: str, results: Sequence[Result], baseline: float) -> str:
    """One line per process: CPU over the window, its parts' range, ratio to the baseline.

    ``baseline`` is the mean CPU of the baseline's two processes.
    """
    header = f"{'':<52} {'process':<8} {'cpu %':>6} {'parts min..max':>15} {'x baseline':>10}  note"
    lines = [title, "=" * len(header), header, "-" * len(header)]
    for result in results:
        for i, usage in enumerate(result.usage):
            spread = f"{min(usage.parts):.1f}..{max(usage.parts):.1f}"
            ratio = f"{usage.total / baseline:.2f}" if baseline > 0 else ""
            lines.append(
                f"{result.row if i == 0 else '':<52} {usage.name:<8} {usage.total:>6.1f} "
                f"{spread:>15} {ratio:>10}  {result.note if i == 0 else ''}"
            )
    text = "\n".join(lines)
    print(text, flush=True)
    return text


async def run(seconds: float, warmup: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = [
            await bare_call(seconds, warmup, None),
            await bare_call(seconds, warmup, workdir),
        ]
        results += await softphone_rows(seconds, warmup, workdir)
    baseline = statistics.mean(u.total for u in results[0].usage)
    title = (
        f"CPU per process, % of one core over {seconds:g} s "
        f"(after {warmup:g} s warm-up; {len(results[0].usage[0].parts)} parts)"
    )
    return format_table(title, results, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=12, help="measuring window per row")
    parser.add_argument("--warmup", type=float, default=2, help="wait after connecting")
    parser.add_argument("--peer", choices=("offer", "answer"), help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        asyncio.run(peer(args.peer, args.record))
    else:
        asyncio.run(run(args.seconds, args.warmup))


if __name__ == "__main__":
    main()
