"""Ephemeral TURN credentials end to end: coturn ``--use-auth-secret``, ``softphone serve``
minting them per user, and headless softphones renewing them during a call.

Every path crosses a TURN server (``ice_transport_policy = "relay"``), so the
selected pair says which region carries the call. The credentials live 3 s:
a region switch after the first ones lapsed only works with the renewed ones,
and a credential that lapsed without renewal is refused with 401 (said, with
the server's URL, never the credential).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from softphone.signaling.turn_rest import mint_credential
from tests.coturn import TurnRegion
from tests.harness import Headless, Server, connected_call
from tests.test_e2e_regions import relay_address, wait_relay

pytestmark = pytest.mark.e2e

COTURN_SECRET = "coturn-rest-secret-Hq73"
TTL = 3
ADDRESSES = {"eu-west": "127.0.0.2", "us-east": "127.0.0.3"}
AUDIO = ("--audio-in", "tone:440", "--audio-out", "null")


@pytest.fixture
def rest_regions() -> Iterator[dict[str, TurnRegion]]:
    started: dict[str, TurnRegion] = {}
    try:
        for i, (name, address) in enumerate(ADDRESSES.items()):
            region = TurnRegion(
                address=address,
                min_port=52000 + 100 * i,
                max_port=52060 + 100 * i,
                static_auth_secret=COTURN_SECRET,
            )
            region.start()
            started[name] = region
        yield started
    finally:
        for region in started.values():
            region.stop()


def server_config(path: Path, regions: dict[str, TurnRegion]) -> Path:
    lines = []
    for name, region in regions.items():
        lines += [
            "[[regions]]", f'name = "{name}"',
            "[[regions.ice_servers]]", f'urls = ["{region.url}"]',
            f'shared_secret = "{COTURN_SECRET}"', f"credential_ttl = {TTL}",
        ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_no_secret(*parties: Headless | Server) -> None:
    for party in parties:
        assert COTURN_SECRET not in party.stderr, f"secret in {party.name}'s stderr"
        if isinstance(party, Headless):
            assert COTURN_SECRET not in json.dumps(party.events), party.name


async def test_renewed_credentials_carry_a_region_switch_after_the_first_lapsed(
    tmp_path: Path, rest_regions: dict[str, TurnRegion]
) -> None:
    server = await Server.start(
        tmp_path, "--config", str(server_config(tmp_path / "server.toml", rest_regions))
    )
    client = tmp_path / "client.toml"
    client.write_text('ice_transport_policy = "relay"\n')
    common = ("--config", str(client), "--log-level", "DEBUG", *AUDIO)
    alice = await Headless.start(tmp_path, "alice", server.url, *common)
    bob = await Headless.start(tmp_path, "bob", server.url, *common)
    try:
        for party in (alice, bob):
            await party.wait_for("regions", names=list(ADDRESSES), source="server")
            await party.wait_for("region", name="eu-west")
        call = await connected_call(alice, bob, "bob")
        pair = await alice.wait_for("selected-pair")
        assert relay_address(pair) == ADDRESSES["eu-west"]

        # The renewal reaches the live call; a second one comes after the first
        # credentials lapsed (at 80 % of each 3 s lifetime).
        mark = alice.mark()
        first = await alice.wait_for("credentials-refreshed", since=mark, call=call)
        assert first["regions"] == list(ADDRESSES)
        assert 0 < first["expires_in"] <= TTL
        lapsed_at = first["_received"] + TTL - TTL * 0.8
        await alice.wait_for(
            "credentials-refreshed", since=alice.events.index(first) + 1, call=call
        )
        assert time.monotonic() > lapsed_at
        assert alice.find("ice-restart", since=mark) is None  # renewing restarts nothing

        before = {party.name: await party.stats() for party in (alice, bob)}
        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="region", name="us-east")
        await wait_relay(alice, ADDRESSES["us-east"], mark_a, timeout=15)
        await wait_relay(bob, ADDRESSES["us-east"], mark_b, timeout=15, side="remote")
        await alice.wait_for("ice-restart", since=mark_a, phase="done")
        for party in (alice, bob):
            await party.audio_flows()
            stats = await party.stats()
            assert stats["packets_lost"] == before[party.name]["packets_lost"] == 0, stats
            assert party.find("call-state", state="ended") is None
            assert party.find("ice-restart", since=mark_a, phase="failed") is None
    finally:
        await alice.quit()
        await bob.quit()
        await server.stop()
    assert_no_secret(alice, bob, server)


async def test_a_lapsed_credential_is_refused_with_401_and_said_so(
    tmp_path: Path, rest_regions: dict[str, TurnRegion]
) -> None:
    """carol's own regions are never renewed by a server: one holds a lapsed credential."""
    server = await Server.start(tmp_path)
    now = int(time.time())
    fresh_user, fresh = mint_credential(COTURN_SECRET, "carol", 3600, now=now)
    stale_user, stale = mint_credential(COTURN_SECRET, "carol", 1, now=now - 120)
    config = tmp_path / "carol.toml"
    config.write_text(
        'ice_transport_policy = "relay"\nregion = "eu-west"\n'
        '[[regions]]\nname = "eu-west"\n[[regions.ice_servers]]\n'
        f'urls = ["{rest_regions["eu-west"].url}"]\n'
        f'username = "{fresh_user}"\ncredential = "{fresh}"\n'
        '[[regions]]\nname = "us-east"\n[[regions.ice_servers]]\n'
        f'urls = ["{rest_regions["us-east"].url}"]\n'
        f'username = "{stale_user}"\ncredential = "{stale}"\n'
    )
    common = ("--config", str(config), "--log-level", "DEBUG", *AUDIO)
    carol = await Headless.start(tmp_path, "carol", server.url, *common)
    dave = await Headless.start(tmp_path, "dave", server.url, *common)
    try:
        await carol.wait_for("registered")
        await dave.wait_for("registered")
        await connected_call(carol, dave, "dave")
        mark = carol.mark()
        await carol.send(cmd="region", name="us-east")
        gathered = await carol.wait_for("ice-restart", since=mark, phase="gathered")
        url = rest_regions["us-east"].url
        assert gathered["candidates"] == 0, gathered
        [failure] = gathered["failures"]
        assert failure["url"] == url and "401" in failure["reason"], failure
        refused = await carol.wait_for("notice", since=mark)
        assert url in refused["message"] and "401" in refused["message"], refused
        assert "credential" in refused["message"]
        failed = await carol.wait_for("ice-restart", since=mark, phase="failed")
        assert url in failed["reason"]
        await carol.audio_flows()  # still on the old path
        assert carol.find("call-state", state="ended") is None
    finally:
        await carol.quit()
        await dave.quit()
        await server.stop()
    for party in (carol, dave):
        for secret in (stale, fresh):
            assert secret not in party.stderr and secret not in json.dumps(party.events)
