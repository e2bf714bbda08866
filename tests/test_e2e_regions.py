"""Calls through real coturn regions on loopback, configured by a real config file.

Every path crosses a TURN server (``ice_transport_policy = "relay"``), so the
selected pair says which region carries the call. The region switch is the
headless ``region`` command: setConfiguration, then restartIce.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.coturn import PASSWORD, USER, TurnRegion, start_regions
from tests.harness import Headless, Server, connected_call

pytestmark = pytest.mark.e2e

REGION_ADDRESSES = {"eu-west": "127.0.0.2", "us-east": "127.0.0.3"}


@pytest.fixture
def regions() -> Iterator[dict[str, TurnRegion]]:
    started = start_regions(*REGION_ADDRESSES.values(), base_port=50000)
    yield dict(zip(REGION_ADDRESSES, started, strict=True))
    for region in started:
        region.stop()


def write_config(path: Path, regions: dict[str, TurnRegion], *, start: str = "eu-west",
                 extra_region: str = "") -> Path:
    lines = ['ice_transport_policy = "relay"', f'region = "{start}"']
    for name, region in regions.items():
        lines += [
            "[[regions]]", f'name = "{name}"',
            "[[regions.ice_servers]]", f'urls = ["{region.url}"]',
            f'username = "{USER}"', f'credential = "{PASSWORD}"',
        ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n" + extra_region)
    return path


def relay_address(pair: dict[str, object]) -> str:
    local = pair["local"]
    assert isinstance(local, dict)
    assert local["type"] == "relay", pair
    return str(local["address"])


async def test_relay_call_switches_region_and_never_shows_the_credential(
    server: Server, tmp_path: Path, regions: dict[str, TurnRegion]
) -> None:
    config = write_config(tmp_path / "config.toml", regions)
    common = ("--config", str(config), "--log-level", "DEBUG")
    alice = await Headless.start(tmp_path, "alice", server.url, *common,
                                 "--audio-in", "tone:440", "--audio-out", "null")
    bob = await Headless.start(tmp_path, "bob", server.url, *common,
                               "--audio-in", "tone:880", "--audio-out", "null")
    try:
        region = await alice.wait_for("region", name="eu-west")
        assert region["urls"] == [regions["eu-west"].url]
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        await connected_call(alice, bob, "bob")
        pair = await alice.wait_for("selected-pair")
        assert relay_address(pair) == "127.0.0.2"

        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="region", name="us-east")
        await alice.wait_for("region", since=mark_a, name="us-east")
        await alice.wait_for("negotiationneeded", since=mark_a)
        await bob.wait_for("offer-received", since=mark_b)
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            pairs = [e for e in alice.events[mark_a:] if e["event"] == "selected-pair"]
            if pairs and relay_address(pairs[-1]) == "127.0.0.3":
                break
            assert asyncio.get_running_loop().time() < deadline, alice.events[mark_a:]
            await asyncio.sleep(0.1)
        # the call never dropped
        assert alice.find("connection-state", since=mark_a, state="failed") is None
        assert alice.find("call-state", since=mark_a, state="ended") is None
        await asyncio.sleep(1.0)
        await bob.send(cmd="stats")
        stats = await bob.wait_for("stats", since=mark_b)
        assert stats["packets_received"] > 0
    finally:
        await alice.quit()
        await bob.quit()

    for party in (alice, bob):
        assert PASSWORD not in party.stderr, f"credential in {party.name}'s stderr"
        assert PASSWORD not in json.dumps(party.events), f"credential in {party.name}'s events"
    assert PASSWORD not in server.stderr


async def test_bad_region_is_refused_and_the_call_stays(
    server: Server, tmp_path: Path, regions: dict[str, TurnRegion]
) -> None:
    config = write_config(tmp_path / "config.toml", regions)
    alice = await Headless.start(tmp_path, "alice", server.url, "--config", str(config),
                                 "--audio-in", "tone", "--audio-out", "null")
    try:
        await alice.wait_for("registered")
        await alice.send(cmd="call", to="echo")
        await alice.wait_for("connection-state", 30, state="connected")
        mark = alice.mark()
        await alice.send(cmd="region", name="mars")
        error = await alice.wait_for("error", since=mark)
        assert error["code"] == "unknown-region"
        assert "mars" in error["message"] and "eu-west" in error["message"]
        assert alice.find("connection-state", since=mark, state="failed") is None
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", state="ended")
    finally:
        await alice.quit()


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ('user = "alice"\nregion = eu-west\n', ["line 2", "TOML"]),
        ('region = "nowhere"\n', ["nowhere"]),
        (
            '[[regions]]\nname = "eu"\n[[regions.ice_servers]]\nurls = ["turn:127.0.0.2:3478"]\n',
            ['region "eu"', "InvalidAccessError", "turn:127.0.0.2:3478"],
        ),
        (
            '[[regions]]\nname = "eu"\n[[regions.ice_servers]]\nurls = ["http://127.0.0.2"]\n',
            ['region "eu"', "SyntaxError", "http://127.0.0.2"],
        ),
    ],
    ids=["malformed-toml", "unknown-region", "turn-without-credentials", "bad-scheme"],
)
async def test_bad_config_file_names_the_problem(
    tmp_path: Path, body: str, fragments: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(body)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "softphone", "--headless", "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    message = err.decode()
    assert str(config) in message
    for fragment in fragments:
        assert fragment in message, message
