"""The commands a front end sends to the session, and the one function that runs them.

Headless parses a JSON line into one of these classes, the terminal UI builds
one from a key, and both hand it to :func:`execute`; so a key and a JSON line
cannot do different things. A command that makes no sense now raises
:class:`CommandRefused`, which each front end shows in its own medium (an
``error`` event, a notice on screen).

Cheap to import (the session is only a type here): the UI loads it at start.

**(1.2)** The commands about one call take an optional ``call`` (its id);
without it they mean the active call (``answer``/``decline``: the newest
ringing one), as when there was only ever one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from softphone.session import SessionManager


class CommandRefused(Exception):
    """A command that makes no sense now; ``code`` is the error code, the text says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Dial:
    CMD: ClassVar[str] = "call"
    to: str


@dataclass(frozen=True)
class Answer:
    CMD: ClassVar[str] = "answer"
    call: str | None = None


@dataclass(frozen=True)
class DeclineCall:
    CMD: ClassVar[str] = "decline"
    reason: str = "declined"
    call: str | None = None


@dataclass(frozen=True)
class Hangup:
    CMD: ClassVar[str] = "hangup"
    call: str | None = None


@dataclass(frozen=True)
class SwitchRegion:
    CMD: ClassVar[str] = "region"
    name: str


@dataclass(frozen=True)
class RestartIce:
    CMD: ClassVar[str] = "restart-ice"
    call: str | None = None


@dataclass(frozen=True)
class Mute:
    CMD: ClassVar[str] = "mute"
    on: bool


@dataclass(frozen=True)
class SwitchDevice:
    """(1.2) Use another microphone (``input``) or speaker (``output``), mid-call too."""

    CMD: ClassVar[str] = "device"
    kind: Literal["input", "output"]
    name: str


@dataclass(frozen=True)
class ProbeRegions:
    """(1.2) Probe every region in the background: ``region-probe`` events, then a ranking."""

    CMD: ClassVar[str] = "probe"


@dataclass(frozen=True)
class Hold:
    """(1.2) Put a call (the named one, else the active one) on hold (``on``) or resume it."""

    CMD: ClassVar[str] = "hold"
    on: bool
    call: str | None = None


@dataclass(frozen=True)
class Dtmf:
    """(1.2) Send ``digits`` (0-9 * # A-D) as RFC 4733 events, each ``duration_ms`` long."""

    CMD: ClassVar[str] = "dtmf"
    digits: str
    duration_ms: int = 100
    call: str | None = None


@dataclass(frozen=True)
class Stats:
    CMD: ClassVar[str] = "stats"
    call: str | None = None


@dataclass(frozen=True)
class SwitchCall:
    """Hold the active call and resume another (the named one, else the next) **(1.2)**."""

    CMD: ClassVar[str] = "switch"
    call: str | None = None


@dataclass(frozen=True)
class DoNotDisturb:
    """Decline every incoming call with ``busy`` (listed as missed) while on **(1.2)**."""

    CMD: ClassVar[str] = "dnd"
    on: bool


@dataclass(frozen=True)
class MonitorInput:
    """(1.2) Read the input between calls so its level shows before dialing (``on``), or stop.

    The UI turns it on once the session is up; headless only when asked.
    """

    CMD: ClassVar[str] = "monitor"
    on: bool


@dataclass(frozen=True)
class Quit:
    """Hang up if needed and leave the server; the front end then exits."""

    CMD: ClassVar[str] = "quit"


Command = (
    Dial
    | Answer
    | DeclineCall
    | Hangup
    | SwitchRegion
    | RestartIce
    | Mute
    | SwitchDevice
    | ProbeRegions
    | Hold
    | Dtmf
    | Stats
    | SwitchCall
    | DoNotDisturb
    | MonitorInput
    | Quit
)


async def execute(session: SessionManager, command: Command) -> None:
    """Run ``command``; raises :class:`CommandRefused` when it makes no sense now."""
    match command:
        case Dial(to=to):
            await session.dial(to)
        case Answer(call=call):
            await session.answer(call)
        case DeclineCall(reason=reason, call=call):
            await session.decline(reason, call)
        case Hangup(call=call):
            await session.hangup(call)
        case SwitchRegion(name=name):
            await session.switch_region(name)
        case RestartIce(call=call):
            session.restart_ice(call)
        case Mute(on=on):
            session.mute(on)
        case SwitchDevice(kind=kind, name=name):
            await session.switch_device(kind, name)
        case ProbeRegions():
            session.probe_regions()
        case Hold(on=on, call=call):
            await session.hold(on, call)
        case Dtmf(digits=digits, duration_ms=duration_ms, call=call):
            session.dtmf(digits, duration_ms, call)
        case Stats(call=call):
            await session.stats(call)
        case SwitchCall(call=call):
            await session.switch_call(call)
        case DoNotDisturb(on=on):
            session.set_dnd(on)
        case MonitorInput(on=on):
            await session.monitor_input(on)
        case Quit():
            await session.close()
