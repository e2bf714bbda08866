"""Private aiortc/aioice state that only tests look at (production code never needs it).

softphone/rtc/internals.py is the one place production code reaches into
aiortc and aioice; what the tests alone inspect lives here, so internals.py
carries nothing dead. Read from the versions pinned in internals.py.
"""

from __future__ import annotations

from typing import Any

import aioice
import aiortc
from aioice import Connection
from aioice.ice import CandidatePair, StunProtocol
from aiortc import RTCDtlsTransport

from softphone.rtc.internals import AIOICE_VERSION, AIORTC_VERSION


def versions_match() -> bool:
    """Whether the installed aiortc/aioice are the ones internals.py was read from."""
    return (
        getattr(aiortc, "__version__", None) == AIORTC_VERSION
        and getattr(aioice, "__version__", None) == AIOICE_VERSION
    )


def connection_protocols(connection: Connection) -> list[StunProtocol]:
    """aioice 0.13.0: ``Connection._protocols``, the sockets (host and TURN) of a connection."""
    return list(connection._protocols)


def check_list(connection: Connection) -> list[CandidatePair]:
    """aioice 0.13.0: ``Connection._check_list``."""
    return list(connection._check_list)


def dtls_srtp_sessions(transport: RTCDtlsTransport) -> tuple[Any, Any]:
    """aiortc 1.16.0: ``_rx_srtp`` / ``_tx_srtp``, pylibsrtp sessions (same objects = no rekey)."""
    return transport._rx_srtp, transport._tx_srtp
