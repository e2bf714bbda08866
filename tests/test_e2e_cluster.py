"""``softphone serve --redis``: real nodes, a real ``redis-server``, real headless calls.

Each node is its own ``softphone serve`` process on loopback; alice and bob
register on different nodes, so every call message between them goes
through Redis. The nodes use their real heartbeat (1 s, lifetime 4 s).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from softphone.signaling.tokens import mint_token
from tests.coturn import TurnRegion
from tests.harness import Headless, Server, connected_call
from tests.redis_server import RedisServer, free_port
from tests.test_deploy_turn_rest import (
    ADDRESSES,
    COTURN_SECRET,
    rest_regions,  # noqa: F401 - a fixture
    server_config,
)
from tests.test_e2e_call import assert_tone
from tests.test_e2e_regions import relay_address, wait_relay

pytestmark = pytest.mark.e2e

TONE = ("--audio-in", "tone:440", "--audio-out", "null")
QUIET = ("--audio-in", "silence", "--audio-out", "null")
SECRET = b"cluster-token-secret-0123456789abcdef"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nodes(tmp_path: Path, redis: RedisServer) -> AsyncIterator[list[Server]]:
    """Nodes A and B on one Redis (more may be appended); all stopped after the test."""
    started = [await node(tmp_path, redis, name) for name in ("A", "B")]
    yield started
    for server in started:
        await server.stop()
    for server in started:
        assert "Traceback" not in server.stderr, server.stderr


async def node(tmp_path: Path, redis: RedisServer, name: str, *extra: str) -> Server:
    return await Server.start(
        tmp_path, "--redis", redis.url, "--node", name, "--no-web", *extra, name=f"node-{name}"
    )


async def test_a_call_across_nodes_carries_the_tone_and_hangups_go_both_ways(
    tmp_path: Path, nodes: list[Server]
) -> None:
    a, b = nodes
    recording = tmp_path / "bob.wav"
    alice = await Headless.start(tmp_path, "alice", a.url, *TONE)
    bob = await Headless.start(
        tmp_path, "bob", b.url, "--audio-in", "silence", "--audio-out", f"file:{recording}"
    )
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        call = await connected_call(alice, bob, "bob")
        async with aiohttp.ClientSession() as session:
            await bad_input(session, b.url, call)  # nothing of it reaches the call
        await bob.audio_flows(150)  # 3 s of alice's tone in the recording
        await bob.send(cmd="hangup")
        ended = await alice.wait_for("call-state", call=call, state="ended")
        assert ended["reason"] == "hangup"
        await bob.wait_for("call-state", call=call, state="ended")
        assert_tone(recording, 440)
        call = await connected_call(bob, alice, "alice")
        await alice.send(cmd="hangup")
        ended = await bob.wait_for("call-state", call=call, state="ended")
        assert ended["reason"] == "hangup"
    finally:
        await alice.quit()
        await bob.quit()


async def bad_input(session: aiohttp.ClientSession, url: str, call: str) -> None:
    """Garbage, a forged call message and a stolen name, from a client of ``url``."""
    async with session.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "hello", "user": "alice"}))
        assert (await ws.receive_json(timeout=5))["code"] == "name-taken"
        await ws.send_str(json.dumps({"type": "hello", "user": "mallory"}))
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        for frame in ("{", json.dumps({"type": "hangup", "call": call}), "x" * 70000):
            await ws.send_str(frame)
            while (reply := await ws.receive_json(timeout=5))["type"] == "presence":
                pass
            assert reply["type"] == "error", reply


async def test_a_killed_node_hangs_up_its_calls_with_gone(
    tmp_path: Path, nodes: list[Server]
) -> None:
    a, b = nodes
    alice = await Headless.start(tmp_path, "alice", a.url, *TONE)
    bob = await Headless.start(tmp_path, "bob", b.url, *QUIET)
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        call = await connected_call(alice, bob, "bob")
        b.kill()  # SIGKILL: no bye, no hangups, the heartbeat just stops
        killed = time.monotonic()
        ended = await alice.wait_for("call-state", timeout=15, call=call, state="ended")
        assert ended["reason"] == "gone"
        assert ended["_received"] - killed < 10  # the spec's own bound
        await alice.wait_for("presence", user="bob", online=False)
    finally:
        await alice.quit()
        await bob.quit()
    assert "node B" in a.stderr and "is gone" in a.stderr


async def test_a_redis_restart_mid_call_drops_nothing(
    tmp_path: Path, redis: RedisServer, nodes: list[Server]
) -> None:
    a, b = nodes
    alice = await Headless.start(tmp_path, "alice", a.url, *TONE)
    bob = await Headless.start(tmp_path, "bob", b.url, *QUIET)
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        call = await connected_call(alice, bob, "bob")
        redis.kill()
        await asyncio.sleep(1.5)  # a heartbeat or more with no Redis
        redis.start()
        deadline = time.monotonic() + 15
        while not all("re-publishing" in n.stderr for n in nodes):
            assert time.monotonic() < deadline, (a.stderr, b.stderr)
            await asyncio.sleep(0.1)
        await asyncio.sleep(4.5)  # past the lifetime: a node wrongly thought dead shows now
        await bob.audio_flows()
        assert alice.find("call-state", state="ended") is None
        await alice.send(cmd="hangup")
        ended = await bob.wait_for("call-state", call=call, state="ended")
        assert ended["reason"] == "hangup"
    finally:
        await alice.quit()
        await bob.quit()
    for server in nodes:
        assert "is unreachable" in server.stderr and "is gone" not in server.stderr


async def test_a_call_resumes_across_nodes_after_a_node_restart(
    tmp_path: Path, redis: RedisServer, nodes: list[Server]
) -> None:
    a, b = nodes
    port = a.url.split(":")[2].split("/")[0]
    alice = await Headless.start(tmp_path, "alice", a.url, *TONE)
    bob = await Headless.start(tmp_path, "bob", b.url, *QUIET)
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        call = await connected_call(alice, bob, "bob")
        await a.stop()
        nodes[0] = await node(tmp_path, redis, "A", "--port", port)
        await bob.wait_for("call-resumed", call=call, by="alice")
        await bob.audio_flows()
        await bob.send(cmd="hangup")
        ended = await alice.wait_for("call-state", call=call, state="ended")
        assert ended["reason"] == "hangup"
    finally:
        await alice.quit()
        await bob.quit()


async def test_tokens_and_turn_credentials_work_on_every_node_through_a_region_switch(
    tmp_path: Path,
    redis: RedisServer,
    rest_regions: dict[str, TurnRegion],  # noqa: F811
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET)
    config = server_config(tmp_path / "server.toml", rest_regions)
    common = ("--secret-file", str(secret_file), "--config", str(config))
    a = await node(tmp_path, redis, "A", *common)
    b = await node(tmp_path, redis, "B", *common)
    client = tmp_path / "client.toml"
    client.write_text('ice_transport_policy = "relay"\n')
    alice = await Headless.start(
        tmp_path, "alice", a.url, "--config", str(client), *TONE,
        "--token", mint_token(SECRET, "alice", 600),
    )  # fmt: skip
    bob = await Headless.start(
        tmp_path, "bob", b.url, "--config", str(client), *QUIET,
        "--token", mint_token(SECRET, "bob", 600),
    )  # fmt: skip
    try:
        for party in (alice, bob):
            await party.wait_for("regions", names=list(ADDRESSES), source="server")
        call = await connected_call(alice, bob, "bob")
        pair = await alice.wait_for("selected-pair")
        assert relay_address(pair) == ADDRESSES["eu-west"]
        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="region", name="us-east")
        await wait_relay(alice, ADDRESSES["us-east"], mark_a, timeout=15)
        await wait_relay(bob, ADDRESSES["us-east"], mark_b, timeout=15, side="remote")
        await bob.audio_flows()
        assert alice.find("call-state", call=call, state="ended") is None
    finally:
        await alice.quit()
        await bob.quit()
        await a.stop()
        await b.stop()
    for party in (alice, bob, a, b):
        assert COTURN_SECRET not in party.stderr


async def test_echo_and_the_web_client_are_on_every_node(
    tmp_path: Path, redis: RedisServer
) -> None:
    servers = [
        await Server.start(tmp_path, "--redis", redis.url, "--node", name, name=f"web-{name}")
        for name in ("A", "B")
    ]
    try:
        async with aiohttp.ClientSession() as session:
            for i, server in enumerate(servers):
                page = server.url.removesuffix("/ws").replace("ws://", "http://") + "/"
                async with session.get(page) as response:
                    assert response.status == 200
                async with session.ws_connect(server.url) as ws:
                    await ws.send_str(json.dumps({"type": "hello", "user": f"user{i}"}))
                    welcome = await ws.receive_json(timeout=5)
                    assert "echo" in welcome["online"]
                    await ws.send_str(json.dumps({"type": "invite", "call": f"e{i}", "to": "echo"}))
                    while (reply := await ws.receive_json(timeout=10))["type"] != "accept":
                        assert reply["type"] in ("presence", "ringing"), reply
    finally:
        for server in servers:
            await server.stop()


async def test_unreachable_redis_at_start_is_a_clear_error_without_the_password(
    tmp_path: Path,
) -> None:
    url = f"redis://admin:pa55-word@127.0.0.1:{free_port()}/0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "softphone", "serve", "--port", "0", "--redis", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2, (out, err)
    text = err.decode()
    assert "softphone serve: cannot reach Redis at redis://***@127.0.0.1:" in text
    assert "pa55-word" not in text and "admin" not in text and "Traceback" not in text
