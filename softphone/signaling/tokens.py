"""Per-user signaling tokens: HS256 JSON Web Tokens signed with the server's secret.

A shared ``--token`` lets anyone who has it register under any name. With a
secret instead, the operator hands each user a token (``softphone token --user
alice --ttl 8h``) that is good for that one name until it expires, so a leaked
token is limited to one user and a bounded time, and nobody needs the secret
but the server.

The secret never comes from the command line (other local users can read the
process list): it is read from a file or from ``$SOFTPHONE_SECRET``. For the
same reason a client token given with ``--token`` earns a warning
(:func:`command_line_token_notice`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import jwt

log = logging.getLogger("softphone.signaling")

__all__ = [
    "SECRET_ENV",
    "TOKEN_ENV",
    "SecretError",
    "TokenError",
    "command_line_token_notice",
    "mint_token",
    "parse_duration",
    "read_secret",
    "verify_token",
]

SECRET_ENV: Final = "SOFTPHONE_SECRET"
TOKEN_ENV: Final = "SOFTPHONE_TOKEN"
#: Clock skew tolerated between the machine that minted a token and the server.
LEEWAY: Final = 5.0
_ALGORITHM: Final = "HS256"
_MIN_SECRET: Final = 32
_DURATION_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)", re.ASCII)
_UNITS: Final[Mapping[str, float]] = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

COMMAND_LINE_TOKEN_WARNING: Final = (
    "--token is visible to other local users in the process list; "
    f"put it in the config file or ${TOKEN_ENV}"
)


class SecretError(Exception):
    """The server secret could not be read or is unusable (the text names the file, not it)."""


class TokenError(Exception):
    """A token was refused; ``reason`` says why, without repeating the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_secret(path: Path | None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The secret from ``path``, else from ``$SOFTPHONE_SECRET``, else None.

    Surrounding whitespace (a trailing newline) is not part of the secret. A
    secret shorter than 32 bytes (RFC 7518 section 3.2) is refused: HS256 with a short key is
    little protection.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SecretError(f"cannot read the secret file {path}: {exc.strerror}") from None
        where = f"the secret file {path}"
    elif env.get(SECRET_ENV):
        raw = env[SECRET_ENV].encode()
        where = f"${SECRET_ENV}"
    else:
        return None
    secret = raw.strip()
    if len(secret) < _MIN_SECRET:
        raise SecretError(f"{where} must hold at least {_MIN_SECRET} bytes")
    return secret


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number with an optional unit s, m, h or d (``8h``, ``90m``)."""
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (say e.g. 30m, 8h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def mint_token(secret: bytes, user: str, ttl: float, *, now: float | None = None) -> str:
    """A token for ``user`` valid for ``ttl`` seconds from ``now``."""
    issued = int(time.time() if now is None else now)
    claims = {"sub": user, "iat": issued, "exp": issued + max(1, round(ttl))}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_token(secret: bytes, token: str | None, user: str) -> None:
    """Raise :class:`TokenError` unless ``token`` is valid and was issued for ``user``."""
    if not token:
        raise TokenError("missing token")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            leeway=LEEWAY,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("token has a wrong signature") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("token is issued in the future (are the clocks set?)") from None
    except jwt.InvalidTokenError:
        raise TokenError("token is malformed") from None
    if claims.get("sub") != user:
        raise TokenError("token was issued for another user name")


def command_line_token_notice(token_from_command_line: bool) -> str | None:
    """The warning to show when the client token was given as a command-line value."""
    if not token_from_command_line:
        return None
    log.warning("%s", COMMAND_LINE_TOKEN_WARNING)
    return COMMAND_LINE_TOKEN_WARNING
