"""Session descriptions and ICE candidates as the browser API passes them around.

These are the RTCSessionDescriptionInit and RTCIceCandidateInit dictionaries:
the session manager, the peer connection and every signaling adapter share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DescriptionType = Literal["offer", "answer", "pranswer", "rollback"]


@dataclass(frozen=True)
class Description:
    """An RTCSessionDescriptionInit: ``type`` and ``sdp``."""

    type: DescriptionType
    sdp: str


@dataclass(frozen=True)
class Candidate:
    """An RTCIceCandidateInit as browsers trickle it (``candidate`` is the a= line value)."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None
