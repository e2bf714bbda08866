"""What the SIP adapter keeps per call, and how names become SIP URIs and back."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Final, Literal

from sipmessage import URI, Address, Request, Response

from softphone.descriptions import Description
from softphone.signaling.sip.dialog import Dialog
from softphone.signaling.sip.settings import SipSettingError, parse_sip_uri

SDP: Final = "application/sdp"
# Our decline reasons as SIP statuses, and the far end's statuses as call-state reasons.
DECLINE_CODES: Final = {"busy": (486, "Busy Here"), "unavailable": (480, "Temporarily Unavailable")}
FAILURE_REASONS: Final = {486: "busy", 600: "busy", 603: "declined", 404: "unavailable",
                          480: "unavailable", 408: "unavailable"}  # fmt: skip

log = logging.getLogger("softphone.signaling.sip")

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
    early_answer: bytes = b""  # (1.2) the SDP of a 183: early media
    late_offer: bool = False  # (1.2) an INVITE without SDP: our offer in the 200, answer in ACK


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


def answer_in(call: SipCall, response: Response) -> Description | None:
    """The SDP answer a response to our INVITE carries, handed to the session once (1.2).

    A 183 with SDP is the answer at once, so media starts while ringing (early
    media, RFC 3960); the 200 normally repeats it and is not applied twice. A
    200 whose SDP differs from the 183's is logged and the early answer kept:
    a second answer to one offer cannot be applied.
    """
    body = response.body
    if not body or (response.code == 183 and str(response.content_type).lower() != SDP):
        return None
    if call.early_answer:
        if response.code >= 200 and body != call.early_answer:
            log.warning("call %s: the 200's SDP differs from the 183's; early answer kept", call.id)
        return None
    if response.code == 183:
        call.early_answer = body
    elif response.code < 200:
        return None
    return Description("answer", body.decode())
