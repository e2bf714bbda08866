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
from typing import TYPE_CHECKING, Any, TextIO

from softphone.commands import (
    Answer,
    Command,
    CommandRefused,
    DeclineCall,
    Dial,
    DoNotDisturb,
    Dtmf,
    Hangup,
    Hold,
    MonitorInput,
    Mute,
    ProbeRegions,
    Quit,
    RestartIce,
    Stats,
    SwitchCall,
    SwitchDevice,
    SwitchRegion,
    execute,
)
from softphone.events import ErrorReported, Event

if TYPE_CHECKING:
    from softphone.session import SessionManager

logger = logging.getLogger("softphone.headless")

MAX_FIELD = 256


class BadCommand(ValueError):
    """A command line that cannot be run; the message names what is wrong."""


_NO_ARGUMENT: dict[str, Command] = {command.CMD: command for command in (ProbeRegions(), Quit())}
# Commands about one call: an optional "call" (its id) says which; none means the active one.
_ABOUT_A_CALL: dict[str, type[Answer | Hangup | RestartIce | Stats | SwitchCall]] = {
    command.CMD: command for command in (Answer, Hangup, RestartIce, Stats, SwitchCall)
}
MAX_CALL_ID = 64


def _string_field(obj: dict[str, Any], cmd: str, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadCommand(f'"{cmd}" needs a non-empty string field "{key}"')
    if len(value) > MAX_FIELD:
        raise BadCommand(f'"{cmd}": field "{key}" is too long ({len(value)} characters)')
    return value


def _call_field(obj: dict[str, Any], cmd: str) -> str | None:
    """The optional ``"call"`` of a command about one call (docs/protocol.md section 2)."""
    value = obj.get("call")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadCommand(f'"{cmd}": field "call" must be a non-empty string (a call id)')
    if len(value) > MAX_CALL_ID:
        raise BadCommand(f'"{cmd}": field "call" is too long ({len(value)} characters)')
    return value


def _bool_field(obj: dict[str, Any], cmd: str) -> bool:
    on = obj.get("on", True)
    if not isinstance(on, bool):
        raise BadCommand(f'"{cmd}": field "on" must be true or false')
    return on


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
    if cmd in _ABOUT_A_CALL:
        return _ABOUT_A_CALL[cmd](call=_call_field(obj, cmd))
    if cmd == Dial.CMD:
        return Dial(_string_field(obj, cmd, "to"))
    if cmd == DeclineCall.CMD:
        reason = obj.get("reason", "declined")
        if not isinstance(reason, str) or not reason:
            raise BadCommand('"decline": field "reason" must be a non-empty string')
        return DeclineCall(reason, call=_call_field(obj, cmd))
    if cmd == SwitchRegion.CMD:
        return SwitchRegion(_string_field(obj, cmd, "name"))
    if cmd == Mute.CMD:
        return Mute(_bool_field(obj, cmd))
    if cmd == Hold.CMD:
        return Hold(_bool_field(obj, cmd), call=_call_field(obj, cmd))
    if cmd == DoNotDisturb.CMD:
        return DoNotDisturb(_bool_field(obj, cmd))
    if cmd == MonitorInput.CMD:
        return MonitorInput(_bool_field(obj, cmd))
    if cmd == SwitchDevice.CMD:
        kind = obj.get("kind")
        if kind not in ("input", "output"):
            raise BadCommand('"device": field "kind" must be "input" or "output"')
        return SwitchDevice(kind, _string_field(obj, cmd, "name"))
    if cmd == Dtmf.CMD:
        return _dtmf(obj)
    others = (
        Dial.CMD,
        DeclineCall.CMD,
        SwitchRegion.CMD,
        Mute.CMD,
        Hold.CMD,
        Dtmf.CMD,
        DoNotDisturb.CMD,
        MonitorInput.CMD,
        SwitchDevice.CMD,
    )
    known = ", ".join(sorted([*_NO_ARGUMENT, *_ABOUT_A_CALL, *others]))
    raise BadCommand(f'unknown command "{cmd[:40]}" (known: {known})')


def _dtmf(obj: dict[str, Any]) -> Dtmf:
    """``dtmf``'s fields; which digits are valid is the call's to say (it names the bad ones)."""
    digits = _string_field(obj, Dtmf.CMD, "digits")
    duration = obj.get("duration_ms", 100)
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise BadCommand('"dtmf": field "duration_ms" must be an integer (milliseconds)')
    return Dtmf(digits, duration, call=_call_field(obj, Dtmf.CMD))


class JsonLinesWriter:
    """Writes events as JSON lines with ``t`` = seconds since the process started."""

    def __init__(self, out: TextIO, started: float) -> None:
        self._out = out
        self._started = started

    def __call__(self, event: Event) -> None:
        fields = event.to_json()
        t = round(time.monotonic() - self._started, 4)
        record = {"event": fields.pop("event"), "t": t, **fields}
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
        session.emit(ErrorReported(code="signaling-unavailable", message=str(exc)))
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
                await execute(session, command)
            except BadCommand as exc:
                session.emit(ErrorReported(code="bad-command", message=str(exc)))
                continue
            except CommandRefused as exc:
                session.emit(ErrorReported(code=exc.code, message=str(exc)))
                continue
            except Exception as exc:  # never let one command end the process
                logger.exception("command failed")
                session.emit(ErrorReported(code="internal", message=f"{type(exc).__name__}: {exc}"))
                continue
            if isinstance(command, Quit):
                break
    finally:
        await session.close()
    return 0
