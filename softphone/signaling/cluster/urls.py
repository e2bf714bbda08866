"""Redis URLs as they may be shown: never with the password they carry."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "redis_secrets"]


def redact_url(url: str) -> str:
    """``url`` with any user and password replaced by ``***`` (for logs and errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def redis_secrets(url: str) -> set[str]:
    """The password (and user) in ``url``, for the log redaction filter."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    return {s for s in (parts.password,) if s}
