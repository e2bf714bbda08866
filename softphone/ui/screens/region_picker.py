"""The region picker: every configured region, the current one marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class RegionPickerScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "cancel", "Cancel")]

    DEFAULT_CSS = """
    RegionPickerScreen { align: center middle; }
    RegionPickerScreen > Vertical {
        width: 60; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface;
    }
    RegionPickerScreen OptionList { height: auto; max-height: 16; border: none; }
    """

    def __init__(self, regions: Sequence[tuple[str, int]], current: str | None) -> None:
        """``regions``: (name, number of server URLs) in configuration order."""
        super().__init__()
        self.regions = list(regions)
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for name, count in self.regions:
            mark = "[b $success]●[/]" if name == self.current else " "
            servers = f"{count} server URL{'s' if count != 1 else ''}" if count else "host only"
            options.append(
                Option(
                    Content.from_markup(
                        f"{mark} $name  [$text-muted]$servers[/]", name=name, servers=servers
                    ),
                    id=name,
                )
            )
        with Vertical() as box:
            box.border_title = "Switch region (Enter)"
            yield OptionList(*options, id="regions")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        names = [name for name, _ in self.regions]
        if self.current in names:
            picker.highlighted = names.index(self.current)
        picker.focus()

    @on(OptionList.OptionSelected, "#regions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
