"""The help screen (``?``): every key, from the same table the bindings come from."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from softphone.ui.keymap import ACTIONS, KEYPAD_HELP


def help_markup() -> str:
    lines = ["[b]Key  F-key  Action[/]"]
    for action in ACTIONS:
        fkey = (action.global_key or "").upper()
        lines.append(
            f"[b $accent]{escape(action.key_display):<4}[/] {fkey:<6} {escape(action.help)}"
        )
    lines.append(f"[b $accent]{escape(KEYPAD_HELP):<11}[/] Send that DTMF digit during a call")
    lines += [
        "",
        "[b $accent]ctrl+p[/] command palette (every action above, by name)",
        "F-keys work everywhere, even while typing in an input.",
        "",
        "[$text-muted]Esc, q or ? closes this screen.[/]",
    ]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", key_display="Esc"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: auto; max-width: 90%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
        overflow-y: auto; scrollbar-size-vertical: 1;
    }
    HelpScreen Static { width: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            yield Static(Content.from_markup(help_markup()))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
