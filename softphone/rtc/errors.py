"""The W3C DOMException names that RTCPeerConnection methods raise.

aiortc has InvalidStateError and InvalidAccessError but not the rest; the
browser API this project reproduces names its failures precisely, so every
error carries the DOMException ``name`` a browser would report.
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
