"""Call setup time: from "call" to connection-state "connected".

Rows, all in one run on loopback:
- baseline: two bare aiortc RTCPeerConnections negotiating in-process;
- the softphone's PeerConnection pair in-process (what our rtc layer adds);
- two ``softphone --headless`` processes through ``softphone serve``: from the
  ``call`` command to the caller's ``connection-state: connected``, including
  ringing, the callee's ``answer`` and the signaling round trips.

Run inside a loopback-only namespace (scripts/run-bench): bare aiortc leaves
127.0.0.1 out of its host candidates, so the namespace gives lo a second
loopback address for it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aiortc import RTCConfiguration, RTCPeerConnection

from bench.table import Row, print_table
from softphone.media import create_source
from softphone.rtc.configuration import Configuration
from softphone.rtc.peer import PeerConnection
from tests.harness import Headless, Server

BARE_HOST = "127.0.0.9"


async def _connected(pc: RTCPeerConnection | PeerConnection) -> None:
    done = asyncio.get_running_loop().create_future()

    def check(*_: object) -> None:
        if pc.connectionState == "connected" and not done.done():
            done.set_result(None)

    pc.on("connectionstatechange", check)
    check()
    await asyncio.wait_for(done, 20)


async def bare_aiortc_once() -> float:
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    callee = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    caller.addTrack(create_source("tone").track)
    callee.addTrack(create_source("silence").track)
    try:
        started = time.perf_counter()
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)
        await asyncio.gather(_connected(caller), _connected(callee))
        return (time.perf_counter() - started) * 1000
    finally:
        await caller.close()
        await callee.close()


async def softphone_pc_once() -> float:
    caller = PeerConnection(Configuration(), host_addresses=["127.0.0.1"])
    callee = PeerConnection(Configuration(), host_addresses=["127.0.0.1"])
    caller.addTrack(create_source("tone").track)
    callee.addTrack(create_source("silence").track)
    try:
        started = time.perf_counter()
        await caller.setLocalDescription()
        assert caller.localDescription is not None
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription()
        assert callee.localDescription is not None
        await caller.setRemoteDescription(callee.localDescription)
        await asyncio.gather(_connected(caller), _connected(callee))
        return (time.perf_counter() - started) * 1000
    finally:
        await caller.close()
        await callee.close()


async def headless_calls(n: int, workdir: Path) -> tuple[list[float], list[float]]:
    """Setup times of ``n`` alice->bob calls and ``n`` alice->echo calls, in ms."""
    server = await Server.start(workdir)
    args = ("--audio-in", "tone", "--audio-out", "null")
    alice = await Headless.start(workdir, "alice", server.url, *args)
    bob = await Headless.start(workdir, "bob", server.url, *args)
    person: list[float] = []
    echo: list[float] = []
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        for i in range(2 * n):
            to = "bob" if i % 2 == 0 else "echo"
            mark_a, mark_b = alice.mark(), bob.mark()
            started = time.monotonic()
            await alice.send(cmd="call", to=to)
            if to == "bob":
                await bob.wait_for("incoming", since=mark_b)
                await bob.send(cmd="answer")
            connected = await alice.wait_for(
                "connection-state", 30, since=mark_a, state="connected"
            )
            (person if to == "bob" else echo).append((connected["_received"] - started) * 1000)
            await alice.send(cmd="hangup")
            await alice.wait_for("call-state", since=mark_a, state="ended")
            if to == "bob":
                await bob.wait_for("call-state", since=mark_b, state="ended")
            await asyncio.sleep(0.2)
    finally:
        await alice.quit()
        await bob.quit()
        await server.stop()
    return person, echo


async def run(n: int) -> str:
    bare = Row("baseline: bare aiortc pair, in-process", [])
    ours = Row("softphone PeerConnection pair, in-process", [])
    for _ in range(n):
        bare.values.append(await bare_aiortc_once())
        ours.values.append(await softphone_pc_once())
    with tempfile.TemporaryDirectory() as tmp:
        person, echo = await headless_calls(n, Path(tmp))
    rows = [
        bare,
        ours,
        Row("softphone headless: call -> answer -> connected", person),
        Row("softphone headless: call echo -> connected", echo),
    ]
    return print_table(f"Call setup, host candidates on loopback (n={n})", rows, baseline=bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10, help="calls per row")
    asyncio.run(run(parser.parse_args().n))


if __name__ == "__main__":
    main()
