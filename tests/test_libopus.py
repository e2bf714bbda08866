"""softphone/rtc/libopus.py: the direct libopus path, its fallback, and the cheaper aiortc clock."""

from __future__ import annotations

import glob
import os
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc import clock
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from av import AudioFrame

from softphone.media.frames import FRAME_SAMPLES, make_frame
from softphone.rtc import internals, libopus


def _tone(count: int, hz: float = 440.0) -> list[np.ndarray]:
    n = np.arange(count * FRAME_SAMPLES)
    wave = (0.3 * 32767 * np.sin(2 * np.pi * hz * n / 48000)).astype(np.int16)
    return [wave[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(count)]


def _peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * 48000 / len(samples))


def _library() -> libopus.Library:
    library = libopus.load()
    assert library is not None, "libopus not found (apt-get install libopus0)"
    return library


def test_round_trip_keeps_the_tone() -> None:
    library = _library()
    encoder, decoder = libopus.Encoder(library), libopus.Decoder(library)
    out = []
    for samples in _tone(50):
        packet = encoder.encode(samples.ctypes.data, FRAME_SAMPLES)
        assert 0 < len(packet) <= 1275 and packet[0] & 0x04 == 0  # mono (RFC 6716 3.1)
        pcm = np.frombuffer(decoder.decode(packet), dtype=np.int16).copy()
        assert len(pcm) == FRAME_SAMPLES
        out.append(pcm)
    decoded = np.concatenate(out[5:])
    assert abs(_peak_hz(decoded) - 440) < 5
    assert np.sqrt(np.mean(decoded.astype(np.float64) ** 2)) > 0.2 * 32767 * 0.7


def test_a_bad_packet_names_the_libopus_error() -> None:
    decoder = libopus.Decoder(_library())
    with pytest.raises(libopus.OpusError, match=r"libopus decode: .*corrupted stream"):
        decoder.decode(b"\xff\xff\xff")
    encoder = libopus.Encoder(_library())
    encoder.close()
    with pytest.raises(libopus.OpusError, match="closed"):
        encoder.encode(_tone(1)[0].ctypes.data, FRAME_SAMPLES)


def test_both_copies_of_libopus_work_and_pyavs_comes_first() -> None:
    """PyAV's wheel carries libopus and is tried first; the system's (libopus0) is the fallback."""
    import ctypes.util

    libs = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs")
    bundled = sorted(glob.glob(os.path.join(libs, "libopus-*.so*")))
    system = ctypes.util.find_library("opus")
    assert system is not None, "apt-get install libopus0 (.ci/programs)"
    assert libopus._candidates() == [*bundled, system]
    loaded = libopus.load()
    assert loaded is not None and loaded.path == (bundled or [system])[0]
    for path in (*bundled, system):
        library = libopus.Library(path)
        encoder, decoder = libopus.Encoder(library), libopus.Decoder(library)
        samples = _tone(1)[0]
        packet = encoder.encode(samples.ctypes.data, FRAME_SAMPLES)
        assert len(decoder.decode(packet)) == 2 * FRAME_SAMPLES, path


def test_stereo_peers_packets_decode_to_mono() -> None:
    """A peer encoding two channels (aiortc's stock encoder, browsers may) decodes fine."""
    stereo = OpusEncoder()
    decoder = internals.opus_decoder()
    assert isinstance(decoder, internals.NativeOpusDecoder)
    out = []
    for i, samples in enumerate(_tone(25)):
        frame = AudioFrame.from_ndarray(np.repeat(samples, 2).reshape(1, -1), "s16", "stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
        payloads, timestamp = stereo.encode(frame)
        for payload in payloads:
            (decoded,) = decoder.decode(JitterFrame(data=payload, timestamp=timestamp))
            assert decoded.layout.name == "mono" and decoded.pts == timestamp
            out.append(decoded.to_ndarray()[0])
    assert abs(_peak_hz(np.concatenate(out[5:])) - 440) < 5


def test_without_libopus_pyav_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """No libopus to load: the encoder and decoder fall back to PyAV, and still agree."""
    monkeypatch.setattr(libopus, "load", lambda: None)
    encoder, decoder = internals.MonoOpusEncoder(), internals.opus_decoder()
    assert isinstance(decoder, OpusDecoder)
    out = []
    for i, samples in enumerate(_tone(25)):
        (payload,), timestamp = encoder.encode(make_frame(samples, i * 960))
        (frame,) = decoder.decode(JitterFrame(data=payload, timestamp=timestamp))
        assert frame.layout.name == "mono"
        out.append(frame.to_ndarray()[0])
    assert abs(_peak_hz(np.concatenate(out[5:])) - 440) < 5


def test_native_and_pyav_decoders_give_the_same_samples() -> None:
    encoder = internals.MonoOpusEncoder()
    native, pyav = internals.opus_decoder(), OpusDecoder()
    pyav.codec.layout = "mono"
    for i, samples in enumerate(_tone(10)):
        (payload,), timestamp = encoder.encode(make_frame(samples, i * 960))
        (a,) = native.decode(JitterFrame(data=payload, timestamp=timestamp))
        (b,) = pyav.decode(JitterFrame(data=payload, timestamp=timestamp))
        assert (a.to_ndarray() == b.to_ndarray()).all()
        assert a.pts == b.pts and a.time_base == b.time_base and a.sample_rate == b.sample_rate


def test_fast_clock_reads_what_aiortcs_clock_reads() -> None:
    for _ in range(20):
        before, fast, after = (
            clock.datetime_to_ntp(clock.current_datetime()),
            internals.fast_ntp_time(),
            clock.datetime_to_ntp(clock.current_datetime()),
        )
        assert before <= fast <= after
        ms_before = int((clock.current_datetime() - clock.NTP_EPOCH).total_seconds() * 1000)
        assert ms_before <= internals.fast_current_ms() <= ms_before + 5
    internals.install_fast_clock()
    assert clock.current_ntp_time is internals.fast_ntp_time
    assert clock.current_ms is internals.fast_current_ms
    # aiortc calls them through the module, so replacing them reaches every caller.
    import inspect

    import aiortc.rtcdtlstransport as dtls_module
    import aiortc.rtcrtpsender as sender_module

    assert "clock.current_ntp_time()" in inspect.getsource(sender_module)
    assert "clock.current_ms()" in inspect.getsource(dtls_module)
