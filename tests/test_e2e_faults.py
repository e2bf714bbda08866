"""Faults around a live call: the signaling server restarts, both sides restart ICE at once."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from tests.harness import Server, connected_call, parties

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_call_survives_a_signaling_server_restart(tmp_path: Path) -> None:
    port = free_port()
    servers = [await Server.start(tmp_path, "--port", str(port), name="server1")]
    args = ("--audio-in", "tone", "--audio-out", "null")
    try:
        async with parties(tmp_path, servers[0].url, alice=args, bob=args) as (alice, bob):
            await connected_call(alice, bob, "bob")
            mark_a, mark_b = alice.mark(), bob.mark()
            await servers[0].stop()
            await alice.wait_for("signaling", since=mark_a, state="reconnecting")
            await bob.wait_for("signaling", since=mark_b, state="reconnecting")
            # media is peer to peer: it goes on while signaling is down
            await bob.audio_flows()
            servers.append(await Server.start(tmp_path, "--port", str(port), name="server2"))
            await alice.wait_for("registered", 15, since=mark_a)
            await bob.wait_for("registered", 15, since=mark_b)
            await alice.wait_for("signaling", since=mark_a, state="connected")
            assert alice.find("call-state", since=mark_a, state="ended") is None
            await bob.audio_flows()
            # both re-announced the call to the new server, so signaling works again:
            await alice.wait_for("call-resumed", since=mark_a)
            await bob.wait_for("call-resumed", since=mark_b)
            mark_a, mark_b = alice.mark(), bob.mark()
            await alice.send(cmd="restart-ice")
            await alice.wait_for("ice-restart", 15, since=mark_a, phase="done")
            await bob.wait_for("ice-restart", 15, since=mark_b, phase="done")
            # ...and a hangup reaches the other side
            await alice.send(cmd="hangup")
            await alice.wait_for("call-state", since=mark_a, state="ended")
            ended = await bob.wait_for("call-state", 5, since=mark_b, state="ended")
            assert ended["reason"] == "hangup"
    finally:
        for server in servers:
            await server.stop()


async def test_both_sides_restart_ice_at_once_and_converge(server: Server, tmp_path: Path) -> None:
    args = ("--audio-in", "tone", "--audio-out", "null")
    async with parties(tmp_path, server.url, alice=args, bob=args) as (alice, bob):
        await connected_call(alice, bob, "bob")
        mark_a, mark_b = alice.mark(), bob.mark()
        await asyncio.gather(alice.send(cmd="restart-ice"), bob.send(cmd="restart-ice"))
        await alice.wait_for("ice-restart", 15, since=mark_a, phase="done")
        await bob.wait_for("ice-restart", 15, since=mark_b, phase="done")
        await alice.wait_for("signaling-state", since=mark_a, state="stable")
        for party in (alice, bob):
            await party.audio_flows()  # audio on the new path; a failure would show by now
        for party, mark in ((alice, mark_a), (bob, mark_b)):
            assert party.find("connection-state", since=mark, state="failed") is None
            assert party.find("call-state", since=mark, state="ended") is None
