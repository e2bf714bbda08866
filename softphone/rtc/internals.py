"""Every access to private parts of aiortc and aioice, in one place.

aiortc 1.16 lacks ICE restarts, rollback and per-connection gathering, and
the only way to add them without forking is to reach into a few private
attributes, or to hand an aiortc helper a view holding only what it reads
(``describe_transport``). Each one is named here, with the version it was
read from, so that an upgrade breaks one module (and ``tests/test_rtc_internals.py``, which
checks every name below) instead of failing silently mid-call.

Read from: aiortc 1.16.0 / aioice 0.13.0 (pinned in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
from aiortc import sdp as aiosdp
from aiortc.rtcicetransport import candidate_from_aioice
from aiortc.rtcpeerconnection import add_transport_description
from aiortc.rtcrtpreceiver import RemoteStreamTrack

#: The versions every name in this module was read from.
AIORTC_VERSION = "1.16.0"
AIOICE_VERSION = "0.13.0"


# --- aioice.Connection: gathering (aioice 0.13.0, ice.py Connection.__init__) --------------------


def set_local_candidates(
    connection: Connection, candidates: list[Candidate], protocols: list[StunProtocol]
) -> None:
    """Install candidates gathered by our own loop, as gather_candidates() would.

    aioice 0.13.0: ``_local_candidates`` (list), ``_protocols`` (list of
    StunProtocol, one per local candidate that owns a socket),
    ``_local_candidates_start`` / ``_local_candidates_end`` (bools checked by
    ``gather_candidates()`` and ``connect()``).
    """
    connection._local_candidates = list(candidates)
    connection._protocols = list(protocols)
    connection._local_candidates_start = True
    connection._local_candidates_end = True


def nominated_pair(connection: Connection, component: int = 1) -> CandidatePair | None:
    """aioice 0.13.0: ``Connection._nominated`` maps component -> nominated CandidatePair."""
    pair: CandidatePair | None = connection._nominated.get(component)
    return pair


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
