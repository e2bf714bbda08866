"""TLS for signaling: the server's context from PEM files, the client's from its options.

On the internet signaling must run over ``wss://``: tokens and SDP (with every
address of a user) travel in it. The client verifies the server against the
system's trust store, plus one extra CA if the operator runs their own; turning
verification off is possible for a test bench and always said out loud
(:data:`INSECURE_NOTICE`).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Final

__all__ = ["INSECURE_NOTICE", "TlsError", "client_context", "server_context"]

INSECURE_NOTICE: Final = (
    "TLS certificate verification is off: anybody on the path can read and change signaling"
)


class TlsError(Exception):
    """A certificate, key or CA file that cannot be used (the text names the file)."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context serving ``cert`` (PEM, chain allowed) with its private ``key``."""
    for path in (cert, key):  # ssl's own error does not say which file is missing
        try:
            path.read_bytes()
        except OSError as exc:
            raise TlsError(f"cannot read {path}: {exc.strerror}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise TlsError(f"cannot use the certificate {cert} with the key {key}: {reason}") from None
    return context


def client_context(ca_file: Path | None = None, *, insecure: bool = False) -> ssl.SSLContext:
    """What the client verifies ``wss://`` servers with.

    The system store always counts; ``ca_file`` adds a CA to it. ``insecure``
    accepts any certificate for any host.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
            raise TlsError(f"cannot use the CA file {ca_file}: {reason}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
