"""One call: a peer connection negotiated over signaling.

The negotiation follows the W3C "perfect negotiation" pattern (docs/protocol.md
section 1): the caller is impolite, the callee polite. Every negotiation step
of a call runs under one lock, because aiortc's description methods are
coroutines and two of them interleaving would corrupt the signaling state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from aiortc import MediaStreamTrack

from softphone.descriptions import Candidate, Description
from softphone.media import AudioSink
from softphone.rtc.configuration import Configuration
from softphone.rtc.errors import DOMException
from softphone.rtc.peer import PeerConnection
from softphone.rtc.stats import CallStats, SelectedPair
from softphone.signaling.adapter import Signaling, SignalingUnavailable

logger = logging.getLogger("softphone.call")

Direction = Literal["outgoing", "incoming"]
CallState = Literal["dialing", "ringing", "incoming", "active", "ended"]
Emit = Callable[..., None]

PEER_STATE_EVENTS = {
    "signalingstatechange": "signaling-state",
    "icegatheringstatechange": "ice-gathering-state",
    "iceconnectionstatechange": "ice-connection-state",
    "connectionstatechange": "connection-state",
}


def pair_fields(pair: SelectedPair | None) -> dict[str, Any] | None:
    """The ``selected-pair`` shape of docs/protocol.md section 2 (never a credential)."""
    if pair is None:
        return None
    return {
        "local": _candidate_fields(pair.local),
        "remote": _candidate_fields(pair.remote),
    }


def _candidate_fields(info: Any) -> dict[str, Any]:
    fields = {
        "type": info.type,
        "protocol": info.protocol,
        "address": info.address,
        "port": info.port,
    }
    url = getattr(info, "url", None)
    if url:
        fields["url"] = url
    return fields


class Call:
    """A call with one remote user; owns its peer connection and its media.

    ``emit(name, **fields)`` receives every event of the call; the session
    manager forwards them to the front ends, the echo peer only logs them.
    """

    def __init__(
        self,
        *,
        call_id: str,
        remote_user: str,
        direction: Direction,
        signaling: Signaling,
        emit: Emit,
        configuration: Configuration,
        host_addresses: list[str] | None,
        source: MediaStreamTrack,
        sink: AudioSink,
        on_connection_state: Callable[[Call, str], None] | None = None,
    ) -> None:
        self.id = call_id
        self.remote_user = remote_user
        self.direction: Direction = direction
        self.state: CallState = "dialing" if direction == "outgoing" else "incoming"
        self.polite = direction == "incoming"
        self.started_at = time.monotonic()
        self.active_since: float | None = None
        self.end_reason: str | None = None
        self._signaling = signaling
        self._emit = emit
        self._configuration = configuration
        self._host_addresses = host_addresses
        self._source = source
        self._sink = sink
        self._pc: PeerConnection | None = None
        self._lock = asyncio.Lock()
        self._ignore_offer = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._on_connection_state = on_connection_state

    # --- state -------------------------------------------------------------

    @property
    def peer(self) -> PeerConnection | None:
        return self._pc

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    def set_state(self, state: CallState, reason: str | None = None) -> None:
        if self.state == state or self.ended:
            return
        self.state = state
        if state == "active":
            self.active_since = time.monotonic()
        fields: dict[str, Any] = {"call": self.id, "state": state}
        if reason:
            fields["reason"] = reason
            self.end_reason = reason
        self._emit("call-state", **fields)

    # --- media and negotiation ----------------------------------------------

    def start_media(self) -> None:
        """Create the peer connection with our source; the caller then offers."""
        pc = PeerConnection(self._configuration, host_addresses=self._host_addresses)
        self._pc = pc
        for aiortc_event, name in PEER_STATE_EVENTS.items():
            pc.on(aiortc_event, self._state_forwarder(name))
        pc.on("negotiationneeded", self._on_negotiationneeded)
        pc.on("track", self._on_track)
        pc.on("selectedpairchange", self._on_selected_pair)
        pc.on("icerestart", self._on_ice_restart)
        pc.addTrack(self._source)

    def _state_forwarder(self, name: str) -> Callable[[str], None]:
        def forward(state: str) -> None:
            self._emit(name, state=state)
            if name == "connection-state" and self._on_connection_state is not None:
                self._on_connection_state(self, state)

        return forward

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._sink.start(track))

    def _on_selected_pair(self, pair: SelectedPair | None) -> None:
        fields = pair_fields(pair)
        if fields is not None:
            self._emit("selected-pair", **fields)

    def _on_ice_restart(self, phase: str, detail: dict[str, Any] | None = None) -> None:
        self._emit("ice-restart", call=self.id, phase=phase, **(detail or {}))

    def _on_negotiationneeded(self) -> None:
        self._emit("negotiationneeded")
        self._spawn(self.negotiate())

    async def negotiate(self) -> None:
        """Send an offer if signaling is stable (the peer re-fires the event when it is not)."""
        async with self._lock:
            pc = self._pc
            if pc is None or self._closed or pc.signalingState != "stable":
                return
            await pc.setLocalDescription()
            await self._send_local_description(pc)

    async def _send_local_description(self, pc: PeerConnection) -> None:
        description = pc.localDescription
        if description is None:
            return
        try:
            await self._signaling.send_description(self.id, description)
            # aiortc puts every candidate in the SDP; say so, as browsers expect.
            await self._signaling.send_candidate(self.id, None)
        except SignalingUnavailable as exc:
            self._emit(
                "error",
                code="signaling-unavailable",
                message=f"could not send {description.type}: {exc}",
            )
            return
        self._emit(f"{description.type}-sent", call=self.id)

    async def on_remote_description(self, description: Description) -> None:
        async with self._lock:
            pc = self._pc
            if pc is None or self._closed:
                return
            self._emit(f"{description.type}-received", call=self.id)
            collision = description.type == "offer" and pc.signalingState != "stable"
            self._ignore_offer = not self.polite and collision
            if self._ignore_offer:
                logger.info("call %s: ignoring colliding offer (impolite side)", self.id)
                return
            try:
                if collision:
                    await pc.setLocalDescription(Description("rollback", ""))
                await pc.setRemoteDescription(description)
            except (ValueError, DOMException) as exc:
                self._emit(
                    "error",
                    code="bad-sdp",
                    message=f"remote {description.type} rejected: {exc}",
                    call=self.id,
                )
                return
            if description.type == "offer":
                await pc.setLocalDescription()
                await self._send_local_description(pc)

    async def on_remote_candidate(self, candidate: Candidate | None) -> None:
        pc = self._pc
        if pc is None or self._closed:
            return
        try:
            await pc.addIceCandidate(candidate)
        except (ValueError, DOMException) as exc:
            if not self._ignore_offer:
                self._emit(
                    "error",
                    code="bad-candidate",
                    message=f"remote candidate rejected: {exc}",
                    call=self.id,
                )

    # --- commands ------------------------------------------------------------

    def set_configuration(self, configuration: Configuration) -> None:
        """Raises the W3C errors of setConfiguration; on error nothing changes."""
        self._configuration = configuration
        if self._pc is not None:
            self._pc.setConfiguration(configuration)

    def restart_ice(self) -> None:
        if self._pc is not None:
            self._pc.restartIce()

    async def stats(self) -> CallStats | None:
        if self._pc is None:
            return None
        return await self._pc.getStats()

    async def close(self, reason: str | None = None) -> None:
        """End the call locally: stop media, close the peer connection (bounded)."""
        if self._closed:
            return
        self._closed = True
        self.set_state("ended", reason)
        for task in list(self._tasks):
            task.cancel()
        try:
            await asyncio.wait_for(self._sink.stop(), timeout=3)
        except Exception:
            logger.exception("call %s: sink did not stop cleanly", self.id)
        self._source.stop()
        if self._pc is not None:
            try:
                await asyncio.wait_for(self._pc.close(), timeout=5)
            except Exception:
                logger.warning("call %s: peer connection did not close cleanly", self.id)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.error("call %s: task failed", self.id, exc_info=t.exception())

        task.add_done_callback(done)
