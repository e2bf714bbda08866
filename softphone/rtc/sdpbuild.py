"""SDP for a one-audio-stream peer connection, built and checked with aiortc's sdp module.

aiortc's own helpers do what they can: the sdp module parses and serialises,
``add_transport_description`` writes the ICE and DTLS lines (through
``internals.describe_transport``), ``and_direction``/``reverse_direction``
pick the answer's direction. The audio m-line itself is built here because
aiortc's ``create_media_description_for_transceiver`` needs a transceiver
(and its private fields), which this connection does not have.

Parsing failures of aiortc's parser surface as assorted exceptions
(AssertionError, StopIteration, IndexError, ...); ``parse`` turns every one of
them into a ValueError with a readable message, before anything is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aioice import Candidate
from aiortc import RTCDtlsFingerprint, RTCRtpCodecParameters
from aiortc import sdp as aiosdp
from aiortc.clock import current_ntp_time
from aiortc.rtcicetransport import RTCIceParameters, candidate_to_aioice
from aiortc.rtcpeerconnection import DISCARD_HOST, DISCARD_PORT, and_direction, reverse_direction
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

from softphone.descriptions import check_candidate_line

from . import internals


@dataclass
class RemoteAudio:
    """What we use from the remote description's audio m-line."""

    index: int
    mid: str
    ufrag: str
    pwd: str
    ice_lite: bool
    candidates: list[Candidate]
    end_of_candidates: bool
    fingerprints: list[RTCDtlsFingerprint]
    dtls_role: str  # aiortc's: "auto" (actpass), "client" (active), "server" (passive)
    direction: str
    codecs: list[RTCRtpCodecParameters]
    header_extensions: list[RTCRtpHeaderExtensionParameters]
    ssrc: int | None
    track_id: str | None


def parse(text: str, kind: str) -> tuple[aiosdp.SessionDescription, RemoteAudio]:
    """Parse and check an offer/answer; raises ValueError with a clear message."""
    if not isinstance(text, str) or not text.lstrip().startswith("v="):
        raise ValueError(f"invalid SDP {kind}: it must start with 'v='")
    for line in text.splitlines():
        if line.startswith("a=candidate:"):
            try:
                check_candidate_line(line)
            except ValueError as exc:
                raise ValueError(f"invalid SDP {kind}: bad candidate: {exc}") from None
    try:
        description = aiosdp.SessionDescription.parse(text)
    except Exception as exc:
        raise ValueError(f"invalid SDP {kind}: {type(exc).__name__}: {exc}") from None
    description.type = kind
    audio = None
    for index, media in enumerate(description.media):
        if media.kind == "audio" and media.port != 0:
            audio = (index, media)
            break
    if audio is None:
        raise ValueError(f"invalid SDP {kind}: no audio m-line")
    index, media = audio
    if not media.rtp.muxId:
        raise ValueError(f"invalid SDP {kind}: the audio m-line has no a=mid")
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise ValueError(f"invalid SDP {kind}: ICE ufrag or pwd is missing")
    if media.dtls is None or not media.dtls.fingerprints:
        raise ValueError(f"invalid SDP {kind}: DTLS fingerprint is missing")
    if not media.rtcp_mux:
        raise ValueError(f"invalid SDP {kind}: RTCP mux is not enabled")
    if kind == "answer" and media.dtls.role not in ("client", "server"):
        raise ValueError(f"invalid SDP {kind}: a=setup must be active or passive in an answer")
    candidates = []
    for c in media.ice_candidates:
        try:
            candidates.append(candidate_to_aioice(c))
        except Exception as exc:
            raise ValueError(f"invalid SDP {kind}: bad candidate: {exc}") from None
    ssrc = media.ssrc[0].ssrc if media.ssrc else None
    track_id = description.webrtc_track_id(media)
    return description, RemoteAudio(
        index=index,
        mid=media.rtp.muxId,
        ufrag=media.ice.usernameFragment,
        pwd=media.ice.password,
        ice_lite=bool(media.ice.iceLite),
        candidates=candidates,
        end_of_candidates=media.ice_candidates_complete,
        fingerprints=list(media.dtls.fingerprints),
        dtls_role=media.dtls.role,
        direction=media.direction or "sendrecv",
        codecs=list(media.rtp.codecs),
        header_extensions=list(media.rtp.headerExtensions),
        ssrc=ssrc,
        track_id=track_id,
    )


def parse_candidate(line: str) -> Candidate:
    """An RTCIceCandidateInit ``candidate`` value ("candidate:..." or "a=candidate:...")."""
    try:
        text = check_candidate_line(line)
        return candidate_to_aioice(aiosdp.candidate_from_sdp(text[len("candidate:") :]))
    except Exception as exc:
        raise ValueError(f"malformed ICE candidate {line!r}: {exc}") from None


def answer_direction(local: str, remote_offer: str) -> str:
    """The direction of our answer: what we want, within what the offer allows (RFC 3264 §6.1)."""
    return and_direction(local, reverse_direction(remote_offer))


@dataclass
class LocalAudio:
    mid: str
    direction: str
    codecs: list[RTCRtpCodecParameters]
    header_extensions: list[RTCRtpHeaderExtensionParameters]
    ssrc: int
    cname: str
    msid: str
    ufrag: str
    pwd: str
    candidates: Sequence[Candidate]
    fingerprints: list[RTCDtlsFingerprint]
    dtls_role: str


def build(
    kind: str,
    audio: LocalAudio,
    *,
    rejected: Sequence[aiosdp.MediaDescription] = (),
    audio_index: int = 0,
) -> str:
    """Serialise an offer/answer: our audio m-line at ``audio_index``, ``rejected`` around it."""
    ntp_seconds = current_ntp_time() >> 32
    description = aiosdp.SessionDescription()
    description.origin = f"- {ntp_seconds} {ntp_seconds} IN IP4 0.0.0.0"
    description.msid_semantic.append(aiosdp.GroupDescription(semantic="WMS", items=["*"]))
    description.type = kind

    media = aiosdp.MediaDescription(
        kind="audio",
        port=DISCARD_PORT,
        profile="UDP/TLS/RTP/SAVPF",
        fmt=[c.payloadType for c in audio.codecs],
    )
    media.direction = audio.direction
    media.msid = audio.msid
    media.rtp = RTCRtpParameters(
        codecs=audio.codecs, headerExtensions=audio.header_extensions, muxId=audio.mid
    )
    media.rtcp_host = DISCARD_HOST
    media.rtcp_port = DISCARD_PORT
    media.rtcp_mux = True
    media.ssrc = [aiosdp.SsrcDescription(ssrc=audio.ssrc, cname=audio.cname)]
    internals.describe_transport(
        media,
        ufrag=audio.ufrag,
        pwd=audio.pwd,
        candidates=audio.candidates,
        fingerprints=audio.fingerprints,
        dtls_role=audio.dtls_role,
    )

    others = list(rejected)
    for i in range(len(others) + 1):
        if i == audio_index:
            description.media.append(media)
        if i < len(others):
            description.media.append(_rejected(others[i], audio))
    description.group.append(aiosdp.GroupDescription(semantic="BUNDLE", items=[audio.mid]))
    return str(description)


def _rejected(remote: aiosdp.MediaDescription, audio: LocalAudio) -> aiosdp.MediaDescription:
    """An m-line we do not take (video, data channel, a second audio): port 0 (RFC 8843 §7.3.3)."""
    media = aiosdp.MediaDescription(
        kind=remote.kind, port=0, profile=remote.profile, fmt=list(remote.fmt) or ["0"]
    )
    media.host = DISCARD_HOST
    media.direction = "inactive"
    media.rtp = RTCRtpParameters(muxId=remote.rtp.muxId)
    media.rtcp_mux = remote.rtcp_mux
    media.ice = RTCIceParameters(usernameFragment=audio.ufrag, password=audio.pwd)
    return media


def audio_direction(text: str) -> str:
    """The direction attribute of the first used audio m-line of one of our own descriptions."""
    in_audio = False
    for line in text.splitlines():
        if line.startswith("m="):
            in_audio = line.startswith("m=audio ") and not line.startswith("m=audio 0 ")
        elif in_audio and line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
            return line[2:]
    return "sendrecv"


def local_ufrag(text: str) -> str | None:
    """The first a=ice-ufrag of one of our own descriptions."""
    for line in text.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line[len("a=ice-ufrag:") :].strip()
    return None
