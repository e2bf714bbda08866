"""The Call panel's Mic row and level meter, and the Connection panel's quality line."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.commands import Dial
from softphone.media import factory
from softphone.media.devices import DeviceUnavailable
from softphone.ui.widgets.call_controls import level_meter, mic_markup
from softphone.ui.widgets.connection import warning_text
from softphone.views import MicView
from tests.rtc_probe import wait_for
from tests.test_ui_pilot import SIZE, screen_text
from tests.test_ui_support import make_app, make_session, notices, server_url, ui_settings


def test_level_meter_scale() -> None:
    assert level_meter(1.0).count("█") == 10 and "0dB" in level_meter(1.0)
    assert level_meter(0.1).count("█") == 7 and "-20dB" in level_meter(0.1)  # 6 dB a cell
    assert level_meter(0.0001).count("█") == 0
    assert level_meter(0.0).count("█") == 0 and "-∞dB" in level_meter(0.0)


def test_the_mic_row_never_says_live_while_silence_goes_out() -> None:
    def mic(**changes: object) -> MicView:
        values: dict[str, object] = {"spec": "default", "source": None, "fallback": False}
        values["level"] = None
        values.update(changes)
        return MicView(**values)  # type: ignore[arg-type]

    assert "MUTED" in mic_markup(True, mic(level=0.5), True)
    fallback = mic_markup(False, mic(source="silence (no microphone)", fallback=True), True)
    assert "no microphone" in fallback and "live" not in fallback
    assert "live" not in mic_markup(False, mic(spec="silence", source="silence"), True)
    assert "█" in mic_markup(False, mic(source="tone 440 Hz", level=0.3), True)
    assert "live" not in mic_markup(False, mic(source="tone 440 Hz"), False)  # nothing open


def test_warning_texts() -> None:
    assert warning_text("high-packet-loss", 4.86, 3.0) == "high-packet-loss 4.86% > 3%"
    assert warning_text("high-rtt", 512, 400) == "high-rtt 512ms > 400ms"
    assert warning_text("low-mos", 3.2, 3.5) == "low-mos 3.2 < 3.5"
    assert warning_text("constant-audio-input-level", 0, 10) == "constant-audio-input-level for 10s"


async def test_a_call_shows_the_tone_on_the_meter(tmp_path: Path) -> None:
    settings = ui_settings(regions=(), region=None)
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: "echo" in app.session.state.online)
            app.send(Dial(to="echo"))
            await wait_for(lambda: app.call_panel.call_state == "active")
            # a 440 Hz tone at 0.3 of full scale peaks at -10.5 dBFS
            await wait_for(lambda: "-10dB" in screen_text(app), 10)
            assert "live" in screen_text(app)
            await pilot.press("m")
            await wait_for(lambda: "MUTED" in screen_text(app))


async def test_no_microphone_the_notice_and_the_mic_row_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_device() -> None:
        raise DeviceUnavailable("no input device")

    monkeypatch.setattr(factory, "MicrophoneSource", no_device)
    settings = ui_settings(regions=(), region=None, audio_in="default")
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings), tmp_path)
        async with app.run_test(size=SIZE):
            await wait_for(lambda: "echo" in app.session.state.online)
            app.send(Dial(to="echo"))
            await wait_for(lambda: app.call_panel.call_state == "active")
            await wait_for(lambda: any("No microphone" in n for n in notices(app)))
            await wait_for(lambda: app.call_panel.mic is not None and app.call_panel.mic.fallback)
            text = screen_text(app)
            assert "no microphone" in text and "sending silence" in text
