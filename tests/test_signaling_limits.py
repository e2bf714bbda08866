"""Limits: each one is hit by an abuser while a call between two others goes on undisturbed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable

import aiohttp
import pytest

from softphone.signaling.limits import Limits, RateGuard, TokenBucket, Verdict
from softphone.signaling.server import SignalingServer
from tests.test_signaling_server import CAND, Raw, in_call, serving

WORST = 0.5  # seconds a relay may take while somebody else is abusive


async def relay_probe(alice: Raw, bob: Raw, rounds: int = 5, burst: int = 5) -> float:
    """Candidates from alice to bob arrive complete and in order; the worst latency."""
    worst = 0.0
    for r in range(rounds):
        t0 = time.monotonic()
        for i in range(burst):
            line = CAND.replace("50000", str(40000 + r * burst + i))
            await alice.send(type="ice", call="call-ab", candidate={"candidate": line})
        for i in range(burst):
            got = await bob.recv()
            while got["type"] == "presence":  # the abuser leaving
                got = await bob.recv()
            assert got["type"] == "ice", got
            assert f" {40000 + r * burst + i} " in got["candidate"]["candidate"]
        worst = max(worst, time.monotonic() - t0)
        await asyncio.sleep(0.2)  # 25 messages a second: under every rate limit here
    return worst


async def during(abuse: Awaitable[None], alice: Raw, bob: Raw) -> None:
    """Run ``abuse`` while alice and bob keep relaying; both must go well."""
    task = asyncio.ensure_future(abuse)
    try:
        while not task.done():
            assert await relay_probe(alice, bob, rounds=1) < WORST
        await task
        assert await relay_probe(alice, bob) < WORST
    finally:
        task.cancel()


# --- the bucket and the guard, on a fake clock ----------------------------------------


def test_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.1) and not bucket.take(0.1)
    assert not bucket.full(0.2)
    assert bucket.full(10.0)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]


def test_guard_closes_after_a_sustained_stretch_and_forgives_a_pause() -> None:
    guard = RateGuard(Limits(rate=10, burst=2, abuse_seconds=1.0, max_refusals=1000), now=0.0)
    assert [guard.check(0.0) for _ in range(3)] == [Verdict.ACCEPT] * 2 + [Verdict.REFUSE]
    # A pause long enough to fill the bucket ends the stretch.
    assert guard.check(5.0) is Verdict.ACCEPT
    t = 5.0
    verdicts = []
    while t < 7.0:  # 100 messages a second, ten times the rate
        verdicts.append(guard.check(t))
        t += 0.01
    assert Verdict.ACCEPT in verdicts[10:]  # the rate still gets through...
    assert verdicts[-1] is Verdict.CLOSE  # ...until the stretch is over one second
    first_close = verdicts.index(Verdict.CLOSE)
    assert 5.0 + first_close * 0.01 == pytest.approx(6.0, abs=0.05)


def test_guard_closes_after_too_many_refusals() -> None:
    guard = RateGuard(Limits(rate=1, burst=1, abuse_seconds=60, max_refusals=3), now=0.0)
    assert [guard.check(0.0) for _ in range(4)] == [Verdict.ACCEPT] + [Verdict.REFUSE] * 2 + [
        Verdict.CLOSE
    ]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limits(rate=0)
    with pytest.raises(ValueError):
        Limits(connections_per_address=0)


# --- on a real server ------------------------------------------------------------------


async def test_flood_is_rate_limited_then_closed() -> None:
    limits = Limits(rate=50, burst=100, abuse_seconds=1.5, max_refusals=100_000)
    async with serving(srv := SignalingServer(limits=limits)) as connect:
        alice, bob = await in_call(connect)
        mallory = await connect("mallory")
        await alice.recv()  # presence
        await bob.recv()
        codes: list[str] = []

        async def read_all() -> None:
            while (msg := await mallory.ws.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT:
                codes.append(msg.json()["code"])

        async def flood() -> None:
            reader = asyncio.ensure_future(read_all())
            started = time.monotonic()
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                while not reader.done() and time.monotonic() - started < 5:
                    for _ in range(20):
                        await mallory.send(type="hangup", call="nothing")
                    await asyncio.sleep(0.01)
            await reader
            assert time.monotonic() - started == pytest.approx(1.5, abs=0.5)

        await during(flood(), alice, bob)
        assert mallory.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert 100 <= codes.count("unknown-call") < 250  # the burst, then about 50 a second
        assert codes.count("rate-limited") > 100
        assert set(codes) == {"unknown-call", "rate-limited"}
        assert codes[-1] == "rate-limited"  # the last word before the close
        assert "mallory" not in srv.online


async def test_many_refusals_close_at_once() -> None:
    limits = Limits(rate=50, burst=10, abuse_seconds=60, max_refusals=20)
    async with serving(SignalingServer(limits=limits)) as connect:
        alice, bob = await in_call(connect)
        mallory = await connect("mallory")
        await alice.recv()
        await bob.recv()

        async def flood() -> None:
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                for _ in range(40):
                    await mallory.send(type="hangup", call="nothing")
            while (await mallory.ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
                pass

        await during(flood(), alice, bob)
        assert mallory.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_connections_per_source_address_are_capped() -> None:
    async with serving(srv := SignalingServer(limits=Limits(connections_per_address=3))) as connect:
        alice, bob = await in_call(connect)  # from 127.0.0.1
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as elsewhere:
            mallory = [await elsewhere.ws_connect(srv.url) for _ in range(3)]

            async def one_too_many() -> None:
                refused = Raw(await elsewhere.ws_connect(srv.url), None)
                err = await refused.error("too-many-connections")
                assert "3" in err["message"]
                msg = await refused.ws.receive(timeout=5)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert refused.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION

            for _ in range(3):
                await during(one_too_many(), alice, bob)
            # Another address is not affected, and a freed slot can be used again.
            await connect("carol")
            await mallory[0].close()
            await asyncio.sleep(0.1)
            again = Raw(await elsewhere.ws_connect(srv.url), None)
            await again.sync(registered=False)
            for ws in mallory[1:]:
                await ws.close()


async def test_invites_waiting_for_an_answer_are_capped() -> None:
    async with serving(SignalingServer(limits=Limits(pending_invites=4))) as connect:
        alice, bob = await in_call(connect)
        carol = await connect("carol")
        mallory = await connect("mallory")
        for raw in (alice, bob, alice, bob, carol):
            await raw.recv()  # presence of carol and mallory

        async def invite(call: str) -> None:
            await mallory.send(type="invite", call=call, to="carol")

        async def ring_everybody() -> None:
            for i in range(4):
                await invite(f"m{i}")
                assert (await carol.recv())["call"] == f"m{i}"
            await invite("m4")
            err = await mallory.error("too-many-invites", "m4")
            assert "4" in err["message"]
            # An answer frees a slot: accepted, declined or hung up.
            await carol.send(type="accept", call="m0")
            assert (await mallory.recv())["type"] == "accept"
            await invite("m4")
            assert (await carol.recv())["call"] == "m4"
            await invite("m5")
            await mallory.error("too-many-invites", "m5")
            await carol.send(type="decline", call="m1")
            assert (await mallory.recv())["type"] == "decline"
            await mallory.send(type="hangup", call="m2")
            assert (await carol.recv())["type"] == "hangup"
            await invite("m5")
            await invite("m6")
            assert [(await carol.recv())["call"] for _ in range(2)] == ["m5", "m6"]
            await invite("m7")
            await mallory.error("too-many-invites", "m7")

        await during(ring_everybody(), alice, bob)


async def test_a_connection_that_never_registers_is_closed() -> None:
    async with serving(SignalingServer(limits=Limits(hello_timeout=0.5))) as connect:
        alice, bob = await in_call(connect)
        await asyncio.sleep(0.7)  # registered ones stay
        lurker = await connect()

        async def lurk() -> None:
            t0 = time.monotonic()
            err = await lurker.error("not-registered")
            assert "no hello within 0.5 s" in err["message"]
            msg = await lurker.ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert lurker.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
            assert time.monotonic() - t0 == pytest.approx(0.5, abs=0.3)

        await during(lurk(), alice, bob)
        late = await connect()
        await late.sync(registered=False)  # frames before hello do not reset the clock
        await asyncio.sleep(0.2)
        await late.send(type="hello", user="carol")
        assert (await late.recv())["type"] == "welcome"
        await asyncio.sleep(0.5)
        await late.sync()
