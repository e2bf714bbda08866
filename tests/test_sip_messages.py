"""SIP parsing at the edge, building and digest auth (softphone/signaling/sip); no network."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sipmessage import AuthChallenge, Request, Response

from softphone.signaling.sip import message as m
from softphone.signaling.sip.digest import (
    Credentials,
    DigestError,
    authorization,
    choose,
    digest_response,
)

INVITE = (
    b"INVITE sip:alice@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/WS x.invalid;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Bob" <sip:bob@127.0.0.1>;tag=1928301774\r\n'
    b"To: <sip:alice@127.0.0.1>\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@127.0.0.1:5070>\r\n"
    b"Record-Route: <sip:127.0.0.1;lr>, <sip:127.0.0.2;lr>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def test_a_valid_invite_parses_with_its_headers() -> None:
    message = m.parse(INVITE)
    assert isinstance(message, Request)
    assert message.method == "INVITE" and message.body == b"v=0\n"
    assert message.from_address.parameters["tag"] == "1928301774"


@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        ((b"Call-ID: a84b4c76e66710\r\n", b""), "missing Call-ID"),
        ((b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), "CSeq method BYE"),
        ((b"CSeq: 314159 INVITE", b"CSeq: nine INVITE"), "malformed header"),
        ((b"Content-Length: 4", b"Content-Length: 9"), "Content-Length 9"),
        ((b"Max-Forwards: 70\r\n", b"no colon here\r\n"), "unparsable"),
        ((b"\r\n\r\nv=0\n", b"\r\nv=0\n"), "unparsable"),
        ((b"Via: SIP/2.0/WS x.invalid", b"Via: garbage"), "malformed header"),
    ],
)
def test_a_malformed_message_names_what_is_wrong(mutation: tuple[bytes, bytes], named: str) -> None:
    with pytest.raises(m.SipSyntaxError, match=named):
        m.parse(INVITE.replace(*mutation))


def test_a_malformed_request_is_answered_400_with_its_identifying_headers() -> None:
    broken = INVITE.replace(b"Content-Length: 4", b"Content-Length: 9")
    reply = m.bad_request_reply(broken, "Content-Length 9 but the body has 4 bytes")
    assert reply is not None and reply.code == 400
    assert reply.headers["Call-ID"] == "a84b4c76e66710"
    assert reply.headers["CSeq"] == "314159 INVITE"
    assert m.parse(bytes(reply)).code == 400  # type: ignore[union-attr]


def test_a_malformed_ack_or_response_is_not_answered() -> None:
    ack = INVITE.replace(b"INVITE sip:", b"ACK sip:").replace(b"CSeq: 314159 INVITE", b"CSeq: x")
    assert m.bad_request_reply(ack, "bad") is None
    assert m.bad_request_reply(b"SIP/2.0 200 OK\r\n\r\n", "bad") is None
    assert m.bad_request_reply(b"\x00\xff garbage", "bad") is None


def test_a_reply_copies_the_transaction_and_adds_the_to_tag() -> None:
    request = m.parse(INVITE)
    assert isinstance(request, Request)
    reply = m.reply_to(request, 180, "Ringing", to_tag="abc")
    again = m.parse(bytes(reply))
    assert isinstance(again, Response)
    assert again.to_address.parameters["tag"] == "abc"
    assert again.headers.getlist("Record-Route") == ["<sip:127.0.0.1;lr>, <sip:127.0.0.2;lr>"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes_only_ever_raise_sip_syntax_error(data: bytes) -> None:
    with contextlib.suppress(m.SipSyntaxError):
        m.parse(data)
    m.bad_request_reply(data, "fuzz")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(INVITE) - 1), st.binary(min_size=1, max_size=8))
def test_fuzz_a_corrupted_invite_only_ever_raises_sip_syntax_error(at: int, junk: bytes) -> None:
    data = INVITE[:at] + junk + INVITE[at + len(junk) :]
    with contextlib.suppress(m.SipSyntaxError):
        m.parse(data)
    m.bad_request_reply(data, "fuzz")


# RFC 7616 section 3.9.1: the same request answered with MD5 and with SHA-256.
RFC7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "qop": "auth",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


def test_digest_matches_rfc7616_md5_and_sha256() -> None:
    assert digest_response(algorithm="MD5", **RFC7616) == "8ca523f5e9506fed4657c9700eebdbec"
    assert (
        digest_response(algorithm="SHA-256", **RFC7616)
        == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


def test_the_strongest_usable_challenge_is_chosen() -> None:
    md5 = 'Digest realm="r", nonce="n1", qop="auth"'
    sha = 'Digest realm="r", nonce="n2", qop="auth", algorithm=SHA-256'
    assert choose([md5, sha]).parameters["nonce"] == "n2"
    with pytest.raises(DigestError, match="algorithm SHA-512-256"):
        choose(['Digest realm="r", nonce="n", algorithm=SHA-512-256'])
    with pytest.raises(DigestError, match="qop auth-int"):
        choose(['Digest realm="r", nonce="n", qop="auth-int"'])


def test_the_authorization_carries_the_hash_never_the_password() -> None:
    challenge = AuthChallenge.parse('Digest realm="r", nonce="n", qop="auth", opaque="o"')
    credentials = Credentials("alice", "s3cret-password")
    header = str(authorization(challenge, credentials, "REGISTER", "sip:127.0.0.1"))
    assert "s3cret-password" not in header and "s3cret-password" not in repr(credentials)
    assert 'username="alice"' in header and 'opaque="o"' in header and "nc=00000001" in header
