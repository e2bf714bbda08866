"""The web client over https/wss: Chromium loads it from ``softphone serve --tls-cert
--tls-key`` and calls a headless softphone that verifies the same server with ``--ca-file``.

Chromium is told to trust exactly that server's key
(``--ignore-certificate-errors-spki-list``), not to ignore certificate errors
at large. The second test has the server mint TURN credentials that live 1 s:
the page applies each ``regions`` push to its live call with setConfiguration.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.browser import WebPhone, launch_chromium
from tests.harness import Headless, Server
from tests.test_browser_calls import (
    HEARD_FRAMES,
    SOFTPHONE_TONE_HZ,
    assert_browser_heard_softphone,
    assert_heard_browser,
)
from tests.tls import Certificates, make_certificates

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(
    tmp_path_factory: pytest.TempPathFactory, certs: Certificates
) -> AsyncIterator[Browser]:
    async with launch_chromium(tmp_path_factory.mktemp("chromium"), certs.cert) as chromium:
        yield chromium


@contextlib.asynccontextmanager
async def over_tls(
    workdir: Path,
    browser: Browser,
    certs: Certificates,
    server_args: tuple[str, ...] = (),
    bob_args: tuple[str, ...] = (),
) -> AsyncIterator[tuple[Server, Headless, WebPhone]]:
    """``serve`` over TLS, bob (headless, verifying with the CA) and alice (the page)."""
    server = await Server.start(
        workdir, "--tls-cert", str(certs.cert), "--tls-key", str(certs.key), *server_args
    )
    bob = await Headless.start(workdir, "bob", server.url, "--ca-file", str(certs.ca), *bob_args)
    alice: WebPhone | None = None
    try:
        await bob.wait_for("registered")
        alice = await WebPhone.open(browser, server.url, "alice")
        yield server, bob, alice
        assert alice.page_errors == []
    finally:
        if alice is not None:
            await alice.close()
        await bob.quit()
        await server.stop()


async def test_browser_over_https_calls_a_softphone_over_wss(
    browser: Browser, certs: Certificates, tmp_path: Path
) -> None:
    recording = tmp_path / "bob.wav"
    audio = ("--audio-in", f"tone:{SOFTPHONE_TONE_HZ}", "--audio-out", f"file:{recording}")
    async with over_tls(tmp_path, browser, certs, bob_args=audio) as (server, bob, alice):
        assert server.url.startswith("wss://")
        assert alice.page.url.startswith("https://127.0.0.1:")
        await alice.wait_until("() => window.softphone.online.includes('bob')", what="bob online")
        await alice.call("bob")
        await bob.wait_for("incoming")
        await bob.send(cmd="answer")
        await alice.wait_connected()
        await bob.wait_for("connection-state", state="connected")
        await bob.audio_flows(HEARD_FRAMES)
        await assert_browser_heard_softphone(alice)
        await alice.hangup()
        await bob.wait_for("call-state", state="ended")
    assert_heard_browser(recording)


async def test_the_page_applies_pushed_credentials_to_its_call(
    browser: Browser, certs: Certificates, tmp_path: Path
) -> None:
    config = tmp_path / "server.toml"
    # No TURN server needs to run: host candidates carry the call (policy "all"),
    # and what is checked is the configuration the page's call holds.
    config.write_text(
        '[[regions]]\nname = "eu"\n[[regions.ice_servers]]\n'
        'urls = ["turn:127.0.0.2:3478?transport=udp"]\n'
        'shared_secret = "browser-test-secret"\ncredential_ttl = 1\n'
    )
    server_args = ("--config", str(config), "--no-echo")
    async with over_tls(tmp_path, browser, certs, server_args, ("--audio-in", "tone")) as (
        _,
        bob,
        alice,
    ):
        await alice.call("bob")
        await bob.wait_for("incoming")
        await bob.send(cmd="answer")
        await alice.wait_connected()
        username = "() => window.softphone.pc.getConfiguration().iceServers[0].username"
        before = await alice.js(username)
        call = (await alice.summary())["id"]
        mark = await alice.mark()
        # The username is "expiry:user" at one-second resolution and pushes come
        # every 0.8 s, so two pushes may carry the same one: wait for a new one.
        after = before
        for _ in range(5):
            since = await alice.mark()
            renewed = await alice.wait_event("credentials-refreshed", since=since, call=call)
            assert renewed["regions"] == ["eu"]
            after = await alice.js(username)
            if after != before:
                break
        assert after != before and after.endswith(":alice"), (before, after)
        assert [e for e in await alice.events(mark) if e["event"] == "ice-restart"] == []
        await alice.wait_connected()
