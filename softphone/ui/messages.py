"""Messages the app posts to itself.

Session events arrive in a plain callback; turning each into a message means
widgets are only ever changed from the app's own message handlers, in order,
never from inside the session manager's call stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from softphone.events import Event
    from softphone.session import SessionManager


class SessionEvent(Message):
    """One session event, stamped with the UI clock when it arrived."""

    def __init__(self, event: Event, at: float) -> None:
        super().__init__()
        self.event = event
        self.at = at


class SessionOpened(Message):
    """The session factory returned: the media stack is loaded and the session exists."""

    def __init__(self, session: SessionManager) -> None:
        super().__init__()
        self.session = session


class SessionFailed(Message):
    """Building or starting the session raised; the UI stays up and shows why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
