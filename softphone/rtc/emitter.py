"""Event handlers and background tasks of one PeerConnection.

Browser code registers handlers by event name (``pc.on(...)``); every part of
a connection emits through one Emitter so a failing handler is logged, never
raised into the part that emitted, and ``close()`` can cancel every task any
part started.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]


class Emitter:
    """Handlers by event name, and the set of tasks still running."""

    def __init__(self, events: frozenset[str]) -> None:
        self._events = events
        self._handlers: dict[str, list[Handler]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    def on(self, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event``; coroutine handlers run as tasks."""
        if event not in self._events:
            known = ", ".join(sorted(self._events))
            raise ValueError(f"unknown event {event!r}; known: {known}")
        self._handlers.setdefault(event, []).append(handler)

    def emit(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers.get(event, ())):
            try:
                result = handler(*args)
            except Exception:
                logger.exception("%s handler failed", event)
                continue
            if inspect.isawaitable(result):
                self.spawn(result)

    def spawn(self, awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
        """Run ``awaitable`` as a task that ``cancel_all`` cancels; its failure is logged."""
        task: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def cancel_all(self, *, keep: asyncio.Future[Any] | None = None) -> None:
        for task in list(self._tasks):
            if task is not keep:
                task.cancel()

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())
