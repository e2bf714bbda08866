"""SIP call set-up and re-INVITE ICE restart through Kamailio + rtpengine (issue 14).

    python -m bench.bench_sip [--runs N]

One Kamailio (docs/kamailio.cfg, digest auth for WebSocket clients) and one
rtpengine on loopback, started as the tests start them (tests/sip.py):

- baresip -> baresip over UDP through the same Kamailio: the baseline (a plain
  SIP phone, no ICE, no DTLS): ``dial`` until baresip reports the call
  established;
- softphone (SIP over WebSocket) -> baresip: INVITE (the ``call`` command)
  until the 200 OK (``call-state`` active; the 407 challenge included), and
  until audio arrives (the first received RTP packets in ``stats``);
- then the softphone restarts ICE by re-INVITE: the time the restart takes
  (``ice-restart`` done, elapsed_ms) and the longest gap in received audio.

Root is needed: it re-runs itself inside a loopback-only network namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.netns import in_namespace, rerun_in_namespace  # noqa: E402
from bench.table import Row, print_table  # noqa: E402
from tests.harness import Headless  # noqa: E402
from tests.sip import LOOPBACK, Baresip, remove, sip_softphone, start_stack  # noqa: E402

SETTLE = 1.0  # seconds of audio after a restart, inside the gap window


def _read_netstring(sock: socket.socket, buffer: bytearray) -> dict[str, object]:
    while b":" not in buffer:
        buffer += sock.recv(4096)
    length, _, rest = bytes(buffer).partition(b":")
    size = int(length)
    while len(rest) < size + 1:
        more = sock.recv(4096)
        if not more:
            raise ConnectionError("baresip closed ctrl_tcp")
        rest += more
    buffer[:] = rest[size + 1 :]
    decoded: dict[str, object] = json.loads(rest[:size])
    return decoded


def baresip_setup_ms(caller: Baresip, callee_uri: str, timeout: float = 10) -> float:
    """``dial`` on baresip's ctrl_tcp until its CALL_ESTABLISHED event, then hang up."""
    with socket.create_connection((LOOPBACK, caller.ctrl_port), timeout=timeout) as sock:
        body = json.dumps({"command": "dial", "params": callee_uri, "token": "b"}).encode()
        started = time.perf_counter()
        sock.sendall(str(len(body)).encode() + b":" + body + b",")
        buffer = bytearray()
        while True:
            message = _read_netstring(sock, buffer)
            if message.get("type") == "CALL_ESTABLISHED":
                elapsed = (time.perf_counter() - started) * 1000
                break
            if message.get("type") == "CALL_CLOSED":
                raise RuntimeError(f"baresip call failed: {message}")
    caller.command("hangup")
    time.sleep(0.3)
    return elapsed


async def softphone_runs(
    alice: Headless, runs: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    invite_ok, to_audio, restart, gaps = [], [], [], []
    for _ in range(runs):
        mark = alice.mark()
        started = time.monotonic()
        await alice.send(cmd="call", to="bob")
        active = await alice.wait_for("call-state", since=mark, state="active")
        invite_ok.append((active["_received"] - started) * 1000)
        while int((await alice.stats())["packets_received"]) == 0:
            await asyncio.sleep(0.005)
        to_audio.append((time.monotonic() - started) * 1000)
        await alice.audio_flows(50)
        await alice.stats()  # opens the gap window
        mark = alice.mark()
        await alice.send(cmd="restart-ice")
        done = await alice.wait_for("ice-restart", 20, since=mark, phase="done")
        restart.append(float(done["elapsed_ms"]))
        await asyncio.sleep(SETTLE)
        gaps.append(float((await alice.stats())["audio_max_gap_since_last_stats_ms"]))
        mark = alice.mark()
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", since=mark, state="ended")
        await asyncio.sleep(0.3)
    return invite_ok, to_audio, restart, gaps


async def main(runs: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    stack = start_stack()
    try:
        bob = stack.baresip("bob", tone_hz=440)
        dave = stack.baresip("dave", tone_hz=660)
        baseline = [baresip_setup_ms(dave, f"sip:bob@{LOOPBACK}") for _ in range(runs)]
        alice = await sip_softphone(workdir, "alice", stack.kamailio, "--audio-in", "tone:660",
                                    "--audio-out", "null")  # fmt: skip
        try:
            await alice.wait_for("registered")
            invite_ok, to_audio, restart, gaps = await softphone_runs(alice, runs)
        finally:
            await alice.quit()
        del bob
    finally:
        remove(stack)
    anchor = Row("baresip -> baresip (UDP): dial -> established", baseline)
    print_table(
        "SIP call set-up through Kamailio + rtpengine",
        [
            anchor,
            Row("softphone (WS) -> baresip: INVITE -> 200 OK", invite_ok),
            Row("softphone (WS) -> baresip: INVITE -> first audio", to_audio),
        ],
        baseline=anchor,
    )
    print_table("softphone re-INVITE ICE restart (ice-restart done)", [Row("restart", restart)])
    print_table("longest received-audio gap around the restart", [Row("gap", gaps)])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not in_namespace():
        sys.exit(rerun_in_namespace("bench.bench_sip", ["--runs", str(args.runs)]))
    sys.exit(asyncio.run(main(args.runs)))
