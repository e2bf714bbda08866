"""The call history: every call, kept in the user's state directory across restarts.

One JSON file (``history.json`` in :func:`softphone.statedir.state_dir`), a
list of records, newest last, written atomically (temporary file + rename) so
a crash never leaves half a file. A file that cannot be read or parsed is not
a reason to stop: it is moved aside (``history.json.corrupt-<time>``) and the
history starts afresh, with one notice that says where the old file went.

Cheap to import (standard library only): ``softphone history`` and the UI's
history screen read it without loading the media stack.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from softphone.statedir import state_dir

logger = logging.getLogger("softphone.history")

HISTORY_FILE = "history.json"
# The oldest records are dropped beyond this: the file stays small enough to rewrite per call.
MAX_RECORDS = 1000

HistoryDirection = Literal["outgoing", "incoming"]


@dataclass(frozen=True, kw_only=True)
class CallRecord:
    """One call as the history keeps it: ``remote`` is the other party's user name,
    ``start`` Unix time, ``duration`` seconds talked, ``reason`` how it ended."""

    call: str
    direction: HistoryDirection
    remote: str
    start: float
    duration: float
    reason: str
    missed: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def refused(cls, call: str, remote: str, reason: str) -> CallRecord:
        """An incoming call declined unasked (do not disturb, too many calls): missed."""
        return cls(
            call=call,
            direction="incoming",
            remote=remote,
            start=time.time(),
            duration=0.0,
            reason=reason,
            missed=True,
        )

    @classmethod
    def from_json(cls, data: Any) -> CallRecord:
        """A record read back; ValueError names the first field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a record must be an object, not {type(data).__name__}")
        for name, kinds in _FIELD_TYPES.items():
            value = data.get(name)
            if not isinstance(value, kinds) or (kinds == (int, float) and isinstance(value, bool)):
                raise ValueError(f'record field "{name}" is missing or of the wrong type')
        if data["direction"] not in ("outgoing", "incoming"):
            raise ValueError('record field "direction" must be "outgoing" or "incoming"')
        return cls(**{name: data[name] for name in _FIELD_TYPES})


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "call": (str,),
    "direction": (str,),
    "remote": (str,),
    "start": (int, float),
    "duration": (int, float),
    "reason": (str,),
    "missed": (bool,),
}


class CallHistory:
    """The records of one history file; :meth:`add` appends and saves at once.

    ``notice`` is set when the file was unreadable and moved aside: the
    session says it once as a ``notice`` event, the command line on stderr.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or state_dir()) / HISTORY_FILE
        self.notice: str | None = None
        self._records: list[CallRecord] = self._load()

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> tuple[CallRecord, ...]:
        """Every record, oldest first."""
        return tuple(self._records)

    def add(self, record: CallRecord) -> None:
        self._records.append(record)
        del self._records[:-MAX_RECORDS]
        self._save()

    # --- the file -----------------------------------------------------------------

    def _load(self) -> list[CallRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            self._move_aside(f"cannot be read ({_why(exc)})")
            return []
        try:
            data = json.loads(text)
            if not isinstance(data, list):
                raise ValueError(f"expected a list of records, not {type(data).__name__}")
            return [CallRecord.from_json(item) for item in data]
        except ValueError as exc:
            self._move_aside(f"is not a valid history ({exc})")
            return []

    def _move_aside(self, problem: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            self.path.replace(aside)
            where = f"moved to {aside}"
        except OSError as exc:
            where = f"could not be moved aside ({_why(exc)})"
        self.notice = f"call history {self.path} {problem}; {where}; starting a new history"
        logger.warning("%s", self.notice)

    def _save(self) -> None:
        folder = self.path.parent
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            records = [record.to_json() for record in self._records]
            tmp.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            logger.warning("could not save the call history to %s: %s", self.path, _why(exc))


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def describe(record: CallRecord) -> str:
    """One line for a person: ``2026-12-03 12:51  → bob  00:42  hangup`` (``missed`` marked)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.start))
    arrow = "→" if record.direction == "outgoing" else "←"
    minutes, seconds = divmod(int(record.duration), 60)
    missed = "  missed" if record.missed else ""
    return f"{when}  {arrow} {record.remote}  {minutes:02d}:{seconds:02d}  {record.reason}{missed}"


def print_history(as_json: bool) -> int:
    """``softphone history [--json]``: newest first; a moved-aside file is said on stderr."""
    import sys

    # The notice is printed below, once; without this the unconfigured logger prints it too.
    logger.addHandler(logging.NullHandler())
    history = CallHistory()
    if history.notice:
        print(f"softphone: {history.notice}", file=sys.stderr)
    for record in reversed(history.records()):
        if as_json:
            print(json.dumps(record.to_json(), separators=(",", ":")))
        else:
            print(describe(record))
    return 0
