"""The JSON-lines front end (docs/protocol.md section 2).

Commands arrive one per line on stdin and are parsed into typed objects at
this edge; events leave one per line on stdout. Logs go to stderr only, so a
script can read stdout without filtering. A bad line is an ``error`` event and
the process goes on; end of stdin means quit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from softphone.events import Event
from softphone.session import CommandRefused, SessionManager

logger = logging.getLogger("softphone.headless")

USER_NAME_MAX = 64


class BadCommand(ValueError):
    """A command line that cannot be run; the message names what is wrong."""


@dataclass(frozen=True)
class Dial:
    to: str


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class DeclineCall:
    reason: str = "declined"


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class SwitchRegion:
    name: str


@dataclass(frozen=True)
class RestartIce:
    pass


@dataclass(frozen=True)
class Mute:
    on: bool


@dataclass(frozen=True)
class Stats:
    pass


@dataclass(frozen=True)
class Quit:
    pass


Command = Dial | Answer | DeclineCall | Hangup | SwitchRegion | RestartIce | Mute | Stats | Quit

_NO_ARGUMENT: dict[str, Command] = {
    "answer": Answer(),
    "hangup": Hangup(),
    "restart-ice": RestartIce(),
    "stats": Stats(),
    "quit": Quit(),
}


def _string_field(obj: dict[str, Any], cmd: str, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadCommand(f'"{cmd}" needs a non-empty string field "{key}"')
    if len(value) > 256:
        raise BadCommand(f'"{cmd}": field "{key}" is too long ({len(value)} characters)')
    return value


def parse_command(line: str) -> Command:
    """Parse one stdin line; raises :class:`BadCommand` saying exactly what is wrong."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadCommand(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise BadCommand(f"a command must be a JSON object, not {type(obj).__name__}")
    cmd = obj.get("cmd")
    if not isinstance(cmd, str):
        raise BadCommand('a command needs a string field "cmd"')
    if cmd in _NO_ARGUMENT:
        return _NO_ARGUMENT[cmd]
    if cmd == "call":
        return Dial(_string_field(obj, cmd, "to"))
    if cmd == "decline":
        reason = obj.get("reason", "declined")
        if not isinstance(reason, str) or not reason:
            raise BadCommand('"decline": field "reason" must be a non-empty string')
        return DeclineCall(reason)
    if cmd == "region":
        return SwitchRegion(_string_field(obj, cmd, "name"))
    if cmd == "mute":
        on = obj.get("on", True)
        if not isinstance(on, bool):
            raise BadCommand('"mute": field "on" must be true or false')
        return Mute(on)
    known = ", ".join(sorted([*_NO_ARGUMENT, "call", "decline", "region", "mute"]))
    raise BadCommand(f'unknown command "{cmd[:40]}" (known: {known})')


async def run_command(session: SessionManager, command: Command) -> bool:
    """Run one command; returns False when the front end should quit."""
    match command:
        case Dial(to=to):
            await session.dial(to)
        case Answer():
            await session.answer()
        case DeclineCall(reason=reason):
            await session.decline(reason)
        case Hangup():
            await session.hangup()
        case SwitchRegion(name=name):
            await session.switch_region(name)
        case RestartIce():
            session.restart_ice()
        case Mute(on=on):
            session.mute(on)
        case Stats():
            await session.stats()
        case Quit():
            return False
    return True


class JsonLinesWriter:
    """Writes events as JSON lines with ``t`` = seconds since the process started."""

    def __init__(self, out: TextIO, started: float) -> None:
        self._out = out
        self._started = started

    def __call__(self, event: Event) -> None:
        record = {"event": event.name, "t": round(time.monotonic() - self._started, 4)}
        record.update(event.fields)
        self._out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._out.flush()


async def _stdin_lines(queue: asyncio.Queue[str | None]) -> None:
    """Feed stdin lines into ``queue`` (None at end of input) without blocking the loop.

    A daemon thread is used rather than ``connect_read_pipe`` because stdin
    may be a regular file or a terminal, which the pipe transport refuses.
    """
    loop = asyncio.get_running_loop()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="stdin-reader", daemon=True).start()


async def run_headless(session: SessionManager, started: float) -> int:
    """Drive ``session`` from stdin until quit or end of input; returns the exit code."""
    session.subscribe(JsonLinesWriter(sys.stdout, started))
    try:
        await session.start()
    except Exception as exc:
        session.emit("error", code="signaling-unavailable", message=str(exc))
        return 1
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    await _stdin_lines(queue)
    try:
        while True:
            line = await queue.get()
            if line is None:
                break
            if not line.strip():
                continue
            try:
                command = parse_command(line)
                if not await run_command(session, command):
                    break
            except BadCommand as exc:
                session.emit("error", code="bad-command", message=str(exc))
            except CommandRefused as exc:
                session.emit("error", code=exc.code, message=str(exc))
            except Exception as exc:  # never let one command end the process
                logger.exception("command failed")
                session.emit("error", code="internal", message=f"{type(exc).__name__}: {exc}")
    finally:
        await session.close()
    return 0
