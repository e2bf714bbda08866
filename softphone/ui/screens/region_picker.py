"""The region picker: every configured region, the current one marked, with live probe figures.

Opening it asks the session for a probe of every region (``probe``); the
figures (round trip, loss, TURN allocation time) fill in as each region
answers, and a region where nothing answered is marked dead. The probe runs
in the session, never on the screen's time: the picker is usable at once.
With no region at all it says, in one line, how to get some.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from softphone.events import RegionProbed


def probe_markup(probe: RegionProbed | None, probing: bool) -> str:
    """The figures shown beside a region: measured, being measured, or dead."""
    if probe is None:
        return "[$text-muted]probing…[/]" if probing else ""
    if not probe.ok:
        return "[b $error]✗ dead[/] [$text-muted]$detail[/]"
    parts = []
    if probe.rtt_ms is not None:
        parts.append(f"{probe.rtt_ms:.1f} ms")
    if probe.loss is not None:
        parts.append(f"{probe.loss:.0%} loss")
    if probe.allocate_ms is not None:
        parts.append(f"alloc {probe.allocate_ms:.1f} ms")
    return "[$success]" + " · ".join(parts or ["ok"]) + "[/]"


class RegionPickerScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "cancel", "Cancel")]

    DEFAULT_CSS = """
    RegionPickerScreen { align: center middle; }
    RegionPickerScreen > Vertical {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface;
    }
    RegionPickerScreen OptionList { height: auto; max-height: 16; border: none; }
    """

    def __init__(
        self,
        regions: Sequence[tuple[str, int]],
        current: str | None,
        probes: Mapping[str, RegionProbed] | None = None,
        *,
        probing: bool = False,
        hint: str | None = None,
    ) -> None:
        """``regions``: (name, number of server URLs) in configuration order.

        ``probes``: the latest figures known per region; ``probing``: a probe
        is under way (regions without figures say so); ``hint``: the one line
        shown when there is no region.
        """
        super().__init__()
        self.regions = list(regions)
        self.current = current
        self.probes = dict(probes or {})
        self.probing = probing
        self.hint = hint

    def _prompt(self, name: str, count: int) -> Content:
        mark = "[b $success]●[/]" if name == self.current else " "
        servers = f"{count} server URL{'s' if count != 1 else ''}" if count else "host only"
        probe = self.probes.get(name)
        figures = probe_markup(probe, self.probing and count > 0)
        return Content.from_markup(
            f"{mark} $name  [$text-muted]$servers[/]  {figures}",
            name=name,
            servers=servers,
            detail=(probe.error or "no answer") if probe is not None else "",
        )

    def compose(self) -> ComposeResult:
        options = [Option(self._prompt(name, count), id=name) for name, count in self.regions]
        if not options and self.hint:
            options.append(Option(Content(self.hint), disabled=True))
        with Vertical() as box:
            box.border_title = "Switch region (Enter)"
            yield OptionList(*options, id="regions")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        names = [name for name, _ in self.regions]
        if self.current in names:
            picker.highlighted = names.index(self.current)
        picker.focus()

    def show_probe(self, probe: RegionProbed) -> None:
        """One region's fresh figures, drawn in place."""
        self.probes[probe.region] = probe
        counts = dict(self.regions)
        if probe.region in counts and self.is_mounted:
            picker = self.query_one(OptionList)
            picker.replace_option_prompt(
                probe.region, self._prompt(probe.region, counts[probe.region])
            )

    def probe_done(self) -> None:
        """The probe ended: a region still without figures is no longer "probing…"."""
        self.probing = False
        if self.is_mounted:
            picker = self.query_one(OptionList)
            for name, count in self.regions:
                picker.replace_option_prompt(name, self._prompt(name, count))

    @on(OptionList.OptionSelected, "#regions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
