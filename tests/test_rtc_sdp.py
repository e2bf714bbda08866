"""The one candidate-line rule, and the SDP helpers built on aiortc's."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest

from softphone.descriptions import check_candidate_line
from softphone.rtc import sdpbuild

HOST = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"
SRFLX = "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx raddr 10.0.0.1 rport 1"


@pytest.mark.parametrize("line", [HOST, SRFLX, "a=" + HOST, HOST + " generation 0 ufrag x"])
def test_valid_candidate_lines_pass_without_a_prefix(line: str) -> None:
    assert check_candidate_line(line) == line.removeprefix("a=")


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("1 1 udp 1 127.0.0.1 9 typ host", '"candidate:"'),
        ("candidate:1 1 udp", "3 of the 8"),
        ("candidate:f-o 1 udp 1 127.0.0.1 9 typ host", "foundation"),
        ("candidate:1 x udp 1 127.0.0.1 9 typ host", "component"),
        ("candidate:1 1 udp 12345678901 127.0.0.1 9 typ host", "priority"),
        ("candidate:1 1 udp 1 127.0.0.1 port typ host", "port"),
        ("candidate:1 1 udp 1 127.0.0.1 9 type host", '"typ"'),
        ("candidate:1 1 udp 1 127.0.0.1 9 typ h()st", "candidate type"),
    ],
)
def test_bad_candidate_lines_name_what_is_wrong(line: str, names: str) -> None:
    with pytest.raises(ValueError, match=names) as info:
        check_candidate_line(line)
    assert "127.0.0.1" not in str(info.value)  # never repeats the value


def test_parse_candidate_applies_the_rule_and_aiortcs_parser() -> None:
    parsed = sdpbuild.parse_candidate(SRFLX)
    assert (parsed.host, parsed.port, parsed.type) == ("192.0.2.7", 46154, "srflx")
    assert (parsed.related_address, parsed.related_port) == ("10.0.0.1", 1)
    with pytest.raises(ValueError, match=r"malformed ICE candidate.*priority"):
        sdpbuild.parse_candidate("candidate:1 1 udp x 127.0.0.1 9 typ host")
    with pytest.raises(ValueError, match="malformed ICE candidate"):
        sdpbuild.parse_candidate(HOST + " rport x")


def test_a_bad_candidate_in_sdp_is_named() -> None:
    sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=candidate:1 1 udp 1 x\r\n"
    with pytest.raises(ValueError, match="invalid SDP offer: bad candidate: it has 5 of the 8"):
        sdpbuild.parse(sdp, "offer")


DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@pytest.mark.parametrize(("local", "offer"), itertools.product(DIRECTIONS, DIRECTIONS))
def test_answer_direction_follows_rfc_3264(local: str, offer: str) -> None:
    send = local in ("sendrecv", "sendonly") and offer in ("sendrecv", "recvonly")
    recv = local in ("sendrecv", "recvonly") and offer in ("sendrecv", "sendonly")
    expected = {(True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}
    assert sdpbuild.answer_direction(local, offer) == expected.get((send, recv), "inactive")


def test_rtc_package_and_configuration_import_without_aiortc() -> None:
    """The config loader and command line use these; aiortc costs ~0.2 s to import."""
    code = (
        "import sys, softphone.rtc, softphone.rtc.configuration, softphone.rtc.errors, "
        "softphone.descriptions; print('aiortc' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
