"""Time as the UI sees it.

Every time shown on screen (state entry times, call duration, switch steps)
comes from one injectable clock, so snapshot tests can pin it and get the
same picture on every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class ManualClock:
    """A clock that only moves when told to; for tests and deterministic snapshots."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def monotonic() -> float:
    return time.monotonic()


def format_offset(seconds: float) -> str:
    """``+4.20s`` under a minute, ``+3m05s`` under an hour, then ``+1h02m``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"+{seconds:.2f}s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"+{minutes}m{rest:02d}s"
    hours, rest = divmod(int(seconds), 3600)
    return f"+{hours}h{rest // 60:02d}m"


def format_duration(seconds: float) -> str:
    """A call duration, ``MM:SS`` or ``H:MM:SS``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def format_elapsed_ms(seconds: float) -> str:
    """A step's elapsed time: ``12ms`` or ``1.23s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"
