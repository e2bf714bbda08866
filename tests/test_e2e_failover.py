"""Failing over from a region that goes silent, through real processes and coturn (1.2).

A silent outage is an iptables DROP of everything to and from one region's
TURN server, both ways: no ICMP, nothing fails fast, the path just goes quiet.
The time to audio back (DROP -> 0.4 s of received audio on the other side)
is printed and left to ``bench/bench_failover.py`` to judge against its goal;
what is asserted cannot flake: audio comes back through the fallback region,
and the events say which region, that the warm standby carried it, and that
a dead fallback region was skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.coturn import PASSWORD, TurnRegion, silenced, start_regions
from tests.harness import Headless, Server
from tests.test_e2e_regions import dead_region, relay_call, wait_relay, write_config

pytestmark = pytest.mark.e2e

REGION_ADDRESSES = {"eu-west": "127.0.0.2", "us-east": "127.0.0.3"}
DEAD_ADDRESS = "127.0.0.4"
HEARD_SECONDS = 0.4  # audio back means this much received after the outage


@pytest.fixture
def regions() -> Iterator[dict[str, TurnRegion]]:
    started = start_regions(*REGION_ADDRESSES.values(), base_port=50400)
    yield dict(zip(REGION_ADDRESSES, started, strict=True))
    for region in started:
        region.stop()


async def audio_back(party: Headless, since: float, timeout: float = 15) -> float:
    """Seconds from ``since`` until ``party`` has heard HEARD_SECONDS of audio after the gap.

    The gap is where received audio stops growing for at least 0.25 s; audio
    still in flight at the outage is not counted.
    """
    loop = asyncio.get_running_loop()
    last = float((await party.stats())["audio_seconds_received"])
    last_change = loop.time()
    resumed_from: float | None = None
    while loop.time() - since < timeout:
        await asyncio.sleep(0.02)
        heard = float((await party.stats())["audio_seconds_received"])
        now = loop.time()
        if heard != last:
            if resumed_from is None and now - last_change >= 0.25:
                resumed_from = last
            last, last_change = heard, now
        if resumed_from is not None and heard - resumed_from >= HEARD_SECONDS:
            return now - since
    raise AssertionError(f"{party.name}: no audio back within {timeout} s of the outage")


async def fail_over(alice: Headless, bob: Headless, lost: str) -> tuple[float, dict[str, object]]:
    """Silence region ``lost``; returns the seconds until bob hears audio, and alice's
    ``failover`` event."""
    await bob.audio_flows()
    mark_a, mark_b = alice.mark(), bob.mark()
    with silenced(REGION_ADDRESSES[lost]):
        dropped = asyncio.get_running_loop().time()
        heard_after = await audio_back(bob, dropped)
        failover = await alice.wait_for("failover", 10, since=mark_a)
        await wait_relay(alice, REGION_ADDRESSES["us-east"], mark_a, timeout=10)
        await wait_relay(bob, REGION_ADDRESSES["us-east"], mark_b, timeout=10)
        await bob.audio_flows()
        await alice.audio_flows()
    assert alice.find("media-lost", since=mark_a) is not None
    assert alice.find("region", since=mark_a, name="us-east") is not None
    assert alice.find("call-state", state="ended") is None
    return heard_after, failover


async def test_silent_outage_fails_over_through_the_warm_standby(
    server: Server, tmp_path: Path, regions: dict[str, TurnRegion]
) -> None:
    config = write_config(tmp_path / "config.toml", regions, fallback="us-east")
    async with relay_call(tmp_path, server, config) as (alice, bob):
        for party in (alice, bob):
            ready = await party.wait_for("standby", 15, phase="ready")
            assert ready["region"] == "us-east" and ready["candidates"] >= 1, ready
        heard_after, failover = await fail_over(alice, bob, "eu-west")
        assert failover["from_region"] == "eu-west" and failover["region"] == "us-east"
        assert failover["standby"] is True, failover
        print(f"silent outage -> {HEARD_SECONDS} s of audio back: {heard_after:.2f} s; {failover}")


async def test_a_dead_fallback_region_is_skipped_for_the_next_healthy_one(
    server: Server, tmp_path: Path, regions: dict[str, TurnRegion]
) -> None:
    dead = dead_region(DEAD_ADDRESS)
    config = write_config(tmp_path / "config.toml", regions, fallback="dead", extra_region=dead)
    with silenced(DEAD_ADDRESS):  # blackholed: its allocations time out, nothing refuses
        async with relay_call(tmp_path, server, config) as (alice, bob):
            failed = await alice.wait_for("standby", 20, phase="failed")
            assert failed["region"] == "dead" and DEAD_ADDRESS in str(failed["reason"]), failed
            assert PASSWORD not in str(failed)
            ready = await alice.wait_for("standby", 20, phase="ready")
            assert ready["region"] == "us-east", ready
            await bob.wait_for("standby", 20, phase="ready", region="us-east")
            _, failover = await fail_over(alice, bob, "eu-west")
            assert failover["region"] == "us-east" and failover["standby"] is True, failover


async def test_a_held_call_with_a_warm_standby_is_no_media_loss(
    server: Server, tmp_path: Path, regions: dict[str, TurnRegion]
) -> None:
    """(1.2) A hold (direction ``inactive``: no packets either way) for more than 2 s is
    silence the fast loss detector must not take for a dead path: no ``media-lost``, no
    ``failover`` on either side, and the audio comes back on resume."""
    config = write_config(tmp_path / "config.toml", regions, fallback="us-east")
    async with relay_call(tmp_path, server, config) as (alice, bob):
        for party in (alice, bob):
            await party.wait_for("standby", 15, phase="ready")
        await bob.audio_flows()
        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="hold", on=True)
        await alice.wait_for("hold", since=mark_a, on=True, by="local")
        await bob.wait_for("hold", since=mark_b, on=True, by="remote")
        await asyncio.sleep(2.5)  # the silence being judged, not a wait for something
        await alice.send(cmd="hold", on=False)
        await bob.wait_for("hold", since=mark_b, on=False, by="remote")
        await bob.audio_flows()
        await alice.audio_flows()
        for party, mark in ((alice, mark_a), (bob, mark_b)):
            for kind in ("media-lost", "failover", "error"):
                assert party.find(kind, since=mark) is None, (party.name, kind, party.events)
