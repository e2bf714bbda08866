"""Parsing and encoding of the signaling frames (docs/protocol.md section 1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from softphone.descriptions import Candidate, Description
from softphone.signaling import messages as m

CAND = "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx raddr 10.0.0.1 rport 46154"


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def bad(text: str, code: str = "bad-message") -> m.ProtocolError:
    with pytest.raises(m.ProtocolError) as info:
        m.parse_frame(text)
    assert info.value.code == code
    return info.value


def test_hello_keeps_token_out_of_repr() -> None:
    msg = m.parse_frame(frame(type="hello", user="alice", token="s3cret"))
    assert msg == m.Hello(user="alice", token="s3cret")
    assert "s3cret" not in repr(msg)


def test_call_messages_round_trip() -> None:
    samples: list[m.Message] = [
        m.Invite(call="c-1", to="bob", sender="alice"),
        m.Ringing(call="c-1", sender="bob"),
        m.Accept(call="c-1"),
        m.Decline(call="c-1", reason="busy", sender="bob"),
        m.Hangup(call="c-1"),
        m.Hangup(call="c-1", reason="gone"),
        m.Sdp(call="c-1", description=Description("offer", "v=0\r\n"), sender="alice"),
        m.Ice(call="c-1", candidate=Candidate(CAND, "0", 0, "abcd"), sender="bob"),
        m.Ice(call="c-1", candidate=None),
        m.Welcome(user="alice", online=("bob", "echo"), regions=({"name": "eu"},)),
        m.Presence(user="bob", online=False),
        m.Error(code="unknown-call", message="nope", call="c-1"),
    ]
    for msg in samples:
        text = m.encode(msg)
        assert " " not in text.replace("v=0", "").replace(CAND, "")  # compact
        assert m.parse_frame(text) == msg


def test_encode_uses_wire_names() -> None:
    text = m.encode(m.Ice(call="c", candidate=Candidate(CAND, "0", 1), sender="alice"))
    assert json.loads(text) == {
        "type": "ice",
        "call": "c",
        "candidate": {"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 1},
        "from": "alice",
    }


def test_candidate_parsing_accepts_browser_shapes() -> None:
    got = m.parse_frame(
        frame(
            type="ice",
            call="c",
            candidate={"candidate": "a=" + CAND, "sdpMid": None, "sdpMLineIndex": 2},
        )
    )
    assert got == m.Ice(call="c", candidate=Candidate(CAND, None, 2))
    # An empty candidate string is the browsers' end-of-candidates.
    got = m.parse_frame(frame(type="ice", call="c", candidate={"candidate": ""}))
    assert got == m.Ice(call="c", candidate=None)
    host = "candidate:1 1 UDP 2122252543 fe80::1 5000 typ host generation 0 ufrag x"
    assert isinstance(
        m.parse_frame(frame(type="ice", call="c", candidate={"candidate": host})), m.Ice
    )


def test_extra_fields_are_ignored() -> None:
    msg = m.parse_frame(frame(type="ringing", call="c", video=True, future={"x": 1}))
    assert msg == m.Ringing(call="c")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (frame(user="x"), '"type"'),
        (frame(type=3), '"type" must be a string'),
        (frame(type="frobnicate"), 'unknown message type "frobnicate"'),
        (frame(type="hello"), 'missing field "user"'),
        (frame(type="hello", user="bad name"), 'field "user" must be a user name'),
        (frame(type="hello", user="x" * 65), 'field "user" must be a user name'),
        (frame(type="hello", user="al", token=5), 'field "token" must be a string'),
        (frame(type="invite", call="c"), 'missing field "to"'),
        (frame(type="invite", call="c", to="b b"), 'invite: field "to" must be a user name'),
        (frame(type="ringing"), 'missing field "call"'),
        (frame(type="ringing", call="a.b"), 'field "call" must be a call id'),
        (frame(type="accept", call="x" * 65), 'field "call" must be a call id'),
        (frame(type="hangup", call="c", reason=1), 'field "reason" must be a string'),
        (frame(type="sdp", call="c"), 'missing field "description"'),
        (frame(type="sdp", call="c", description="v=0"), 'field "description" must be'),
        (frame(type="sdp", call="c", description={"type": "x", "sdp": "v"}), "description.type"),
        (frame(type="sdp", call="c", description={"type": "rollback", "sdp": ""}), "type"),
        (frame(type="sdp", call="c", description={"type": "offer", "sdp": ""}), "sdp"),
        (frame(type="sdp", call="c", description={"type": "offer", "sdp": 7}), "sdp"),
        (frame(type="ice", call="c"), 'missing field "candidate"'),
        (frame(type="ice", call="c", candidate="x"), 'field "candidate" must be'),
        (frame(type="ice", call="c", candidate={"candidate": "garbage"}), "RFC 8839"),
        (frame(type="ice", call="c", candidate={"candidate": "candidate:1 1 udp"}), "RFC 8839"),
        (frame(type="ice", call="c", candidate={"candidate": CAND, "sdpMid": 0}), "sdpMid"),
        (
            frame(type="ice", call="c", candidate={"candidate": CAND, "sdpMLineIndex": -1}),
            "sdpMLineIndex",
        ),
        (
            frame(type="ice", call="c", candidate={"candidate": CAND, "sdpMLineIndex": True}),
            "sdpMLineIndex",
        ),
        (frame(type="presence", user="bob", online="yes"), '"online"'),
        (frame(type="welcome", user="bob", online=[1]), '"online"'),
    ],
)
def test_bad_frames_name_the_problem(text: str, needle: str) -> None:
    err = bad(text)
    assert needle in err.message


def test_error_carries_call_once_known() -> None:
    err = bad(frame(type="sdp", call="c-9", description={"type": "offer"}))
    assert err.call == "c-9"
    assert m.encode(err.to_message()) == json.dumps(
        {"type": "error", "code": "bad-message", "message": err.message, "call": "c-9"},
        separators=(",", ":"),
    )


def test_token_is_never_echoed() -> None:
    err = bad(frame(type="hello", user="not ok!", token="hunter2"))
    assert "hunter2" not in err.message
    assert "not ok!" not in err.message


def test_unsafe_type_is_not_echoed() -> None:
    err = bad(frame(type="<script>"))
    assert err.message == "unknown message type"


def test_frame_size_counts_utf8_bytes() -> None:
    assert not m.frame_too_large("a" * m.MAX_FRAME)
    assert m.frame_too_large("a" * (m.MAX_FRAME + 1))
    assert m.frame_too_large("é" * (m.MAX_FRAME // 2 + 1))
    assert not m.frame_too_large("é" * (m.MAX_FRAME // 2))
