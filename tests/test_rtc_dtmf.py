"""RFC 4733 telephone-events (softphone/rtc/dtmf.py) and the hold directions (direction.py).

The sender's packets are checked field by field against RFC 4733 §2: same
SSRC and sequence number as the audio packet they replace, the negotiated
payload type, the marker bit on the first packet only, one timestamp (the
event's start) for every packet of an event, growing durations, and the end
packet three times; the receiver reports each digit once, in order.
"""

from __future__ import annotations

import struct

import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from softphone.rtc import dtmf
from softphone.rtc.direction import Directions, HoldFlags
from softphone.rtc.dtmf import DtmfReceiver, DtmfSender, Event

SSRC = 0x11223344


def audio_packet(seq: int, timestamp: int) -> bytes:
    packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=timestamp, ssrc=SSRC)
    packet.marker = 1
    packet.payload = b"\xfc" * 40
    return packet.serialize()


def send(sender: DtmfSender, count: int, start_seq: int = 1000) -> list[RtpPacket]:
    out = []
    for i in range(count):
        data = sender.rewrite(audio_packet(start_seq + i, 5000 + 960 * i))
        out.append(RtpPacket.parse(data))
    return out


def test_a_digit_becomes_well_formed_telephone_event_packets() -> None:
    sent: list[tuple[str, int]] = []
    sender = DtmfSender(101, 48000, on_sent=lambda d, ms: sent.append((d, ms)))
    sender.insert("5", 100)
    packets = send(sender, 10)
    events = [p for p in packets if p.payload_type == 101]
    assert len(events) == 4 + 3  # 20, 40, 60, 80 ms, then the end three times
    assert [p.sequence_number for p in packets] == list(range(1000, 1010))
    assert all(p.ssrc == SSRC for p in packets)
    assert {p.timestamp for p in events} == {5000}
    assert [p.marker for p in events] == [1, 0, 0, 0, 0, 0, 0]
    decoded = [Event.decode(p.payload) for p in events]
    assert all(e.event == 5 and e.volume == dtmf.VOLUME for e in decoded)
    assert [e.duration for e in decoded] == [960, 1920, 2880, 3840, 4800, 4800, 4800]
    assert [e.end for e in decoded] == [False] * 4 + [True] * 3
    assert all(len(p.payload) == 4 for p in events)
    assert [p.payload_type for p in packets[7:]] == [111, 111, 111]  # audio again
    assert sent == [("5", 100)]


def test_digits_are_separated_by_a_gap_and_each_starts_a_new_event() -> None:
    sender = DtmfSender(126, 8000)
    sender.insert("1#", 40, gap_ms=40)
    packets = send(sender, 20)
    kinds = ["e" if p.payload_type == 126 else "a" for p in packets]
    assert "".join(kinds).startswith("eeee" + "aa" + "eeee")
    firsts = [p for p in packets if p.payload_type == 126 and p.marker]
    assert [Event.decode(p.payload).event for p in firsts] == [1, 11]
    assert firsts[0].timestamp != firsts[1].timestamp
    ends = [Event.decode(p.payload) for p in packets if p.payload_type == 126]
    assert ends[-1].duration == 40 * 8  # 8000 Hz clock units
    assert not sender.busy


def test_cancel_drops_the_digits_not_yet_finished() -> None:
    sender = DtmfSender(101, 48000)
    sender.insert("12", 100)
    send(sender, 2)
    sender.cancel()
    assert not sender.busy and sender.tone_buffer == ""
    assert [p.payload_type for p in send(sender, 3)] == [111, 111, 111]


def test_the_receiver_reports_each_digit_once_in_order() -> None:
    got: list[tuple[str, int]] = []
    receiver = DtmfReceiver(48000, lambda d, ms: got.append((d, ms)))
    sender = DtmfSender(101, 48000)
    sender.insert("9*0D", 120)
    for packet in send(sender, 60):
        if packet.payload_type == 101:
            receiver.handle(packet.timestamp, packet.payload)
    assert got == [("9", 120), ("*", 120), ("0", 120), ("D", 120)]


def test_an_event_whose_end_was_lost_is_reported_when_the_next_starts() -> None:
    got: list[str] = []
    receiver = DtmfReceiver(8000, lambda d, ms: got.append(d))
    receiver.handle(100, Event(3, False, 10, 160).encode())
    receiver.handle(900, Event(4, True, 10, 800).encode())
    receiver.handle(900, Event(4, True, 10, 800).encode())
    receiver.handle(1700, Event(20, True, 10, 800).encode())  # not DTMF: ignored
    receiver.handle(1800, b"\x01")  # truncated: ignored
    assert got == ["3", "4"]


def test_bad_digits_and_durations_are_named() -> None:
    with pytest.raises(ValueError, match=r"'x', 'z'"):
        dtmf.check_digits("1x2z")
    with pytest.raises(ValueError, match="no digits"):
        dtmf.check_digits("")
    assert dtmf.check_digits("abc#") == "ABC#"
    with pytest.raises(ValueError, match="duration_ms 39"):
        dtmf.check_duration(39)
    with pytest.raises(ValueError, match="duration_ms 6001"):
        dtmf.check_duration(6001)


def test_rewriting_keeps_csrcs_and_header_extensions() -> None:
    packet = bytearray(audio_packet(7, 77))
    # add one CSRC and a one-word extension block by hand
    header = bytes([0x80 | 0x10 | 1, 111]) + bytes(packet[2:12]) + struct.pack("!I", 42)
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x10\x01\x00\x00"
    data = header + ext + b"payload"
    out = dtmf.as_event_packet(
        data, payload_type=101, marker=True, timestamp=5, event=Event(1, False, 10, 960)
    )
    assert out[: len(header) + len(ext)][2:4] == data[2:4]
    assert out[len(header) : len(header) + len(ext)] == ext
    assert out[1] == 0x80 | 101
    assert out[-4:] == Event(1, False, 10, 960).encode()


def codec(mime: str, rate: int, pt: int) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(mimeType=mime, clockRate=rate, payloadType=pt)


def test_the_telephone_event_matching_the_audio_clock_is_chosen_last() -> None:
    opus = codec("audio/opus", 48000, 111)
    pcmu = codec("audio/PCMU", 8000, 0)
    te48, te8 = codec(dtmf.MIME, 48000, 110), codec(dtmf.MIME, 8000, 126)
    assert dtmf.choose([te8, opus, te48]) == [opus, te48]
    assert dtmf.choose([pcmu, te48, te8]) == [pcmu, te8]
    assert dtmf.choose([opus, te8]) == [opus, te8]  # the peer offers only /8000
    assert dtmf.choose([opus]) == [opus]


def test_hold_directions_follow_rfc_3264() -> None:
    d = Directions()
    d.base = "sendrecv"
    d.completed("offer", "sendrecv", "answer", "sendrecv")
    assert (d.sending, d.receiving, d.flags) == (True, True, HoldFlags())
    assert d.set_hold(True) is True  # an offer must carry it
    assert d.wanted == "inactive" and d.negotiation_needed
    assert d.completed("offer", "inactive", "answer", "inactive") == HoldFlags(local=True)
    assert (d.sending, d.receiving, d.negotiation_needed) == (False, False, False)
    # the peer restarts ICE while we hold: our answer keeps the hold
    assert d.answer("sendrecv") == "inactive"
    assert d.completed("answer", "inactive", "offer", "sendrecv") == HoldFlags(local=True)
    d.set_hold(False)
    assert d.completed("offer", "sendrecv", "answer", "sendrecv") == HoldFlags()
    d.hold_sound = True
    d.set_hold(True)
    assert d.wanted == "sendonly"
    d.completed("offer", "sendonly", "answer", "recvonly")
    assert (d.sending, d.receiving, d.flags) == (True, False, HoldFlags(local=True))


def test_the_peer_holds_by_offer_only_and_odd_answers_change_nothing() -> None:
    d = Directions()
    d.base = "sendrecv"
    assert d.answer("inactive") == "inactive"
    assert d.completed("answer", "inactive", "offer", "inactive") == HoldFlags(remote=True)
    assert d.completed("answer", "recvonly", "offer", "sendonly") == HoldFlags(remote=True)
    assert (d.sending, d.receiving) == (False, True)
    assert d.completed("answer", "sendrecv", "offer", "sendrecv") == HoldFlags()
    # an answer with an unexpected direction: less is sent, nobody holds
    assert d.completed("offer", "sendrecv", "answer", "inactive") == HoldFlags()
    assert (d.sending, d.receiving) == (False, False)
    assert not d.negotiation_needed
