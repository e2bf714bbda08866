"""Presence by subscription from the client side: ``contacts`` in the config is what is followed.

Against ``softphone serve --presence subscribed`` a client with ``contacts =
["bob"]`` hears of bob and of nobody else: in ``registered``, in ``presence``
events, and so in the terminal UI's online list and dial completion, which
draw only what the session reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.config import Settings
from softphone.session import MediaChoice, SessionManager
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.server import SignalingServer
from softphone.ui.screens.dial import DialScreen
from tests.harness import Headless, Server
from tests.rtc_probe import wait_for
from tests.test_ui_support import make_app

pytestmark = pytest.mark.e2e


async def test_alice_follows_her_contacts_only(tmp_path: Path) -> None:
    server = await Server.start(tmp_path, "--presence", "subscribed")
    config = tmp_path / "alice.toml"
    config.write_text('contacts = ["bob", "dave"]\n')
    carol = await Headless.start(tmp_path, "carol", server.url)
    bob = await Headless.start(tmp_path, "bob", server.url)
    alice: Headless | None = None
    try:
        await carol.wait_for("registered")
        await bob.wait_for("registered")
        alice = await Headless.start(tmp_path, "alice", server.url, "--config", str(config))
        registered = await alice.wait_for("registered")
        assert registered["online"] == ["bob"]  # not carol, not echo; dave is offline

        erin = await Headless.start(tmp_path, "erin", server.url)  # not a contact
        await erin.wait_for("registered")
        await erin.quit()
        dave = await Headless.start(tmp_path, "dave", server.url)
        await alice.wait_for("presence", user="dave", online=True)
        await dave.quit()
        await alice.wait_for("presence", user="dave", online=False)
        await bob.quit()
        await alice.wait_for("presence", user="bob", online=False)
        await carol.quit()
        heard = {e["user"] for e in alice.events if e["event"] == "presence"}
        assert heard == {"bob", "dave"}
    finally:
        for party in (alice, bob, carol):
            if party is not None:
                await party.quit()
        await server.stop()


async def test_the_ui_lists_and_completes_only_the_contacts(tmp_path: Path) -> None:
    server = SignalingServer(presence="subscribed")
    await server.start("127.0.0.1", 0)
    others = [JsonSignalingClient(server.url, name) for name in ("bob", "carol")]
    settings = Settings(user="alice", contacts=("bob",), audio_in="silence", audio_out="null")
    session = SessionManager(
        settings,
        JsonSignalingClient(server.url, "alice", contacts=settings.contacts),
        media=MediaChoice("silence", "null"),
    )
    try:
        for client in others:
            await client.start(lambda _event: None)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await wait_for(lambda: app.call_panel.contacts == (("bob", True),))
            await pilot.press("d")
            await wait_for(lambda: isinstance(app.screen, DialScreen))
            assert isinstance(app.screen, DialScreen) and app.screen.online == ["bob"]
            await pilot.press("escape")
            await others[0].close()
            await wait_for(lambda: app.call_panel.contacts == (("bob", False),))
            assert session.view.online == frozenset()
    finally:
        for client in others:
            await client.close()
        await session.close()
        await server.stop()
