"""Session descriptions and ICE candidates as the browser API passes them around.

These are the RTCSessionDescriptionInit and RTCIceCandidateInit dictionaries:
the session manager, the peer connection and every signaling adapter share them.
The one rule for what a candidate line may look like lives here too, because
both the signaling layer (which rejects a bad frame) and the rtc layer (which
parses candidates from trickle and from SDP) must agree on it, and signaling
must not import the rtc package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

DescriptionType = Literal["offer", "answer", "pranswer", "rollback"]

#: The shape of a candidate line, for error messages (RFC 8839 section 5.1).
CANDIDATE_GRAMMAR: Final = (
    "candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ..."
)

_TOKEN: Final = re.compile(r"[A-Za-z0-9_.!%*+`'~-]+", re.ASCII)
# RFC 8839 section 5.1: candidate:<foundation> <component-id> <transport> <priority>
# <connection-address> <port> typ <cand-type> *(SP extension-att-name SP extension-att-value)
_PARTS: Final = (
    ("foundation", re.compile(r"[A-Za-z0-9+/]{1,32}", re.ASCII), "1-32 of letters, digits, + /"),
    ("component id", re.compile(r"[0-9]{1,3}", re.ASCII), "1-3 digits"),
    ("transport", _TOKEN, "a token"),
    ("priority", re.compile(r"[0-9]{1,10}", re.ASCII), "1-10 digits"),
    ("connection address", re.compile(r"[^ ]+"), "an address"),
    ("port", re.compile(r"[0-9]{1,5}", re.ASCII), "1-5 digits"),
    ('"typ" keyword', re.compile("typ"), '"typ"'),
    ("candidate type", _TOKEN, "a token"),
)


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


def check_candidate_line(line: str) -> str:
    """Check a candidate attribute (RFC 8839 §5.1); return it without its ``a=`` prefix.

    Accepts ``candidate:...`` and ``a=candidate:...``. Raises ValueError
    naming the part that is wrong, never repeating the value (the text may be
    sent back to a peer or logged).
    """
    text = line.removeprefix("a=")
    if not text.startswith("candidate:"):
        raise ValueError('it does not start with "candidate:"')
    parts = text[len("candidate:") :].split(" ", len(_PARTS))
    if len(parts) < len(_PARTS):
        raise ValueError(f"it has {len(parts)} of the {len(_PARTS)} required fields")
    for value, (name, pattern, rule) in zip(parts, _PARTS, strict=False):
        if pattern.fullmatch(value) is None:
            raise ValueError(f"its {name} must be {rule}")
    return text
