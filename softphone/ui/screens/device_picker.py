"""The audio device picker (``v``, for voice): a microphone or a speaker, switched mid-call
without renegotiating.

It lists what the session found (PortAudio's devices) under two headings,
plus the built-in choices that always work (the system default, silence, a
null sink); the one in use is marked. Picking dismisses with the command's
``(kind, spec)``; the session does the switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from softphone.device_list import AudioDevice

Kind = Literal["input", "output"]
Choice = tuple[Kind, str]

BUILT_IN: dict[Kind, tuple[tuple[str, str], ...]] = {
    "input": (("default", "the system default microphone"), ("silence", "send silence")),
    "output": (("default", "the system default speaker"), ("null", "discard what is received")),
}
HEADINGS: dict[Kind, str] = {"input": "Microphone", "output": "Speaker"}


class DevicePickerScreen(ModalScreen[Choice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "cancel", "Cancel")]

    DEFAULT_CSS = """
    DevicePickerScreen { align: center middle; }
    DevicePickerScreen > Vertical {
        width: 70; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface;
    }
    DevicePickerScreen OptionList { height: auto; max-height: 24; border: none; }
    """

    def __init__(
        self,
        devices: Sequence[AudioDevice],
        current: dict[Kind, str],
        problem: str | None = None,
    ) -> None:
        """``current``: the spec in use for each kind; ``problem``: why no device is listed."""
        super().__init__()
        self.devices = list(devices)
        self.current = current
        self.problem = problem

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for kind in ("input", "output"):
            options.append(Option(Content.from_markup(f"[b]{HEADINGS[kind]}[/]"), disabled=True))
            for spec, what in BUILT_IN[kind]:
                options.append(self._option(kind, spec, spec, what))
            for device in self.devices:
                if device.has(kind):
                    default = device.default_input if kind == "input" else device.default_output
                    what = f"{device.host_api}{', default' if default else ''}"
                    options.append(self._option(kind, str(device.index), device.name, what))
        if self.problem:
            options.append(
                Option(Content.from_markup("[$warning]$p[/]", p=self.problem), disabled=True)
            )
        with Vertical() as box:
            box.border_title = "Audio devices (Enter switches, mid-call too)"
            yield OptionList(*options, id="devices")

    def _option(self, kind: Kind, spec: str, label: str, what: str) -> Option:
        current = self.current.get(kind)
        names = {spec, label, f"device:{spec}", f"device:{label}"}
        mark = "[b $success]●[/]" if current in names else " "
        text = Content.from_markup(f"{mark} $label  [$text-muted]$what[/]", label=label, what=what)
        return Option(text, id=f"{kind}:{spec}")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.highlighted = 1
        picker.focus()

    @on(OptionList.OptionSelected, "#devices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        kind, _, spec = (event.option.id or "").partition(":")
        if kind in ("input", "output") and spec:
            self.dismiss(("input" if kind == "input" else "output", spec))

    def action_cancel(self) -> None:
        self.dismiss(None)
