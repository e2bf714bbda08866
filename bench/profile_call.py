"""Where a softphone's CPU goes in a steady call: a py-spy profile as a text top-N.

Run: ``python -m bench.profile_call [--seconds 20] [--raw FILE]`` (everything
stays on loopback; it is not one of the ``bench_*`` rows ``python -m bench`` runs).

It starts the server and two headless softphones (tone in, null out), puts
alice in a call with bob, waits for the call to settle, then samples bob's
process with ``py-spy record --format raw`` (py-spy from PyPI, installed for
measuring only: it is not a dependency). Sampling skips idle frames, so the
counts are where CPU is spent. It prints the functions with the most samples
on their own (self) and below them (inclusive), as a share of all samples.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from bench.bench_cpu import _call, _hangup
from tests.harness import Headless, Server

MAIN = "Runner.run (asyncio/runners.py"  # a frame only the main thread (the loop) has
IDLE = ("epoll_wait", "epoll_pwait")  # a native sample blocked in the loop's poll


def top(collapsed: str, n: int) -> str:
    """Self and inclusive top-``n`` of py-spy's raw (collapsed stack) output.

    Only the main thread's stacks count (the asyncio loop: RTP, RTCP, DTLS,
    signaling); with native frames, a sample waiting in the loop's poll is idle.
    """
    own: Counter[str] = Counter()
    below: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("thread ")]
        if not frames or not any(f.startswith(MAIN) for f in frames):
            continue
        if frames[-1].startswith(IDLE):
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            below[frame] += samples
    lines = [f"{total} samples of the main thread (idle excluded)", "", f"top {n} self:"]
    lines += [f"  {100 * c / total:5.1f} %  {f}" for f, c in own.most_common(n)]
    lines += ["", f"top {n} inclusive:"]
    lines += [f"  {100 * c / total:5.1f} %  {f}" for f, c in below.most_common(n)]
    return "\n".join(lines)


async def profile(
    seconds: float, warmup: float, rate: int, n: int, out: Path | None, native: bool
) -> str:
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy not found: pip install py-spy (for measuring only)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = await Server.start(workdir)
        null = ("--audio-in", "tone", "--audio-out", "null")
        alice = await Headless.start(workdir, "alice", server.url, *null)
        bob = await Headless.start(workdir, "bob", server.url, *null)
        try:
            await alice.wait_for("registered", 30)
            await bob.wait_for("registered", 30)
            await _call(alice, bob, "bob")
            await asyncio.sleep(warmup)
            raw = workdir / "bob.txt"
            proc = await asyncio.create_subprocess_exec(
                spy, "record", "--pid", str(bob.proc.pid), "--duration", f"{seconds:.0f}",
                "--rate", str(rate), "--format", "raw", "--output", str(raw),
                *(("--native",) if native else ("--nonblocking",)),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await proc.wait()
            collapsed = raw.read_text()
            if out is not None:
                out.write_text(collapsed)
            await _hangup(alice)
        finally:
            await asyncio.gather(alice.quit(), bob.quit(), return_exceptions=True)
            await server.stop()
    text = top(collapsed, n)
    if not total_samples(text):
        text += "\n(no samples: is py-spy allowed to attach? run as root)"
    print(text, flush=True)
    return text


def total_samples(text: str) -> int:
    return int(text.split(" ", 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="sampling window")
    parser.add_argument("--warmup", type=float, default=3, help="wait after connecting")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's collapsed stacks here")
    parser.add_argument("--from-raw", type=Path, help="only summarise collapsed stacks kept before")
    parser.add_argument("--native", action="store_true", help="C frames too (uvloop, codecs)")
    args = parser.parse_args()
    if args.from_raw is not None:
        print(top(args.from_raw.read_text(), args.top))
        return
    asyncio.run(profile(args.seconds, args.warmup, args.rate, args.top, args.raw, args.native))


if __name__ == "__main__":
    main()
