"""The ``sip_*`` configuration keys (docs/protocol.md section 3, 1.2), validated.

The password is never echoed: an error names the key, not the value.
"""

from __future__ import annotations

import os
from typing import Any, Final
from urllib.parse import urlsplit

from sipmessage import URI

PASSWORD_ENV: Final = "SOFTPHONE_SIP_PASSWORD"
SIGNALING_KINDS: Final = ("json", "sip")
SIP_KEYS: Final = (
    "signaling",
    "sip_uri",
    "sip_ws",
    "sip_auth_user",
    "sip_password",
    "sip_outbound_proxy",
    "sip_display_name",
)


class SipSettingError(ValueError):
    """A bad ``sip_*`` value; the message says what is wrong, never the password."""


def parse_sip_uri(value: str, what: str = "SIP URI") -> URI:
    """A ``sip:``/``sips:`` URI with a host, or :class:`SipSettingError`."""
    try:
        uri = URI.parse(value)
    except ValueError:
        raise SipSettingError(f"not a valid {what} (expected sip:user@domain)") from None
    if uri.scheme not in ("sip", "sips") or not uri.host:
        raise SipSettingError(f"not a valid {what}: the scheme must be sip: or sips:")
    return uri


def check_sip_value(name: str, value: Any) -> str:
    """One ``sip_*`` (or ``signaling``) value, already known to be a string."""
    if name == "signaling":
        if value not in SIGNALING_KINDS:
            raise SipSettingError(f"must be 'json' or 'sip', got {value[:16]!r}")
        return str(value)
    if name == "sip_password":
        if not value:
            raise SipSettingError("must not be empty")
        return str(value)
    if name == "sip_uri":
        uri = parse_sip_uri(value)
        if not uri.user:
            raise SipSettingError("the SIP URI has no user part (expected sip:user@domain)")
    elif name == "sip_outbound_proxy":
        parse_sip_uri(value, "outbound proxy URI")
    elif name == "sip_ws":
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise SipSettingError("must be a ws:// or wss:// URL with a host")
    elif name in ("sip_auth_user", "sip_display_name") and (
        not value or any(ch in value for ch in '"\r\n\\')
    ):
        raise SipSettingError("must be non-empty, without quotes, backslashes or newlines")
    return str(value)


def password_from(configured: str | None) -> str | None:
    """The configured password, else ``$SOFTPHONE_SIP_PASSWORD`` (never the command line)."""
    return configured or os.environ.get(PASSWORD_ENV) or None
