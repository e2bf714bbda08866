"""The JSON signaling protocol (docs/protocol.md section 1) as typed messages.

Every frame, in either direction, is validated here and nowhere else:
:func:`parse_frame` either returns a well-formed message or raises
:class:`ProtocolError` whose text names the offending field. Error texts never
repeat a value the peer sent (a token, an SDP body), only field names, so they
are safe to log and to send back.

What is checked is the *shape* of each message. SDP bodies are opaque here: a
non-empty string with a valid description type passes; whether it parses as SDP
is the receiving client's business. Candidates are checked against the RFC 8839
candidate-attribute grammar (``softphone.descriptions.check_candidate_line``, the
rule the rtc layer applies too) because a wrong one is cheap to spot and makes
``addIceCandidate`` fail far from its cause.

Unknown extra fields are ignored so that newer peers can add fields without
breaking older ones (docs/protocol.md allows extension by adding).

Why long: every frame type of the protocol and its one validator live here
together, so the wire format is read (and changed) in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from softphone.descriptions import (
    CANDIDATE_GRAMMAR,
    Candidate,
    Description,
    DescriptionType,
    check_candidate_line,
)

__all__ = [
    "MAX_FRAME",
    "MAX_SUBSCRIPTIONS",
    "Accept",
    "CallMessage",
    "Decline",
    "Error",
    "Hangup",
    "Hello",
    "Ice",
    "Invite",
    "Message",
    "Presence",
    "PresenceSnapshot",
    "ProtocolError",
    "Regions",
    "Ringing",
    "Sdp",
    "Subscribe",
    "Welcome",
    "decode",
    "encode",
    "is_call_id",
    "is_user_name",
    "parse_frame",
]

#: Largest frame (in UTF-8 bytes) a peer may send; larger ones get ``too-large``.
MAX_FRAME: Final = 64 * 1024
#: Most user names one ``subscribe`` may list.
MAX_SUBSCRIPTIONS: Final = 1000

_USER_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_CALL_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_SAFE_TYPE_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)

_USER_RULE: Final = "a user name (1-64 of letters, digits, . _ -)"
_CALL_RULE: Final = "a call id (1-64 of letters, digits, - _)"
_WIRE_DESCRIPTION_TYPES: Final = ("offer", "answer", "pranswer")


def is_user_name(value: object) -> bool:
    """True if ``value`` is a valid user name (docs/protocol.md section 1)."""
    return isinstance(value, str) and _USER_RE.fullmatch(value) is not None


def is_call_id(value: object) -> bool:
    """True if ``value`` is a valid call id (docs/protocol.md section 1)."""
    return isinstance(value, str) and _CALL_RE.fullmatch(value) is not None


class ProtocolError(Exception):
    """A frame that breaks the protocol; ``code`` is the error code to reply with."""

    def __init__(self, code: str, message: str, call: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.call = call

    def to_message(self) -> Error:
        """The ``error`` frame that tells the peer about this problem."""
        return Error(code=self.code, message=self.message, call=self.call)


# --- messages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    user: str
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Welcome:
    user: str
    online: tuple[str, ...] = ()
    regions: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    user: str
    online: bool


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Client to server: send me presence for these users only (replaces any earlier list).

    An addition to docs/protocol.md; answered with :class:`PresenceSnapshot`.
    """

    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresenceSnapshot:
    """Server to client, answering ``subscribe``: which of those users are online now."""

    online: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Regions:
    """Server to client: fresh regions (new TURN credentials) replacing welcome's.

    An addition to docs/protocol.md: sent before minted credentials expire.
    """

    regions: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Error:
    code: str
    message: str
    call: str | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    call: str
    to: str
    sender: str | None = None
    # Re-announces a call that is already up, after a reconnect to a server
    # that may have restarted and forgotten it (an addition to docs/protocol.md).
    resume: bool = False


@dataclass(frozen=True, slots=True)
class Ringing:
    call: str
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Accept:
    call: str
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Decline:
    call: str
    reason: str = "declined"
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Hangup:
    call: str
    reason: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Sdp:
    call: str
    description: Description
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Ice:
    """A trickled candidate; ``candidate`` None means end of candidates."""

    call: str
    candidate: Candidate | None
    sender: str | None = None


CallMessage = Invite | Ringing | Accept | Decline | Hangup | Sdp | Ice
Message = Hello | Welcome | Presence | Subscribe | PresenceSnapshot | Regions | Error | CallMessage

#: Types that belong to a call (carry ``call`` and are relayed with ``from``).
CALL_TYPES: Final = frozenset({"invite", "ringing", "accept", "decline", "hangup", "sdp", "ice"})
#: Types only the server sends.
SERVER_TYPES: Final = frozenset({"welcome", "presence", "presence-snapshot", "regions", "error"})

# --- parsing --------------------------------------------------------------------


class _Fields:
    """Typed access to one frame's fields, raising errors that name the field."""

    __slots__ = ("call", "kind", "obj")

    def __init__(self, kind: str, obj: Mapping[str, Any]) -> None:
        self.kind = kind
        self.obj = obj
        self.call: str | None = None

    def fail(self, text: str) -> ProtocolError:
        return ProtocolError("bad-message", f"{self.kind}: {text}", self.call)

    def string(self, name: str, *, optional: bool = False, empty: bool = True) -> str | None:
        value = self.obj.get(name)
        if value is None:
            if optional:
                return None
            raise self.fail(f'missing field "{name}"')
        if not isinstance(value, str) or (not empty and not value):
            what = "a non-empty string" if not empty else "a string"
            raise self.fail(f'field "{name}" must be {what}')
        return value

    def user(self, name: str, *, optional: bool = False) -> str | None:
        value = self.obj.get(name)
        if value is None:
            if optional:
                return None
            raise self.fail(f'missing field "{name}"')
        if not is_user_name(value):
            raise self.fail(f'field "{name}" must be {_USER_RULE}')
        return str(value)

    def call_id(self) -> str:
        value = self.obj.get("call")
        if value is None:
            raise self.fail('missing field "call"')
        if not is_call_id(value):
            raise self.fail(f'field "call" must be {_CALL_RULE}')
        self.call = str(value)
        return self.call


def _description(f: _Fields) -> Description:
    raw = f.obj.get("description")
    if raw is None:
        raise f.fail('missing field "description"')
    if not isinstance(raw, dict):
        raise f.fail('field "description" must be an object with "type" and "sdp"')
    kind = raw.get("type")
    if kind not in _WIRE_DESCRIPTION_TYPES:
        raise f.fail('field "description.type" must be "offer", "answer" or "pranswer"')
    sdp = raw.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise f.fail('field "description.sdp" must be a non-empty string')
    dtype: DescriptionType = kind
    return Description(type=dtype, sdp=sdp)


def _candidate(f: _Fields) -> Candidate | None:
    if "candidate" not in f.obj:
        raise f.fail('missing field "candidate" (null means end of candidates)')
    raw = f.obj["candidate"]
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise f.fail('field "candidate" must be an object or null')
    line = raw.get("candidate")
    if not isinstance(line, str):
        raise f.fail('field "candidate.candidate" must be a string')
    if line == "":
        # What browsers trickle as end-of-candidates for a generation.
        return None
    try:
        line = check_candidate_line(line)
    except ValueError as exc:
        raise f.fail(
            f'field "candidate.candidate" must be an RFC 8839 candidate attribute '
            f'("{CANDIDATE_GRAMMAR}"): {exc}'
        ) from None
    mid = raw.get("sdpMid")
    if mid is not None and not isinstance(mid, str):
        raise f.fail('field "candidate.sdpMid" must be a string or null')
    index = raw.get("sdpMLineIndex")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
        raise f.fail('field "candidate.sdpMLineIndex" must be an integer >= 0 or null')
    ufrag = raw.get("usernameFragment")
    if ufrag is not None and not isinstance(ufrag, str):
        raise f.fail('field "candidate.usernameFragment" must be a string or null')
    return Candidate(
        candidate=line,
        sdp_mid=mid,
        sdp_mline_index=index,
        username_fragment=ufrag,
    )


def _regions(f: _Fields) -> tuple[dict[str, Any], ...] | None:
    raw = f.obj.get("regions")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise f.fail('field "regions" must be a list of objects')
    return tuple(raw)


def _online_list(f: _Fields) -> tuple[str, ...]:
    return _user_list(f, "online", f.obj.get("online", []))


def _user_list(f: _Fields, name: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(is_user_name(u) for u in raw):
        raise f.fail(f'field "{name}" must be a list of user names ({_USER_RULE})')
    return tuple(raw)


def _build(kind: str, obj: dict[str, Any]) -> Message:
    f = _Fields(kind, obj)
    if kind in CALL_TYPES:
        call = f.call_id()
        sender = f.user("from", optional=True)
        if kind == "invite":
            resume = f.obj.get("resume", False)
            if not isinstance(resume, bool):
                raise f.fail('field "resume" must be true or false')
            return Invite(call=call, to=str(f.user("to")), sender=sender, resume=resume)
        if kind == "ringing":
            return Ringing(call=call, sender=sender)
        if kind == "accept":
            return Accept(call=call, sender=sender)
        if kind == "decline":
            reason = f.string("reason", optional=True) or "declined"
            return Decline(call=call, reason=reason, sender=sender)
        if kind == "hangup":
            return Hangup(call=call, reason=f.string("reason", optional=True), sender=sender)
        if kind == "sdp":
            return Sdp(call=call, description=_description(f), sender=sender)
        return Ice(call=call, candidate=_candidate(f), sender=sender)
    if kind == "hello":
        return Hello(user=str(f.user("user")), token=f.string("token", optional=True))
    if kind == "welcome":
        return Welcome(user=str(f.user("user")), online=_online_list(f), regions=_regions(f))
    if kind == "presence":
        online = obj.get("online")
        if not isinstance(online, bool):
            raise f.fail('field "online" must be true or false')
        return Presence(user=str(f.user("user")), online=online)
    if kind == "subscribe":
        if "users" not in obj:
            raise f.fail('missing field "users"')
        users = obj["users"]
        if isinstance(users, list) and len(users) > MAX_SUBSCRIPTIONS:
            raise f.fail(f'field "users" may list at most {MAX_SUBSCRIPTIONS} names')
        return Subscribe(users=_user_list(f, "users", users))
    if kind == "presence-snapshot":
        if "online" not in obj:
            raise f.fail('missing field "online"')
        return PresenceSnapshot(online=_online_list(f))
    if kind == "regions":
        regions = _regions(f)
        if regions is None:
            raise f.fail('missing field "regions"')
        return Regions(regions=regions)
    if kind == "error":
        about = obj.get("call")
        return Error(
            code=str(f.string("code", empty=False)),
            message=str(f.string("message")),
            call=about if isinstance(about, str) else None,
        )
    shown = f' "{kind}"' if _SAFE_TYPE_RE.fullmatch(kind) else ""
    raise ProtocolError("bad-message", f"unknown message type{shown}")


def decode(text: str) -> tuple[Message, dict[str, Any]]:
    """Parse and validate one frame; also return the raw JSON object.

    The server relays the raw object (with ``from`` set) rather than a re-encoded
    message, so fields added by newer clients survive the trip.
    """
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad-message", "frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad-message", "frame must be a JSON object")
    kind = obj.get("type")
    if kind is None:
        raise ProtocolError("bad-message", 'missing field "type"')
    if not isinstance(kind, str):
        raise ProtocolError("bad-message", 'field "type" must be a string')
    return _build(kind, obj), obj


def parse_frame(text: str) -> Message:
    """Parse and validate one text frame, raising :class:`ProtocolError` if it is bad."""
    return decode(text)[0]


def frame_too_large(text: str, limit: int = MAX_FRAME) -> bool:
    """True if ``text`` is over ``limit`` bytes once UTF-8 encoded (cheap for short text)."""
    n = len(text)
    if n > limit:
        return True
    if n * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


# --- encoding -------------------------------------------------------------------


def _candidate_json(c: Candidate) -> dict[str, Any]:
    out: dict[str, Any] = {
        "candidate": c.candidate,
        "sdpMid": c.sdp_mid,
        "sdpMLineIndex": c.sdp_mline_index,
    }
    if c.username_fragment is not None:
        out["usernameFragment"] = c.username_fragment
    return out


def to_json(msg: Message) -> dict[str, Any]:
    """The JSON object for ``msg``, with the wire's field names."""
    out: dict[str, Any]
    match msg:
        case Hello(user=user, token=token):
            out = {"type": "hello", "user": user}
            if token is not None:
                out["token"] = token
            return out
        case Welcome(user=user, online=online, regions=regions):
            out = {"type": "welcome", "user": user, "online": list(online)}
            if regions is not None:
                out["regions"] = list(regions)
            return out
        case Presence(user=user, online=online):
            return {"type": "presence", "user": user, "online": online}
        case Subscribe(users=users):
            return {"type": "subscribe", "users": list(users)}
        case PresenceSnapshot(online=online):
            return {"type": "presence-snapshot", "online": list(online)}
        case Regions(regions=regions):
            return {"type": "regions", "regions": list(regions)}
        case Error(code=code, message=message, call=call):
            out = {"type": "error", "code": code, "message": message}
            if call is not None:
                out["call"] = call
            return out
        case Invite(call=call, to=to, resume=resume):
            out = {"type": "invite", "call": call, "to": to}
            if resume:
                out["resume"] = True
        case Ringing(call=call):
            out = {"type": "ringing", "call": call}
        case Accept(call=call):
            out = {"type": "accept", "call": call}
        case Decline(call=call, reason=reason):
            out = {"type": "decline", "call": call, "reason": reason}
        case Hangup(call=call, reason=reason):
            out = {"type": "hangup", "call": call}
            if reason is not None:
                out["reason"] = reason
        case Sdp(call=call, description=d):
            out = {"type": "sdp", "call": call, "description": {"type": d.type, "sdp": d.sdp}}
        case Ice(call=call, candidate=c):
            out = {
                "type": "ice",
                "call": call,
                "candidate": None if c is None else _candidate_json(c),
            }
    sender = msg.sender
    if sender is not None:
        out["from"] = sender
    return out


# One encoder for every frame: json.dumps with options builds a new one each call.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj: Mapping[str, Any]) -> str:
    """Compact JSON, as every frame is written."""
    return _ENCODER.encode(obj)


def encode(msg: Message) -> str:
    """One frame's text for ``msg`` (compact JSON; ``sender`` becomes ``"from"``)."""
    return dumps(to_json(msg))
