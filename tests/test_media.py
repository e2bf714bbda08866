"""Sources, sinks, mute and echo, with real aiortc tracks and real files."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from softphone.media import (
    MediaSpecError,
    MutableSource,
    create_echo,
    create_sink,
    create_source,
)
from tests.analysis import dominant_frequency, longest_silence_ms, read_wav, rms
from tests.rtc_probe import wait_for


async def collect(track: MediaStreamTrack, count: int) -> list[AudioFrame]:
    frames = []
    for _ in range(count):
        frame = await asyncio.wait_for(track.recv(), timeout=5)
        assert isinstance(frame, AudioFrame)
        frames.append(frame)
    return frames


def samples_of(frames: list[AudioFrame]) -> np.ndarray:
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32) / 32768


def assert_standard_frames(frames: list[AudioFrame]) -> None:
    first = frames[0].pts
    assert first is not None
    for i, frame in enumerate(frames):
        assert frame.format.name == "s16"
        assert frame.layout.name == "mono"
        assert frame.samples == 960
        assert frame.sample_rate == 48000
        assert frame.time_base == fractions.Fraction(1, 48000)
        assert frame.pts == first + 960 * i


def write_wav(path: Path, hz: float, seconds: float, rate: int, channels: int) -> None:
    t = np.arange(int(rate * seconds)) / rate
    mono = (0.5 * np.sin(2 * math.pi * hz * t) * 32767).astype("<i2")
    data = np.repeat(mono[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())


async def test_tone_format_pacing_and_frequency() -> None:
    result = create_source("tone:1000")
    assert result.notice is None
    assert "1000" in result.description
    started = time.monotonic()
    frames = await collect(result.track, 50)
    elapsed = time.monotonic() - started
    result.track.stop()
    assert_standard_frames(frames)
    assert frames[0].pts == 0
    assert elapsed >= 49 * 0.020 * 0.95  # real time, not as fast as possible
    samples = samples_of(frames)
    assert abs(dominant_frequency(samples, 48000) - 1000) < 2
    assert 0.1 < rms(samples) < 0.5  # moderate amplitude
    assert longest_silence_ms(samples, 48000) < 2  # no clicks/gaps at frame edges


async def test_default_tone_is_440() -> None:
    result = create_source("tone")
    frames = await collect(result.track, 25)
    result.track.stop()
    assert abs(dominant_frequency(samples_of(frames), 48000) - 440) < 5


async def test_stopped_track_raises_media_stream_error() -> None:
    track = create_source("silence").track
    await collect(track, 1)
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_silence_source() -> None:
    result = create_source("silence")
    frames = await collect(result.track, 10)
    result.track.stop()
    assert_standard_frames(frames)
    assert not samples_of(frames).any()


async def test_file_source_resamples_44k1_stereo(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_wav(path, 523.0, 0.6, rate=44100, channels=2)
    result = create_source(f"file:{path}")
    assert "44100" in result.description
    frames = await collect(result.track, 40)  # 0.8 s: the file, then silence
    result.track.stop()
    assert_standard_frames(frames)
    samples = samples_of(frames)
    assert abs(dominant_frequency(samples[: int(0.55 * 48000)], 48000) - 523) < 3
    assert rms(samples[: int(0.55 * 48000)]) > 0.2
    assert not samples[int(0.62 * 48000) :].any()  # silence after the end


def test_file_source_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(MediaSpecError) as info:
        create_source(f"file:{missing}")
    assert str(missing) in str(info.value)
    assert "tone[:HZ]" in str(info.value)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not a wav file at all" * 10)
    with pytest.raises(MediaSpecError) as info:
        create_source(f"file:{garbage}")
    assert str(garbage) in str(info.value)


@pytest.mark.parametrize("spec", ["bogus", "tone:abc", "tone:0", "tone:30000", "file:", ""])
def test_bad_source_specs(spec: str) -> None:
    with pytest.raises(MediaSpecError) as info:
        create_source(spec)
    text = str(info.value)
    assert repr(spec) in text
    assert "default | tone[:HZ] | file:PATH.wav | silence" in text
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("spec", ["bogus", "tone", "file:", "file:/nonexistent-dir/x/y.wav"])
def test_bad_sink_specs(spec: str) -> None:
    with pytest.raises(MediaSpecError) as info:
        create_sink(spec)
    text = str(info.value)
    assert repr(spec) in text
    assert "default | file:PATH.wav | null" in text


async def test_mute_keeps_pacing_and_pts() -> None:
    source = MutableSource(create_source("tone:700").track)
    loud = await collect(source, 5)
    source.muted = True
    quiet = await collect(source, 5)
    source.muted = False
    again = await collect(source, 5)
    source.stop()
    frames = loud + quiet + again
    assert_standard_frames(frames)
    assert samples_of(loud).any() and samples_of(again).any()
    assert not samples_of(quiet).any()
    assert source.source.readyState == "ended"  # stopping the wrapper stops the source


async def test_file_sink_records_valid_wav_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    result = create_sink(f"file:{path}")
    assert result.notice is None
    sink = result.sink
    first = create_source("tone:880").track
    await sink.start(first)
    await wait_for(lambda: sink.stats.frames >= 50)
    # Valid while still recording (as if the process were killed now).
    mid, rate = read_wav(path)
    assert rate == 48000 and mid.size > 0.5 * 48000
    first.stop()  # the track ends; a renegotiation brings a new one
    await asyncio.sleep(0.1)  # the pause between the tracks, measured below
    second = create_source("tone:880").track
    await sink.start(second)
    before = sink.stats.frames
    await wait_for(lambda: sink.stats.frames >= before + 25)
    await sink.stop()
    second.stop()

    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (48000, 1, 2)
    samples, rate = read_wav(path)
    stats = sink.stats
    assert stats.frames > 60
    assert samples.size == stats.frames * 960
    assert stats.seconds == pytest.approx(samples.size / 48000)
    assert stats.last_frame_at is not None and stats.last_frame_at <= time.monotonic()
    assert stats.max_gap_ms >= 90  # the pause between the two tracks
    assert abs(dominant_frequency(samples, rate) - 880) < 2


async def test_file_sink_reopen_after_stop_appends(tmp_path: Path) -> None:
    path = tmp_path / "again.wav"
    sink = create_sink(f"file:{path}").sink
    for _ in range(2):
        track = create_source("tone:300").track
        before = sink.stats.frames
        await sink.start(track)
        await wait_for(lambda before=before: sink.stats.frames >= before + 15)
        await sink.stop()
        track.stop()
    samples, _ = read_wav(path)
    assert samples.size == sink.stats.frames * 960


async def test_null_sink_counts() -> None:
    result = create_sink("null")
    track = create_source("silence").track
    await result.sink.start(track)
    await wait_for(lambda: result.sink.stats.frames >= 15)
    track.stop()  # the sink's task ends with the track
    task = result.sink._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), 5)  # no frame can be counted after this
    assert result.sink.stats.max_gap_ms < 500
    await result.sink.stop()
    await result.sink.stop()  # idempotent


async def test_echo_returns_what_it_got() -> None:
    echo_source, echo_sink = create_echo()
    # Before anything arrives, the echo sends paced silence.
    assert not samples_of(await collect(echo_source, 3)).any()
    tone = create_source("tone:600").track
    await echo_sink.start(tone)
    frames = await collect(echo_source, 60)
    await echo_sink.stop()
    tone.stop()
    echo_source.stop()
    assert_standard_frames(frames)
    heard = samples_of(frames)[48000 // 5 :]
    assert abs(dominant_frequency(heard, 48000) - 600) < 2
    assert longest_silence_ms(heard, 48000) < 5
    assert echo_sink.stats.frames >= 50


async def test_sink_accepts_opus_like_stereo_frames(tmp_path: Path) -> None:
    """aiortc's Opus decoder hands out s16 stereo frames; the sink must downmix them."""

    class StereoTone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.inner = create_source("tone:1200").track

        async def recv(self) -> AudioFrame:
            mono = await self.inner.recv()
            assert isinstance(mono, AudioFrame)
            data = np.repeat(mono.to_ndarray().reshape(-1), 2).reshape(1, -1).astype(np.int16)
            frame = AudioFrame.from_ndarray(data, format="s16", layout="stereo")
            frame.sample_rate = 48000
            frame.pts = mono.pts
            frame.time_base = mono.time_base
            return frame

    path = tmp_path / "stereo.wav"
    sink = create_sink(f"file:{path}").sink
    track = StereoTone()
    await sink.start(track)
    await wait_for(lambda: sink.stats.frames >= 30)
    await sink.stop()
    track.inner.stop()
    samples, rate = read_wav(path)
    assert samples.size == sink.stats.frames * 960
    assert abs(dominant_frequency(samples, rate) - 1200) < 3


def test_analysis_helpers() -> None:
    rate = 48000
    t = np.arange(2 * rate) / rate
    for hz in (100.0, 440.0, 1234.5, 3001.7):
        assert abs(dominant_frequency(np.sin(2 * np.pi * hz * t), rate) - hz) < 0.5
    signal = 0.5 * np.sin(2 * np.pi * 440 * t)
    signal[rate // 2 : rate // 2 + rate // 10] = 0  # a 100 ms dropout
    assert longest_silence_ms(signal, rate, 0.01) == pytest.approx(100, abs=1)
    assert rms(np.ones(10)) == pytest.approx(1.0)
    assert rms(0.5 * np.sin(2 * np.pi * 440 * t)) == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)


def test_tone_is_the_sine_of_its_phase_frame_after_frame() -> None:
    """Both tone paths (whole hertz: a repeating table; else per frame) equal the formula."""
    from softphone.media.sources import TONE_AMPLITUDE, ToneSource

    for hz in (440.0, 1000.0, 333.3):
        source = ToneSource(hz)
        chunks = [source.next_samples().copy() for _ in range(60)]
        n = np.arange(60 * 960)
        expected = (np.sin(2 * math.pi * hz * n / 48000) * TONE_AMPLITUDE * 32767).astype(np.int16)
        assert np.abs(np.concatenate(chunks).astype(int) - expected).max() <= 1, hz
        if hz == int(hz):  # a slice of the table, computed once
            assert source._table is not None and len(source._table) <= 50
            table_frame = source.next_samples()
            assert any(table_frame is frame for frame in source._table)
        else:
            assert source.next_samples() is source.next_samples()  # no allocation per frame


async def test_tone_frames_are_copies_of_the_reused_buffer() -> None:
    track = create_source("tone:440").track
    first, second = await collect(track, 2)
    track.stop()
    assert not (first.to_ndarray() == second.to_ndarray()).all()


def test_mono_frames_are_not_resampled() -> None:
    from softphone.media.sinks import MonoConverter, NullSink

    samples = (np.arange(960) - 480).astype(np.int16)
    frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 48000
    converted = MonoConverter().convert(frame)
    assert converted.dtype == np.int16 and (converted == samples).all()
    assert not NullSink.wants_samples  # it only counts: nothing converted for it
