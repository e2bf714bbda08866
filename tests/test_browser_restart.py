"""ICE restarts between Debian's Chromium (the web client) and headless softphones.

Issue 5, "what must be shown" 2-4: either side restarts ICE mid-call and the
other answers it (new ufrag in both descriptions, a new-generation selected
pair) with no packet lost and no gap in what either side receives longer
than a small multiple of the same call's gaps at rest; either side
switches region over two relay-only coturn regions and the other ends up on
the new region's relay; both restart at once (glare) and converge, whichever
side is polite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from softphone.signaling.server import SignalingServer
from softphone.web import add_web_client
from tests.browser import WebPhone, launch_chromium
from tests.coturn import PASSWORD, USER, TurnRegion, start_regions
from tests.gaps import assert_gap_within
from tests.harness import Headless, Server

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

WINDOW_SECONDS = 1.0  # the measuring window at rest
AFTER_FRAMES = 40  # frames the browser hears after a restart before its window closes
REGION_ADDRESSES = {"eu-west": "127.0.0.2", "us-east": "127.0.0.3"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    async with launch_chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    proc = await Server.start(tmp_path)
    yield proc
    await proc.stop()


@pytest.fixture(scope="module")
def regions() -> Iterator[dict[str, TurnRegion]]:
    started = start_regions(*REGION_ADDRESSES.values(), base_port=51000)
    yield dict(zip(REGION_ADDRESSES, started, strict=True))
    for region in started:
        region.stop()


def region_dicts(regions: dict[str, TurnRegion]) -> list[dict[str, Any]]:
    """The config file's shape, as ``welcome`` carries it."""
    return [
        {"name": name, "ice_servers": [{"urls": [r.url], "username": USER, "credential": PASSWORD}]}
        for name, r in regions.items()
    ]


@pytest_asyncio.fixture(loop_scope="module")
async def region_server(regions: dict[str, TurnRegion]) -> AsyncIterator[SignalingServer]:
    """A signaling server whose ``welcome`` gives the regions, with the web client."""
    server = SignalingServer(regions=region_dicts(regions))
    add_web_client(server.app)
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


def write_config(path: Path, regions: dict[str, TurnRegion]) -> Path:
    lines = ['ice_transport_policy = "relay"', 'region = "eu-west"']
    for name, region in regions.items():
        lines += [
            "[[regions]]", f'name = "{name}"',
            "[[regions.ice_servers]]", f'urls = ["{region.url}"]',
            f'username = "{USER}"', f'credential = "{PASSWORD}"',
        ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


async def start_call(softphone: Headless, phone: WebPhone, browser_role: str) -> None:
    """A connected call; the browser is the caller (impolite) or the callee (polite)."""
    await softphone.wait_for("registered")
    if browser_role == "caller":
        await phone.wait_until(f"() => window.softphone.online.includes('{softphone.name}')")
        await phone.call(softphone.name)
        await softphone.wait_for("incoming")
        await softphone.send(cmd="answer")
    else:
        await softphone.send(cmd="call", to=phone.user)
        await phone.wait_event("incoming")
        await phone.answer()
    await phone.wait_connected()
    await softphone.wait_for("connection-state", state="connected")
    await phone.wait_until("() => window.softphone.current.framesReceived > 10", what="audio")


async def quiet_gaps(softphone: Headless, phone: WebPhone) -> dict[str, float]:
    """The longest gap each side hears in a window with no restart; opens the next window."""
    await softphone.stats()
    start = await phone.now()
    await asyncio.sleep(WINDOW_SECONDS)  # the window being measured, not a wait
    web = await phone.max_gap(start, await phone.now())
    stats = await softphone.stats()
    return {"browser": web, "softphone": float(stats["audio_max_gap_since_last_stats_ms"])}


async def assert_smooth_since(
    softphone: Headless, phone: WebPhone, t0: float, quiet: dict[str, float]
) -> None:
    """Since ``t0`` (page clock) and the last softphone stats: audio flowed, nothing lost,
    and no gap stood out from ``quiet``."""
    await phone.frames_since(t0, AFTER_FRAMES)
    assert_gap_within(await phone.max_gap(t0 - 50, await phone.now()), quiet["browser"], "browser")
    stats = await softphone.stats()
    assert_gap_within(stats["audio_max_gap_since_last_stats_ms"], quiet["softphone"], "softphone")
    assert stats["packets_lost"] == 0, stats
    assert (await phone.stats())["packetsLost"] == 0


def last_pair(softphone: Headless, since: int) -> dict[str, Any] | None:
    pairs = [e for e in softphone.events[since:] if e["event"] == "selected-pair"]
    return pairs[-1] if pairs else None


async def wait_softphone_pair(
    softphone: Headless, since: int, side: str, address: str, timeout: float = 15
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pair = last_pair(softphone, since)
        if pair is not None and pair[side]["address"] == address:
            return pair
        assert asyncio.get_running_loop().time() < deadline, softphone.events[since:]
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("restarter", ["browser", "softphone"])
@pytest.mark.parametrize("browser_role", ["caller", "callee"])
async def test_ice_restart_mid_call(
    server: Server, browser: Browser, tmp_path: Path, browser_role: str, restarter: str
) -> None:
    softphone = await Headless.start(
        tmp_path, "sp", server.url, "--audio-in", "tone:440", "--audio-out", "null"
    )
    phone = await WebPhone.open(browser, server.url, "web")
    try:
        await start_call(softphone, phone, browser_role)
        before = await phone.summary()
        assert before["localUfrag"] and before["remoteUfrag"]
        assert before["selectedPair"]["local"]["ufrag"] == before["localUfrag"]
        quiet = await quiet_gaps(softphone, phone)
        mark, web_mark = softphone.mark(), await phone.mark()
        t0 = await phone.now()
        if restarter == "browser":
            await phone.restart_ice()
        else:
            await softphone.send(cmd="restart-ice")

        # Both descriptions carry new credentials, and media moved to the new generation.
        after = await phone.wait_until(
            """([l, r]) => { const c = window.softphone.current;
                 return c.signalingState === 'stable' && c.localUfrag !== l && c.remoteUfrag !== r
                   && c.selectedPair.local.ufrag === c.localUfrag && c; }""",
            [before["localUfrag"], before["remoteUfrag"]],
            what="a new generation",
        )
        assert after["connectionState"] == "connected"
        offer_event = "offer-sent" if restarter == "browser" else "offer-received"
        offer = await phone.wait_event(offer_event, since=web_mark)
        assert offer["ufrag"] not in (before["localUfrag"], before["remoteUfrag"])
        done = await softphone.wait_for("ice-restart", since=mark, phase="done")
        assert done["ufrag"] == after["remoteUfrag"]
        assert after["selectedPair"]["remote"]["ufrag"] == after["remoteUfrag"]

        # Packets kept arriving at both ends, none lost, with no unusual gap.
        await assert_smooth_since(softphone, phone, t0, quiet)
        assert softphone.find("connection-state", since=mark, state="failed") is None
        assert softphone.find("error", since=mark) is None, softphone.events[mark:]
        assert (await phone.summary())["candidateErrors"] == []
    finally:
        await phone.close()
        await softphone.quit()


@pytest.mark.parametrize("switcher", ["softphone", "browser"])
async def test_region_switch_over_relays(
    region_server: SignalingServer,
    regions: dict[str, TurnRegion],
    browser: Browser,
    tmp_path: Path,
    switcher: str,
) -> None:
    """Relay-only on both sides; one side moves from eu-west (127.0.0.2) to us-east (127.0.0.3)."""
    config = write_config(tmp_path / "config.toml", regions)
    softphone = await Headless.start(
        tmp_path,
        "sp",
        region_server.url,
        "--config",
        str(config),
        "--audio-in",
        "tone:440",
        "--audio-out",
        "null",
    )
    phone = await WebPhone.open(browser, region_server.url, "web", policy="relay")
    try:
        # The browser learnt the regions from welcome, and starts on the first one.
        assert await phone.js("() => window.softphone.regions") == list(REGION_ADDRESSES)
        assert await phone.js("() => window.softphone.region") == "eu-west"
        await start_call(softphone, phone, "callee" if switcher == "softphone" else "caller")
        pair = (await phone.summary())["selectedPair"]
        assert pair["local"]["type"] == "relay" and pair["local"]["address"] == "127.0.0.2"
        assert pair["remote"]["type"] == "relay" and pair["remote"]["address"] == "127.0.0.2"

        quiet = await quiet_gaps(softphone, phone)
        mark = softphone.mark()
        t0 = await phone.now()
        if switcher == "softphone":
            await softphone.send(cmd="region", name="us-east")
            # The browser's remote candidate is now the softphone's relay on the new region.
            moved = await phone.wait_until(
                "() => { const p = window.softphone.current.selectedPair;"
                " return p.remote.type === 'relay' && p.remote.address === '127.0.0.3' && p; }",
                what="a pair whose remote is a relay on us-east",
            )
            assert moved["local"]["address"] == "127.0.0.2"
            await wait_softphone_pair(softphone, mark, "local", "127.0.0.3")
        else:
            await phone.switch_region("us-east")
            region = await phone.wait_event("region", name="us-east")
            assert region["urls"] == [regions["us-east"].url]  # never the credential
            moved = await phone.wait_until(
                "() => { const p = window.softphone.current.selectedPair;"
                " return p.local.type === 'relay' && p.local.address === '127.0.0.3' && p; }",
                what="a pair whose local is a relay on us-east",
            )
            await wait_softphone_pair(softphone, mark, "remote", "127.0.0.3")

        await assert_smooth_since(softphone, phone, t0, quiet)
        assert softphone.find("connection-state", since=mark, state="failed") is None
        events = await phone.events()
        assert all(PASSWORD not in str(e) for e in events)
    finally:
        await phone.close()
        await softphone.quit()


@pytest.mark.parametrize("browser_role", ["caller", "callee"])
async def test_glare_both_restart_at_once(
    server: Server, browser: Browser, tmp_path: Path, browser_role: str
) -> None:
    """Both sides restart ICE and their offers cross; perfect negotiation converges.

    The browser holds its outgoing signaling (a slow network on demand) so that
    the offers cross every time, not only when the timing happens to be right.
    """
    softphone = await Headless.start(
        tmp_path, "sp", server.url, "--audio-in", "tone:440", "--audio-out", "null"
    )
    phone = await WebPhone.open(browser, server.url, "web")
    try:
        await start_call(softphone, phone, browser_role)
        before = await phone.summary()
        mark, web_mark = softphone.mark(), await phone.mark()
        await phone.js("() => window.softphone.holdSignaling(true)")
        await phone.restart_ice()
        await phone.wait_until(
            "() => window.softphone.current.signalingState === 'have-local-offer'",
            what="the browser's restart offer (held)",
        )
        await softphone.send(cmd="restart-ice")
        await softphone.wait_for("offer-sent", since=mark)
        await phone.wait_event("offer-received", since=web_mark)
        if browser_role == "caller":
            await phone.wait_event("offer-ignored", since=web_mark)  # impolite: keeps its offer
        else:
            await phone.wait_event("answer-sent", since=web_mark)  # polite: rolled back, answered
        released = await phone.js("() => window.softphone.holdSignaling(false)")
        assert released >= 2  # at least the browser's offer and its end-of-candidates

        after = await phone.wait_until(
            """([l, r]) => { const c = window.softphone.current;
                 return c.signalingState === 'stable' && c.localUfrag !== l && c.remoteUfrag !== r
                   && c.selectedPair.local.ufrag === c.localUfrag && c; }""",
            [before["localUfrag"], before["remoteUfrag"]],
            what="convergence on a new generation",
        )
        assert after["connectionState"] == "connected"
        done = await softphone.wait_for("ice-restart", since=mark, phase="done")
        assert done["ufrag"] == after["remoteUfrag"]
        await phone.frames_since(await phone.now(), 25)  # another offer would be out by now
        assert await phone.js("() => window.softphone.current.signalingState") == "stable"
        # Nobody offers again after convergence: both restarts were satisfied by one exchange.
        offers = [e for e in await phone.events(web_mark) if e["event"] in ("offer-sent",)]
        assert len(offers) == 1, offers

        # And again with no help: both restart at the same moment.
        again = await phone.summary()
        mark = softphone.mark()
        await asyncio.gather(phone.restart_ice(), softphone.send(cmd="restart-ice"))
        settled = await phone.wait_until(
            """([l, r]) => { const c = window.softphone.current;
                 return c.signalingState === 'stable' && c.localUfrag !== l && c.remoteUfrag !== r
                   && c.selectedPair.local.ufrag === c.localUfrag && c; }""",
            [again["localUfrag"], again["remoteUfrag"]],
            what="convergence after a second glare",
        )
        assert settled["connectionState"] == "connected"
        await softphone.wait_for("ice-restart", since=mark, phase="done")
        await phone.frames_since(await phone.now(), 25)
        assert softphone.find("connection-state", since=mark, state="failed") is None
    finally:
        await phone.close()
        await softphone.quit()
