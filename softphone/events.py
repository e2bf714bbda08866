"""Events the session manager emits to its front ends, one typed class per event.

Each class carries its protocol name (``NAME``, docs/protocol.md section 2 and
the README's extensions) and turns itself into the JSON object the headless
front end prints (:meth:`Event.to_json`). The terminal UI dispatches on the
classes, so a renamed or missing field is a type error in the front end rather
than a blank on screen, and both front ends render the same objects.

This module imports nothing heavy: the UI loads it before the media stack.

Why long: every event of the headless protocol is here, one small dataclass
each, so front ends and tests find the whole vocabulary in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, get_args

logger = logging.getLogger("softphone.events")

CallState = Literal["dialing", "ringing", "incoming", "active", "ended"]
Direction = Literal["outgoing", "incoming"]
SignalingState = Literal[
    "stable",
    "have-local-offer",
    "have-remote-offer",
    "have-local-pranswer",
    "have-remote-pranswer",
    "closed",
]
IceGatheringState = Literal["new", "gathering", "complete"]
IceConnectionState = Literal[
    "new", "checking", "connected", "completed", "disconnected", "failed", "closed"
]
PeerConnectionState = Literal["new", "connecting", "connected", "disconnected", "failed", "closed"]
SignalingLink = Literal["connecting", "connected", "reconnecting", "closed"]
RestartSide = Literal["local", "remote"]


def narrow(value: str, literal: Any) -> Any:
    """``value`` checked against a ``Literal[...]`` type; ValueError if it is not one of them."""
    if value not in get_args(literal):
        raise ValueError(f"{value!r} is not one of {get_args(literal)}")
    return value


def _omitted() -> Any:
    """A field left out of the JSON object when it is None (absent rather than null)."""
    return field(default=None, metadata={"omit_none": True})


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value]
    to_json = getattr(value, "to_json", None)
    return to_json() if to_json is not None else value


def _fields_json(obj: Any) -> dict[str, Any]:
    """Dataclass fields in declaration order; ``from_`` is ``from`` on the wire."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None and f.metadata.get("omit_none"):
            continue
        out[f.name.removesuffix("_")] = _json_value(value)
    return out


@dataclass(frozen=True, kw_only=True)
class CandidateInfo:
    """One side of a candidate pair; ``url`` is the STUN/TURN server a srflx/relay came from.

    ``relay_protocol`` (1.2, W3C ``relayProtocol``): how a local relay candidate
    reaches its TURN server, ``udp``, ``tcp`` or ``tls``; absent otherwise.
    """

    type: str
    protocol: str
    address: str
    port: int
    url: str | None = _omitted()
    relay_protocol: str | None = _omitted()

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    def describe(self, sep: str = " ") -> str:
        """``relay udp 10.0.0.1:50000 via tls`` (``sep`` between type and protocol); no secret."""
        via = f" via {self.relay_protocol}" if self.relay_protocol else ""
        return f"{self.type}{sep}{self.protocol} {self.address}:{self.port}{via}"


@dataclass(frozen=True, kw_only=True)
class PairInfo:
    local: CandidateInfo
    remote: CandidateInfo

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    def describe(self) -> str:
        """The one-line ``local ⇄ remote`` summary of the event log."""
        return f"{self.local.describe('/')} ⇄ {self.remote.describe('/')}"


@dataclass(frozen=True, kw_only=True)
class GatheringFailure:
    """A server that gave no candidate during a restart's gathering (URL without secrets)."""

    url: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event; subclasses set ``NAME`` and declare their fields in wire order."""

    NAME: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """``{"event": NAME, **fields}``: what the headless front end prints, less ``t``."""
        return {"event": self.NAME, **_fields_json(self)}


# --- signaling and presence ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Registered(Event):
    NAME = "registered"
    user: str
    online: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PresenceChanged(Event):
    NAME = "presence"
    user: str
    online: bool


@dataclass(frozen=True, kw_only=True)
class SignalingChanged(Event):
    """The link to the signaling server (not the W3C signaling state)."""

    NAME = "signaling"
    state: SignalingLink
    detail: str | None = _omitted()
    retry_in: float | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class RegionsAdopted(Event):
    NAME = "regions"
    names: tuple[str, ...]
    source: Literal["server"]


@dataclass(frozen=True, kw_only=True)
class CredentialsRefreshed(Event):
    """The server renewed the TURN credentials of its regions (never shown).

    ``expires_in``: seconds until the first of the new credentials lapses, when
    the usernames say (TURN REST); ``call``: the live call they were applied to.
    """

    NAME = "credentials-refreshed"
    regions: tuple[str, ...]
    expires_in: int | None = _omitted()
    call: str | None = _omitted()


# --- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IncomingCall(Event):
    NAME = "incoming"
    call: str
    from_: str


@dataclass(frozen=True, kw_only=True)
class CallStateChanged(Event):
    """``to`` comes with ``dialing``, ``from`` with ``incoming``, ``reason`` with ``ended``."""

    NAME = "call-state"
    call: str
    state: CallState
    to: str | None = _omitted()
    from_: str | None = _omitted()
    reason: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class MissedCall(Event):
    NAME = "missed"
    call: str
    from_: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CallResumed(Event):
    """``by`` is ``us`` or the remote user who re-announced the call after a reconnect."""

    NAME = "call-resumed"
    call: str
    by: str


@dataclass(frozen=True, kw_only=True)
class MuteChanged(Event):
    NAME = "mute"
    on: bool


HoldBy = Literal["local", "remote"]


@dataclass(frozen=True, kw_only=True)
class HoldChanged(Event):
    """(1.2) A hold began or ended: ``by`` ``local`` (we hold) or ``remote`` (the peer holds us)."""

    NAME = "hold"
    call: str
    on: bool
    by: HoldBy


@dataclass(frozen=True, kw_only=True)
class DtmfReceived(Event):
    """(1.2) An RFC 4733 telephone-event received: one ``0-9 * # A-D`` digit."""

    NAME = "dtmf"
    call: str
    digit: str
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class DtmfSent(Event):
    """(1.2) A digit of a ``dtmf`` command was sent (its last end packet went out)."""

    NAME = "dtmf-sent"
    call: str
    digit: str
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class ActiveCallChanged(Event):
    """**(1.2)** Which call is active now (None: none) and which calls wait on hold."""

    NAME = "active-call"
    call: str | None
    held: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DndChanged(Event):
    """**(1.2)** Do-not-disturb turned on or off."""

    NAME = "dnd"
    on: bool


# --- the peer connection's W3C states ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignalingStateChanged(Event):
    NAME = "signaling-state"
    state: SignalingState
    #: (1.2) The call whose peer connection this is: with two calls, which one.
    call: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class IceGatheringStateChanged(Event):
    NAME = "ice-gathering-state"
    state: IceGatheringState
    #: (1.2) The call whose peer connection this is: with two calls, which one.
    call: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class IceConnectionStateChanged(Event):
    NAME = "ice-connection-state"
    state: IceConnectionState
    #: (1.2) The call whose peer connection this is: with two calls, which one.
    call: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class ConnectionStateChanged(Event):
    NAME = "connection-state"
    state: PeerConnectionState
    #: (1.2) The call whose peer connection this is: with two calls, which one.
    call: str | None = _omitted()


PeerStateEvent = (
    SignalingStateChanged
    | IceGatheringStateChanged
    | IceConnectionStateChanged
    | ConnectionStateChanged
)


@dataclass(frozen=True, kw_only=True)
class NegotiationNeeded(Event):
    NAME = "negotiationneeded"
    call: str | None = _omitted()  # (1.2)


@dataclass(frozen=True, kw_only=True)
class SelectedPairChanged(Event):
    NAME = "selected-pair"
    local: CandidateInfo
    remote: CandidateInfo
    call: str | None = _omitted()  # (1.2)

    @property
    def pair(self) -> PairInfo:
        return PairInfo(local=self.local, remote=self.remote)


# --- descriptions over signaling -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DescriptionEvent(Event):
    """A description sent or received; the class says which type and direction."""

    call: str


@dataclass(frozen=True, kw_only=True)
class OfferSent(DescriptionEvent):
    NAME = "offer-sent"


@dataclass(frozen=True, kw_only=True)
class AnswerSent(DescriptionEvent):
    NAME = "answer-sent"


@dataclass(frozen=True, kw_only=True)
class OfferReceived(DescriptionEvent):
    NAME = "offer-received"


@dataclass(frozen=True, kw_only=True)
class AnswerReceived(DescriptionEvent):
    NAME = "answer-received"


@dataclass(frozen=True, kw_only=True)
class PranswerReceived(DescriptionEvent):
    NAME = "pranswer-received"


# --- regions, servers and ICE restarts -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegionChanged(Event):
    NAME = "region"
    name: str
    urls: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ConfigurationSet(Event):
    NAME = "set-configuration"
    region: str
    urls: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class IceServerChecked(Event):
    """One probe of a region's server: ``rtt_ms`` when it answered, ``error`` when not."""

    NAME = "ice-server"
    region: str
    url: str
    ok: bool
    rtt_ms: float | None = _omitted()
    error: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class IceRestartBegun(Event):
    NAME = "ice-restart"
    call: str
    phase: Literal["begun"] = "begun"
    ufrag: str
    side: RestartSide | None = _omitted()  # noqa: RUF009 (a field(), not a shared default)
    attempt: int | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class IceRestartGathered(Event):
    NAME = "ice-restart"
    call: str
    phase: Literal["gathered"] = "gathered"
    ufrag: str
    candidates: int
    elapsed_ms: float
    failures: tuple[GatheringFailure, ...]
    standby: bool | None = _omitted()  # (1.2) true: the warm standby, gathered in advance


@dataclass(frozen=True, kw_only=True)
class IceRestartChecking(Event):
    NAME = "ice-restart"
    call: str
    phase: Literal["checking"] = "checking"
    ufrag: str
    attempt: int | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class IceRestartDone(Event):
    NAME = "ice-restart"
    call: str
    phase: Literal["done"] = "done"
    ufrag: str
    elapsed_ms: float
    pair: PairInfo | None
    attempt: int | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class IceRestartFailed(Event):
    """``will_retry``: the request stands and a new attempt follows (not the end of it)."""

    NAME = "ice-restart"
    call: str
    phase: Literal["failed"] = "failed"
    ufrag: str
    reason: str
    kept_old_path: bool | None = _omitted()
    attempt: int | None = _omitted()
    will_retry: bool | None = _omitted()


# --- failover (1.2) -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StandbyReady(Event):
    """A warm standby is gathered on ``region``: a failover there needs no gathering."""

    NAME = "standby"
    call: str
    phase: Literal["ready"] = "ready"
    region: str
    candidates: int
    elapsed_ms: float


@dataclass(frozen=True, kw_only=True)
class StandbyFailed(Event):
    """The standby region gathered nothing (dead, or refusing us): the next one is tried."""

    NAME = "standby"
    call: str
    phase: Literal["failed"] = "failed"
    region: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class MediaLost(Event):
    """The peer's packets stopped while expected and a consent check went unanswered
    (``confirmed_by`` "consent"), or the peer offered a restart into the silence
    ("peer-restart")."""

    NAME = "media-lost"
    call: str
    silent_ms: float
    packets_missed: int
    confirmed_by: str


@dataclass(frozen=True, kw_only=True)
class FailedOver(Event):
    """The call's path is back, on ``region``, after the path on ``from_region`` died.

    ``detect_ms``: silence before the loss was declared (null when the slow timers
    found it); ``recovery_ms``: from then to the new path; ``elapsed_ms``: both.
    """

    NAME = "failover"
    call: str
    from_region: str | None
    region: str
    standby: bool
    detect_ms: float | None
    recovery_ms: float
    elapsed_ms: float


IceRestart = (
    IceRestartBegun | IceRestartGathered | IceRestartChecking | IceRestartDone | IceRestartFailed
)


@dataclass(frozen=True, kw_only=True)
class RegionProbed(Event):
    """(1.2) One region's preflight: the figures of its best URL, or why none worked.

    ``ok``: some URL answered (and, for TURN, allocated); a region where none
    did is dead. ``rtt_ms`` is the median Binding round trip, ``loss`` the
    share of unanswered samples, ``allocate_ms`` the TURN allocation time.
    """

    NAME = "region-probe"
    region: str
    ok: bool
    rtt_ms: float | None = _omitted()
    loss: float | None = _omitted()
    allocate_ms: float | None = _omitted()
    error: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class RegionsRanked(Event):
    """(1.2) A preflight ended: working regions best first; ``auto`` when it picks the region."""

    NAME = "region-ranking"
    ranking: tuple[str, ...]
    best: str | None
    auto: bool


# --- statistics, notices, errors ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StatsReport(Event):
    """Counters are cumulative; the four ``audio_*`` fields come when a sink is playing."""

    NAME = "stats"
    call: str
    rtt_ms: float | None
    jitter_ms: float | None
    packets_sent: int
    packets_received: int
    packets_lost: int
    bytes_sent: int
    bytes_received: int
    selected_pair: PairInfo | None
    audio_frames_received: int | None = _omitted()
    audio_seconds_received: float | None = _omitted()
    audio_max_gap_ms: float | None = _omitted()
    audio_max_gap_since_last_stats_ms: float | None = _omitted()
    mos: float | None = _omitted()


QualityWarningName = Literal[
    "high-rtt", "high-jitter", "high-packet-loss", "low-mos", "constant-audio-input-level"
]


@dataclass(frozen=True, kw_only=True)
class QualityWarning(Event):
    """A call-quality warning raised (softphone/quality.py): ``value`` crossed ``threshold``.

    Units by ``name``: ms for ``high-rtt`` and ``high-jitter`` (the median of
    the last samples), percent for ``high-packet-loss`` (over its window), MOS
    for ``low-mos`` (the median), and for ``constant-audio-input-level`` the
    level (0..1 of full scale) that stayed put for ``threshold`` seconds.
    """

    NAME = "quality-warning"
    call: str
    name: QualityWarningName
    value: float
    threshold: float


@dataclass(frozen=True, kw_only=True)
class QualityWarningCleared(Event):
    """The warning ``name`` is over; ``value`` is the figure that cleared it (same units)."""

    NAME = "quality-warning-cleared"
    call: str
    name: QualityWarningName
    value: float
    threshold: float


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    NAME = "notice"
    message: str


@dataclass(frozen=True, kw_only=True)
class AudioDeviceChanged(Event):
    """(1.2) The microphone (``input``) or speaker (``output``) in use changed.

    ``reason``: ``switched`` by a ``device`` command, or ``lost`` when the
    device disappeared mid-call and silence / a null sink took its place.
    """

    NAME = "audio-device"
    kind: Literal["input", "output"]
    device: str
    reason: Literal["switched", "lost"]
    call: str | None = _omitted()


@dataclass(frozen=True, kw_only=True)
class ErrorReported(Event):
    """``code`` is one of the README's error codes or a W3C DOMException name."""

    NAME = "error"
    code: str
    message: str
    call: str | None = _omitted()


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

    def emit(self, event: Event) -> None:
        for sink in list(self._subscribers):
            try:
                sink(event)
            except Exception:  # a broken front end must not break the call
                logger.exception("event subscriber failed")
