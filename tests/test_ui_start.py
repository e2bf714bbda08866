"""The UI draws before the media stack is loaded, then builds the session and registers."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

from softphone.cli import embedded_server
from softphone.config import Region
from softphone.session import SessionManager
from softphone.ui.app import STARTING, SoftphoneApp
from softphone.ui.clock import ManualClock
from tests.test_ui_support import log_kinds, make_session, ui_settings, wait_until

SIZE = (100, 40)
HEAVY = ["softphone.session", "softphone.call", "softphone.rtc", "softphone.media"]
HEAVY += ["aiortc", "av", "numpy", "aioice", "sounddevice"]


def test_importing_the_ui_loads_no_media_stack() -> None:
    code = (
        "import sys, softphone.ui.app\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules for h in heavy if m == h or m.startswith(h + '.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout


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
            await wait_until(app._panels_ready)
            assert app.session is None
            assert app.call_panel.signaling == STARTING
            assert app.ice_panel.servers.starting
            await pilot.press("d")  # refused, not a crash
            await wait_until(lambda: "refused" in log_kinds(app))
            release.set()
            await wait_until(lambda: app.call_panel.signaling == "connected")
            await wait_until(lambda: ("echo", True) in app.call_panel.contacts)
            assert app.ice_panel.servers.region_name == "eu-west"
            assert not app.ice_panel.servers.starting
            await pilot.press("q")
            await wait_until(lambda: not app.is_running)
        assert app.return_code == 0


async def test_a_failing_factory_is_shown_and_the_ui_stays_up(tmp_path: Path) -> None:
    async def factory() -> SessionManager:
        raise OSError("no route to the signaling server")

    app = SoftphoneApp(factory, clock=ManualClock(), state_dir=tmp_path, cursor_blink=False)
    async with app.run_test(size=SIZE):
        await wait_until(lambda: app._panels_ready() and app.call_panel.signaling == "failed")
        assert "no route" in app.call_panel.signaling_detail
        assert app.is_running
