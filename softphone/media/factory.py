"""Turning --audio-in / --audio-out values into tracks and sinks, with fallbacks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiortc.mediastreams import MediaStreamTrack

from softphone.device_list import (
    DeviceKind,
    DeviceUnavailable,
    UnknownDevice,
    is_device_spec,
    list_devices,
    resolve_device,
)

from .devices import MicrophoneSource, SpeakerSink
from .errors import SINK_FORMS, SOURCE_FORMS, sink_error, source_error
from .frames import SAMPLE_RATE
from .sinks import AudioSink, NullSink, WavFileSink
from .sources import FileSource, SilenceSource, ToneSource

DEFAULT_TONE_HZ = 440.0


@dataclass
class SourceResult:
    """A source track, plus a notice to show the user when it is a fallback."""

    track: MediaStreamTrack
    notice: str | None
    description: str


@dataclass
class SinkResult:
    """A sink, plus a notice to show the user when it is a fallback."""

    sink: AudioSink
    notice: str | None
    description: str


def create_source(spec: str) -> SourceResult:
    """Build the source named by an --audio-in value.

    Raises MediaSpecError for a malformed spec or an unreadable file; a missing
    microphone is not an error but a silence source with a notice, so a call
    can still be made (and heard) without one.
    """
    text = spec.strip()
    kind, _, arg = text.partition(":")
    if text == "default":
        try:
            mic = MicrophoneSource()
        except DeviceUnavailable as exc:
            notice = (
                f"No microphone: {exc}. Sending silence; choose a source with "
                f"--audio-in {SOURCE_FORMS.replace('default | ', '')}."
            )
            return SourceResult(SilenceSource(), notice, "silence (no microphone)")
        return SourceResult(mic, None, f"microphone: {mic.device_name}")
    if text == "silence":
        return SourceResult(SilenceSource(), None, "silence")
    if kind == "tone":
        hz = _parse_hz(spec, arg) if ":" in text else DEFAULT_TONE_HZ
        return SourceResult(ToneSource(hz), None, f"tone {hz:g} Hz")
    if kind == "file":
        return _file_source(spec, arg)
    if is_device_spec(text):
        index, name = device_index(spec, "input")
        try:
            mic = MicrophoneSource(index)
        except DeviceUnavailable as exc:
            raise source_error(spec, str(exc)) from exc
        return SourceResult(mic, None, f"microphone: {name}")
    raise source_error(spec, "unknown source")


def device_index(spec: str, kind: DeviceKind) -> tuple[int, str]:
    """The PortAudio index and name of the device ``spec`` names; MediaSpecError if none."""
    error = source_error if kind == "input" else sink_error
    try:
        device = resolve_device(spec, kind, list_devices())
    except (DeviceUnavailable, UnknownDevice) as exc:
        raise error(spec, str(exc)) from exc
    return device.index, device.name


def _parse_hz(spec: str, arg: str) -> float:
    try:
        hz = float(arg)
    except ValueError:
        raise source_error(spec, f"{arg!r} is not a frequency in Hz") from None
    if not 0 < hz < SAMPLE_RATE / 2:
        raise source_error(spec, f"the frequency must be between 0 and {SAMPLE_RATE // 2} Hz")
    return hz


def _file_source(spec: str, arg: str) -> SourceResult:
    if not arg:
        raise source_error(spec, "no file path given")
    path = Path(arg).expanduser()
    try:
        source = FileSource(path)
    except Exception as exc:  # OSError, av.FFmpegError, ValueError: all mean "cannot play it"
        raise source_error(spec, f"cannot read audio file {str(path)!r} ({_reason(exc)})") from exc
    description = f"file {path} ({source.source_rate} Hz, {source.source_channels} ch)"
    return SourceResult(source, None, description)


def create_sink(spec: str) -> SinkResult:
    """Build the sink named by an --audio-out value.

    Like create_source, a missing speaker yields a counting null sink and a notice.
    """
    text = spec.strip()
    kind, _, arg = text.partition(":")
    if text == "default":
        try:
            speaker = SpeakerSink()
        except DeviceUnavailable as exc:
            notice = (
                f"No speaker: {exc}. Discarding received audio; choose a sink with "
                f"--audio-out {SINK_FORMS.replace('default | ', '')}."
            )
            return SinkResult(NullSink(), notice, "null (no speaker)")
        return SinkResult(speaker, None, f"speaker: {speaker.device_name}")
    if text == "null":
        return SinkResult(NullSink(), None, "null")
    if kind == "file":
        if not arg:
            raise sink_error(spec, "no file path given")
        path = Path(arg).expanduser()
        try:
            sink = WavFileSink(path)
        except OSError as exc:
            raise sink_error(spec, f"cannot write {str(path)!r} ({_reason(exc)})") from exc
        return SinkResult(sink, None, f"recording to {path}")
    if is_device_spec(text):
        index, name = device_index(spec, "output")
        try:
            speaker = SpeakerSink(index)
        except DeviceUnavailable as exc:
            raise sink_error(spec, str(exc)) from exc
        return SinkResult(speaker, None, f"speaker: {name}")
    raise sink_error(spec, "unknown sink")


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
