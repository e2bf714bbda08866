"""Pilot tests of the UI with more than one call, do-not-disturb, history and contacts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from softphone.config import Region
from softphone.events import CallStateChanged, DndChanged
from softphone.history import CallHistory
from softphone.session import SessionManager
from softphone.ui.app import SoftphoneApp
from softphone.ui.screens.contacts import ContactsScreen
from softphone.ui.screens.history import HistoryScreen
from softphone.ui.screens.incoming import IncomingCallScreen
from tests.rtc_probe import wait_for
from tests.test_history import RECORD
from tests.test_ui_pilot import SIZE, screen_text
from tests.test_ui_support import make_app, make_session, server_url, ui_settings

REGIONS = (Region("eu-west"),)


def states(session: SessionManager) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    session.subscribe(
        lambda e: found.append((e.call, e.state)) if isinstance(e, CallStateChanged) else None
    )
    return found


def live_calls(app: SoftphoneApp) -> list[tuple[str, bool]]:
    assert app.session is not None
    return [(c.remote, c.held) for c in app.session.view.calls]


async def test_call_waiting_answer_holds_the_first_switch_and_hang_up_one(tmp_path: Path) -> None:
    settings = ui_settings(regions=REGIONS)
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        bob = make_session(url, ui_settings(user="bob", regions=REGIONS), "bob")
        carol = make_session(url, ui_settings(user="carol", regions=REGIONS), "carol")
        bob_states, carol_states = states(bob), states(carol)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.session.state.signaling == "connected")
            await bob.start()
            await carol.start()
            try:
                await bob.dial("alice")
                await wait_for(lambda: isinstance(app.screen, IncomingCallScreen))
                assert app.screen.waiting_for is None  # the first call rings with the bell
                await pilot.press("a")
                await wait_for(lambda: app.call_panel.call_state == "active")

                await carol.dial("alice")
                await wait_for(lambda: isinstance(app.screen, IncomingCallScreen))
                assert app.screen.waiting_for == "bob"  # call waiting: no bell, says who waits
                await wait_for(lambda: "Call waiting" in screen_text(app))
                await wait_for(lambda: "answering puts bob on hold" in screen_text(app))
                await pilot.press("a")
                await wait_for(lambda: live_calls(app) == [("bob", True), ("carol", False)])
                await wait_for(lambda: app.call_panel.remote == "carol")
                await wait_for(lambda: "on hold with bob" in screen_text(app))
                assert [o.remote for o in app.call_panel.others] == ["bob"]

                await pilot.press("s")  # switch: carol waits, bob is back
                await wait_for(lambda: live_calls(app) == [("bob", False), ("carol", True)])
                await wait_for(lambda: app.call_panel.remote == "bob")
                await wait_for(lambda: "on hold with carol" in screen_text(app))

                await pilot.press("h")  # hang up bob: carol stays, still on hold
                await wait_for(lambda: any(s == "ended" for _, s in bob_states))
                await wait_for(lambda: live_calls(app) == [("carol", True)])
                await wait_for(lambda: app.call_panel.remote == "carol" and app.call_panel.held)
                assert not any(s == "ended" for _, s in carol_states)
                await pilot.press("s")  # resume carol
                await wait_for(lambda: live_calls(app) == [("carol", False)])
                await wait_for(lambda: not app.call_panel.held)
                await pilot.press("h")
                await wait_for(lambda: any(s == "ended" for _, s in carol_states))
                await wait_for(lambda: app.call_panel.call_state == "ended")
            finally:
                await bob.close()
                await carol.close()


async def test_dnd_key_declines_busy_and_history_redials(tmp_path: Path) -> None:
    settings = ui_settings(regions=REGIONS)
    async with server_url(settings) as url:
        session = make_session(url, settings)
        session.history = CallHistory(tmp_path / "history")
        session.history.add(replace(RECORD, remote="echo"))
        app = make_app(session, tmp_path)
        bob = make_session(url, ui_settings(user="bob", regions=REGIONS), "bob")
        bob_states = states(bob)
        dnd: list[bool] = []
        session.subscribe(lambda e: dnd.append(e.on) if isinstance(e, DndChanged) else None)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.session.state.signaling == "connected")
            await bob.start()
            try:
                await pilot.press("z")
                await wait_for(lambda: dnd == [True] and app.call_panel.dnd)
                await wait_for(lambda: "do not disturb" in screen_text(app))
                await bob.dial("alice")
                await wait_for(lambda: any(s == "ended" for _, s in bob_states))
                assert not isinstance(app.screen, IncomingCallScreen)
                await pilot.press("z")
                await wait_for(lambda: dnd == [True, False])

                await pilot.press("y")
                await wait_for(lambda: isinstance(app.screen, HistoryScreen))
                screen = app.screen
                assert isinstance(screen, HistoryScreen)
                # newest first: bob's missed call, then the old call to echo
                assert [name for _, name in screen.entries] == ["bob", "echo"]
                assert "missed" in str(screen.entries[0][0])
                await wait_for(lambda: "← bob" in screen_text(app))
                await pilot.press("down", "enter")  # call echo back
                await wait_for(lambda: app.call_panel.call_state == "active")
                assert app.call_panel.remote == "echo"
                await pilot.press("h")
                await wait_for(lambda: app.call_panel.call_state == "ended")
            finally:
                await bob.close()
        peers = [(r.remote, r.missed) for r in CallHistory(tmp_path / "history")]
        assert peers == [("echo", False), ("bob", True), ("echo", False)]


async def test_contacts_listed_with_presence_and_dialled_with_one_key(tmp_path: Path) -> None:
    settings = ui_settings(
        regions=REGIONS, contacts=("echo", "zed"), contact_labels=(("zed", "Zed (work)"),)
    )
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            await wait_for(lambda: "○ zed" in screen_text(app))  # offline contacts are listed
            assert ("zed", False) in app.call_panel.contacts
            await pilot.press("k")
            await wait_for(lambda: isinstance(app.screen, ContactsScreen))
            await wait_for(lambda: "offline zed  Zed (work)" in screen_text(app))
            screen = app.screen
            assert isinstance(screen, ContactsScreen)
            assert [name for _, name in screen.entries] == ["echo", "zed"]  # online first
            await pilot.press("enter")
            await wait_for(lambda: app.call_panel.call_state == "active")
            assert app.call_panel.remote == "echo"
            await pilot.press("h")
            await wait_for(lambda: app.call_panel.call_state == "ended")
