"""Calls over every TURN transport against real coturn: UDP, TCP, TLS (``turns:``), IPv6.

One coturn serves UDP and TCP on 3478 and TLS on 5349, with a certificate
made by the test's own CA. aioice's ``turn_ssl`` is a bool, so ``turns:``
verifies the server against the default store; ``SSL_CERT_FILE`` (which
``ssl.create_default_context`` honours) is how a private CA is trusted, here
and in production (README "TURN over TCP and TLS").

Every call is relay-only, so the selected pair says which URL carries it:
``relay_protocol`` (events 1.2) is ``udp``, ``tcp`` or ``tls``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from softphone.rtc.configuration import parse_ice_url
from tests.coturn import PASSWORD, USER, TurnRegion, in_loopback_namespace
from tests.gaps import assert_gap_within
from tests.harness import Headless, Server, parties
from tests.test_e2e_regions import relay_call
from tests.tls import make_certificates

pytestmark = pytest.mark.e2e

ADDRESS = "127.0.0.2"
WINDOW_SECONDS = 1.0


@pytest.fixture
def turn_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TurnRegion]:
    """coturn on ADDRESS with UDP, TCP and TLS; the parties trust its CA via SSL_CERT_FILE."""
    certs = make_certificates(tmp_path / "tls", ADDRESS)
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))  # Headless copies os.environ
    region = TurnRegion(address=ADDRESS, min_port=51000, max_port=51060, tls=certs)
    region.start()
    yield region
    region.stop()


def write_config(path: Path, regions: dict[str, list[str]], start: str) -> Path:
    lines = ['ice_transport_policy = "relay"', f'region = "{start}"']
    for name, urls in regions.items():
        shown = ", ".join(f'"{url}"' for url in urls)
        lines += [
            "[[regions]]", f'name = "{name}"',
            "[[regions.ice_servers]]", f"urls = [{shown}]",
            f'username = "{USER}"', f'credential = "{PASSWORD}"',
        ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def by_transport(region: TurnRegion) -> dict[str, list[str]]:
    """One region a transport: "udp", "tcp", "tls", plus "all" listing the three."""
    urls = {t: [region.url_for(t)] for t in ("udp", "tcp", "tls")}
    return {**urls, "all": [u for (u,) in urls.values()]}


async def wait_relay_protocol(
    party: Headless, protocol: str, since: int = 0, timeout: float = 15
) -> dict[str, Any]:
    """The newest selected pair since ``since`` once its local relay reaches TURN over
    ``protocol`` (udp, tcp or tls)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pairs = [e for e in party.events[since:] if e["event"] == "selected-pair"]
        if pairs and pairs[-1]["local"].get("relay_protocol") == protocol:
            assert pairs[-1]["local"]["type"] == "relay", pairs[-1]
            return pairs[-1]
        assert asyncio.get_running_loop().time() < deadline, party.events[since:]
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_a_call_is_carried_over_each_turn_transport(
    server: Server, tmp_path: Path, turn_tls: TurnRegion, transport: str
) -> None:
    config = write_config(tmp_path / "config.toml", by_transport(turn_tls), start=transport)
    async with relay_call(tmp_path, server, config, relay_on=None) as (alice, bob):
        check = await alice.wait_for("ice-server", region=transport)
        assert check["ok"] is True, check
        for party in (alice, bob):
            pair = await wait_relay_protocol(party, transport)
            assert pair["local"]["address"] == ADDRESS
            assert pair["local"]["url"] == turn_tls.url_for(transport)
            await party.audio_flows()
            stats = await party.stats()
            assert stats["packets_lost"] == 0, stats


@pytest.mark.parametrize("target", ["tcp", "tls"])
async def test_switch_from_a_udp_region_to_tcp_or_tls_loses_no_packet(
    server: Server, tmp_path: Path, turn_tls: TurnRegion, target: str
) -> None:
    """The corporate-network fallback: from a UDP region to one reached over TCP or TLS."""
    config = write_config(tmp_path / "config.toml", by_transport(turn_tls), start="udp")
    async with relay_call(tmp_path, server, config, relay_on=None) as (alice, bob):
        for party in (alice, bob):
            await wait_relay_protocol(party, "udp")
        before = {p.name: await p.stats() for p in (alice, bob)}
        await asyncio.sleep(WINDOW_SECONDS)  # the window being measured, not a wait
        quiet = {p.name: await window_gap(p) for p in (alice, bob)}
        mark = alice.mark()
        await alice.send(cmd="region", name=target)
        await wait_relay_protocol(alice, target, mark)
        await alice.wait_for("ice-restart", 15, since=mark, phase="done")
        await asyncio.sleep(WINDOW_SECONDS / 2)  # audio after the switch, in its window
        for party in (alice, bob):
            assert_gap_within(await window_gap(party), quiet[party.name], party.name)
            stats = await party.stats()
            assert stats["packets_lost"] == before[party.name]["packets_lost"] == 0, stats
            assert stats["packets_received"] > before[party.name]["packets_received"]
            assert party.find("call-state", state="ended") is None


async def window_gap(party: Headless) -> float:
    gap = (await party.stats())["audio_max_gap_since_last_stats_ms"]
    assert isinstance(gap, float)
    return gap


@contextlib.contextmanager
def udp_blocked(address: str, port: int) -> Iterator[None]:
    """UDP to the TURN server's port dropped silently, as a corporate firewall does."""
    assert in_loopback_namespace(), "iptables rules only inside unshare --net"
    rule = ["INPUT", "-p", "udp", "-d", address, "--dport", str(port), "-j", "DROP"]
    subprocess.run(["iptables", "-I", *rule], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True, capture_output=True)


async def test_with_udp_blocked_the_call_connects_over_tcp_or_tls(
    server: Server, tmp_path: Path, turn_tls: TurnRegion
) -> None:
    """A region listing udp, tcp and tls URLs: gathering drops the dead one, ICE picks one."""
    config = write_config(tmp_path / "config.toml", by_transport(turn_tls), start="all")
    with udp_blocked(ADDRESS, turn_tls.port):
        async with relay_call(tmp_path, server, config, relay_on=None) as (alice, bob):
            for party in (alice, bob):
                pair = await party.wait_for("selected-pair", 15)
                assert pair["local"]["relay_protocol"] in ("tcp", "tls"), pair
                await party.audio_flows()
            assert alice.find("call-state", state="ended") is None


def ipv6_loopback() -> bool:
    return Path("/proc/net/if_inet6").exists() and "00000000000000000000000000000001" in (
        Path("/proc/net/if_inet6").read_text()
    )


def test_ipv6_literal_urls_parse() -> None:
    parsed = parse_ice_url("turn:[::1]:3478?transport=tcp")
    assert (parsed.host, parsed.port, parsed.wire_transport) == ("::1", 3478, "tcp")
    assert parse_ice_url("turns:[::1]").port == 5349


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_call_through_an_ipv6_literal_turn_url(
    server: Server, tmp_path: Path, transport: str
) -> None:
    """Reached over IPv6, relaying IPv4: aioice's Allocate asks for no address family
    (RFC 6156), so a relay on an IPv6-only address answers 440 (next test)."""
    assert ipv6_loopback(), "the loopback namespace has no ::1 (IPv6 disabled in the kernel?)"
    region = TurnRegion(address="::1", relay_address=ADDRESS, min_port=51100, max_port=51160)
    region.start()
    try:
        url = region.url_for(transport)
        assert url.startswith("turn:[::1]:3478")
        config = write_config(tmp_path / "config.toml", {"v6": [url]}, start="v6")
        async with relay_call(tmp_path, server, config, relay_on=None) as (alice, bob):
            for party in (alice, bob):
                pair = await wait_relay_protocol(party, transport)
                assert pair["local"]["address"] == ADDRESS, pair
                assert pair["local"]["url"] == url
                await party.audio_flows()
    finally:
        region.stop()


async def test_an_ipv6_only_relay_is_refused_naming_the_url_and_why(
    server: Server, tmp_path: Path
) -> None:
    assert ipv6_loopback(), "the loopback namespace has no ::1 (IPv6 disabled in the kernel?)"
    region = TurnRegion(address="::1", min_port=51200, max_port=51260)
    region.start()
    try:
        url = region.url_for("udp")
        config = write_config(tmp_path / "config.toml", {"v6": [url]}, start="v6")
        async with parties(
            tmp_path, server.url, alice=("--config", str(config), "--audio-in", "tone")
        ) as (alice,):
            await alice.wait_for("registered")
            await alice.send(cmd="call", to="echo")
            gathered = await alice.wait_for("ice-restart", 30, phase="gathered")
            [failure] = gathered["failures"]
            assert failure["url"] == url and "440" in failure["reason"], failure
            assert "IPv4 relay" in failure["reason"] and "\x00" not in failure["reason"]
    finally:
        region.stop()


async def test_turns_verifies_the_certificate(
    server: Server, tmp_path: Path, turn_tls: TurnRegion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the test CA the same ``turns:`` server is refused: verification is on."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    config = write_config(tmp_path / "config.toml", by_transport(turn_tls), start="tls")
    async with parties(
        tmp_path, server.url, alice=("--config", str(config), "--audio-in", "tone")
    ) as (alice,):
        await alice.wait_for("registered")
        await alice.send(cmd="call", to="echo")
        gathered = await alice.wait_for("ice-restart", 30, phase="gathered")
        [failure] = gathered["failures"]
        assert failure["url"] == turn_tls.url_for("tls"), failure
        assert "CERTIFICATE_VERIFY_FAILED" in failure["reason"], failure
