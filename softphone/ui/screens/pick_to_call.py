"""A list of people to call, one key each: what the contacts and history screens share.

Enter calls the highlighted entry (the screen dismisses with the user name),
Esc or ``q`` closes it. Subclasses only say what the list holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class PickToCallScreen(ModalScreen[str | None]):
    """``entries``: (what to show, the user name Enter calls), in the order shown."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "cancel", "Close")]

    DEFAULT_CSS = """
    PickToCallScreen { align: center middle; }
    PickToCallScreen > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    PickToCallScreen OptionList { height: auto; max-height: 18; border: none; }
    PickToCallScreen Label { color: $text-muted; }
    """

    TITLE_TEXT = "Call"
    EMPTY_TEXT = "nothing to show"

    def __init__(self, entries: Sequence[tuple[Content, str]]) -> None:
        super().__init__()
        self.entries = list(entries)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.TITLE_TEXT
            if not self.entries:
                yield Label(self.EMPTY_TEXT)
                return
            yield Label("Enter calls, Esc closes")
            options = [Option(shown, id=str(i)) for i, (shown, _) in enumerate(self.entries)]
            yield OptionList(*options, id="people")

    def on_mount(self) -> None:
        if self.entries:
            self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#people")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.entries[int(event.option.id or 0)][1])

    def action_cancel(self) -> None:
        self.dismiss(None)
