"""The W3C DOMException names that RTCPeerConnection methods raise.

The browser API this project reproduces names its failures precisely, so
every error carries the DOMException ``name`` a browser would report.

aiortc.exceptions has InvalidStateError, InvalidAccessError and
OperationError, but as plain exceptions without a ``name``, and importing
that module imports all of aiortc (av, cryptography: ~0.2 s). This module is
loaded by ``configuration``, which the config loader and the command line use
without any media, so these classes stay standalone rather than subclass
aiortc's; no caller catches aiortc's classes around our code.
"""

from __future__ import annotations


class DOMException(Exception):
    """Base of the W3C errors; ``name`` is the DOMException name."""

    name = "DOMException"

    def __str__(self) -> str:
        return f"{self.name}: {super().__str__()}"


class InvalidStateError(DOMException):
    name = "InvalidStateError"


class InvalidAccessError(DOMException):
    name = "InvalidAccessError"


class InvalidModificationError(DOMException):
    name = "InvalidModificationError"


class RTCSyntaxError(DOMException):
    """W3C ``SyntaxError``; renamed in Python so it cannot shadow the builtin."""

    name = "SyntaxError"


class OperationError(DOMException):
    name = "OperationError"
