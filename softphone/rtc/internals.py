"""Every access to private parts of aiortc and aioice, in one place.

aiortc 1.16 lacks ICE restarts, rollback and per-connection gathering, and
the only way to add them without forking is to reach into a few private
attributes, or to hand an aiortc helper a view holding only what it reads
(``describe_transport``). Each one is named here, with the version it was
read from, so that an upgrade breaks one module (and ``tests/test_rtc_internals.py``, which
checks every name below) instead of failing silently mid-call.

Read from: aiortc 1.16.0 / aioice 0.13.0 (pinned in pyproject.toml).

Why long: keeping every private access in this one module is the point; split
across files, an aiortc upgrade would have several places to break silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aioice import Candidate, Connection, stun
from aioice.ice import CandidatePair, StunProtocol
from aiortc import (
    RTCDtlsFingerprint,
    RTCDtlsParameters,
    RTCDtlsTransport,
    RTCIceCandidate,
    RTCIceParameters,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc import clock as aiortc_clock
from aiortc import sdp as aiosdp
from aiortc.codecs import get_decoder, get_encoder
from aiortc.codecs.base import Decoder
from aiortc.codecs.opus import SAMPLE_RATE as OPUS_SAMPLE_RATE
from aiortc.codecs.opus import SAMPLES_PER_FRAME as OPUS_FRAME_SAMPLES
from aiortc.codecs.opus import TIME_BASE as OPUS_TIME_BASE
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcicetransport import candidate_from_aioice
from aiortc.rtcpeerconnection import add_transport_description
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtcrtpsender import RTCEncodedFrame
from aiortc.rtp import RtpPacket, is_rtcp
from av import AudioFrame, AudioResampler
from av.frame import Frame

from softphone.rtc import libopus

#: The versions every name in this module was read from.
AIORTC_VERSION = "1.16.0"
AIOICE_VERSION = "0.13.0"

logger = logging.getLogger(__name__)


# --- aioice.Connection: gathering (aioice 0.13.0, ice.py Connection.__init__) --------------------


def set_local_candidates(
    connection: Connection, candidates: list[Candidate], protocols: list[StunProtocol]
) -> None:
    """Install candidates gathered by our own loop, as gather_candidates() would.

    aioice 0.13.0: ``_local_candidates`` (list), ``_protocols`` (list of
    StunProtocol, one per local candidate that owns a socket),
    ``_local_candidates_start`` / ``_local_candidates_end`` (bools checked by
    ``gather_candidates()`` and ``connect()``). Each protocol gets
    :func:`install_fast_demux`.
    """
    connection._local_candidates = list(candidates)
    connection._protocols = list(protocols)
    for protocol in protocols:
        install_fast_demux(protocol)
    connection._local_candidates_start = True
    connection._local_candidates_end = True


def nominated_pair(connection: Connection, component: int = 1) -> CandidatePair | None:
    """aioice 0.13.0: ``Connection._nominated`` maps component -> nominated CandidatePair."""
    pair: CandidatePair | None = connection._nominated.get(component)
    return pair


def send_datagram(connection: Connection, data: bytes) -> Awaitable[None] | None:
    """``await connection.send(data)`` without two coroutine layers; None when already sent.

    aioice 0.13.0 ``Connection.send`` awaits ``sendto(data, 1)``, which looks
    up ``_nominated[1]`` and awaits ``pair.protocol.send_data(data,
    pair.remote_addr)``; ``StunProtocol.send_data`` is one
    ``self.transport.sendto(data, addr)`` (for a relayed candidate that
    transport is aioice's TurnTransport, which queues the TURN send itself).
    Every RTP and RTCP packet goes this way, so it is done here directly; a
    protocol of another class gets the coroutine to await, as stock. No
    pair: the ``ConnectionError`` stock raises.
    """
    pair = connection._nominated.get(1)
    if pair is None:
        raise ConnectionError("Cannot send data, not connected")
    protocol = pair.protocol
    if type(protocol) is StunProtocol:
        protocol.transport.sendto(data, pair.remote_addr)
        return None
    pending: Awaitable[None] = protocol.send_data(data, pair.remote_addr)
    return pending


def install_data_receiver(connection: Connection, receiver: Callable[[bytes], None]) -> None:
    """Route the connection's non-STUN datagrams to ``receiver`` instead of its own queue.

    aioice 0.13.0: ``StunProtocol.datagram_received`` calls
    ``self.receiver.data_received(data, component)`` on the Connection for
    anything that is not STUN. Shadowing that method on this instance (never
    on the class) lets every ICE generation feed one queue, so DTLS never
    waits inside an old generation's ``recv()``.
    """

    def data_received(data: bytes, component: int) -> None:
        receiver(data)

    connection.data_received = data_received  # type: ignore[method-assign]


def consent_request(connection: Connection, pair: CandidatePair) -> stun.Message:
    """A Binding request for ``pair`` with the connection's credentials and role.

    aioice 0.13.0: ``Connection.build_request(pair, nominate)`` (public name,
    undocumented) signs nothing; ``remote_password`` is public.
    """
    request: stun.Message = connection.build_request(pair, nominate=False)
    return request


def remote_password_key(connection: Connection) -> bytes:
    assert connection.remote_password is not None
    return connection.remote_password.encode("utf8")


# --- aioice triggered checks (RFC 8445 section 7.3.1.4) ---


def install_triggered_check_fix(connection: Connection) -> None:
    """Retransmit our own in-progress check at once when the peer's check arrives.

    aioice 0.13.0 ``Connection.check_incoming`` starts a triggered check only
    for Frozen/Failed/Waiting pairs; for an In-Progress pair it waits for the
    next retransmission (500 ms, then 1 s, ...). With relay-to-relay pairs our
    first check is dropped by the peer's TURN server (no permission yet), so
    every set-up and restart waited ~500 ms for nothing. RFC 8445 §7.3.1.4
    asks for a new check at once; resending the pending transaction's request
    (same transaction id) is the smallest change with that effect.

    Private names used: ``StunProtocol.transactions`` (dict of transaction id
    -> stun.Transaction), ``Transaction._Transaction__request`` /
    ``_Transaction__addr`` (name-mangled), ``Connection._find_pair``,
    ``Connection._remote_candidates`` and ``Candidate._network_host``.
    """
    original = connection.check_incoming

    def check_incoming(
        message: stun.Message, addr: tuple[str, int], protocol: StunProtocol
    ) -> None:
        original(message, addr, protocol)
        for pair in list(connection._check_list):
            if (
                pair.protocol is protocol
                and pair.remote_addr == (addr[0], addr[1])
                and pair.state == CandidatePair.State.IN_PROGRESS
            ):
                for transaction in list(protocol.transactions.values()):
                    if transaction._Transaction__addr == pair.remote_addr:  # type: ignore[attr-defined]
                        request = transaction._Transaction__request  # type: ignore[attr-defined]
                        protocol.send_stun(request, pair.remote_addr)

    connection.check_incoming = check_incoming  # type: ignore[method-assign]


class CheckGate:
    """Holds a connection's outgoing checks until the peer proves it knows our credentials.

    See :func:`install_check_gate`. ``opened`` is set by the first
    authenticated check from the peer, or by :meth:`open`.
    """

    def __init__(self, hold: float) -> None:
        self.opened = asyncio.Event()
        self.deadline = asyncio.get_running_loop().time() + hold

    def open(self) -> None:
        self.opened.set()

    async def wait(self) -> None:
        """Until the gate opens, at most until its deadline (then checks go anyway)."""
        remaining = self.deadline - asyncio.get_running_loop().time()
        if remaining > 0 and not self.opened.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.opened.wait(), remaining)


def install_check_gate(connection: Connection, hold: float) -> CheckGate:
    """Send no check that could reach the peer before it applied our answer (ICE restart).

    The answerer of a restart knows both credentials at once; the offerer only
    once our answer arrives. libwebrtc files a check that arrives earlier
    under a peer-reflexive candidate of an unknown generation, then replaces
    that connection when the answer comes: the nomination (USE-CANDIDATE)
    our check carried is lost and, with Chromium controlling, the new pair is
    never pinged. The peer's first authenticated check on this generation
    proves it has our answer; until then (at most ``hold`` seconds) each
    check waits, except towards remote relay candidates: the peer's TURN
    server drops those until the peer itself sends to us, and our check is
    what installs the permission on our own TURN server for the peer's checks.

    aioice 0.13.0: ``Connection.check_start(pair)`` (coroutine, run as
    ``pair.task``; ``_check_periodic`` keeps starting the first Waiting pair,
    so a held pair is marked In-Progress while it waits),
    ``Connection.check_state`` and ``Connection.check_incoming`` (called for
    every authenticated request once ``connect()`` runs, and for the early
    ones when it starts). Install before ``connect()``.
    """
    gate = CheckGate(hold)
    original_start = connection.check_start
    original_incoming = connection.check_incoming

    async def check_start(pair: CandidatePair) -> None:
        if not gate.opened.is_set() and pair.remote_candidate.type != "relay":
            connection.check_state(pair, CandidatePair.State.IN_PROGRESS)
            await gate.wait()
        await original_start(pair)

    def check_incoming(
        message: stun.Message, addr: tuple[str, int], protocol: StunProtocol
    ) -> None:
        gate.open()
        original_incoming(message, addr, protocol)

    connection.check_start = check_start  # type: ignore[method-assign]
    connection.check_incoming = check_incoming  # type: ignore[method-assign]
    return gate


def nomination_request(connection: Connection, pair: CandidatePair) -> stun.Message:
    """A Binding request for ``pair`` carrying USE-CANDIDATE (controlling side only).

    aioice 0.13.0 nominates aggressively: the first check of a pair carries
    USE-CANDIDATE and is never repeated once answered. A peer that missed it
    (see :func:`install_check_gate`) never selects the pair, so the
    controlling side repeats it until the peer's media arrives on the pair.
    ``Connection.build_request(pair, nominate)`` adds USE-CANDIDATE only when
    ``ice_controlling`` is true.
    """
    request: stun.Message = connection.build_request(pair, nominate=True)
    return request


# --- aiortc: DTLS transport and RTP sender/receiver (aiortc 1.16.0) ---


def dtls_role(transport: RTCDtlsTransport) -> str:
    """aiortc 1.16.0: ``RTCDtlsTransport._role`` is "auto", "client" or "server"."""
    role: str = transport._role
    return role


def set_dtls_role(transport: RTCDtlsTransport, role: str) -> None:
    """aiortc 1.16.0: ``RTCDtlsTransport._set_role(role)``."""
    transport._set_role(role)


def sender_ssrc(sender: RTCRtpSender) -> int:
    """aiortc 1.16.0: ``RTCRtpSender._ssrc`` (random at construction)."""
    ssrc: int = sender._ssrc
    return ssrc


def set_sender_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """aiortc 1.16.0: ``RTCRtpSender._stream_id`` (the msid stream id)."""
    sender._stream_id = stream_id


def sender_track_id(sender: RTCRtpSender) -> str:
    """aiortc 1.16.0: ``RTCRtpSender._track_id`` (the msid track id)."""
    track_id: str = sender._track_id
    return track_id


def set_receiver_track(receiver: RTCRtpReceiver, kind: str, track_id: str) -> RemoteStreamTrack:
    """aiortc 1.16.0: ``RTCRtpReceiver._track`` must hold a RemoteStreamTrack before receive()."""
    track = RemoteStreamTrack(kind=kind, id=track_id)
    receiver._track = track
    return track


def set_receiver_rtcp_ssrc(receiver: RTCRtpReceiver, ssrc: int) -> None:
    """aiortc 1.16.0: ``RTCRtpReceiver._set_rtcp_ssrc(ssrc)``, the SSRC its RTCP reports use."""
    receiver._set_rtcp_ssrc(ssrc)


class _GenerationGatherer:
    """What ``add_transport_description`` reads of an RTCIceGatherer, for one ICE generation."""

    state = "completed"  # only fully gathered generations are described

    def __init__(self, ufrag: str, pwd: str, candidates: Sequence[Candidate]) -> None:
        self._parameters = RTCIceParameters(usernameFragment=ufrag, password=pwd)
        self._candidates = [candidate_from_aioice(c) for c in candidates]

    def getLocalCandidates(self) -> list[RTCIceCandidate]:
        return list(self._candidates)

    def getLocalParameters(self) -> RTCIceParameters:
        return self._parameters


@dataclass
class _GenerationIceTransport:
    iceGatherer: _GenerationGatherer


@dataclass
class _DescribedDtlsTransport:
    """What ``add_transport_description`` reads of an RTCDtlsTransport."""

    transport: _GenerationIceTransport
    parameters: RTCDtlsParameters

    def getLocalParameters(self) -> RTCDtlsParameters:
        return self.parameters


def describe_transport(
    media: aiosdp.MediaDescription,
    *,
    ufrag: str,
    pwd: str,
    candidates: Sequence[Candidate],
    fingerprints: list[RTCDtlsFingerprint],
    dtls_role: str,
) -> None:
    """Fill the ICE and DTLS lines of ``media`` with aiortc's ``add_transport_description``.

    aiortc 1.16.0 reads the ICE side from ``dtlsTransport.transport.iceGatherer``
    (``getLocalCandidates()``, ``state``, ``getLocalParameters()``), but our
    DTLS transport sits on an IceTransport with several generations, and a
    description names one of them. So the function gets a view of exactly
    what it reads: one generation's credentials and candidates, and the DTLS
    fingerprints with the role to announce (``getLocalParameters()``; it
    keeps ``media.dtls`` when already set, so ``media.dtls`` must be None).
    """
    view = _DescribedDtlsTransport(
        transport=_GenerationIceTransport(_GenerationGatherer(ufrag, pwd, candidates)),
        parameters=RTCDtlsParameters(fingerprints=fingerprints, role=dtls_role),
    )
    add_transport_description(media, view)  # type: ignore[arg-type]


# The DTLS transport calls ``transport._recv()``, ``transport._send(data)``,
# ``transport.role`` and (for stats) nothing else on its ICE transport
# (aiortc 1.16.0 rtcdtlstransport.py: _recv_next, _send_rtp, _write_ssl, start,
# _get_stats). softphone.rtc.ice.IceTransport provides exactly those.
DTLS_ICE_TRANSPORT_METHODS = ("_recv", "_send", "role")


def close_connection_in_background(connection: Connection) -> asyncio.Future[None]:
    """Start ``connection.close()`` in its own task; callers may wait on it but never cancel it.

    aioice 0.13.0: ``StunProtocol.close()`` awaits a future shared with
    ``connection_lost``; cancelling the task awaiting it cancels that future
    and later closes fail. Deleting a TURN allocation on a dead server retries
    for ~30 s, so callers bound their wait with ``asyncio.wait`` (which does
    not cancel) rather than ``wait_for``.
    """
    return asyncio.ensure_future(connection.close())


# --- hot paths: the same packets for less CPU (aiortc 1.16.0 / aioice 0.13.0) -----------------
#
# Upstream would take each of these as it stands; until then they are installed
# per instance (never on the class), so a stock aiortc object elsewhere in the
# process is untouched.


def audio_level_dbov(frame: AudioFrame) -> int:
    """aiortc's ``rtp.compute_audio_level_dbov`` (RFC 6465 Appendix A), vectorised.

    aiortc 1.16.0 unpacks every sample of plane 0 in a Python loop (~0.2 ms
    per 20 ms frame). Same arithmetic: the sum of squares over the whole plane,
    divided by ``frame.samples`` full-scale squares; float64 holds the sum
    exactly (960 * 2**30 < 2**53), as aiortc's float accumulator does.
    """
    samples = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16).astype(np.float64)
    rms = math.sqrt(float(np.dot(samples, samples)) / (frame.samples * 32767 * 32767))
    if rms > 0:
        return round(min(max(20 * math.log10(rms), -127.0), 0.0))
    return -127


def _sends_audio_level(sender: RTCRtpSender) -> bool:
    """Whether the negotiated header extensions carry the level (else nobody sees it).

    aiortc 1.16.0: ``RTCRtpSender.__rtp_header_extensions_map`` (a
    ``rtp.HeaderExtensionsMap``, configured in ``send()``) keeps the ids in
    its private ``__ids``; ``audio_level`` is None unless negotiated.
    """
    extensions = sender._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
    return extensions._HeaderExtensionsMap__ids.audio_level is not None


class MonoOpusEncoder(OpusEncoder):
    """aiortc's Opus encoder, encoding one channel, and our frames straight to libopus.

    aiortc 1.16.0 upmixes every frame to stereo and encodes two channels;
    every source here is mono (media/frames.py), and RFC 7587 lets a sender
    send mono in an ``opus/48000/2`` stream (browsers do). A frame already
    in the encoder's format and size goes straight to libopus
    (:mod:`softphone.rtc.libopus`: no PyAV resampler graph, packet or
    Fraction per frame), or to PyAV's codec when libopus cannot be loaded;
    anything else takes aiortc's resampler path.
    """

    def __init__(self) -> None:
        super().__init__()
        self.codec.layout = "mono"
        self.resampler = AudioResampler(
            format="s16", layout="mono", rate=OPUS_SAMPLE_RATE, frame_size=OPUS_FRAME_SAMPLES
        )
        library = libopus.load()
        self._native = libopus.Encoder(library) if library is not None else None

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        if not (
            isinstance(frame, AudioFrame)
            and frame.format.name == "s16"
            and frame.layout.name == "mono"
            and frame.sample_rate == OPUS_SAMPLE_RATE
            and frame.samples == OPUS_FRAME_SAMPLES
            and frame.pts is not None
        ):
            return super().encode(frame, force_keyframe)
        if self._native is not None:
            if self.first_packet_pts is None:
                self.first_packet_pts = frame.pts
            payload = self._native.encode(frame.planes[0].buffer_ptr, OPUS_FRAME_SAMPLES)
            return [payload], frame.pts - self.first_packet_pts
        packets = self.codec.encode(frame)
        if not packets:
            return [], None  # type: ignore[return-value]  # aiortc's own contract
        pts = packets[0].pts
        assert pts is not None  # libopus stamps every packet
        if self.first_packet_pts is None:
            self.first_packet_pts = pts
        return [bytes(p) for p in packets], pts - self.first_packet_pts


class NativeOpusDecoder(Decoder):
    """aiortc's ``OpusDecoder`` contract on :class:`softphone.rtc.libopus.Decoder`: mono frames.

    aiortc 1.16.0 ``Decoder.decode(JitterFrame) -> list[Frame]``; the frame
    carries the RTP timestamp as pts in 1/48000, as aiortc's does. Building
    the AudioFrame empty and filling its plane costs half of ``from_ndarray``.
    """

    def __init__(self, library: libopus.Library) -> None:
        self._decoder = libopus.Decoder(library)

    def decode(self, encoded_frame: JitterFrame) -> list[Frame]:
        pcm = self._decoder.decode(encoded_frame.data)
        if not pcm:
            return []
        frame = AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)  # type: ignore[arg-type]  # any buffer; typed as bytes
        frame.sample_rate = OPUS_SAMPLE_RATE
        frame.pts = encoded_frame.timestamp
        frame.time_base = OPUS_TIME_BASE
        return [frame]


def opus_decoder() -> Decoder:
    """The cheapest mono Opus decoder available: libopus directly, else PyAV's."""
    library = libopus.load()
    if library is not None:
        return NativeOpusDecoder(library)
    decoder = OpusDecoder()
    decoder.codec.layout = "mono"
    return decoder


#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
_NTP_UNIX_OFFSET = 2208988800


def fast_ntp_time() -> int:
    """aiortc's ``clock.current_ntp_time()`` (64-bit NTP, microsecond steps) from ``time.time_ns``.

    aiortc 1.16.0 builds it from ``datetime.now(timezone.utc)`` minus a 1900
    datetime, ``total_seconds()`` and a ``round`` of a floor division: twice
    per RTP packet sent (abs-send-time and the sender report's clock), which
    the profile put at 3.5 % of a call's main thread. Same clock, same value.
    """
    micros = time.time_ns() // 1000
    seconds, fraction = divmod(micros, 1_000_000)
    return ((seconds + _NTP_UNIX_OFFSET) << 32) | ((fraction << 32) // 1_000_000)


def fast_current_ms() -> int:
    """aiortc's ``clock.current_ms()`` (ms since 1900, per packet received), from ``time_ns``."""
    return time.time_ns() // 1_000_000 + _NTP_UNIX_OFFSET * 1000


def install_fast_clock() -> None:
    """Give aiortc's ``clock`` module the cheaper :func:`fast_ntp_time` and :func:`fast_current_ms`.

    aiortc 1.16.0 calls them as ``clock.current_ntp_time()`` and
    ``clock.current_ms()`` (module attribute lookups, in rtcrtpsender.py and
    rtcdtlstransport.py), so replacing the module's functions reaches every
    caller. Unlike the per-instance hooks here this is process-wide, which is
    safe because the values are the same; idempotent.
    """
    aiortc_clock.current_ntp_time = fast_ntp_time
    aiortc_clock.current_ms = fast_current_ms


def install_fast_sender(sender: RTCRtpSender) -> None:
    """Encode on the event loop, in mono, and measure the level only when it is sent.

    aiortc 1.16.0 ``RTCRtpSender._next_encoded_frame(codec)`` (called by
    ``_run_rtp`` as ``self._next_encoded_frame``, so an instance attribute
    shadows it) hands every 20 ms frame to the default thread pool
    (``run_in_executor``): a future, a thread wake-up and a self-pipe write
    per frame, more than the ~0.1 ms libopus takes. Private names used:
    ``__track``, ``__encoder`` and ``__force_keyframe`` (audio has no key
    frames; cleared as aiortc does), ``_enabled`` and, through
    :func:`_sends_audio_level`, the header extension map.
    """

    async def next_encoded_frame(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
        data = await sender._RTCRtpSender__track.recv()  # type: ignore[attr-defined]
        if not sender._enabled:
            return None
        encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
        if encoder is None:
            encoder = get_encoder(codec)
            if isinstance(encoder, OpusEncoder):
                encoder = MonoOpusEncoder()
            sender._RTCRtpSender__encoder = encoder  # type: ignore[attr-defined]
        audio_level = None
        if isinstance(data, Frame):
            if isinstance(data, AudioFrame) and _sends_audio_level(sender):
                audio_level = audio_level_dbov(data)
            sender._RTCRtpSender__force_keyframe = False  # type: ignore[attr-defined]
            payloads, timestamp = encoder.encode(data, False)
        else:
            payloads, timestamp = encoder.pack(data)
        if not payloads:
            return None
        # aiortc itself passes None for "no level" although the field says int.
        return RTCEncodedFrame(payloads, timestamp, audio_level)  # type: ignore[arg-type]

    sender._next_encoded_frame = next_encoded_frame  # type: ignore[method-assign]


class InlineDecoder:
    """Stands in for an RTCRtpReceiver's decoder queue: decodes on the event loop.

    aiortc 1.16.0 ``RTCRtpReceiver`` puts ``(codec, JitterFrame)`` on
    ``__decoder_queue`` (a ``queue.Queue``) for its ``decoder_worker``
    thread, which hands each decoded frame back with
    ``run_coroutine_threadsafe(track._queue.put(frame))``: a lock, a thread
    wake-up, a self-pipe write, a coroutine and a Task per 20 ms, more than
    libopus's ~0.05 ms decode. ``put()`` here decodes at once and feeds the
    track's ``_queue`` (an unbounded asyncio.Queue) directly; ``put(None)``
    (the receiver stopping) releases the worker thread, parked in ``get()``,
    which then ends the track exactly as stock. Opus decodes to mono, the
    format every sink wants (media/sinks.py), sparing a downmix per frame.
    Private names: ``_track._queue`` and ``__decoder_error``.
    """

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self._receiver = receiver
        self._ended = threading.Event()
        self._decoder: Decoder | None = None
        self._codec_name: str | None = None

    def put(self, task: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if task is None:
            self._ended.set()
            return
        codec, encoded_frame = task
        if self._decoder is None or codec.name != self._codec_name:
            is_opus = codec.mimeType.lower() == "audio/opus"
            self._decoder = opus_decoder() if is_opus else get_decoder(codec)
            self._codec_name = codec.name
        try:
            frames = self._decoder.decode(encoded_frame)
        except (av.FFmpegError, libopus.OpusError) as exc:
            # As aiortc: keep the decoder state, or every frame fails until a keyframe.
            logger.warning("failed to decode %s frame: %s", codec.name, exc)
            self._receiver._RTCRtpReceiver__decoder_error.set()  # type: ignore[attr-defined]
            return
        track = self._receiver._track
        assert track is not None  # set_receiver_track() runs before receive()
        for frame in frames:
            track._queue.put_nowait(frame)

    def get(self) -> None:
        """Called once by aiortc's decoder thread: park it until the receiver stops."""
        self._ended.wait()


def install_inline_decoder(receiver: RTCRtpReceiver) -> None:
    """Decode on the event loop (see :class:`InlineDecoder`); before ``receive()``.

    aiortc 1.16.0: ``RTCRtpReceiver.__decoder_queue``, created in ``__init__``
    and passed to the decoder thread in ``receive()``.
    """
    receiver._RTCRtpReceiver__decoder_queue = InlineDecoder(receiver)  # type: ignore[attr-defined]


#: RFC 7983: a first byte of 0-3 is STUN; DTLS, RTP and RTCP start higher.
_STUN_FIRST_BYTE_MAX = 3


def install_fast_demux(protocol: StunProtocol) -> None:
    """Hand media straight to the receiver instead of failing to parse it as STUN first.

    aioice 0.13.0 ``StunProtocol.datagram_received(data, addr)`` runs
    ``stun.parse_message`` on every datagram and passes on those that raise
    ValueError, so every RTP packet costs a parse attempt and an exception.
    A datagram whose first byte is above 3 can never be STUN (RFC 7983, and
    ``parse_message`` rejects it); it goes to ``protocol.receiver.data_received(data,
    component)`` as stock, with ``local_candidate.component``. Shadowed on the
    instance; a relayed candidate's StunProtocol sees TURN's payloads, the same test holds.
    """
    original = protocol.datagram_received

    def datagram_received(data: bytes | str, addr: tuple[Any, ...]) -> None:
        if isinstance(data, bytes) and data and data[0] > _STUN_FIRST_BYTE_MAX:
            protocol.receiver.data_received(data, protocol.local_candidate.component)
        else:
            original(data, addr)

    protocol.datagram_received = datagram_received  # type: ignore[method-assign]


# --- hold and DTMF: the direction flags and the RTP hooks (aiortc 1.16.0) -----------------------


def set_sender_enabled(sender: RTCRtpSender, on: bool) -> None:
    """aiortc 1.16.0: ``RTCRtpSender._enabled``; False drops every frame unencoded.

    What aiortc's own ``RTCRtpTransceiver._setCurrentDirection`` sets for a
    direction without ``send``; the track keeps being read, so no stale
    audio waits when sending resumes.
    """
    sender._enabled = on


def set_receiver_enabled(receiver: RTCRtpReceiver, on: bool) -> None:
    """aiortc 1.16.0: ``RTCRtpReceiver._enabled``; False discards every RTP packet on arrival."""
    receiver._enabled = on


def install_rtp_rewriter(dtls: RTCDtlsTransport, rewrite: Callable[[bytes], bytes]) -> None:
    """Pass every outgoing RTP packet (before SRTP) through ``rewrite``; RTCP untouched.

    aiortc 1.16.0 ``RTCRtpSender._run_rtp`` serialises each packet and calls
    ``transport._send_rtp(data)`` on its DTLS transport, which protects it
    with SRTP (RTP and RTCP alike, told apart by ``rtp.is_rtcp``). Shadowing
    ``_send_rtp`` on this instance lets DTMF (``dtmf.DtmfSender``) replace
    audio packets with telephone-event packets of the same SSRC and sequence
    number; the only sender on this transport is our audio sender.
    """
    original = dtls._send_rtp

    async def send_rtp(data: bytes) -> None:
        if not is_rtcp(data):
            data = rewrite(data)
        await original(data)

    dtls._send_rtp = send_rtp  # type: ignore[method-assign]


def install_rtp_interceptor(
    receiver: RTCRtpReceiver, intercept: Callable[[int, int, bytes], bool]
) -> None:
    """Offer each received RTP packet to ``intercept(payload_type, timestamp, payload)`` first.

    aiortc 1.16.0: the DTLS transport routes a packet (by SSRC and the
    receiver's registered payload types) to ``receiver._handle_rtp_packet(packet,
    arrival_time_ms=...)``, which would look for a decoder for it. A packet
    ``intercept`` takes (returns True: a telephone-event) goes no further;
    every other packet goes on to aiortc as stock. Packets arriving while
    the receiver is disabled (on hold) are dropped as aiortc drops them.
    """
    original = receiver._handle_rtp_packet

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        if receiver._enabled and intercept(packet.payload_type, packet.timestamp, packet.payload):
            return
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]
