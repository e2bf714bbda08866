"""The UI draws before the media stack is loaded, then builds the session and registers."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

from softphone.cli import embedded_server
from softphone.config import Region
from softphone.session import SessionManager
from softphone.ui.app import SoftphoneApp
from softphone.ui.base import STARTING
from softphone.ui.clock import ManualClock
from softphone.ui.widgets.event_log import EmptyLog, LogEntry
from tests.rtc_probe import wait_for
from tests.test_ui_support import log_kinds, make_session, ui_settings

SIZE = (100, 40)
HEAVY = ["softphone.session", "softphone.call", "softphone.rtc", "softphone.media"]
HEAVY += ["aiortc", "av", "numpy", "aioice", "sounddevice"]


# What the first frame does without: the typed events, commands and views load with the
# session (on its thread); RichLog (rich.pretty, attr) with the log's first line.
AFTER_FIRST_FRAME = ["softphone.events", "softphone.commands", "softphone.views"]
AFTER_FIRST_FRAME += ["textual.widgets._rich_log", "rich.pretty", "attr"]


MODALS = ["softphone.ui.screens." + name for name in ("confirm", "dial", "help", "incoming")]
MODALS += ["softphone.ui.screens.region_picker"]


def loaded_by_importing_the_ui(prefixes: list[str]) -> list[str]:
    """The modules under ``prefixes`` that ``import softphone.ui.app`` loads, in a fresh Python."""
    code = (
        "import sys, softphone.ui.app\n"
        f"wanted = {prefixes!r}\n"
        "print(sorted(m for m in sys.modules for w in wanted if m == w or m.startswith(w + '.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return list(ast.literal_eval(out.stdout.strip()))


def test_importing_the_ui_loads_no_media_stack() -> None:
    assert loaded_by_importing_the_ui(HEAVY) == []


def test_importing_the_ui_loads_neither_the_events_nor_richlog() -> None:
    assert loaded_by_importing_the_ui(AFTER_FIRST_FRAME) == []


def test_the_modal_screens_are_not_loaded_before_they_are_pushed() -> None:
    """None of them is on the first frame: the action that pushes one imports it."""
    assert loaded_by_importing_the_ui(MODALS) == []


async def test_panels_say_starting_until_the_factory_returns(tmp_path: Path) -> None:
    settings = ui_settings(regions=(Region("eu-west"), Region("us-east")))
    release = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:

        async def factory() -> SessionManager:
            await release.wait()
            url = await stack.enter_async_context(embedded_server(settings))
            return make_session(url, settings)

        app = SoftphoneApp(factory, clock=ManualClock(), state_dir=tmp_path, cursor_blink=False)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(app._panels_ready)
            assert app.session is None
            assert app.call_panel.signaling == STARTING
            assert app.ice_panel.servers.starting
            await pilot.press("d")  # refused, not a crash
            await wait_for(lambda: "refused" in log_kinds(app))
            release.set()
            await wait_for(lambda: app.call_panel.signaling == "connected")
            await wait_for(lambda: ("echo", True) in app.call_panel.contacts)
            assert app.ice_panel.servers.region_name == "eu-west"
            assert not app.ice_panel.servers.starting
            await pilot.press("q")
            await wait_for(lambda: not app.is_running)
        assert app.return_code == 0


async def test_a_failing_factory_is_shown_and_the_ui_stays_up(tmp_path: Path) -> None:
    async def factory() -> SessionManager:
        raise OSError("no route to the signaling server")

    app = SoftphoneApp(factory, clock=ManualClock(), state_dir=tmp_path, cursor_blink=False)
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app._panels_ready() and app.call_panel.signaling == "failed")
        assert "no route" in app.call_panel.signaling_detail
        assert app.is_running


async def test_the_empty_log_becomes_a_richlog_at_the_first_line(tmp_path: Path) -> None:
    """Until its first line the log is a plain widget; the first line swaps in the RichLog,
    focus included, and the lines written before it is mounted are all shown."""
    from textual.widgets import RichLog

    async def factory() -> SessionManager:
        await asyncio.Event().wait()  # never: the session is not what this test is about
        raise AssertionError

    app = SoftphoneApp(factory, clock=ManualClock(), state_dir=tmp_path, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(app._panels_ready)
        log = app.event_log
        assert log.query(EmptyLog) and not log.query(RichLog)
        log.query_one(EmptyLog).focus()
        await pilot.pause()
        log.add_entry(LogEntry(1.0, "notice", "first"))
        log.add_entry(LogEntry(2.0, "notice", "second"))
        await pilot.pause()
        assert not log.query(EmptyLog)
        assert log.lines is log.query_one(RichLog)
        assert app.focused is log.lines
        await wait_for(lambda: len(log.lines.lines) == 2)
        assert [line.text.split()[-1] for line in log.lines.lines] == ["first", "second"]
