"""A yes/no question; used to confirm quitting during a call."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", key_display="y"),
        Binding("n,escape,q", "answer(False)", "No", key_display="n"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 50; height: auto; border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmScreen #keys { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, question: str, title: str = "Confirm") -> None:
        super().__init__()
        self.question = question
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.question, markup=False)
            yield Static("y / Enter: yes     n / Esc: no", id="keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
