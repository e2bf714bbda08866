"""The audio direction of a connection: what we want, what was negotiated, who holds whom.

A hold is a direction change (RFC 3264 §8.4, RFC 6337 §5.3): the holding
side offers ``inactive``, or ``sendonly`` when it plays a hold sound; resume
offers ``sendrecv`` again. This module keeps the three directions the W3C
transceiver has (``direction``, what we want; ``currentDirection``, what
the last completed exchange gave; the peer's) and derives from them what
the RTP sender and receiver may do and the two hold flags:

- ``local_hold``: the last completed exchange carried our hold;
- ``remote_hold``: the peer's last offer stopped receiving from us.

Only offers move ``remote_hold``: an answer that stops receiving (a peer
answering our offer with an unexpected direction, or answering while it
holds us) changes what is sent, never who holds whom, so a strange answer
cannot break or flip the call.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.rtcpeerconnection import and_direction, reverse_direction

from . import sdpbuild

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def holding(direction: str) -> bool:
    """Whether the side that wrote ``direction`` in its offer no longer receives (holds)."""
    return "recv" not in direction


def hold_direction(base: str, hold_sound: bool) -> str:
    """What to offer while holding: ``sendonly`` with a hold sound to send, else ``inactive``."""
    return "sendonly" if hold_sound and "send" in base else "inactive"


@dataclass(frozen=True)
class HoldFlags:
    local: bool = False
    remote: bool = False


class Directions:
    """The wanted, current and remote direction of the one audio m-line."""

    def __init__(self) -> None:
        self.base = "recvonly"  # sendrecv once a track is added
        self.hold = False
        self.hold_sound = False
        self.current: str | None = None  # W3C currentDirection
        self.remote_offered: str | None = None
        self.flags = HoldFlags()
        self._local_kind: str | None = None
        self._local_direction: str | None = None

    @property
    def wanted(self) -> str:
        """W3C ``transceiver.direction``: what our next offer says."""
        return hold_direction(self.base, self.hold_sound) if self.hold else self.base

    def answer(self, remote_offer: str) -> str:
        """Our answer's direction to an offer saying ``remote_offer``."""
        return sdpbuild.answer_direction(self.wanted, remote_offer)

    def completed(
        self, local_kind: str, local_direction: str, remote_kind: str, remote_direction: str
    ) -> HoldFlags:
        """An exchange completed: the new current direction and hold flags."""
        if local_kind == "answer":
            self.current = local_direction
        else:
            self.current = and_direction(local_direction, reverse_direction(remote_direction))
        self._local_kind, self._local_direction = local_kind, local_direction
        remote = self.flags.remote
        if remote_kind == "offer":
            self.remote_offered = remote_direction
            remote = holding(remote_direction)
        local = self.flags.local
        if local_direction == self._expected(local_kind):
            local = self.hold
        self.flags = HoldFlags(local=local, remote=remote)
        return self.flags

    def set_hold(self, on: bool) -> bool:
        """Hold or resume; True when an offer must carry it (else the flag holds at once)."""
        self.hold = on
        if self.negotiation_needed or self._local_direction is None:
            return True
        self.flags = HoldFlags(local=on, remote=self.flags.remote)
        return False

    def _expected(self, local_kind: str) -> str:
        if local_kind == "answer" and self.remote_offered is not None:
            return self.answer(self.remote_offered)
        return self.wanted

    @property
    def negotiation_needed(self) -> bool:
        """W3C "check if negotiation is needed", for the direction only."""
        if self._local_direction is None:
            return False
        if self._local_kind == "offer":
            return self._local_direction != self.wanted
        return self._local_direction != self._expected("answer")

    @property
    def sending(self) -> bool:
        return self.current is not None and "send" in self.current

    @property
    def receiving(self) -> bool:
        return self.current is not None and "recv" in self.current
