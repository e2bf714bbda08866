"""Ephemeral TURN credentials: minted per user, pushed again before expiry, checked by coturn."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from softphone.signaling.adapter import RegionsRefreshed, Registered
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.server import SignalingServer
from softphone.signaling.turn_rest import RegionCredentials, mint_credential
from tests.coturn import TurnRegion

SHARED = "coturn-static-auth-secret-42"
TURN_ADDRESS = "127.0.0.9"
TURN_URL = f"turn:{TURN_ADDRESS}:3478?transport=udp"


def _regions(ttl: int | None = None) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"urls": [TURN_URL], "shared_secret": SHARED}
    if ttl is not None:
        entry["credential_ttl"] = ttl
    stun_only = {"urls": ["stun:127.0.0.9:3478"]}
    static = {"urls": ["turn:127.0.0.10:3478"], "username": "u", "credential": "static-pw"}
    return [
        {"name": "eu", "ice_servers": [entry, stun_only]},
        {"name": "us", "ice_servers": [static]},
    ]


def _turn_entry(regions: list[dict[str, Any]]) -> dict[str, Any]:
    entry = regions[0]["ice_servers"][0]
    assert isinstance(entry, dict)
    return entry


def test_minted_credential_is_the_turn_rest_formula() -> None:
    username, credential = mint_credential(SHARED, "alice", 600, now=1_000_000)
    assert username == "1000600:alice"
    expected = hmac.new(SHARED.encode(), b"1000600:alice", hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected


def test_regions_for_a_user_replace_the_secret_and_keep_the_rest() -> None:
    creds = RegionCredentials(_regions(ttl=100))
    assert creds.refresh_after == pytest.approx(80)
    eu, us = creds.for_user("alice", now=1_000)
    turn, stun_only = eu["ice_servers"]
    assert turn == {"urls": [TURN_URL], "username": "1100:alice", "credential": turn["credential"]}
    assert stun_only == {"urls": ["stun:127.0.0.9:3478"]}
    assert us == _regions()[1]
    assert RegionCredentials(_regions()[1:]).refresh_after is None
    assert RegionCredentials(_regions()).refresh_after == pytest.approx(3600 * 0.8)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"shared_secret": ""}, "non-empty string"),
        ({"credential_ttl": 0}, "credential_ttl"),
        ({"credential_ttl": "60"}, "credential_ttl"),
        ({"username": "x"}, "one or other"),
    ],
)
def test_bad_entries_are_refused_without_the_secret(change: dict[str, Any], text: str) -> None:
    regions = _regions()
    _turn_entry(regions).update(change)
    with pytest.raises(ValueError, match=text) as err:
        SignalingServer(regions=regions)
    assert SHARED not in str(err.value)
    assert "regions[0].ice_servers[0]" in str(err.value)


class Recording:
    """A raw client that keeps every frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[str] = []

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        self.frames.append(msg.data)
        obj = json.loads(msg.data)
        assert isinstance(obj, dict)
        return obj


@pytest.fixture
async def ephemeral_server() -> AsyncIterator[SignalingServer]:
    srv = SignalingServer(regions=_regions(ttl=2))
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop()


async def test_welcome_mints_and_regions_are_pushed_before_expiry(
    ephemeral_server: SignalingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as session:
        raw = Recording(await session.ws_connect(ephemeral_server.url))
        await raw.ws.send_str(json.dumps({"type": "hello", "user": "alice"}))
        started = time.monotonic()
        welcome = await raw.recv()
        assert welcome["type"] == "welcome"
        first = _turn_entry(welcome["regions"])
        expiry = int(first["username"].split(":")[0])
        assert first["username"].endswith(":alice")
        assert expiry - time.time() == pytest.approx(2, abs=1.1)
        # A bad frame's error reply is scanned as well.
        await raw.ws.send_str(json.dumps({"type": "regions", "regions": []}))
        assert (await raw.recv())["code"] == "bad-message"
        pushed = await raw.recv()
        assert pushed["type"] == "regions"
        assert time.monotonic() - started == pytest.approx(1.6, abs=0.4)  # 80 % of 2 s
        fresh = _turn_entry(pushed["regions"])
        assert int(fresh["username"].split(":")[0]) >= expiry
        assert pushed["regions"][1] == _regions()[1]
        again = await raw.recv()
        assert again["type"] == "regions"
    for frame in raw.frames:
        assert SHARED not in frame
        assert "shared_secret" not in frame and "credential_ttl" not in frame
    assert SHARED not in caplog.text


async def test_client_turns_a_push_into_regions_refreshed(
    ephemeral_server: SignalingServer,
) -> None:
    events: list[object] = []
    got = asyncio.Event()

    def listener(event: object) -> None:
        events.append(event)
        if isinstance(event, RegionsRefreshed):
            got.set()

    client = JsonSignalingClient(ephemeral_server.url, "alice")
    await client.start(listener)
    try:
        registered = next(e for e in events if isinstance(e, Registered))
        assert registered.regions is not None
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await client.close()
    refreshed = next(e for e in events if isinstance(e, RegionsRefreshed))
    assert len(refreshed.regions) == 2
    assert _turn_entry(list(refreshed.regions))["username"].endswith(":alice")


@pytest.fixture
def turn() -> Iterator[TurnRegion]:
    region = TurnRegion(address=TURN_ADDRESS, static_auth_secret=SHARED)
    region.start()
    yield region
    region.stop()


async def _allocate(turn: TurnRegion, entry: dict[str, Any]) -> tuple[str, int]:
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol,
        (turn.address, turn.port),
        username=entry["username"],
        password=entry["credential"],
        lifetime=60,
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_coturn_accepts_minted_and_refuses_expired_credentials(turn: TurnRegion) -> None:
    srv = SignalingServer(regions=_regions(ttl=2))
    await srv.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            raw = Recording(await session.ws_connect(srv.url))
            await raw.ws.send_str(json.dumps({"type": "hello", "user": "alice"}))
            entry = _turn_entry((await raw.recv())["regions"])
            relayed = await _allocate(turn, entry)
            assert relayed[0] == TURN_ADDRESS
            await asyncio.sleep(3.2)  # past the two-second lifetime
            with pytest.raises(stun.TransactionFailed) as refused:
                await _allocate(turn, entry)
            assert refused.value.response.error_code == 401
            # What the server pushed since is good again.
            while (pushed := await raw.recv())["type"] != "regions":
                pass
            while int(_turn_entry(pushed["regions"])["username"].split(":")[0]) < time.time() + 1:
                pushed = await raw.recv()
            assert (await _allocate(turn, _turn_entry(pushed["regions"])))[0] == TURN_ADDRESS
    finally:
        await srv.stop()
