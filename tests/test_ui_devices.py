"""The audio device picker (``v``, for voice): it lists the devices and switches mid-call."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList

from softphone.ui.screens.device_picker import DevicePickerScreen
from tests.rtc_probe import wait_for
from tests.test_ui_support import log_kinds, make_app, make_session, server_url, ui_settings

SIZE = (100, 40)


async def test_device_picker_switches_the_microphone_mid_call(tmp_path: Path) -> None:
    settings = ui_settings()
    async with server_url(settings) as url:
        session = make_session(url, settings, check_ice_servers=False)
        app = make_app(session, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in session.view.online)
            app.dial("echo")
            view = app.connection_panel.view
            await wait_for(lambda: view.states.get("connection-state", ("",))[0] == "connected")
            await pilot.press("v")
            await wait_for(lambda: isinstance(app.screen, DevicePickerScreen))
            options = app.screen.query_one(OptionList)
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            assert "input:silence" in ids and "output:null" in ids and "input:default" in ids
            options.highlighted = ids.index("input:silence")
            await pilot.press("enter")
            await wait_for(lambda: session.audio_choice() == ("silence", "null"))
            await wait_for(lambda: "audio-device" in log_kinds(app))
            assert not isinstance(app.screen, DevicePickerScreen)
            assert app.call_panel.call_state == "active"
            sent = view.live.packets_sent if view.live else 0
            await wait_for(lambda: view.live is not None and view.live.packets_sent > sent + 10)
            assert "offer-sent" not in log_kinds(app)[log_kinds(app).index("audio-device") :]
            await pilot.press("h")
            await wait_for(lambda: app.call_panel.call_state == "ended")
