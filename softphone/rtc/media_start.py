"""The aiortc parts that carry the audio, and how they start once ICE first connects.

One DTLS transport, one RTP sender and one receiver live as long as the
connection: an ICE restart changes the path under the DTLS transport (see
``ice.IceTransport``), never these, so a restart costs no new handshake and
no new SRTP keys. They start once, when the first ICE generation connects;
the codecs they use are the ones negotiated before that moment. A hold
(``direction``) only enables or disables them; DTMF (``dtmf``) rides on the
sender's packets and is picked out of the receiver's.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid

from aiortc import (
    MediaStreamTrack,
    RTCCertificate,
    RTCDtlsParameters,
    RTCDtlsTransport,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.codecs import CODECS, HEADER_EXTENSIONS
from aiortc.rtcpeerconnection import find_common_codecs, find_common_header_extensions
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.stats import RTCStatsReport

from . import dtmf, internals, sdpbuild
from .direction import Directions, HoldFlags
from .emitter import Emitter
from .errors import InvalidStateError, OperationError
from .ice import IceGeneration, IceTransport
from .states import ConnectionStates
from .stats import CallStats, SelectedPair, call_stats


class Media:
    """DTLS transport, RTP sender and receiver, the local track and the negotiated codecs."""

    def __init__(self, ice: IceTransport, emitter: Emitter) -> None:
        self._emit = emitter.emit
        self._spawn = emitter.spawn
        self._certificate = RTCCertificate.generateCertificate()
        # RTCDtlsTransport only calls _recv/_send/role on its ICE transport (see internals).
        self.dtls = RTCDtlsTransport(ice, [self._certificate])  # type: ignore[arg-type]
        self.sender = RTCRtpSender("audio", self.dtls)
        self.receiver = RTCRtpReceiver("audio", self.dtls)
        internals.install_fast_clock()
        internals.install_fast_sender(self.sender)
        internals.install_inline_decoder(self.receiver)
        internals.set_receiver_rtcp_ssrc(self.receiver, internals.sender_ssrc(self.sender))
        self._stream_id = str(uuid.uuid4())
        internals.set_sender_stream_id(self.sender, self._stream_id)
        self._cname = str(uuid.uuid4())
        self._track: MediaStreamTrack | None = None
        self._remote_track: MediaStreamTrack | None = None
        self.codecs: list[RTCRtpCodecParameters] = []
        self.header_extensions: list[RTCRtpHeaderExtensionParameters] = []
        self.started = False
        self.start_task: asyncio.Future[None] | None = None
        self.directions = Directions()
        self._sender_started = False
        self._mid: str | None = None
        self.dtmf_sender: dtmf.DtmfSender | None = None
        self._dtmf_receiver: dtmf.DtmfReceiver | None = None
        self._dtmf_receive_pt: int | None = None
        internals.install_rtp_rewriter(self.dtls, self._rewrite)
        internals.install_rtp_interceptor(self.receiver, self._intercept)

    # --- local side -------------------------------------------------------------------------

    def add_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            raise ValueError(f"only audio tracks are supported, not {track.kind!r}")
        if self._track is not None:
            raise InvalidStateError("a track was already added")
        self._track = track
        self.sender.replaceTrack(track)
        self.directions.base = "sendrecv"

    @property
    def direction(self) -> str:
        """What we want (W3C ``transceiver.direction``): send only with a track, not on hold."""
        return self.directions.wanted

    def offer_codecs(
        self, renegotiating: bool
    ) -> tuple[list[RTCRtpCodecParameters], list[RTCRtpHeaderExtensionParameters]]:
        """All we support in a first offer; what was negotiated in a later one."""
        if not self.codecs or not renegotiating:
            codecs = copy.deepcopy(CODECS["audio"]) + dtmf.offered_codecs()
            return codecs, copy.deepcopy(HEADER_EXTENSIONS["audio"])
        return self.codecs, self.header_extensions

    def local_audio(
        self,
        gen: IceGeneration,
        *,
        mid: str,
        codecs: list[RTCRtpCodecParameters],
        extensions: list[RTCRtpHeaderExtensionParameters],
        dtls_role: str,
        direction: str,
    ) -> sdpbuild.LocalAudio:
        """Our audio m-line, with ``gen``'s credentials and candidates."""
        return sdpbuild.LocalAudio(
            mid=mid,
            direction=direction,
            codecs=codecs,
            header_extensions=extensions,
            ssrc=internals.sender_ssrc(self.sender),
            cname=self._cname,
            msid=f"{self._stream_id} {internals.sender_track_id(self.sender)}",
            ufrag=gen.ufrag,
            pwd=gen.pwd,
            candidates=gen.local_candidates,
            fingerprints=self.dtls.getLocalParameters().fingerprints,
            dtls_role=dtls_role,
        )

    # --- remote side ------------------------------------------------------------------------

    @staticmethod
    def common_codecs(remote: sdpbuild.RemoteAudio, kind: str) -> list[RTCRtpCodecParameters]:
        """The codecs we share with the remote ``kind`` (offer/answer); none is an error."""
        codecs = dtmf.choose(
            find_common_codecs(CODECS["audio"] + dtmf.offered_codecs(), remote.codecs)
        )
        if not codecs:
            raise OperationError(f"no audio codec in common with the remote {kind}")
        return codecs

    def adopt_codecs(
        self, codecs: list[RTCRtpCodecParameters], remote: sdpbuild.RemoteAudio
    ) -> None:
        """Use these codecs, unless media already runs (aiortc cannot switch codecs then)."""
        if not self.started:
            self.codecs = codecs
            self.header_extensions = find_common_header_extensions(
                HEADER_EXTENSIONS["audio"], remote.header_extensions
            )

    def expect_track(self, remote: sdpbuild.RemoteAudio) -> None:
        """Fire ``track`` once, when the peer first says it sends."""
        if remote.direction in ("sendrecv", "sendonly") and self._remote_track is None:
            self._remote_track = internals.set_receiver_track(
                self.receiver, "audio", remote.track_id or str(uuid.uuid4())
            )
            self._emit("track", self._remote_track)

    # --- start, stats, stop -----------------------------------------------------------------

    def start(self, remote: sdpbuild.RemoteAudio, mid: str, states: ConnectionStates) -> None:
        """Start DTLS, then RTP, in the background; only the first call does anything."""
        if self.start_task is None:
            self.start_task = self._spawn(self._start(remote, mid, states))

    async def _start(
        self, remote: sdpbuild.RemoteAudio, mid: str, states: ConnectionStates
    ) -> None:
        states.update_connection()
        await self.dtls.start(RTCDtlsParameters(fingerprints=remote.fingerprints))
        if self.dtls.state != "connected":
            states.update_connection()
            return
        self._mid = mid
        self._start_dtmf()
        if remote.direction in ("sendrecv", "recvonly") or self.directions.sending:
            await self._start_sender()
        if remote.direction in ("sendrecv", "sendonly") and self._remote_track is not None:
            encodings = []
            if remote.ssrc is not None:
                encodings = [
                    RTCRtpDecodingParameters(ssrc=remote.ssrc, payloadType=c.payloadType)
                    for c in self.codecs
                    if c.name.lower() != "rtx" and c.payloadType is not None
                ][:1]
            await self.receiver.receive(
                RTCRtpReceiveParameters(
                    codecs=self.codecs,
                    headerExtensions=self.header_extensions,
                    muxId=mid,
                    encodings=encodings,
                )
            )
        self.started = True
        self._apply_direction()
        states.update_connection()

    async def _start_sender(self) -> None:
        if self._sender_started or self._mid is None or self._track is None:
            return
        self._sender_started = True
        rtcp = RTCRtcpParameters(
            cname=self._cname, ssrc=internals.sender_ssrc(self.sender), mux=True
        )
        await self.sender.send(
            RTCRtpSendParameters(
                codecs=self.codecs,
                headerExtensions=self.header_extensions,
                muxId=self._mid,
                rtcp=rtcp,
            )
        )

    # --- direction (hold) -------------------------------------------------------------------

    def negotiated(
        self, local_kind: str, local_direction: str, remote_kind: str, remote_direction: str
    ) -> None:
        """An exchange completed: apply its direction; ``hold`` fires when a flag changed."""
        before = self.directions.flags
        after = self.directions.completed(
            local_kind, local_direction, remote_kind, remote_direction
        )
        self._apply_direction()
        self._hold_changed(before, after)

    def set_hold(self, on: bool) -> bool:
        """Hold or resume; True when an offer must carry it (negotiationneeded)."""
        before = self.directions.flags
        if on and self.dtmf_sender is not None:
            self.dtmf_sender.cancel()
        needed = self.directions.set_hold(on)
        self._hold_changed(before, self.directions.flags)
        return needed

    def _hold_changed(self, before: HoldFlags, after: HoldFlags) -> None:
        if after != before:
            self._emit("hold", after.local, after.remote)

    def _apply_direction(self) -> None:
        """Send and receive only what the current direction allows (a hold stops both)."""
        directions = self.directions
        if directions.current is None:
            return
        internals.set_sender_enabled(self.sender, directions.sending)
        internals.set_receiver_enabled(self.receiver, directions.receiving)
        if self.started and directions.sending and not self._sender_started:
            self._spawn(self._start_sender())

    # --- DTMF -------------------------------------------------------------------------------

    def _start_dtmf(self) -> None:
        """Once media starts: the negotiated telephone-event, for both directions."""
        event = next((c for c in self.codecs if dtmf.is_telephone_event(c)), None)
        if event is None or event.payloadType is None:
            return
        self.dtmf_sender = dtmf.DtmfSender(
            event.payloadType,
            event.clockRate,
            on_sent=lambda digit, ms: self._emit("dtmfsent", digit, ms),
        )
        self._dtmf_receive_pt = event.payloadType
        self._dtmf_receiver = dtmf.DtmfReceiver(
            event.clockRate, lambda digit, ms: self._emit("dtmf", digit, ms)
        )

    def _rewrite(self, packet: bytes) -> bytes:
        sender = self.dtmf_sender
        if sender is None or not sender.busy:
            return packet
        return sender.rewrite(packet)

    def _intercept(self, payload_type: int, timestamp: int, payload: bytes) -> bool:
        if payload_type != self._dtmf_receive_pt or self._dtmf_receiver is None:
            return False
        self._dtmf_receiver.handle(timestamp, payload)
        return True

    async def stats(self, *, ice_rtt_ms: float | None, pair: SelectedPair | None) -> CallStats:
        report = RTCStatsReport()
        for part in await asyncio.gather(self.sender.getStats(), self.receiver.getStats()):
            report.update(part)
        clock_rate = self.codecs[0].clockRate if self.codecs else 48000
        return call_stats(report, clock_rate=clock_rate, ice_rtt_ms=ice_rtt_ms, selected_pair=pair)

    async def stop(self, timeout: float) -> None:
        """Stop sender, receiver and DTLS, each bounded by ``timeout``; errors are moot now."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sender.stop(), timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.receiver.stop(), timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.dtls.stop(), timeout)
