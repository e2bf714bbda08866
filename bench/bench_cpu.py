"""CPU per call: what one softphone process costs, next to a bare aiortc call.

Every figure is the process's utime+stime from /proc/PID/stat over a steady
window (after a short warm-up once the call is connected), as % of one core,
with its resident memory (VmRSS) at the end of the window. The machine is
shared, so each row is compared with baselines measured in the same run, the
compared rows interleaved round after round (``--repeats``):
- baresip 1.0 <-> baresip (Debian ``baresip-core``): the C reference, one Opus
  call with DTLS-SRTP, 440 Hz from ``ausine``, decoded audio to /dev/null;
- a bare aiortc 1.16 call between two plain Python processes, each
  sending a generated 440 Hz sine and reading the received track into nothing,
  negotiated over their stdin/stdout pipes. A second reference writes the
  received audio to a WAV file with the standard ``wave`` module.
``--compare TREE`` adds, in every round, the same softphone rows run from
another source tree (e.g. the main branch's checkout), for a before/after
measured side by side. The softphone call also gets a per-thread breakdown (/proc/PID/task/*/stat),
threads named by ``py-spy dump`` when py-spy is installed.

Rows:
- baresip <-> baresip; bare aiortc <-> bare aiortc (caller, callee);
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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from tests.harness import Headless, Server

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms
_TICKS = os.sysconf("SC_CLK_TCK")


# --- measuring -----------------------------------------------------------------------


def _stat_cpu(path: str) -> float:
    with open(path) as f:
        # The command name (field 2) may hold spaces; everything after its ")" is fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a whole process (all its threads) so far, in seconds."""
    return _stat_cpu(f"/proc/{pid}/stat")


def thread_seconds(pid: int) -> dict[int, float]:
    """User+system CPU time of each live thread of ``pid``, by thread id."""
    result: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread may end while we read
            result[int(tid)] = _stat_cpu(f"/proc/{pid}/task/{tid}/stat")
    return result


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by OS thread id, from ``py-spy dump`` (empty without py-spy).

    Python 3.11 does not name its OS threads, so /proc only says "python".
    """
    spy = _py_spy()
    if spy is None:
        return {}
    proc = await asyncio.create_subprocess_exec(
        spy,
        "dump",
        "--pid",
        str(pid),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    names: dict[int, str] = {}
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("Thread ") and '"' in line:
            tid = line.split()[1]
            if tid.isdigit():
                names[int(tid)] = line.split('"')[1]
    return names


@dataclass
class Usage:
    """One process's CPU over a window: the whole window, its equal parts, its threads."""

    name: str
    total: float  # % of one core over the whole window
    parts: list[float] = field(default_factory=list)
    rss: float = 0.0  # MB at the end of the window
    threads: dict[int, float] = field(default_factory=dict)  # tid -> % of one core
    thread_names: dict[int, str] = field(default_factory=dict)  # set for a breakdown


async def measure(pids: dict[str, int], seconds: float, parts: int = 3) -> dict[str, Usage]:
    """CPU % of one core for each named process over the same ``seconds``.

    The window is cut into ``parts`` so the table can show how steady it was;
    /proc counts in 10 ms ticks, so a part shorter than a few seconds is too coarse.
    """
    start_wall = time.monotonic()
    start = {name: cpu_seconds(pid) for name, pid in pids.items()}
    start_threads = {name: thread_seconds(pid) for name, pid in pids.items()}
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
    elapsed = previous_wall - start_wall
    for name, pid in pids.items():
        usage[name].total = 100 * (previous[name] - start[name]) / elapsed
        usage[name].rss = rss_mb(pid)
        end_threads = thread_seconds(pid)
        usage[name].threads = {
            tid: 100 * (cpu - start_threads[name].get(tid, 0.0)) / elapsed
            for tid, cpu in end_threads.items()
        }
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
    extra: float = 0.0  # the echo row: the server's CPU above idle


# --- baresip, the C reference ----------------------------------------------------------

_BARESIP_CONFIG = """\
poll_method epoll
sip_listen 127.0.0.1:{port}
net_interface 127.0.0.1
audio_player aufile,/dev/null
audio_source ausine,440
audio_alert aufile,/dev/null
module_path /usr/lib/baresip/modules
module opus.so
module ausine.so
module aufile.so
module dtls_srtp.so
module rtcpsummary.so
module_app menu.so
module_app account.so
statmode_default off
"""
_BARESIP_ACCOUNT = (
    "<sip:{name}@127.0.0.1:{port}>;regint=0;answermode=auto;"
    "mediaenc=dtls_srtp;audio_codecs=opus/48000/2\n"
)
#: rtcpsummary's line at the end of a call: packets received, lost (both directions).
_SUMMARY = re.compile(r"PR=(\d+);PS=(\d+);PL=(-?\d+),(-?\d+);")


async def _baresip(workdir: Path, name: str, port: int, *args: str) -> asyncio.subprocess.Process:
    home = workdir / f"baresip-{name}"
    home.mkdir(exist_ok=True)
    (home / "config").write_text(_BARESIP_CONFIG.format(port=port))
    (home / "accounts").write_text(_BARESIP_ACCOUNT.format(name=name, port=port))
    log = open(home / "log", "wb")  # noqa: SIM115 - the process owns it until it exits
    try:
        return await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(home),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    finally:
        log.close()


async def baresip_call(seconds: float, warmup: float, workdir: Path) -> Result | None:
    """baresip <-> baresip on loopback; None (with a line saying why) when it is missing."""
    if shutil.which("baresip") is None:
        print("baresip not found: apt-get install -y --no-install-recommends baresip-core")
        return None
    # -t ends each process; the callee outlives the caller so it prints its RTCP summary.
    length = warmup + seconds + 4
    callee = await _baresip(workdir, "callee", 5080, "-t", f"{length + 2:.0f}")
    await asyncio.sleep(0.5)
    caller = await _baresip(
        workdir, "caller", 5070, "-t", f"{length:.0f}", "-e", "/dial sip:callee@127.0.0.1:5080"
    )
    try:
        await asyncio.sleep(warmup + 2)  # SIP, DTLS, then the warm-up
        usage = await measure({"caller": caller.pid, "callee": callee.pid}, seconds)
    finally:
        await asyncio.gather(caller.wait(), callee.wait())
    summary = _SUMMARY.search((workdir / "baresip-callee" / "log").read_text(errors="replace"))
    note = "no RTCP summary: media not verified"
    if summary is not None:
        note = f"callee got {summary[1]} packets, lost {summary[3]}"
    return Result("baresip <-> baresip", list(usage.values()), note)


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


async def _packets(phone: Headless) -> tuple[int, int]:
    """Packets received and lost so far in the current call."""
    mark = phone.mark()
    await phone.send(cmd="stats")
    stats = await phone.wait_for("stats", 10, since=mark)
    return int(stats.get("packets_received") or 0), int(stats.get("packets_lost") or 0)


async def _measured_call(
    receiver: Headless, pids: dict[str, int], seconds: float
) -> tuple[dict[str, Usage], str]:
    """Measure ``pids`` while ``receiver`` is in a call; the note says what it received."""
    received, lost = await _packets(receiver)
    usage = await measure(pids, seconds)
    received_after, lost_after = await _packets(receiver)
    return usage, f"got {received_after - received} packets, lost {lost_after - lost}"


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes ``python -m softphone`` run the source tree ``tree``.

    ``-m`` puts the working directory first on ``sys.path``, ahead of
    PYTHONPATH: run from this checkout, a "compared" tree silently ran this
    tree's code (a ratio of 1.01 that meant nothing). PYTHONSAFEPATH (Python
    3.11) leaves the working directory out; the import is checked once here.
    """
    env = {"PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "import softphone; print(softphone.__file__)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    imported = Path(probe.stdout.strip()).resolve()
    if not imported.is_relative_to(tree.resolve()):
        raise SystemExit(f"--compare {tree}: python imports softphone from {imported} instead")
    return env


class Softphones:
    """The server (with its echo user), alice and bob, kept for every round."""

    def __init__(self, server: Server, alice: Headless, bob: Headless, label: str) -> None:
        self.server, self.alice, self.bob, self.label = server, alice, bob, label
        self.pids = {"alice": alice.proc.pid, "bob": bob.proc.pid, "server": server.proc.pid}
        self.server_idle = 0.0

    @classmethod
    async def start(cls, workdir: Path, tree: Path | None = None) -> Softphones:
        """Processes of this tree, or of the softphone source tree ``tree`` (a "before")."""
        env = None if tree is None else tree_env(tree)
        label = "" if tree is None else f" [{tree}]"
        if tree is not None:
            workdir = workdir / "compare"
            workdir.mkdir()
        server = await Server.start(workdir, env=env)
        null = ("--audio-in", "tone", "--audio-out", "null")
        alice = await Headless.start(workdir, "alice", server.url, *null, env=env)
        bob = await Headless.start(workdir, "bob", server.url, *null, env=env)
        await alice.wait_for("registered", 30)
        await bob.wait_for("registered", 30)
        return cls(server, alice, bob, label)

    async def idle(self, seconds: float, warmup: float) -> list[Result]:
        await asyncio.sleep(warmup)
        usage = await measure(self.pids, seconds)
        self.server_idle = usage["server"].total
        return [
            Result("softphone headless, registered, no call", [usage["alice"], usage["bob"]]),
            Result("softphone serve, idle (echo user online)", [usage["server"]]),
        ]

    async def call(self, seconds: float, warmup: float) -> Result:
        await _call(self.alice, self.bob, "bob")
        await asyncio.sleep(warmup)
        names = {
            "alice": await thread_names(self.alice.proc.pid),
            "bob": await thread_names(self.bob.proc.pid),
        }
        pids = {"alice": self.alice.proc.pid, "bob": self.bob.proc.pid}
        usage, note = await _measured_call(self.bob, pids, seconds)
        await _hangup(self.alice)
        for name, u in usage.items():
            u.thread_names = names[name]
        row = "softphone <-> softphone" + self.label
        return Result(row, list(usage.values()), "bob " + note)

    async def echo(self, seconds: float, warmup: float) -> list[Result]:
        await _call(self.alice, None, "echo")
        await asyncio.sleep(warmup)
        usage, note = await _measured_call(self.alice, self.pids, seconds)
        await _hangup(self.alice)
        extra = usage["server"].total - self.server_idle
        return [
            Result("softphone -> echo: caller" + self.label, [usage["alice"]], "alice " + note),
            Result(
                "softphone -> echo: server (echo user)" + self.label,
                [usage["server"]],
                f"+{extra:.1f} % over idle",
                extra=extra,
            ),
        ]

    async def stop(self) -> None:
        await asyncio.gather(self.alice.quit(), self.bob.quit(), return_exceptions=True)
        await self.server.stop()


async def wav_row(seconds: float, warmup: float, workdir: Path, server: Server) -> Result:
    """softphone <-> softphone writing what they hear to WAV files."""
    record = [
        ("--audio-in", "tone", "--audio-out", f"file:{workdir / n}.wav") for n in ("carol", "dave")
    ]
    carol = await Headless.start(workdir, "carol", server.url, *record[0])
    dave = await Headless.start(workdir, "dave", server.url, *record[1])
    try:
        await carol.wait_for("registered", 30)
        await dave.wait_for("registered", 30)
        await _call(carol, dave, "dave")
        await asyncio.sleep(warmup)
        pids = {"carol": carol.proc.pid, "dave": dave.proc.pid}
        usage, note = await _measured_call(dave, pids, seconds)
        await _hangup(carol)
    finally:
        await asyncio.gather(carol.quit(), dave.quit(), return_exceptions=True)
    return Result("softphone <-> softphone, --audio-out file:.wav", list(usage.values()), note)


# --- table ---------------------------------------------------------------------------


def _mean(result: Result | None) -> float:
    return statistics.mean(u.total for u in result.usage) if result else 0.0


def format_table(title: str, results: Sequence[Result], baresip: float, aiortc: float) -> str:
    """One line per process: CPU over the window, its parts' range, RSS, ratios.

    ``baresip`` and ``aiortc`` are the mean CPU of those calls' two processes in
    the same round; a softphone call's threads follow its processes.
    """
    header = (
        f"{'':<48} {'process':<8} {'cpu %':>6} {'parts min..max':>15} {'rss MB':>7} "
        f"{'x baresip':>9} {'x aiortc':>8}  note"
    )
    lines = [title, "=" * len(header), header, "-" * len(header)]

    def ratio(value: float, base: float) -> str:
        return f"{value / base:.2f}" if base > 0 else ""

    for result in results:
        for i, usage in enumerate(result.usage):
            spread = f"{min(usage.parts):.1f}..{max(usage.parts):.1f}"
            lines.append(
                f"{result.row if i == 0 else '':<48} {usage.name:<8} {usage.total:>6.1f} "
                f"{spread:>15} {usage.rss:>7.0f} {ratio(usage.total, baresip):>9} "
                f"{ratio(usage.total, aiortc):>8}  {result.note if i == 0 else ''}"
            )
            if usage.thread_names:
                for tid, cpu in sorted(usage.threads.items(), key=lambda t: -t[1]):
                    label = usage.thread_names.get(tid, f"thread {tid}")
                    if cpu >= 0.05:
                        lines.append(f"{'':<48}   {label[:30]:<30} {cpu:>6.1f}")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def summary(rounds: Sequence[dict[str, Result | None]]) -> str:
    """Mean over the rounds of each compared row, and the issue's three ratios."""

    def mean_of(key: str, value: Callable[[Result], float]) -> float:
        values = [value(r[key]) for r in rounds if r.get(key) is not None]  # type: ignore[arg-type]
        return statistics.mean(values) if values else 0.0

    baresip = mean_of("baresip", _mean)
    aiortc = mean_of("aiortc", _mean)
    softphone = mean_of("softphone", _mean)
    echo = mean_of("echo", lambda r: r.extra)
    before = mean_of("before", _mean)
    echo_before = mean_of("echo before", lambda r: r.extra)
    rss_aiortc = mean_of("aiortc", lambda r: statistics.mean(u.rss for u in r.usage))
    rss_softphone = mean_of("softphone", lambda r: statistics.mean(u.rss for u in r.usage))

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b > 0 else "n/a"

    lines = [
        f"Mean of {len(rounds)} interleaved round(s), % of one core per process:",
        f"  baresip {baresip:.1f}  aiortc {aiortc:.1f}  softphone {softphone:.1f}  "
        f"echo user +{echo:.1f}",
        f"  softphone / baresip = {ratio(softphone, baresip)} (goal <= 2)",
        f"  softphone / aiortc  = {ratio(softphone, aiortc)}",
        f"  echo user / softphone process = {ratio(echo, softphone)} (goal <= 1.5)",
        f"  RSS softphone / aiortc = {ratio(rss_softphone, rss_aiortc)} "
        f"({rss_softphone:.0f} / {rss_aiortc:.0f} MB, goal <= 1.3)",
    ]
    if before > 0:
        lines.append(
            f"  compared tree: softphone {before:.1f} (/ baresip = {ratio(before, baresip)}), "
            f"echo user +{echo_before:.1f}; this tree / compared = {ratio(softphone, before)}"
        )
    lines.append(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


async def run(seconds: float, warmup: float, repeats: int, compare: Path | None) -> str:
    texts = []
    rounds: list[dict[str, Result | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        phones = await Softphones.start(workdir)
        others = None if compare is None else await Softphones.start(workdir, compare)
        try:
            once = await phones.idle(seconds, warmup)
            if others is not None:
                await others.idle(seconds, 0)
            for i in range(repeats):
                row: dict[str, Result | None] = {
                    "baresip": await baresip_call(seconds, warmup, workdir),
                    "aiortc": await bare_call(seconds, warmup, None),
                    "softphone": await phones.call(seconds, warmup),
                }
                echo = await phones.echo(seconds, warmup)
                row["echo"] = echo[1]
                results = [r for r in row.values() if r is not None] + echo[:1]
                if others is not None:
                    row["before"] = await others.call(seconds, warmup)
                    echo_before = await others.echo(seconds, warmup)
                    row["echo before"] = echo_before[1]
                    results += [row["before"], *echo_before]
                rounds.append(row)
                if i == 0:
                    results += once
                    results.append(await bare_call(seconds, warmup, workdir))
                    results.append(await wav_row(seconds, warmup, workdir, phones.server))
                title = (
                    f"Round {i + 1}/{repeats}: CPU per process, % of one core over {seconds:g} s "
                    f"(after {warmup:g} s warm-up; 3 parts)"
                )
                texts.append(
                    format_table(title, results, _mean(row["baresip"]), _mean(row["aiortc"]))
                )
        finally:
            await phones.stop()
            if others is not None:
                await others.stop()
    texts.append(summary(rounds))
    return "\n\n".join(texts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=12, help="measuring window per row")
    parser.add_argument("--warmup", type=float, default=2, help="wait after connecting")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds")
    parser.add_argument(
        "--compare", type=Path, help="also measure the softphone of this source tree (a before)"
    )
    parser.add_argument("--peer", choices=("offer", "answer"), help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        asyncio.run(peer(args.peer, args.record))
    else:
        asyncio.run(run(args.seconds, args.warmup, args.repeats, args.compare))


if __name__ == "__main__":
    main()
