"""Read-only views of the session for the front ends.

A front end draws what these say and never reaches into a call, its peer
connection or the RTC configuration: the session computes the views (from
``softphone.rtc.configuration`` among others) and hands out frozen copies, so
what the screen shows cannot change under it and cannot leak a credential.

Like ``softphone.events`` this module is cheap to import: the UI needs it
before the media stack is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from softphone.events import CallState, Direction

IceServerKind = Literal["stun", "stuns", "turn", "turns"]
IceServerTransport = Literal["udp", "tcp", "tls"]


@dataclass(frozen=True, kw_only=True)
class CallView:
    """A call of the session: ``has_media`` once its peer connection exists.

    ``held`` **(1.2)**: the call waits on hold while another call is active.
    """

    id: str
    remote: str
    state: CallState
    direction: Direction
    active_since: float | None
    has_media: bool
    held: bool = False  # (1.2) we hold it (the call table's flag: CallEntry.set_hold)
    held_remotely: bool = False  # (1.2) the peer put us on hold


@dataclass(frozen=True, kw_only=True)
class IceServerView:
    """One URL of a region: ``url`` is safe to show (any user part masked)."""

    url: str
    kind: IceServerKind
    transport: IceServerTransport
    host: str
    port: int
    has_credentials: bool


@dataclass(frozen=True, kw_only=True)
class RegionView:
    name: str
    servers: tuple[IceServerView, ...]


@dataclass(frozen=True, kw_only=True)
class MicView:
    """The microphone: ``spec`` is ``--audio-in``; ``source`` what the last call (or the
    monitor) opened (None before either), ``fallback`` when that was silence for want of
    a device; ``level`` the peak of the last frame (0..1), during a call, and **(1.2)**
    between calls while the input is monitored (``monitor`` command)."""

    spec: str
    source: str | None
    fallback: bool
    level: float | None


@dataclass(frozen=True, kw_only=True)
class SessionView:
    """What a front end needs to draw without replaying every event.

    ``call`` is the active call; ``calls`` **(1.2)** every call in order of
    arrival (the active one among them), ``contacts`` the configured
    contacts (empty: none configured) and their labels (name, label),
    ``dnd`` do-not-disturb.
    """

    user: str | None
    online: frozenset[str]
    region: str | None
    signaling: str
    muted: bool
    call: CallView | None
    calls: tuple[CallView, ...] = ()
    contacts: tuple[str, ...] = ()
    contact_labels: tuple[tuple[str, str], ...] = ()
    dnd: bool = False
    max_calls: int = 2
