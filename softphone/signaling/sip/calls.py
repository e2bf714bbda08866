"""What the SIP adapter keeps per call, and how names become SIP URIs and back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final, Literal

from sipmessage import URI, Address, Request

from softphone.signaling.sip.dialog import Dialog
from softphone.signaling.sip.settings import SipSettingError, parse_sip_uri

SDP: Final = "application/sdp"
# Our decline reasons as SIP statuses, and the far end's statuses as call-state reasons.
DECLINE_CODES: Final = {"busy": (486, "Busy Here"), "unavailable": (480, "Temporarily Unavailable")}
FAILURE_REASONS: Final = {486: "busy", 600: "busy", 603: "declined", 404: "unavailable",
                          480: "unavailable", 408: "unavailable"}  # fmt: skip

State = Literal["pending", "inviting", "early", "confirmed", "ended"]


@dataclass(frozen=True)
class SipConfig:
    """What the adapter needs; repr hides the password."""

    uri: str
    ws: str
    password: str | None = field(default=None, repr=False)
    auth_user: str | None = None
    outbound_proxy: str | None = None
    display_name: str | None = None
    keepalive_s: float = 30.0  # the OPTIONS interval; a test makes it short to see it


@dataclass
class SipCall:
    """One call as SIP sees it: its INVITE, its dialog once there is one, its re-INVITEs."""

    id: str
    direction: Literal["outgoing", "incoming"]
    call_id: str
    local_tag: str
    state: State = "pending"
    target: URI | None = None
    invite: Request | None = None
    dialog: Dialog | None = None
    offer: bytes = b""
    accepted: bool = False
    cancelled: bool = False
    reinvite_in: Request | None = None
    reinvite_out: bool = False
    provisional: asyncio.Event = field(default_factory=asyncio.Event)


def target_uri(aor: URI, to: str) -> URI:
    """``sip:bob@host`` as given; a bare ``bob`` completed with the domain of sip_uri."""
    if ":" in to and to.split(":", 1)[0] in ("sip", "sips"):
        return parse_sip_uri(to, "SIP URI to call")
    if "@" in to:
        return parse_sip_uri(f"sip:{to}", "SIP address to call")
    if not to or any(ch in to for ch in ' <>"@;:\r\n'):
        raise SipSettingError("a SIP URI or a user name is needed")
    return URI(scheme=aor.scheme, host=aor.host, user=to, port=aor.port)


def party_name(aor: URI, address: Address) -> str:
    """A remote party as the session shows it: the user alone when in our domain."""
    uri = address.uri
    if uri.host == aor.host and uri.user:
        return uri.user
    return f"{uri.user}@{uri.host}" if uri.user else uri.host
