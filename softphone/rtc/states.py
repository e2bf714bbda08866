"""The four W3C state attributes of a connection, each firing its change event.

Several parts move these states (negotiation the signaling state, gathering
the gathering state, the health monitor the ICE state), so they live in one
small object that emits on every change. ``connectionState`` is derived
(W3C "update the connection state") from the ICE state and the DTLS
transport's, so it is recomputed, never set.
"""

from __future__ import annotations

from aiortc import RTCDtlsTransport

from .emitter import Emitter


class ConnectionStates:
    """signalingState, iceGatheringState, iceConnectionState, connectionState, and closed."""

    def __init__(self, emitter: Emitter, dtls: RTCDtlsTransport) -> None:
        self._emit = emitter.emit
        self._dtls = dtls
        self.signaling = "stable"
        self.gathering = "new"
        self.ice = "new"
        self.connection = "new"
        self.closed = False

    def set_signaling(self, state: str) -> None:
        if state != self.signaling:
            self.signaling = state
            self._emit("signalingstatechange", state)

    def set_gathering(self, state: str) -> None:
        if state != self.gathering:
            self.gathering = state
            self._emit("icegatheringstatechange", state)

    def set_ice(self, state: str) -> None:
        if state != self.ice:
            self.ice = state
            self._emit("iceconnectionstatechange", state)

    def update_connection(self) -> None:
        ice = self.ice
        dtls = self._dtls.state
        if self.closed:
            state = "closed"
        elif ice == "failed" or dtls == "failed":
            state = "failed"
        elif ice == "disconnected":
            state = "disconnected"
        elif ice == "new" and dtls == "new":
            state = "new"
        elif ice == "connected" and dtls == "connected":
            state = "connected"
        else:
            state = "connecting"
        if state != self.connection:
            self.connection = state
            self._emit("connectionstatechange", state)
