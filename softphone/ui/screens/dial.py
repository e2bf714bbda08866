"""The dial box: a name with completion from who is online, and a list to pick from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class DialScreen(ModalScreen[str | None]):
    """Dismisses with the name to call, or None on Esc."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "focus_list", "Contacts", show=False),
    ]

    DEFAULT_CSS = """
    DialScreen { align: center middle; }
    DialScreen > Vertical {
        width: 50; height: auto; max-height: 90%; border: thick $primary;
        background: $surface; padding: 0 1;
    }
    DialScreen OptionList { height: auto; max-height: 8; border: none; }
    DialScreen Label { color: $text-muted; }
    """

    def __init__(self, online: Sequence[str], *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.online = sorted(online)
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Dial"
            field = Input(
                placeholder="user name (Tab/→ completes)",
                suggester=SuggestFromList(self.online, case_sensitive=False),
                id="dial-to",
            )
            field.cursor_blink = self.cursor_blink
            yield field
            if self.online:
                yield Label("online — ↓ to pick, Enter to call")
                yield OptionList(*[Option(name, id=name) for name in self.online], id="contacts")
            else:
                yield Label("nobody else is online")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#dial-to")
    def _submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name:
            self.dismiss(name)

    @on(OptionList.OptionSelected, "#contacts")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_focus_list(self) -> None:
        if self.online:
            self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
