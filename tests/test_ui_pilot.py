"""Pilot tests of the terminal UI against a real embedded server and the echo peer."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from softphone.config import Region
from softphone.events import CallStateChanged, Notice, SignalingChanged
from softphone.rtc.configuration import IceServer
from softphone.ui.app import SoftphoneApp
from softphone.ui.screens.confirm import ConfirmScreen
from softphone.ui.screens.dial import DialScreen
from softphone.ui.screens.help import HelpScreen
from softphone.ui.screens.incoming import IncomingCallScreen
from softphone.ui.screens.region_picker import RegionPickerScreen
from tests.coturn import PASSWORD, USER, TurnRegion, start_regions
from tests.rtc_probe import wait_for
from tests.test_ui_support import (
    SECRET,
    log_kinds,
    make_app,
    make_session,
    notices,
    server_url,
    ui_settings,
)

SIZE = (100, 40)


def screen_text(app: SoftphoneApp) -> str:
    """The screen's text, from the SVG screenshot (spaces are escaped there)."""
    svg = app.export_screenshot()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    return "".join(html.unescape(t) for t in texts).replace("\xa0", " ")


async def test_dial_echo_connects_shows_pair_then_hangs_up(tmp_path: Path) -> None:
    settings = ui_settings(regions=(Region("eu-west"), Region("us-east")))
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            await pilot.press("d")
            await wait_for(lambda: isinstance(app.screen, DialScreen))
            await pilot.press("e", "c")
            await pilot.press("right")  # completion from the online list
            assert app.screen.query_one(Input).value == "echo"
            await pilot.press("enter")
            view = app.connection_panel.view
            await wait_for(lambda: view.states.get("connection-state", ("",))[0] == "connected")
            await wait_for(lambda: view.pair is not None)
            assert view.states["ice-connection-state"][0] == "connected"
            assert app.call_panel.call_state == "active"
            await wait_for(lambda: view.live is not None and view.live.packets_received > 0)
            await pilot.press("c")
            assert app.last_copied is not None and "127.0.0.1" in app.last_copied
            await pilot.press("h")
            await wait_for(lambda: app.call_panel.call_state == "ended")
            for kind in ("offer-sent", "answer-received", "selected-pair", "call-state"):
                assert kind in log_kinds(app)


@pytest.fixture
def turn_regions() -> Iterator[list[TurnRegion]]:
    started = start_regions("127.0.0.2", "127.0.0.3", base_port=51000)
    yield started
    for region in started:
        region.stop()


async def test_region_picker_switches_servers_and_relay_pair(
    tmp_path: Path, turn_regions: list[TurnRegion]
) -> None:
    eu, us = turn_regions
    settings = ui_settings(
        ice_transport_policy="relay",
        regions=(
            Region("eu-west", (IceServer((eu.url,), USER, PASSWORD),)),
            Region("us-east", (IceServer((us.url,), USER, PASSWORD),)),
        ),
    )
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            app.dial("echo")
            view = app.connection_panel.view
            await wait_for(lambda: view.pair is not None, timeout=30)
            assert view.pair is not None
            assert view.pair.local.address == "127.0.0.2"
            servers = app.ice_panel.servers
            assert servers.region_name == "eu-west"
            assert servers.carrier_url is not None
            await wait_for(lambda: "carries the pair" in screen_text(app))

            await pilot.press("r")
            await wait_for(lambda: isinstance(app.screen, RegionPickerScreen))
            picker = app.screen.query_one(OptionList)
            picker.highlighted = 1
            await pilot.press("enter")
            await wait_for(
                lambda: view.pair is not None and view.pair.local.address == "127.0.0.3",
                timeout=30,
            )
            assert servers.region_name == "us-east"
            assert [row.url for row in servers.rows] == [us.url]
            progress = app.ice_panel.progress.switch
            await wait_for(
                lambda: getattr(app.ice_panel.progress.switch, "outcome", None) is not None
            )
            progress = app.ice_panel.progress.switch
            assert progress is not None and progress.outcome == "done", progress
            assert [s.state for s in progress.steps] == ["done"] * len(progress.steps)
            text = screen_text(app)
            assert "done in" in text
            assert PASSWORD not in text
            await pilot.press("h")
            await wait_for(lambda: app.call_panel.call_state == "ended")


async def test_bad_region_shows_set_configuration_error_and_keeps_old_servers(
    tmp_path: Path,
) -> None:
    settings = ui_settings(
        regions=(
            Region("eu-west"),
            Region("broken", (IceServer(("turn:127.0.0.1:3479",)),)),  # no credentials
        ),
    )
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            app.dial("echo")
            await wait_for(lambda: app.connection_panel.view.pair is not None)
            await pilot.press("n")
            progress = app.ice_panel.progress
            await wait_for(lambda: getattr(progress.switch, "outcome", None) is not None)
            assert progress.switch is not None
            assert progress.switch.outcome == "failed"
            assert "InvalidAccessError" in progress.switch.message
            assert progress.switch.steps[0].state == "failed"
            assert app.ice_panel.servers.region_name == "eu-west"
            assert app.session.state.region == "eu-west"
            await wait_for(lambda: "InvalidAccessError" in screen_text(app))


async def test_incoming_call_answered_from_the_modal(tmp_path: Path) -> None:
    settings = ui_settings(regions=(Region("eu-west"),))
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        bob = make_session(url, ui_settings(user="bob", regions=(Region("eu-west"),)), "bob")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.session.state.signaling == "connected")
            await bob.start()
            try:
                await wait_for(lambda: "bob" in app.session.state.online)
                await bob.dial("alice")
                await wait_for(lambda: isinstance(app.screen, IncomingCallScreen))
                await wait_for(lambda: "bob is calling" in screen_text(app))
                await pilot.press("a")
                view = app.connection_panel.view
                await wait_for(lambda: view.states.get("connection-state", ("",))[0] == "connected")
                assert not isinstance(app.screen, IncomingCallScreen)
                assert app.call_panel.remote == "bob"
                await bob.hangup()
                await wait_for(lambda: app.call_panel.call_state == "ended")
            finally:
                await bob.close()


async def test_incoming_call_declined_and_modal_gone_when_caller_hangs_up(
    tmp_path: Path,
) -> None:
    settings = ui_settings(regions=(Region("eu-west"),))
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        bob = make_session(url, ui_settings(user="bob", regions=(Region("eu-west"),)), "bob")
        bob_states: list[str] = []
        bob.subscribe(
            lambda e: bob_states.append(e.state) if isinstance(e, CallStateChanged) else None
        )
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.session.state.signaling == "connected")
            await bob.start()
            try:
                await wait_for(lambda: "bob" in app.session.state.online)
                await bob.dial("alice")
                await wait_for(lambda: isinstance(app.screen, IncomingCallScreen))
                await pilot.press("x")
                await wait_for(lambda: "ended" in bob_states)
                assert app.call_panel.call_state == "ended"
                assert app.call_panel.end_reason == "declined"

                # A second call that the caller abandons: the modal goes away by itself.
                await bob.dial("alice")
                await wait_for(lambda: isinstance(app.screen, IncomingCallScreen))
                await bob.hangup()
                await wait_for(lambda: not isinstance(app.screen, IncomingCallScreen))
            finally:
                await bob.close()


async def test_actions_in_the_wrong_state_are_refused_with_a_notice(tmp_path: Path) -> None:
    settings = ui_settings(regions=(Region("only"),), region="only")
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.session.state.signaling == "connected")
            for key in ("a", "x", "h", "i", "c", "n", "f5"):
                await pilot.press(key)
                await pilot.pause()
            await wait_for(lambda: log_kinds(app).count("refused") == 7)
            texts = [e.text for e in app.event_log.entries if e.kind == "refused"]
            assert any("no ringing call" in t for t in texts)
            assert any("no call to hang up" in t for t in texts)
            assert any("ICE could restart" in t for t in texts)
            assert any("no other region" in t for t in texts)
            assert any("Not now" in n or n for n in notices(app))
            # dialing yourself: refused by the session, shown as a notice
            app.dial("alice")
            await wait_for(lambda: log_kinds(app).count("refused") == 8)
            assert app.is_running


async def test_mute_log_filter_help_theme_and_quit_confirmation(tmp_path: Path) -> None:
    settings = ui_settings(regions=(Region("eu-west"),))
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            await pilot.press("m")
            await wait_for(lambda: app.call_panel.muted)
            await pilot.press("m")
            await wait_for(lambda: not app.call_panel.muted)

            await pilot.press("slash")
            await pilot.press(*"registered")
            await pilot.pause()
            lines = app.event_log.visible_lines()
            assert lines and all("registered" in line for line in lines)
            await pilot.press("f6")  # a priority F-key works while the filter has focus
            await wait_for(lambda: app.call_panel.muted)
            await pilot.press("escape")
            assert len(app.event_log.visible_lines()) > len(lines)
            await pilot.press("l")
            assert not app.event_log.display
            await pilot.press("l")
            assert app.event_log.display

            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await wait_for(lambda: "restart ice" in screen_text(app).lower())
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

            assert app.theme == "dark"
            await pilot.press("t")
            assert app.theme == "light"
            saved = json.loads((tmp_path / "ui.json").read_text())
            assert saved["theme"] == "light"

            app.dial("echo")
            await wait_for(lambda: app.call_panel.call_state == "active")
            await pilot.press("q")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            assert app.is_running and app.call_panel.call_state == "active"
            await pilot.press("q")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(lambda: not app.is_running)
        assert app.return_code == 0
        assert app.session.call is None


async def test_theme_from_settings_wins_and_persisted_theme_is_used(tmp_path: Path) -> None:
    (tmp_path / "ui.json").write_text(json.dumps({"theme": "high-contrast"}))
    settings = ui_settings(regions=(Region("eu-west"),))
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE):
            assert app.theme == "high-contrast"
        forced = ui_settings(regions=(Region("eu-west"),), theme="light")
        app = make_app(make_session(url, forced), tmp_path)
        async with app.run_test(size=SIZE):
            assert app.theme == "light"


async def test_credentials_are_masked_and_session_events_become_notices(tmp_path: Path) -> None:
    settings = ui_settings(region="us-east")
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.session.state.signaling == "connected")
            text = screen_text(app)
            assert "auth ***" in text and SECRET not in text
            app.session.emit(Notice(message="no audio device: using silence"))
            app.session.emit(SignalingChanged(state="reconnecting", detail="gone", retry_in=1.5))
            await pilot.pause()
            found = notices(app)
            assert any("no audio device" in n for n in found)
            assert any("retrying in 1.5s" in n for n in found)
            assert app.call_panel.signaling == "reconnecting"


async def test_command_palette_lists_the_actions(tmp_path: Path) -> None:
    from softphone.ui.commands import SoftphoneCommands

    settings = ui_settings()
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE):
            provider = SoftphoneCommands(app.screen)
            names = [name for name, _, _ in provider._entries()]
            for wanted in ("Dial (d)", "Restart ICE (i)", "Switch region: us-east", "Theme: light"):
                assert wanted in names


async def test_hold_key_and_keypad_during_a_call(tmp_path: Path) -> None:
    """(1.2) ``o`` holds and resumes, a keypad key sends its digit; the Call panel says so."""
    settings = ui_settings()
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            await pilot.press("o")  # no call: refused with a notice
            await wait_for(lambda: "refused" in log_kinds(app))
            app.dial("echo")
            view = app.connection_panel.view
            await wait_for(lambda: view.states.get("connection-state", ("",))[0] == "connected")
            await pilot.press("5", "number_sign")
            await wait_for(lambda: app.call_panel.digits == "5#", 10)
            await pilot.press("o")
            await wait_for(lambda: app.call_panel.held, 10)
            await wait_for(lambda: "on hold" in screen_text(app))
            await pilot.press("o")
            await wait_for(lambda: not app.call_panel.held, 10)
            assert "hold" in log_kinds(app) and "dtmf-sent" in log_kinds(app)
            await pilot.press("h")
            await wait_for(lambda: app.call_panel.call_state == "ended")
