"""Keeps secrets out of every log line.

Credentials must never reach a log (DEVELOPERS.md). The code never logs them
on purpose; this filter is the second line of defence for what libraries log
(aioice at DEBUG prints STUN attributes), replacing any known secret with ``***``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.config import Settings

MASK = "***"


def secrets_of(settings: Settings | None) -> set[str]:
    """Every credential, TURN shared secret, token and SIP password the settings hold.

    (1.2) The SIP password counts also when it comes from ``$SOFTPHONE_SIP_PASSWORD``.
    """
    found: set[str] = set()
    if settings is None:
        return found
    if settings.token:
        found.add(settings.token)
    for sip_password in (settings.sip_password, os.environ.get("SOFTPHONE_SIP_PASSWORD")):
        if sip_password:
            found.add(sip_password)
    for region in settings.regions:
        for server in region.ice_servers:
            if server.credential:
                found.add(server.credential)
        found.update(secret.shared_secret for secret in region.turn_secrets)
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            cleaned = redact(message, self.secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(
                    logging.Formatter().formatException(record.exc_info), self.secrets
                )
                record.exc_info = None
        return True


def install_redaction(settings: Settings | None, extra: Iterable[str] = ()) -> None:
    """Attach the filter to every root handler, so library loggers are covered too."""
    secrets = secrets_of(settings) | set(extra)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(secrets))
