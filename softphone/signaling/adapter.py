"""What the session manager knows of signaling: calls, descriptions and candidates.

The session manager never sees a frame. A signaling implementation (the JSON
protocol of docs/protocol.md section 1 today, SIP over WebSocket later) turns its
wire format into these events and implements :class:`Signaling`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from softphone.descriptions import Candidate, Description
from softphone.signaling.messages import is_user_name

__all__ = ["Candidate", "Description"]

USER_NAME_RULE = "a user name is 1-64 of letters, digits, '.', '_', '-'"

# --- events: signaling -> session manager ------------------------------------


@dataclass(frozen=True)
class Registered:
    """The server accepted our name (also after every reconnect)."""

    user: str
    online: tuple[str, ...]
    regions: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class Presence:
    user: str
    online: bool


@dataclass(frozen=True)
class RegionsRefreshed:
    """The server sent fresh regions (new TURN credentials) to use from now on.

    They replace those of :class:`Registered`; a live call applies them with
    ``setConfiguration`` so that its next allocation or refresh still authenticates.
    """

    regions: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Invited:
    """Someone calls us, or (``resume``) re-announces a call already up after a reconnect."""

    call: str
    caller: str
    resume: bool = False


@dataclass(frozen=True)
class Ringing:
    call: str


@dataclass(frozen=True)
class Accepted:
    call: str


@dataclass(frozen=True)
class Declined:
    call: str
    reason: str


@dataclass(frozen=True)
class HungUp:
    call: str
    reason: str | None = None


@dataclass(frozen=True)
class RemoteDescription:
    call: str
    description: Description


@dataclass(frozen=True)
class RemoteCandidate:
    """A trickled candidate; ``candidate`` None means end of candidates."""

    call: str
    candidate: Candidate | None


@dataclass(frozen=True)
class RemoteDtmf:
    """(1.2) A digit the far end sent by signaling (SIP INFO dtmf-relay), not as RTP."""

    call: str
    digit: str
    duration_ms: int


@dataclass(frozen=True)
class SignalingError:
    """An error the server reported (``code`` as in docs/protocol.md section 1)."""

    code: str
    message: str
    call: str | None = None


ConnectionStateName = Literal["connecting", "connected", "reconnecting", "closed"]


@dataclass(frozen=True)
class ConnectionChanged:
    """The link to the signaling server changed; ``detail`` says why (never a secret)."""

    state: ConnectionStateName
    detail: str = ""
    retry_in: float | None = field(default=None)


SignalingEvent = (
    Registered
    | Presence
    | RegionsRefreshed
    | Invited
    | Ringing
    | Accepted
    | Declined
    | HungUp
    | RemoteDescription
    | RemoteCandidate
    | RemoteDtmf
    | SignalingError
    | ConnectionChanged
)

Listener = Callable[[SignalingEvent], None]


class SignalingUnavailable(Exception):
    """A send was attempted while the server is not reachable."""


class Signaling(abc.ABC):
    """A signaling channel for one user, as the session manager uses it.

    Sends raise :class:`SignalingUnavailable` while the channel is down;
    everything received arrives through the listener given to :meth:`start`,
    called on the event loop.
    """

    user: str
    #: Something the user should know about this channel before it starts
    #: (TLS verification turned off); the session shows it as a notice.
    notice: str | None = None
    #: (1.2) The INVITE itself carries the caller's offer (SIP): the session
    #: makes the offer right after :meth:`invite`, before the callee accepts.
    offer_in_invite: bool = False

    def answer_carries_offer(self, call: str) -> bool:
        """(1.2) The callee offers when it accepts ``call`` (a SIP late-offer INVITE, no SDP)."""
        return False

    def callee_problem(self, to: str) -> str | None:
        """Why ``to`` cannot be called on this channel (None: it can); JSON wants a user name."""
        if is_user_name(to):
            return None
        return f"cannot call {to[:64]!r}: {USER_NAME_RULE}"

    @abc.abstractmethod
    async def start(self, listener: Listener) -> None:
        """Connect and register; returns once registered, raises if that fails for good."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Leave the server; no event is delivered after this returns."""

    @abc.abstractmethod
    async def invite(self, call: str, to: str, *, resume: bool = False) -> None: ...

    @abc.abstractmethod
    async def ringing(self, call: str) -> None: ...

    @abc.abstractmethod
    async def accept(self, call: str) -> None: ...

    @abc.abstractmethod
    async def decline(self, call: str, reason: str = "declined") -> None: ...

    @abc.abstractmethod
    async def hangup(self, call: str, reason: str | None = None) -> None: ...

    @abc.abstractmethod
    async def send_description(self, call: str, description: Description) -> None: ...

    @abc.abstractmethod
    async def send_candidate(self, call: str, candidate: Candidate | None) -> None: ...
