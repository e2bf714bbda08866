"""The call history screen (``y``): every call, newest first; Enter calls that person back."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from softphone.history import CallRecord, describe
from softphone.ui.screens.pick_to_call import PickToCallScreen


class HistoryScreen(PickToCallScreen):
    """Missed calls stand out; each line says when, which way, how long and how it ended."""

    TITLE_TEXT = "Call history"
    EMPTY_TEXT = "no calls yet"

    def __init__(self, records: Sequence[CallRecord]) -> None:
        super().__init__(
            [
                (
                    Content.from_markup(
                        "[b $error]$line[/]" if record.missed else "$line", line=describe(record)
                    ),
                    record.remote,
                )
                for record in reversed(records)
            ]
        )
