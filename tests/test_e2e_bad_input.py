"""Hostile input from outside never breaks anyone else's call.

A raw WebSocket client ("mallory") throws every kind of bad frame at a real
``softphone serve`` while alice and bob are in a call, then calls carol and
feeds her garbage SDP and candidates. Each gets its clear error; alice and
bob's audio never stops, and carol's process goes on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.analysis import dominant_frequency, read_wav
from tests.harness import Headless, Server, connected_call

pytestmark = pytest.mark.e2e


class RawClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        while True:
            msg = await self.ws.receive(timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data: dict[str, Any] = json.loads(msg.data)
            if data.get("type") != "presence":
                return data

    async def expect_error(self, code: str) -> dict[str, Any]:
        reply = await self.receive()
        assert reply["type"] == "error", reply
        assert reply["code"] == code, reply
        assert reply["message"], reply
        assert not self.ws.closed
        return reply


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_bad_frames_and_bad_sdp_leave_other_calls_alone(
    server: Server, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    recording = tmp_path / "bob.wav"
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "tone:440", "--audio-out", "null"
    )
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "silence", "--audio-out", f"file:{recording}"
    )
    carol = await Headless.start(
        tmp_path, "carol", server.url, "--audio-in", "silence", "--audio-out", "null"
    )
    try:
        for party in (alice, bob, carol):
            await party.wait_for("registered")
        call_id = await connected_call(alice, bob, "bob")

        mallory = RawClient(await http.ws_connect(server.url))
        await mallory.send(type="invite", call="x1", to="bob")
        await mallory.expect_error("not-registered")
        await mallory.send(type="hello", user="bad name!")
        await mallory.expect_error("bad-message")
        await mallory.send(type="hello", user="alice")
        await mallory.expect_error("name-taken")
        await mallory.send(type="hello", user="mallory")
        assert (await mallory.receive())["type"] == "welcome"

        await mallory.ws.send_str("{this is not json")
        await mallory.expect_error("bad-message")
        await mallory.ws.send_bytes(b"\x00\x01binary")
        await mallory.expect_error("bad-message")
        await mallory.ws.send_str(json.dumps({"type": "ice", "pad": "x" * 70_000}))
        await mallory.expect_error("too-large")
        await mallory.send(type="teleport")
        await mallory.expect_error("bad-message")
        await mallory.send(type="invite", call="x2")
        await mallory.expect_error("bad-message")
        await mallory.send(type="hangup", call=call_id)
        await mallory.expect_error("unknown-call")
        await mallory.send(type="sdp", call=call_id, description={"type": "offer", "sdp": "v=0"})
        await mallory.expect_error("unknown-call")
        await mallory.send(type="ice", call="m1", candidate={"candidate": "garbage"})
        await mallory.expect_error("bad-message")

        # mallory calls carol and sends her nonsense inside well-formed frames
        await mallory.send(type="invite", call="m1", to="carol")
        await carol.wait_for("incoming", call="m1")
        assert (await mallory.receive())["type"] == "ringing"
        await carol.send(cmd="answer")
        assert (await mallory.receive())["type"] == "accept"
        mark = carol.mark()
        await mallory.send(
            type="sdp",
            call="m1",
            description={"type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"},
        )
        bad_sdp = await carol.wait_for("error", since=mark)
        assert bad_sdp["code"] == "bad-sdp" and "offer" in bad_sdp["message"]
        mark = carol.mark()
        await mallory.send(
            type="ice",
            call="m1",
            candidate={
                "candidate": "candidate:1 1 udp 2122260223 not-an-address 5000 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
        )
        bad_candidate = await carol.wait_for("error", since=mark)
        assert bad_candidate["code"] == "bad-candidate"
        await carol.send(cmd="hangup")
        await carol.wait_for("call-state", call="m1", state="ended")
        assert (await mallory.receive())["type"] == "hangup"
        await mallory.ws.close()

        # alice and bob never noticed: audio flows on (1.5 s more of it for the
        # recording, analysed after its first 0.5 s), nothing lost
        await bob.audio_flows(75)
        stats = await bob.stats()
        assert stats["packets_lost"] == 0, stats
        for party in (alice, bob):
            assert party.find("call-state", state="ended") is None
            assert party.find("connection-state", state="failed") is None
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", call=call_id, state="ended")
    finally:
        for party in (alice, bob, carol):
            assert await party.quit() == 0
    samples, rate = read_wav(recording)
    assert abs(dominant_frequency(samples[rate // 2 :], rate) - 440) <= 5
