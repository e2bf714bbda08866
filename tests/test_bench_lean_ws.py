"""bench.lean_ws against aiohttp's server: every length encoding, ping, both closes, heartbeat.

The generators of bench_signaling and bench_cluster measure the server
through this client; if it misread a frame the benchmarks would report lost
or late messages that the server never lost.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web

from bench.lean_ws import Heartbeat, LeanWebSocket, text_frame
from bench.signaling_generator import _CANDIDATE, SETUP_STEPS, _compact, _sdp, _setup_tails

LENGTHS = (0, 5, 125, 126, 300, 65535, 65536, 200000)


async def _handle(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 24)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            continue
        if msg.data == "lengths":
            for n in LENGTHS:
                await ws.send_str("x" * n)
        elif msg.data == "ping":
            await ws.ping(b"hi")
            await ws.send_str("pinged")
        elif msg.data == "close":
            await ws.close(code=4000)
        else:
            await ws.send_str("echo:" + msg.data)
    return ws


@pytest.fixture
async def url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/ws", _handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"ws://127.0.0.1:{runner.addresses[0][1]}/ws"
    await runner.cleanup()


async def _until(got: list[bytes], count: int) -> None:
    async with asyncio.timeout(10):
        while len(got) < count:
            await asyncio.sleep(0.01)


async def test_frames_of_every_length_both_ways(url: str) -> None:
    got: list[bytes] = []
    ws = await LeanWebSocket.connect(url, got.append)
    ws.send_frame(text_frame(b'{"a":1}'))
    big = "é" * 70000  # 140 000 bytes: a 64-bit length from the client
    ws.send_text(big.encode())
    ws.send_text(b"lengths")
    await _until(got, 2 + len(LENGTHS))
    assert got[0] == b'echo:{"a":1}'
    assert got[1] == ("echo:" + big).encode()
    assert [len(g) for g in got[2:]] == list(LENGTHS)
    await ws.close()
    assert ws.lost.done()


async def test_pings_are_answered_and_the_server_may_close(url: str) -> None:
    got: list[bytes] = []
    ws = await LeanWebSocket.connect(url, got.append)
    ws.send_text(b"ping")  # aiohttp's server would log a missing pong only with heartbeat
    await _until(got, 1)
    assert got == [b"pinged"]
    ws.send_text(b"close")
    await asyncio.wait_for(ws.lost, 5)
    assert ws.closed and not ws.send_text(b"late")


async def test_a_quiet_socket_pings_and_an_unanswered_ping_closes_it(url: str) -> None:
    heartbeat = Heartbeat(0.4, resolution=0.05)
    heartbeat.start()
    try:
        answered = await LeanWebSocket.connect(url, lambda _: None, heartbeat=heartbeat)
        # A TCP server that accepts the upgrade, then never answers anything.
        silent = socket.create_server(("127.0.0.1", 0))
        silent.setblocking(False)
        loop = asyncio.get_running_loop()

        async def upgrade_only() -> socket.socket:
            conn, _ = await loop.sock_accept(silent)
            request = await loop.sock_recv(conn, 4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key")
            )
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            await loop.sock_sendall(
                conn,
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n",
            )
            return conn

        port = silent.getsockname()[1]
        server_side = asyncio.create_task(upgrade_only())
        unanswered = await LeanWebSocket.connect(
            f"ws://127.0.0.1:{port}/ws", lambda _: None, heartbeat=heartbeat
        )
        conn = await server_side
        await asyncio.wait_for(unanswered.lost, 3)
        conn.settimeout(2)
        assert conn.recv(16)[:1] == b"\x89"  # it did ping (FIN + opcode 9) before giving up
        assert not answered.closed  # aiohttp answered its pings
        conn.close()
        silent.close()
        await answered.close()
    finally:
        await heartbeat.stop()


def test_setup_templates_carry_the_same_json_as_before() -> None:
    call, to = "s-u4-17", "u5"
    expected = {
        "invite": {"type": "invite", "call": call, "to": to},
        "ringing": {"type": "ringing", "call": call},
        "accept": {"type": "accept", "call": call},
        "offer": _sdp(call, "offer"),
        "answer": _sdp(call, "answer"),
        "ice": {"type": "ice", "call": call, "candidate": _CANDIDATE},
        "hangup": {"type": "hangup", "call": call},
    }
    tails = _setup_tails(call, to)
    for (step, _sender), tail in zip(SETUP_STEPS, tails, strict=True):
        assert tail == ("," + _compact(expected[step])[1:]).encode()
        assert json.loads(b'{"ts":1.5' + tail) == {"ts": 1.5, **expected[step]}
