"""Call statistics and the selected candidate pair, as plain dataclasses.

aiortc's getStats has no candidate-pair entry and no RTT until the peer sends
an RTCP receiver report; the ICE transport measures RTT on its own consent
checks, so the session manager always has something to show.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
    RTCTransportStats,
)


@dataclass(frozen=True)
class CandidateInfo:
    """One side of a candidate pair; ``url`` is the STUN/TURN server URL for srflx/relay.

    ``relay_protocol`` (W3C ``relayProtocol``) is how a local relay candidate
    reaches its TURN server: ``udp``, ``tcp`` or ``tls``. ``protocol`` stays
    ``udp`` for every relay, since the media leaves the TURN server over UDP.
    """

    type: str
    protocol: str
    address: str
    port: int
    url: str | None = None
    relay_protocol: str | None = None


@dataclass(frozen=True)
class SelectedPair:
    local: CandidateInfo
    remote: CandidateInfo


@dataclass(frozen=True)
class CallStats:
    rtt_ms: float | None
    jitter_ms: float | None
    packets_sent: int
    packets_received: int
    packets_lost: int
    bytes_sent: int
    bytes_received: int
    selected_pair: SelectedPair | None


def call_stats(
    report: RTCStatsReport,
    *,
    clock_rate: int,
    ice_rtt_ms: float | None,
    selected_pair: SelectedPair | None,
) -> CallStats:
    """Fold aiortc's report (RTP streams) and the ICE transport's figures into one CallStats.

    RTT prefers RTCP (what the media sees) and falls back to STUN consent checks.
    aiortc reports inbound jitter in RTP timestamp units, and no received
    byte count per stream, so bytes_received is the transport's.
    """
    sent = recv = lost = bsent = brecv = 0
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    for stat in report.values():
        if isinstance(stat, RTCOutboundRtpStreamStats):
            sent += stat.packetsSent
            bsent += stat.bytesSent
        elif isinstance(stat, RTCRemoteInboundRtpStreamStats):
            if stat.roundTripTime is not None:
                rtt_ms = stat.roundTripTime * 1000
        elif isinstance(stat, RTCInboundRtpStreamStats):
            recv += stat.packetsReceived
            lost += max(0, stat.packetsLost)
            jitter_ms = stat.jitter * 1000 / clock_rate if clock_rate else None
        elif isinstance(stat, RTCTransportStats):
            brecv = max(brecv, stat.bytesReceived)  # all of DTLS/SRTP/SRTCP: what the wire carried
    if rtt_ms is None:
        rtt_ms = ice_rtt_ms
    return CallStats(
        rtt_ms=None if rtt_ms is None else round(rtt_ms, 2),
        jitter_ms=None if jitter_ms is None else round(jitter_ms, 2),
        packets_sent=sent,
        packets_received=recv,
        packets_lost=lost,
        bytes_sent=bsent,
        bytes_received=brecv,
        selected_pair=selected_pair,
    )
