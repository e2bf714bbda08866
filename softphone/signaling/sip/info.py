"""SIP INFO ``application/dtmf-relay``: the far end's digits when it does not send RFC 4733.

Many SIP phones and PBXes (Cisco, Asterisk's ``dtmfmode=info``) send a pressed
key as an INFO request whose body is ``Signal=5`` and ``Duration=160`` lines.
It becomes the same ``dtmf`` event an RFC 4733 telephone-event gives, so a
front end cannot tell (and need not care) how a digit came. The body is
validated here, once: a digit outside ``0-9 * # A-D`` or a duration that is
not a positive number of milliseconds is a :class:`DtmfRelayError`, answered
400 by the adapter.
"""

from __future__ import annotations

import logging
from typing import Final

from sipmessage import Request, Response

from softphone.signaling.adapter import RemoteDtmf
from softphone.signaling.sip import message as m

DTMF_RELAY: Final = "application/dtmf-relay"
DIGITS: Final = frozenset("0123456789*#ABCD")
# RFC 4733 event codes 10 and 11 are * and #; some phones send the code, not the key.
_CODES: Final = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}
DEFAULT_DURATION_MS: Final = 250
MAX_DURATION_MS: Final = 60_000

log = logging.getLogger("softphone.signaling.sip")


class DtmfRelayError(ValueError):
    """A dtmf-relay body that does not say one digit and a duration."""


def parse_dtmf_relay(body: bytes) -> tuple[str, int]:
    """``Signal=5\\r\\nDuration=160`` -> ``("5", 160)``; Duration is optional (250 ms)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise DtmfRelayError("dtmf-relay body is not ASCII") from None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise DtmfRelayError(f"dtmf-relay line {line[:32]!r} has no '='")
        fields[key.strip().lower()] = value.strip()
    signal = fields.get("signal")
    if signal is None:
        raise DtmfRelayError("dtmf-relay body has no Signal")
    digit = _CODES.get(signal, signal.upper())
    if digit not in DIGITS:
        raise DtmfRelayError(f"dtmf-relay Signal {signal[:16]!r} is not one of 0-9 * # A-D")
    duration = fields.get("duration")
    if duration is None:
        return digit, DEFAULT_DURATION_MS
    if not duration.isdigit() or not 0 < int(duration) <= MAX_DURATION_MS:
        raise DtmfRelayError(f"dtmf-relay Duration {duration[:16]!r} is not 1-60000 ms")
    return digit, int(duration)


def answer_info(request: Request, call: str | None) -> tuple[Response, RemoteDtmf | None]:
    """The reply to an INFO and, for a dtmf-relay one in a call we have, its digit.

    An INFO of another type (or outside a call) is answered 200 and ignored,
    as RFC 6086 allows for a package we did not negotiate; a malformed
    dtmf-relay body is 400 naming what was wrong, and the call goes on.
    """
    content_type = request.content_type
    if call is None or content_type is None or str(content_type).lower() != DTMF_RELAY:
        return m.reply_to(request, 200, "OK"), None
    try:
        digit, duration_ms = parse_dtmf_relay(request.body)
    except DtmfRelayError as exc:
        log.warning("call %s: INFO refused with 400: %s", call, exc)
        return m.reply_to(request, 400, str(exc)), None
    return m.reply_to(request, 200, "OK"), RemoteDtmf(call, digit, duration_ms)
