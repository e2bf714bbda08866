"""How the server gets frames out: at once, in order under back-pressure, and quietly.

Thousands of clients make per-client tasks, per-join INFO lines and a small
open-files limit the server's costs; these tests pin down that they are gone
without changing what a client receives.
"""

from __future__ import annotations

import logging
import resource

import pytest

from softphone.signaling.limits import Limits
from softphone.signaling.server import SignalingServer
from tests.test_signaling_server import in_call, serving


async def test_an_idle_client_costs_no_task() -> None:
    async with serving(srv := SignalingServer(presence="subscribed")) as connect:
        alice, bob = await connect("alice"), await connect("bob")
        await alice.send(type="invite", call="c1", to="bob")
        await bob.expect(type="invite", call="c1", to="bob", **{"from": "alice"})
        await bob.send(type="accept", call="c1")
        await alice.expect(type="accept", call="c1", **{"from": "bob"})
        others = [await connect(f"u{i}") for i in range(10)]
        await others[-1].sync()
        await alice.sync()
        assert [c.writer for c in srv._clients] == [None] * 12


async def test_frames_keep_their_order_through_back_pressure() -> None:
    limits = Limits(rate=10000, burst=10000)
    async with serving(srv := SignalingServer(limits=limits)) as connect:
        alice, bob = await in_call(connect)
        # bob reads nothing while alice sends more than the socket buffers hold.
        bulk = "a" * 50000
        frames = 160
        queued = False
        for i in range(frames):
            description = {"type": "offer", "sdp": f"v={i} {bulk}"}
            await alice.send(type="sdp", call="call-ab", description=description)
            if i % 10 == 9:
                await alice.sync()  # every frame so far is handled
                queued = queued or any(c.writer is not None for c in srv._clients)
        assert queued, "the socket never pushed back: send more"
        for i in range(frames):
            obj = await bob.recv()
            assert obj["description"]["sdp"].startswith(f"v={i} "), i
        await bob.sync()
        assert [c.writer for c in srv._clients] == [None, None]


async def test_joins_and_leaves_are_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="softphone.signaling")
    async with serving(SignalingServer()) as connect:
        alice = await connect("alice")
        bob = await connect("bob")
        await bob.ws.close()
        await alice.expect(type="presence", user="bob", online=True)
        await alice.expect(type="presence", user="bob", online=False)
    at_info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [line for line in at_info if "joined" in line or "left" in line], at_info


async def test_start_raises_the_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lower = min(soft, hard, 1024) - 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (lower, hard))
    try:
        async with serving(SignalingServer()) as connect:
            await (await connect("alice")).sync()
            assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
