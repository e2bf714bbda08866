"""The mic level before dialing (issue #12): the session monitors the input between calls.

The UI turns the monitor on once the session is up; a call releases it before
opening its own source (one stream, never two) and it comes back after the
call; quitting closes it. The "microphone" here is a stand-in counting the
streams open, so no sound device is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from softphone.commands import Dial, Hangup
from softphone.media import factory
from softphone.media.devices import DeviceUnavailable
from softphone.media.sources import ToneSource
from tests.rtc_probe import wait_for
from tests.test_ui_pilot import SIZE, screen_text
from tests.test_ui_support import make_app, make_session, notices, server_url, ui_settings


class CountedMic(ToneSource):
    """A microphone that plays a tone and keeps count of the streams open."""

    open: ClassVar[list[CountedMic]] = []

    def __init__(self) -> None:
        super().__init__(1000.0)
        self.device_name = "counted"
        CountedMic.open.append(self)

    def stop(self) -> None:
        super().stop()
        if self in CountedMic.open:
            CountedMic.open.remove(self)


async def test_the_tone_moves_the_meter_before_dialing(tmp_path: Path) -> None:
    settings = ui_settings(regions=(), region=None)  # --audio-in tone:440
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE):
            await wait_for(lambda: "-10dB" in screen_text(app), 10)  # 0.3 of full scale
            assert app.call_panel.call_state is None  # no call was made
            level = app.session.mic().level
            assert level is not None and level > 0.25
            assert "tone 440 Hz" in screen_text(app) and "live" not in screen_text(app)


async def test_silence_shows_the_silence_state_before_dialing(tmp_path: Path) -> None:
    settings = ui_settings(regions=(), region=None, audio_in="silence")
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE):
            await wait_for(lambda: app.session.mic().level == 0.0, 10)  # monitored, silent
            text = screen_text(app)
            assert "(--audio-in silence)" in text and "dB" not in text.split("Mic", 1)[1][:60]


async def test_a_call_releases_the_monitor_and_quit_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(factory, "MicrophoneSource", CountedMic)
    CountedMic.open.clear()
    settings = ui_settings(regions=(), region=None, audio_in="default")
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: len(CountedMic.open) == 1, 10)  # the monitor
            monitor = CountedMic.open[0]
            await wait_for(lambda: "-10dB" in screen_text(app), 10)  # its level before a call
            await wait_for(lambda: "echo" in app.session.state.online)
            app.send(Dial(to="echo"))
            await wait_for(lambda: app.call_panel.call_state == "active")
            assert monitor not in CountedMic.open and len(CountedMic.open) == 1
            entry = app.session.calls.active
            assert entry is not None and entry.source.source is CountedMic.open[0]
            app.send(Hangup())
            await wait_for(lambda: app.call_panel.call_state == "ended")
            await wait_for(lambda: len(CountedMic.open) == 1 and CountedMic.open[0] is not monitor)
            await pilot.press("q")
            await wait_for(lambda: not app.is_running)
    assert CountedMic.open == []


async def test_a_missing_microphone_is_said_once_not_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_device() -> None:
        raise DeviceUnavailable("no input device")

    monkeypatch.setattr(factory, "MicrophoneSource", no_device)
    settings = ui_settings(regions=(), region=None, audio_in="default")
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE):
            await wait_for(lambda: any("No microphone" in n for n in notices(app)), 10)
            await wait_for(lambda: "no microphone" in screen_text(app))  # before any call
            await wait_for(lambda: "echo" in app.session.state.online)
            app.send(Dial(to="echo"))
            await wait_for(lambda: app.call_panel.call_state == "active")
            assert sum("No microphone" in n for n in notices(app)) == 1
