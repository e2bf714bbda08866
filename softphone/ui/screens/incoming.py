"""The incoming-call modal: who calls, and the two keys that matter.

It rings the terminal bell when shown, unless another call is up (call
waiting **(1.2)**: it rings softly, without the bell, and says who waits on
hold once it is answered). The app dismisses it when the call
stops ringing for another reason (the caller hung up, it was answered with
an F-key), so it never outlives the call it announces.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

IncomingChoice = Literal["answer", "decline"]


class IncomingCallScreen(ModalScreen[IncomingChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a,enter", "choose('answer')", "Answer", key_display="a"),
        Binding("x,escape", "choose('decline')", "Decline", key_display="x"),
    ]

    DEFAULT_CSS = """
    IncomingCallScreen { align: center middle; }
    IncomingCallScreen > Vertical {
        width: 44; height: auto; border: thick $accent; background: $surface;
        padding: 1 2;
    }
    IncomingCallScreen #caller { text-align: center; text-style: bold; }
    IncomingCallScreen #keys { text-align: center; margin-top: 1; }
    IncomingCallScreen #waiting { text-align: center; color: $text-muted; }
    """

    def __init__(
        self, caller: str, call_id: str | None = None, *, waiting_for: str | None = None
    ) -> None:
        super().__init__()
        self.caller = caller
        self.call_id = call_id
        self.waiting_for = waiting_for

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Incoming call" if self.waiting_for is None else "Call waiting"
            yield Static(
                Content.from_markup("[$accent]☎[/] $caller is calling", caller=self.caller),
                id="caller",
            )
            if self.waiting_for is not None:
                yield Static(
                    Content.from_markup("answering puts $other on hold", other=self.waiting_for),
                    id="waiting",
                )
            yield Static(
                Content.from_markup("[b $success]a[/]/Enter answer    [b $error]x[/]/Esc decline"),
                id="keys",
            )

    def on_mount(self) -> None:
        if self.waiting_for is None:
            self.app.bell()

    def action_choose(self, choice: IncomingChoice) -> None:
        self.dismiss(choice)
