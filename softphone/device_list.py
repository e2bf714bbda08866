"""The sound devices PortAudio offers, and turning a device name or index into one.

Kept apart from :mod:`softphone.media` (whose package imports aiortc and av)
so that ``softphone devices`` and the start-up check of ``--audio-in NAME``
load only sounddevice. sounddevice itself is imported on first use: importing
it loads PortAudio, which may be missing, and a softphone without audio
hardware must still start and say why there is no sound.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

DeviceKind = Literal["input", "output"]

#: The explicit form of a device spec; a bare name or index means the same.
DEVICE_PREFIX = "device:"

_sd: Any = None


class DeviceUnavailable(Exception):
    """No usable device; str() is the cause, phrased for the user."""


class UnknownDevice(ValueError):
    """A device name or index that matches no device; the text lists the devices there are."""


@dataclass(frozen=True, kw_only=True)
class AudioDevice:
    """One PortAudio device; ``inputs``/``outputs`` are its channel counts."""

    index: int
    name: str
    host_api: str
    inputs: int
    outputs: int
    default_input: bool
    default_output: bool

    def has(self, kind: DeviceKind) -> bool:
        return (self.inputs if kind == "input" else self.outputs) > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "host_api": self.host_api,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "default_input": self.default_input,
            "default_output": self.default_output,
        }


def load_sounddevice() -> Any:
    """The sounddevice module; DeviceUnavailable says why it cannot be loaded."""
    global _sd
    if _sd is None:
        try:
            _sd = importlib.import_module("sounddevice")
        except OSError as exc:
            raise DeviceUnavailable("PortAudio library not found (install libportaudio2)") from exc
        except ImportError as exc:
            raise DeviceUnavailable(f"the sounddevice package is missing ({exc})") from exc
    return _sd


def list_devices() -> list[AudioDevice]:
    """Every device PortAudio knows now, in its index order (may be empty)."""
    sd = load_sounddevice()
    apis = [str(api.get("name", "?")) for api in sd.query_hostapis()]
    default_in, default_out = _defaults(sd)
    devices = []
    for info in sd.query_devices():
        index = int(info["index"])
        api = int(info.get("hostapi", 0))
        devices.append(
            AudioDevice(
                index=index,
                name=str(info["name"]),
                host_api=apis[api] if 0 <= api < len(apis) else "?",
                inputs=int(info["max_input_channels"]),
                outputs=int(info["max_output_channels"]),
                default_input=index == default_in,
                default_output=index == default_out,
            )
        )
    return devices


def _defaults(sd: Any) -> tuple[int, int]:
    try:
        return int(sd._lib.Pa_GetDefaultInputDevice()), int(sd._lib.Pa_GetDefaultOutputDevice())
    except Exception:
        return -1, -1


def is_device_spec(spec: str) -> bool:
    """Whether an --audio-in/--audio-out value names a device rather than a built-in form."""
    text = spec.strip()
    if text.startswith(DEVICE_PREFIX):
        return True
    if text in ("", "default", "silence", "null", "tone"):
        return False
    return text.partition(":")[0] not in ("tone", "file")


def resolve_device(spec: str, kind: DeviceKind, devices: Sequence[AudioDevice]) -> AudioDevice:
    """The ``kind`` device that ``spec`` names: an index, an exact name, or a unique part of one.

    Raises UnknownDevice naming ``spec`` and listing the ``kind`` devices there are.
    """
    text = spec.strip()
    if text.startswith(DEVICE_PREFIX):
        text = text[len(DEVICE_PREFIX) :].strip()
    usable = [d for d in devices if d.has(kind)]
    if text.isdigit():
        match = [d for d in usable if d.index == int(text)]
    else:
        match = [d for d in usable if d.name == text] or [
            d for d in usable if text.lower() in d.name.lower()
        ]
    if len(match) == 1:
        return match[0]
    listing = describe(usable) or "none (is a sound server such as PulseAudio running?)"
    if len(match) > 1:
        names = ", ".join(repr(d.name) for d in match)
        raise UnknownDevice(
            f"{kind} device {text!r} is ambiguous ({names}); {kind} devices: {listing}"
        )
    raise UnknownDevice(f"no {kind} device {text!r}; {kind} devices: {listing}")


def describe(devices: Sequence[AudioDevice]) -> str:
    return ", ".join(f"{d.index} {d.name!r}" for d in devices)


def check_specs(audio_in: str, audio_out: str) -> str | None:
    """Why a device named by ``--audio-in``/``--audio-out`` cannot be used, or None.

    Run at start, so a mistyped device name stops the program with the list
    of devices there are instead of refusing the first call.
    """
    wanted: list[tuple[str, DeviceKind, str]] = []
    if is_device_spec(audio_in):
        wanted.append((audio_in, "input", "--audio-in"))
    if is_device_spec(audio_out):
        wanted.append((audio_out, "output", "--audio-out"))
    if not wanted:
        return None
    try:
        devices = list_devices()
    except DeviceUnavailable as exc:
        return f"{wanted[0][2]} {wanted[0][0]!r}: cannot list sound devices: {exc}"
    for spec, kind, option in wanted:
        try:
            resolve_device(spec, kind, devices)
        except UnknownDevice as exc:
            return f"{option}: {exc}"
    return None


def print_devices(as_json: bool, out: TextIO) -> int:
    """``softphone devices``: a table (or JSON lines) of every device; 1 when there are none."""
    try:
        devices = list_devices()
    except DeviceUnavailable as exc:
        print(f"softphone devices: {exc}", file=sys.stderr)
        return 1
    if as_json:
        for device in devices:
            print(json.dumps(device.to_json()), file=out)
    else:
        print(f"{'index':>5}  {'in':>3}  {'out':>3}  default  name (host API)", file=out)
        for d in devices:
            marks = ",".join(
                m for m, on in (("in", d.default_input), ("out", d.default_output)) if on
            )
            counts = f"{d.index:>5}  {d.inputs:>3}  {d.outputs:>3}"
            print(f"{counts}  {marks or '-':<7}  {d.name} ({d.host_api})", file=out)
        print("use one with --audio-in NAME|INDEX or --audio-out NAME|INDEX", file=out)
    if not devices:
        print(
            "softphone devices: no sound devices (is a sound server such as PulseAudio running?)",
            file=sys.stderr,
        )
        return 1
    return 0
