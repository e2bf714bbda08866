"""A region switch mid-call on SIP: a re-INVITE through Kamailio, rtpengine restarts ICE.

The softphone is relay-only through two loopback coturn regions and calls
baresip through Kamailio + rtpengine; switching region is setConfiguration
plus restartIce, which on SIP goes out as a re-INVITE (docs/protocol.md section 4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.coturn import TurnRegion, start_regions
from tests.gaps import assert_gap_within
from tests.sip import SipStack, sip_softphone
from tests.test_e2e_regions import REGION_ADDRESSES, wait_relay, window_gap, write_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def sip_regions() -> Iterator[dict[str, TurnRegion]]:
    started = start_regions(*REGION_ADDRESSES.values(), base_port=51000)
    yield dict(zip(REGION_ADDRESSES, started, strict=True))
    for region in started:
        region.stop()


async def test_region_switch_mid_call_is_a_reinvite_and_audio_goes_on(
    sip_stack: SipStack, sip_regions: dict[str, TurnRegion], tmp_path: Path
) -> None:
    sip_stack.baresip("bob", tone_hz=440)
    regions_toml = write_config(tmp_path / "regions.toml", sip_regions).read_text()
    alice = await sip_softphone(tmp_path, "alice", sip_stack.kamailio, "--audio-in", "tone:660",
                                "--audio-out", "null", extra_toml=regions_toml)  # fmt: skip
    try:
        await alice.wait_for("registered")
        mark = alice.mark()
        await alice.send(cmd="call", to="bob")
        await alice.wait_for("connection-state", 30, state="connected")
        await wait_relay(alice, REGION_ADDRESSES["eu-west"], mark)
        await alice.audio_flows(50)
        await alice.stats()
        await asyncio.sleep(1.0)
        quiet = await window_gap(alice)
        mark = alice.mark()
        await alice.send(cmd="region", name="us-east")
        await wait_relay(alice, REGION_ADDRESSES["us-east"], mark)
        await alice.wait_for("ice-restart", 20, since=mark, phase="done")
        assert alice.find("offer-sent", since=mark) and alice.find("answer-received", since=mark)
        await asyncio.sleep(1.0)
        gap = await window_gap(alice)
        lost = (await alice.stats())["packets_lost"]
        await alice.audio_flows(50)
        print(f"SIP region switch: longest gap {gap:.0f} ms (quiet {quiet:.0f} ms), lost {lost}")
        assert_gap_within(gap, quiet, "alice")
        assert lost == 0
    finally:
        assert await alice.quit() == 0
