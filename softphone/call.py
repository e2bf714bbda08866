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
from dataclasses import replace
from typing import Any

from aiortc import MediaStreamTrack

from softphone import events as ev
from softphone.descriptions import Candidate, Description
from softphone.media import AudioSink, MutableSource
from softphone.rtc.configuration import Configuration
from softphone.rtc.errors import DOMException, InvalidStateError
from softphone.rtc.peer import PeerConnection
from softphone.rtc.stats import CallStats, CandidateInfo, SelectedPair
from softphone.signaling.adapter import Signaling, SignalingUnavailable

logger = logging.getLogger("softphone.call")

Emit = Callable[[ev.Event], None]

PEER_STATE_EVENTS: dict[str, Callable[[str], ev.PeerStateEvent]] = {
    "signalingstatechange": lambda s: ev.SignalingStateChanged(
        state=ev.narrow(s, ev.SignalingState)
    ),
    "icegatheringstatechange": lambda s: ev.IceGatheringStateChanged(
        state=ev.narrow(s, ev.IceGatheringState)
    ),
    "iceconnectionstatechange": lambda s: ev.IceConnectionStateChanged(
        state=ev.narrow(s, ev.IceConnectionState)
    ),
    "connectionstatechange": lambda s: ev.ConnectionStateChanged(
        state=ev.narrow(s, ev.PeerConnectionState)
    ),
}
SENT: dict[str, type[ev.DescriptionEvent]] = {"offer": ev.OfferSent, "answer": ev.AnswerSent}
RECEIVED: dict[str, type[ev.DescriptionEvent]] = {
    "offer": ev.OfferReceived,
    "answer": ev.AnswerReceived,
    "pranswer": ev.PranswerReceived,
}


def pair_info(pair: SelectedPair) -> ev.PairInfo:
    """The peer connection's selected pair as the events carry it (never a credential)."""
    return ev.PairInfo(local=_candidate_info(pair.local), remote=_candidate_info(pair.remote))


def _candidate_info(info: CandidateInfo) -> ev.CandidateInfo:
    return ev.CandidateInfo(
        type=info.type,
        protocol=info.protocol,
        address=info.address,
        port=info.port,
        url=info.url or None,
        relay_protocol=info.relay_protocol,
    )


def _pair_from_json(data: dict[str, Any] | None) -> ev.PairInfo | None:
    """The ``pair`` of the peer's ``icerestart`` done detail (already a plain dict)."""
    if data is None:
        return None
    return ev.PairInfo(
        local=ev.CandidateInfo(**data["local"]), remote=ev.CandidateInfo(**data["remote"])
    )


def restart_event(call_id: str, phase: str, detail: dict[str, Any]) -> ev.IceRestart:
    """The peer connection's ``icerestart(phase, detail)`` as a typed event."""
    ufrag = str(detail.get("ufrag", ""))
    attempt = detail.get("attempt")
    match phase:
        case "begun":
            return ev.IceRestartBegun(
                call=call_id,
                ufrag=ufrag,
                side=ev.narrow(detail["side"], ev.RestartSide) if "side" in detail else None,
                attempt=attempt,
            )
        case "gathered":
            return ev.IceRestartGathered(
                call=call_id,
                ufrag=ufrag,
                candidates=detail["candidates"],
                elapsed_ms=detail["elapsed_ms"],
                failures=tuple(ev.GatheringFailure(**f) for f in detail["failures"]),
                standby=detail.get("standby"),
            )
        case "checking":
            return ev.IceRestartChecking(call=call_id, ufrag=ufrag, attempt=attempt)
        case "done":
            return ev.IceRestartDone(
                call=call_id,
                ufrag=ufrag,
                elapsed_ms=detail["elapsed_ms"],
                pair=_pair_from_json(detail.get("pair")),
                attempt=attempt,
            )
        case "failed":
            return ev.IceRestartFailed(
                call=call_id,
                ufrag=ufrag,
                reason=str(detail.get("reason", "")),
                kept_old_path=detail.get("kept_old_path"),
                attempt=attempt,
                will_retry=detail.get("will_retry"),
            )
    raise ValueError(f"unknown ICE restart phase {phase!r}")


class Call:
    """A call with one remote user; owns its peer connection and its media.

    ``emit(event)`` receives every event of the call; the session
    manager forwards them to the front ends, the echo peer only logs them.
    """

    def __init__(
        self,
        *,
        call_id: str,
        remote_user: str,
        direction: ev.Direction,
        signaling: Signaling,
        emit: Emit,
        configuration: Configuration,
        host_addresses: list[str] | None,
        source: MediaStreamTrack,
        sink: AudioSink,
        on_connection_state: Callable[[Call, str], None] | None = None,
        hold_tone_hz: float | None = None,
    ) -> None:
        self.id = call_id
        self.remote_user = remote_user
        self.direction: ev.Direction = direction
        self.state: ev.CallState = "dialing" if direction == "outgoing" else "incoming"
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
        self._hold_tone_hz = hold_tone_hz
        self.held_locally = False  # as the last hold event said
        self.held_remotely = False
        self.standby_region: str | None = None  # (1.2) where the warm standby is gathered

    # --- state -------------------------------------------------------------

    @property
    def peer(self) -> PeerConnection | None:
        return self._pc

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    def set_state(self, state: ev.CallState, reason: str | None = None) -> None:
        if self.state == state or self.ended:
            return
        self.state = state
        if state == "active":
            self.active_since = time.monotonic()
        if reason:
            self.end_reason = reason
        self._emit(ev.CallStateChanged(call=self.id, state=state, reason=reason or None))

    # --- media and negotiation ----------------------------------------------

    def start_media(self) -> None:
        """Create the peer connection with our source; the caller then offers."""
        pc = PeerConnection(self._configuration, host_addresses=self._host_addresses)
        self._pc = pc
        for peer_event, make in PEER_STATE_EVENTS.items():
            pc.on(peer_event, self._state_forwarder(make))
        pc.on("negotiationneeded", self._on_negotiationneeded)
        pc.on("track", self._on_track)
        pc.on("selectedpairchange", self._on_selected_pair)
        pc.on("icerestart", self._on_ice_restart)
        pc.on("hold", self._on_hold)
        pc.on("dtmf", self._on_dtmf)
        pc.on("dtmfsent", self._on_dtmf_sent)
        pc.on("standby", self._on_standby)
        pc.on("medialoss", self._on_media_loss)
        pc.addTrack(self._source)

    def _state_forwarder(self, make: Callable[[str], ev.PeerStateEvent]) -> Callable[[str], None]:
        def forward(state: str) -> None:
            event = replace(make(state), call=self.id)
            self._emit(event)
            if isinstance(event, ev.ConnectionStateChanged) and self._on_connection_state:
                self._on_connection_state(self, event.state)

        return forward

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._sink.start(track))

    def _on_selected_pair(self, pair: SelectedPair | None) -> None:
        if pair is not None:
            info = pair_info(pair)
            self._emit(ev.SelectedPairChanged(local=info.local, remote=info.remote, call=self.id))

    def _on_ice_restart(self, phase: str, detail: dict[str, Any] | None = None) -> None:
        self._emit(restart_event(self.id, phase, detail or {}))

    def _on_hold(self, local: bool, remote: bool) -> None:
        if local != self.held_locally:
            self.held_locally = local
            self._emit(ev.HoldChanged(call=self.id, on=local, by="local"))
        if remote != self.held_remotely:
            self.held_remotely = remote
            self._emit(ev.HoldChanged(call=self.id, on=remote, by="remote"))

    def _on_dtmf(self, digit: str, duration_ms: int) -> None:
        self._emit(ev.DtmfReceived(call=self.id, digit=digit, duration_ms=duration_ms))

    def _on_dtmf_sent(self, digit: str, duration_ms: int) -> None:
        self._emit(ev.DtmfSent(call=self.id, digit=digit, duration_ms=duration_ms))

    def _on_standby(self, phase: str, detail: dict[str, Any]) -> None:
        region = self.standby_region
        if region is None:
            return
        if phase == "ready":
            self._emit(
                ev.StandbyReady(
                    call=self.id,
                    region=region,
                    candidates=detail["candidates"],
                    elapsed_ms=detail["elapsed_ms"],
                )
            )
        else:
            self._emit(ev.StandbyFailed(call=self.id, region=region, reason=detail["reason"]))

    def _on_media_loss(self, detail: dict[str, Any]) -> None:
        self._emit(
            ev.MediaLost(
                call=self.id,
                silent_ms=detail["silent_ms"],
                packets_missed=detail["packets_missed"],
                confirmed_by=detail["confirmed_by"],
            )
        )

    def _on_negotiationneeded(self) -> None:
        self._emit(ev.NegotiationNeeded(call=self.id))
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
                ev.ErrorReported(
                    code="signaling-unavailable",
                    message=f"could not send {description.type}: {exc}",
                )
            )
            return
        sent = SENT.get(description.type)
        if sent is not None:
            self._emit(sent(call=self.id))

    async def on_remote_description(self, description: Description) -> None:
        async with self._lock:
            pc = self._pc
            if pc is None or self._closed:
                return
            received = RECEIVED.get(description.type)  # signaling never carries a rollback
            if received is not None:
                self._emit(received(call=self.id))
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
                    ev.ErrorReported(
                        code="bad-sdp",
                        message=f"remote {description.type} rejected: {exc}",
                        call=self.id,
                    )
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
                    ev.ErrorReported(
                        code="bad-candidate",
                        message=f"remote candidate rejected: {exc}",
                        call=self.id,
                    )
                )

    # --- commands ------------------------------------------------------------

    def set_configuration(self, configuration: Configuration) -> None:
        """Raises the W3C errors of setConfiguration; on error nothing changes."""
        self._configuration = configuration
        if self._pc is not None:
            self._pc.setConfiguration(configuration)

    def hold(self, on: bool) -> None:
        """Hold or resume: a re-offer (``inactive``, ``sendonly`` with a hold tone) follows.

        Raises InvalidStateError (a DOMException) when the call has no media yet.
        """
        if self._pc is None:
            raise InvalidStateError("the call has no media yet")
        sound = self._hold_tone_hz is not None
        if isinstance(self._source, MutableSource):
            self._source.hold_tone_hz = self._hold_tone_hz if on else None
        self._pc.hold(on, sound=sound)

    def send_dtmf(self, digits: str, duration_ms: int) -> None:
        """Queue ``digits`` as RFC 4733 events (ValueError: bad digits; InvalidStateError)."""
        if self._pc is None:
            raise InvalidStateError("the call has no media yet")
        self._pc.insertDTMF(digits, duration_ms)

    def prepare_standby(self, region: str | None, configuration: Configuration | None) -> None:
        """(1.2) A warm standby on ``region`` (None: none); raises setConfiguration's errors."""
        if self._pc is None or self._closed:
            return
        self.standby_region = region
        self._pc.prepareStandby(configuration)

    @property
    def standby_ready(self) -> bool:
        return self._pc is not None and self._pc.standby_ready

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
