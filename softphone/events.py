"""Events the session manager emits to its front ends.

An event is a name from docs/protocol.md section 2 and its fields, already in the
JSON shape the headless front end prints. The terminal UI reads the same
objects, so both front ends render one stream and cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("softphone.events")


@dataclass(frozen=True)
class Event:
    """One event: ``name`` (e.g. ``call-state``) and its JSON-ready ``fields``."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


EventSink = Callable[[Event], None]


class EventBus:
    """Fans events out to subscribers; a failing subscriber never stops the others."""

    def __init__(self) -> None:
        self._subscribers: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> Callable[[], None]:
        """Add ``sink``; returns a function that removes it again."""
        self._subscribers.append(sink)

        def unsubscribe() -> None:
            if sink in self._subscribers:
                self._subscribers.remove(sink)

        return unsubscribe

    def emit(self, name: str, /, **fields: Any) -> None:
        event = Event(name, fields)
        for sink in list(self._subscribers):
            try:
                sink(event)
            except Exception:  # a broken front end must not break the call
                logger.exception("event subscriber failed")
