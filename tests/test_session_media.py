"""Each call's audio (no network, no sound device): a switch moves the active call only,
a held call plays nothing and takes the devices chosen meanwhile when it is resumed."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from softphone import events as ev
from softphone.commands import CommandRefused
from softphone.media.sinks import ConsumingSink, SwitchableSink
from softphone.session_media import CallAudio, CallMedia, MediaChoice
from tests.rtc_probe import wait_for


def _changes(events: list[ev.Event]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.call) for e in events if isinstance(e, ev.AudioDeviceChanged)]


async def _close(*calls: CallAudio) -> None:
    for audio in calls:
        audio.source.stop()
        await audio.sink.stop()


async def test_a_switch_moves_the_active_call_and_a_held_one_follows_when_resumed() -> None:
    events: list[ev.Event] = []
    media = CallMedia(MediaChoice("silence", "null"), events.append)
    held, active = media.open("c1", muted=False), media.open("c2", muted=False)
    assert held is not None and active is not None
    held.hold(True)
    try:
        await media.switch("input", "tone:440", active)
        assert active.audio_in == "tone:440" and active.input_description == "tone 440 Hz"
        assert held.audio_in == "silence"  # a held call keeps what it had
        assert media.choice.audio_in == "tone:440"
        held.hold(False)
        await media.follow(held)
        assert held.audio_in == "tone:440" and held.input_description == "tone 440 Hz"
        await media.follow(held)  # nothing more to do: no second event
        assert _changes(events) == [("input", "c2"), ("input", "c1")]
        later = media.open("c3", muted=True)
        assert later is not None and later.audio_in == "tone:440" and later.source.muted
        await _close(later)
    finally:
        await _close(held, active)


async def test_without_a_call_a_switch_only_changes_the_choice_and_a_bad_one_changes_nothing() -> (
    None
):
    events: list[ev.Event] = []
    media = CallMedia(MediaChoice("silence", "null"), events.append)
    await media.switch("input", "tone", None)
    assert media.choice.audio_in == "tone" and _changes(events) == [("input", None)]
    with pytest.raises(CommandRefused) as refused:
        await media.switch("output", "file:/no/such/dir/x.wav", None)
    assert refused.value.code == "bad-audio" and media.choice.audio_out == "null"


async def test_a_bad_spec_refuses_the_call_with_an_error() -> None:
    events: list[ev.Event] = []
    media = CallMedia(MediaChoice("tone", "file:/no/such/dir/x.wav"), events.append)
    assert media.open("c1", muted=False) is None
    errors = [e for e in events if isinstance(e, ev.ErrorReported)]
    assert [e.code for e in errors] == ["bad-audio"] and "--audio-out" in errors[0].message


class _Recording(ConsumingSink):
    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def _write(self, samples: np.ndarray) -> None:  # type: ignore[type-arg]
        self.written += 1


def test_a_paused_sink_counts_but_does_not_play() -> None:
    output = _Recording()
    sink = SwitchableSink(output)
    samples = np.zeros(960, dtype=np.int16)
    sink._write(samples)
    sink.paused = True
    sink._write(samples)
    sink.paused = False
    sink._write(samples)
    assert output.written == 2


async def test_the_monitor_follows_a_switch_yields_to_a_call_and_comes_back() -> None:
    media = CallMedia(MediaChoice("tone:440", "null"), [].append)
    await media.monitor(True, idle=True)
    try:
        await wait_for(lambda: (media.mic_view(None).level or 0) > 0.25)
        await media.switch("input", "silence", None)  # between calls: the monitor follows
        await wait_for(lambda: media.mic_view(None).level == 0.0)
        call = media.open("c1", muted=False)
        assert call is not None and not media.monitoring  # the call opens its own source
        await _close(call)
        await media.resume_monitor()  # what the session does when the last call ends
        assert media.monitoring and media.mic == "silence"
        await media.monitor(False, idle=True)
        assert not media.monitoring
        await media.resume_monitor()  # not wanted: stays off
        assert not media.monitoring
    finally:
        media.close_monitor()


async def test_a_call_that_opens_while_the_monitor_opens_wins() -> None:
    media = CallMedia(MediaChoice("tone", "null"), [].append)
    opening = asyncio.ensure_future(media.monitor(True, idle=True))
    await asyncio.sleep(0)  # the monitor's source is being opened on a thread
    call = media.open("c1", muted=False)
    await opening
    assert call is not None and not media.monitoring  # it gave its source back
    await _close(call)


async def test_monitoring_a_bad_source_is_refused_as_a_call_would_be() -> None:
    media = CallMedia(MediaChoice("file:/no/such/dir/x.wav", "null"), [].append)
    with pytest.raises(CommandRefused) as refused:
        await media.monitor(True, idle=True)
    assert refused.value.code == "bad-audio" and not media.monitoring
