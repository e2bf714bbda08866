"""DTMF as RFC 4733 telephone-events on the audio RTP stream: the codec, the sender, the receiver.

aiortc has no telephone-event support. Sending works packet by packet on the
audio stream itself: while a digit plays, each outgoing 20 ms audio packet is
turned into a telephone-event packet (same SSRC and sequence number, the
event's payload type, the timestamp of the event's first packet, the marker
bit on that first packet), and the final packet (E bit) goes out three times
(RFC 4733 §2.5.1.4) in the three following slots. Replacing rather than
inserting keeps the sequence numbers aiortc counts and the audio suppressed
during the tone, as libwebrtc does. Receiving reports each event once, when
its end arrives (or when a later event starts before the end was seen).

Everything here is pure (bytes in, bytes out); ``internals`` installs it.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiortc.rtcrtpparameters import RTCRtpCodecParameters

#: RFC 4733 §3.2: events 0-15 are the DTMF digits, in this order.
DIGITS = "0123456789*#ABCD"
MIME = "audio/telephone-event"
#: The payload types we offer (dynamic; a peer's own numbers win in an answer).
PAYLOAD_TYPES = {48000: 101, 8000: 126}
#: W3C insertDTMF limits (ms): each tone 40-6000, gap at least 30 (default 70).
MIN_DURATION_MS = 40
MAX_DURATION_MS = 6000
DEFAULT_DURATION_MS = 100
GAP_MS = 70
#: Volume of the tones we send, in -dBm0 (RFC 4733 §2.3.2; libwebrtc uses 10).
VOLUME = 10
END_PACKETS = 3
MAX_DIGITS = 64


def codec(clock_rate: int) -> RTCRtpCodecParameters:
    """telephone-event at ``clock_rate`` with the DTMF events (``a=fmtp:PT 0-15``)."""
    return RTCRtpCodecParameters(
        mimeType=MIME,
        clockRate=clock_rate,
        payloadType=PAYLOAD_TYPES[clock_rate],
        parameters={"0-15": None},
    )


def offered_codecs() -> list[RTCRtpCodecParameters]:
    return [codec(48000), codec(8000)]


def is_telephone_event(c: RTCRtpCodecParameters) -> bool:
    return c.mimeType.lower() == MIME


def choose(codecs: list[RTCRtpCodecParameters]) -> list[RTCRtpCodecParameters]:
    """The negotiated codecs with one telephone-event, last (the audio codec stays first).

    The one whose clock rate matches the audio codec's (RFC 4733 §2.1), else
    the first the peer has (``/8000`` from a peer that offers only that).
    """
    audio = [c for c in codecs if not is_telephone_event(c)]
    events = [c for c in codecs if is_telephone_event(c)]
    if not events or not audio:
        return audio
    rate = audio[0].clockRate
    chosen = next((c for c in events if c.clockRate == rate), events[0])
    return [*audio, chosen]


def check_digits(digits: str) -> str:
    """``digits`` upper-cased; ValueError naming every character that is not a DTMF digit."""
    if not digits:
        raise ValueError(f"no digits given (DTMF digits are {DIGITS})")
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"too many digits ({len(digits)}; at most {MAX_DIGITS} at once)")
    bad = sorted({ch for ch in digits if ch.upper() not in DIGITS})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise ValueError(f"not DTMF digits: {shown} (DTMF digits are {DIGITS})")
    return digits.upper()


def check_duration(duration_ms: int) -> int:
    if not MIN_DURATION_MS <= duration_ms <= MAX_DURATION_MS:
        raise ValueError(
            f"duration_ms {duration_ms} is out of range ({MIN_DURATION_MS}-{MAX_DURATION_MS})"
        )
    return duration_ms


# --- the payload (RFC 4733 §2.3) ------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One telephone-event payload: ``duration`` in the codec's clock units."""

    event: int
    end: bool
    volume: int
    duration: int

    def encode(self) -> bytes:
        return struct.pack(
            "!BBH",
            self.event,
            (0x80 if self.end else 0) | (self.volume & 0x3F),
            min(self.duration, 0xFFFF),
        )

    @classmethod
    def decode(cls, payload: bytes) -> Event:
        if len(payload) < 4:
            raise ValueError(f"a telephone-event payload has 4 bytes, not {len(payload)}")
        event, flags, duration = struct.unpack("!BBH", payload[:4])
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)


# --- RTP header surgery ---------------------------------------------------------------------


def payload_offset(packet: bytes) -> int:
    """Where the payload of an RTP packet starts (after CSRCs and the extension block)."""
    if len(packet) < 12:
        raise ValueError("an RTP packet has at least 12 bytes")
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        if len(packet) < offset + 4:
            raise ValueError("truncated RTP header extension")
        (words,) = struct.unpack("!H", packet[offset + 2 : offset + 4])
        offset += 4 + 4 * words
    if len(packet) < offset:
        raise ValueError("truncated RTP header")
    return offset


def rtp_timestamp(packet: bytes) -> int:
    (timestamp,) = struct.unpack("!I", packet[4:8])
    return int(timestamp)


def as_event_packet(
    packet: bytes, *, payload_type: int, marker: bool, timestamp: int, event: Event
) -> bytes:
    """``packet`` (an audio packet) turned into a telephone-event packet, same SSRC and seq.

    The header extensions (mid, audio level) are kept; padding is dropped.
    """
    offset = payload_offset(packet)
    head = bytearray(packet[:offset])
    head[0] &= 0xDF  # no padding
    head[1] = (0x80 if marker else 0) | (payload_type & 0x7F)
    head[4:8] = struct.pack("!I", timestamp & 0xFFFFFFFF)
    return bytes(head) + event.encode()


# --- sending -------------------------------------------------------------------------------


@dataclass
class _Tone:
    digit: str
    duration_ms: int
    gap_ms: int


@dataclass
class _Playing:
    tone: _Tone
    timestamp: int
    packets: int = 0  # packets of this event sent so far (before the end)
    ends_sent: int = 0
    gap_left_ms: int = 0


class DtmfSender:
    """Turns outgoing audio packets into telephone-event packets while digits are queued.

    ``payload_type`` and ``clock_rate`` are the negotiated telephone-event's;
    ``packet_ms`` the audio packetisation (aiortc sends 20 ms). ``on_sent``
    is called with (digit, duration_ms) once a digit's end packets are out.
    """

    def __init__(
        self,
        payload_type: int,
        clock_rate: int,
        *,
        packet_ms: int = 20,
        on_sent: Callable[[str, int], None] | None = None,
    ) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self._packet_ms = packet_ms
        self._on_sent = on_sent
        self._queue: deque[_Tone] = deque()
        self._playing: _Playing | None = None
        self._gap_left_ms = 0

    @property
    def tone_buffer(self) -> str:
        """The digits not yet started (W3C RTCDTMFSender.toneBuffer)."""
        return "".join(t.digit for t in self._queue)

    @property
    def busy(self) -> bool:
        return self._playing is not None or bool(self._queue) or self._gap_left_ms > 0

    def insert(self, digits: str, duration_ms: int, gap_ms: int = GAP_MS) -> None:
        for digit in check_digits(digits):
            self._queue.append(_Tone(digit, check_duration(duration_ms), gap_ms))

    def cancel(self) -> None:
        """Drop every digit not yet finished (a hold stops the packets that carry them)."""
        self._queue.clear()
        self._playing = None
        self._gap_left_ms = 0

    def rewrite(self, packet: bytes) -> bytes:
        """The packet to send in place of audio packet ``packet`` (itself when no digit plays)."""
        playing = self._playing
        if playing is None:
            if self._gap_left_ms > 0:
                self._gap_left_ms -= self._packet_ms
                return packet
            if not self._queue:
                return packet
            playing = self._playing = _Playing(self._queue.popleft(), rtp_timestamp(packet))
        units_per_ms = self.clock_rate // 1000
        tone = playing.tone
        event_number = DIGITS.index(tone.digit)
        elapsed_ms = (playing.packets + 1) * self._packet_ms
        if elapsed_ms < tone.duration_ms and playing.ends_sent == 0:
            event = Event(event_number, False, VOLUME, elapsed_ms * units_per_ms)
            marker = playing.packets == 0
            playing.packets += 1
        else:
            event = Event(event_number, True, VOLUME, tone.duration_ms * units_per_ms)
            marker = playing.packets == 0 and playing.ends_sent == 0
            playing.ends_sent += 1
            if playing.ends_sent >= END_PACKETS:
                self._playing = None
                self._gap_left_ms = tone.gap_ms
                if self._on_sent is not None:
                    self._on_sent(tone.digit, tone.duration_ms)
        return as_event_packet(
            packet,
            payload_type=self.payload_type,
            marker=marker,
            timestamp=playing.timestamp,
            event=event,
        )


# --- receiving -----------------------------------------------------------------------------


class DtmfReceiver:
    """Reports each received event once: ``on_digit(digit, duration_ms)``.

    An event is identified by its RTP timestamp (RFC 4733 §2.5.2); its end
    packets repeat, so only the first is reported. An event whose end was
    lost is reported when the next one starts. Events above 15 (not DTMF)
    are ignored.
    """

    def __init__(self, clock_rate: int, on_digit: Callable[[str, int], None]) -> None:
        self.clock_rate = clock_rate
        self._on_digit = on_digit
        self._current: tuple[int, Event] | None = None  # (timestamp, latest) not yet reported
        self._reported: deque[int] = deque(maxlen=8)

    def handle(self, timestamp: int, payload: bytes) -> None:
        try:
            event = Event.decode(payload)
        except ValueError:
            return
        if event.event >= len(DIGITS) or timestamp in self._reported:
            return
        current = self._current
        if current is not None and current[0] != timestamp:
            self._report(*current)
        if event.end:
            self._report(timestamp, event)
        else:
            self._current = (timestamp, event)

    def _report(self, timestamp: int, event: Event) -> None:
        self._current = None
        self._reported.append(timestamp)
        duration_ms = round(event.duration * 1000 / self.clock_rate)
        self._on_digit(DIGITS[event.event], duration_ms)
