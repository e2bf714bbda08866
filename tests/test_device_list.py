"""Turning a device name or index into a PortAudio device, without any sound hardware."""

from __future__ import annotations

import pytest

from softphone.device_list import AudioDevice, UnknownDevice, is_device_spec, resolve_device


def _device(index: int, name: str, inputs: int = 2, outputs: int = 2) -> AudioDevice:
    return AudioDevice(
        index=index,
        name=name,
        host_api="ALSA",
        inputs=inputs,
        outputs=outputs,
        default_input=False,
        default_output=False,
    )


DEVICES = [
    _device(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)"),
    _device(1, "USB Headset: Audio (hw:1,0)", inputs=1),
    _device(2, "HDMI 0 (hw:0,3)", inputs=0),
    _device(3, "pulse"),
]


@pytest.mark.parametrize(
    ("spec", "kind", "index"),
    [
        ("3", "input", 3),
        ("device:3", "output", 3),
        ("pulse", "input", 3),
        ("usb headset", "input", 1),
        ("device:HDMI", "output", 2),
        ("HDA Intel PCH: ALC3246 Analog (hw:0,0)", "output", 0),
    ],
)
def test_by_index_exact_name_or_unique_part(spec: str, kind: str, index: int) -> None:
    assert resolve_device(spec, kind, DEVICES).index == index  # type: ignore[arg-type]


def test_an_unknown_device_is_named_and_the_devices_listed() -> None:
    with pytest.raises(UnknownDevice) as info:
        resolve_device("HDMI", "input", DEVICES)  # an output only
    text = str(info.value)
    assert "no input device 'HDMI'" in text
    assert "0 'HDA Intel PCH: ALC3246 Analog (hw:0,0)'" in text and "3 'pulse'" in text
    assert "HDMI 0" not in text


def test_an_ambiguous_part_names_the_candidates() -> None:
    with pytest.raises(UnknownDevice, match=r"ambiguous.*HDA Intel.*USB Headset"):
        resolve_device("hw:", "input", DEVICES)


def test_no_devices_says_why() -> None:
    with pytest.raises(UnknownDevice, match="none \\(is a sound server"):
        resolve_device("0", "output", [])


@pytest.mark.parametrize(
    ("spec", "device"),
    [
        ("default", False),
        ("silence", False),
        ("null", False),
        ("tone", False),
        ("tone:440", False),
        ("file:x.wav", False),
        ("device:default", True),
        ("pulse", True),
        ("2", True),
        ("USB Headset: Audio (hw:1,0)", True),
    ],
)
def test_which_specs_name_a_device(spec: str, device: bool) -> None:
    assert is_device_spec(spec) is device
