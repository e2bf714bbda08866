"""SIP messages from outside, parsed once and validated strictly (RFC 3261 section 8).

Parsing and building is :mod:`sipmessage` (typed, no dependencies, by the
authors of aiortc). It parses header values lazily, on first access; this
module forces every header a user agent relies on to parse *here*, at the
edge, so a malformed message is one :class:`SipSyntaxError` naming what was
wrong, never an exception deep inside a dialog.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from sipmessage import URI, Address, CSeq, Message, Request, Response, Via

__all__ = ["URI", "Address", "CSeq", "Request", "Response", "SipSyntaxError", "Via", "parse"]

MANDATORY: Final = ("Via", "From", "To", "Call-ID", "CSeq")
MAX_MESSAGE: Final = 64 * 1024
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_RAW_HEADER = re.compile(r"^(via|v|from|f|to|t|call-id|i|cseq)\s*:(.*)$", re.IGNORECASE)


class SipSyntaxError(ValueError):
    """A SIP message that does not parse; the text says what was wrong (never the body)."""


def parse(data: bytes) -> Request | Response:
    """One SIP message (one WebSocket frame), validated, or :class:`SipSyntaxError`."""
    if len(data) > MAX_MESSAGE:
        raise SipSyntaxError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    try:
        message = Message.parse(data)
    except ValueError as exc:
        raise SipSyntaxError(f"unparsable message: {exc}") from None
    for name in MANDATORY:
        if message.headers.get(name) is None:
            raise SipSyntaxError(f"missing {name} header")
    try:
        vias = message.via
        message.from_address  # noqa: B018 - parsing is the check
        message.to_address  # noqa: B018
        cseq = message.cseq
        length = message.content_length
        message.contact  # noqa: B018
        message.record_route  # noqa: B018
    except (ValueError, KeyError, IndexError) as exc:
        raise SipSyntaxError(f"malformed header: {exc}") from None
    if not vias:
        raise SipSyntaxError("empty Via header")
    if length is not None and length != len(message.body):
        raise SipSyntaxError(f"Content-Length {length} but the body has {len(message.body)} bytes")
    if isinstance(message, Request):
        if not _TOKEN.match(message.method):
            raise SipSyntaxError("request method is not a token")
        if cseq.method != message.method:
            raise SipSyntaxError(f"CSeq method {cseq.method} differs from {message.method}")
    elif not 100 <= message.code <= 699:
        raise SipSyntaxError(f"status code {message.code} out of range 100-699")
    return message


def bad_request_reply(data: bytes, reason: str) -> Response | None:
    """A 400 for a malformed request whose identifying headers can still be read.

    RFC 3261 section 8.2: a server answers what it can. The headers are copied
    raw (they were not parsed); a response or an unreadable request gets None.
    """
    text = data[:MAX_MESSAGE].decode("utf-8", errors="replace")
    head, _, _ = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or lines[0].startswith("SIP/") or not lines[0].endswith(" SIP/2.0"):
        return None
    if lines[0].split(" ", 1)[0].upper() == "ACK":
        return None  # an ACK is never answered
    found: dict[str, str] = {}
    names = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID"}
    for line in lines[1:]:
        match = _RAW_HEADER.match(line)
        if match:
            key = match.group(1).lower()
            name = names.get(key, {"via": "Via", "from": "From", "to": "To",
                                   "call-id": "Call-ID", "cseq": "CSeq"}.get(key, key))  # fmt: skip
            found.setdefault(name, match.group(2).strip())
    if any(name not in found for name in MANDATORY):
        return None
    phrase = "Bad Request - " + re.sub(r"[^\x20-\x7e]", "?", reason)[:100]
    reply = Response(400, phrase)
    for name in MANDATORY:
        reply.headers.add(name, found[name])
    reply.headers.add("Content-Length", "0")
    return reply


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    """A Via branch with RFC 3261's magic cookie."""
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id() -> str:
    return secrets.token_hex(12)


def reply_to(request: Request, code: int, phrase: str, *, to_tag: str | None = None) -> Response:
    """A response copying Via, From, To (with ``to_tag`` added if it has none), Call-ID, CSeq."""
    reply = Response(code, phrase)
    reply.headers.setlist("Via", request.headers.getlist("Via"))
    reply.headers.set("From", request.headers["From"])
    to = request.to_address
    if to_tag and "tag" not in to.parameters:
        to = Address(uri=to.uri, name=to.name, parameters=to.parameters.replace(tag=to_tag))
    reply.to_address = to
    reply.headers.set("Call-ID", request.call_id)
    reply.headers.set("CSeq", request.headers["CSeq"])
    if code < 300 or code >= 400:
        record_routes = request.headers.getlist("Record-Route")
        if record_routes and code < 300:
            reply.headers.setlist("Record-Route", record_routes)
    return reply


def with_body(message: Request | Response, body: bytes, content_type: str | None) -> None:
    """Set the body and its Content-Type and Content-Length (the length always)."""
    message.body = body
    if content_type is not None and body:
        message.headers.set("Content-Type", content_type)
    message.headers.set("Content-Length", str(len(body)))
