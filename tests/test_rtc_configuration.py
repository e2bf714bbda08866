"""W3C setConfiguration rules and STUN/TURN URL syntax."""

from __future__ import annotations

import pytest

from softphone.rtc.configuration import (
    Configuration,
    IceServer,
    IceUrl,
    describe_urls,
    parse_ice_url,
    set_configuration,
    validate_ice_servers,
)
from softphone.rtc.errors import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    RTCSyntaxError,
)

USERNAME = "turn-user-Zq7"
SECRET = "s3cr3t-Pw-9xK"
TURN = IceServer(("turn:127.0.0.2:3478",), USERNAME, SECRET)
STUN = IceServer(("stun:127.0.0.1:3478",))


def assert_no_secret(text: str) -> None:
    assert USERNAME not in text
    assert SECRET not in text


# -- parse_ice_url ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:stun.example.net", IceUrl("stun", "stun.example.net", 3478, None, "")),
        ("stuns:stun.example.net", IceUrl("stuns", "stun.example.net", 5349, None, "")),
        ("turn:127.0.0.2:3479", IceUrl("turn", "127.0.0.2", 3479, None, "")),
        ("turns:turn.example.net", IceUrl("turns", "turn.example.net", 5349, None, "")),
        ("turn:h:1?transport=udp", IceUrl("turn", "h", 1, "udp", "")),
        ("turn:h?transport=tcp", IceUrl("turn", "h", 3478, "tcp", "")),
        ("turns:h:443?transport=tcp", IceUrl("turns", "h", 443, "tcp", "")),
        ("stun:[::1]", IceUrl("stun", "::1", 3478, None, "")),
        ("turn:[2001:db8::2]:3478?transport=udp", IceUrl("turn", "2001:db8::2", 3478, "udp", "")),
        ("STUN:Example.NET:65535", IceUrl("stun", "Example.NET", 65535, None, "")),
    ],
)
def test_parse_valid_urls(url: str, expected: IceUrl) -> None:
    assert parse_ice_url(url) == IceUrl(
        expected.scheme, expected.host, expected.port, expected.transport, url
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty"),
        ("example.net", "not a URL"),
        ("http://example.net", "unknown scheme 'http'"),
        ("stunx:example.net", "unknown scheme 'stunx'"),
        ("stun:", "no host"),
        ("turn::3478", "no host"),
        ("stun:h:", "empty port"),
        ("stun:h:0", "port 0"),
        ("stun:h:65536", "port 65536"),
        ("stun:h:34a", "invalid port"),
        ("stun:h?transport=udp", "must not have a query"),
        ("stuns:h?x", "must not have a query"),
        ("turn:h?transport=sctp", "only ?transport=udp or ?transport=tcp"),
        ("turn:h?transport=UDP", "only ?transport=udp or ?transport=tcp"),
        ("turn:h?transport=udp&x=1", "only ?transport=udp or ?transport=tcp"),
        ("turns:h?transport=udp", "turns: over udp"),
        ("stun://example.net", "'//' form"),
        ("turn://example.net:3478", "'//' form"),
        ("stun:h/path", "'/'"),
        ("stun:::1", "no host"),
        ("stun:fe80::1:3478", "too many ':'"),
        ("stun:[::1", "unclosed '['"),
        ("stun:[nothex]", "invalid IPv6"),
        ("stun:[fe80::1%25eth0]", "zone id"),
        ("stun:[::1]x", "after the ']'"),
        ("stun:h#frag", "fragment"),
        ("stun:bad host", "whitespace"),
        ("stun:ex<ample", "invalid characters"),
        ("stun:a%zz", "%-escape"),
        ("stun:999.1.1.1", "invalid IPv4"),
    ],
)
def test_parse_rejects_malformed_urls(url: str, problem: str) -> None:
    with pytest.raises(RTCSyntaxError) as info:
        parse_ice_url(url)
    assert info.value.name == "SyntaxError"
    assert problem in str(info.value)
    if url:
        assert url.split("?")[0].split("#")[0] in str(info.value)


def test_user_at_host_is_rejected_and_masked() -> None:
    with pytest.raises(RTCSyntaxError) as info:
        parse_ice_url(f"turn:{USERNAME}@turn.example.net")
    assert "user@" in str(info.value)
    assert "turn.example.net" in str(info.value)
    assert_no_secret(str(info.value))


# -- validate_ice_servers ------------------------------------------------------


def test_validate_returns_parsed_urls_in_order() -> None:
    urls = validate_ice_servers([STUN, TURN])
    assert [u.url for u in urls] == ["stun:127.0.0.1:3478", "turn:127.0.0.2:3478"]


def test_empty_urls_is_syntax_error_naming_where() -> None:
    with pytest.raises(RTCSyntaxError) as info:
        validate_ice_servers([IceServer(())], where='region "eu-west"')
    assert 'region "eu-west"' in str(info.value)
    assert "empty urls" in str(info.value)


def test_malformed_url_names_where_and_url() -> None:
    bad = IceServer(("stun:h?transport=udp",), USERNAME, SECRET)
    with pytest.raises(RTCSyntaxError) as info:
        validate_ice_servers([STUN, bad], where='region "eu-west"')
    message = str(info.value)
    assert message.startswith('SyntaxError: region "eu-west": ')
    assert "stun:h?transport=udp" in message
    assert_no_secret(message)
    assert getattr(info.value, "index", None) == 1


@pytest.mark.parametrize(
    "server",
    [
        IceServer(("turn:127.0.0.2:3478",)),
        IceServer(("turn:127.0.0.2:3478",), username=USERNAME),
        IceServer(("turns:127.0.0.2",), credential=SECRET),
        IceServer(("turn:127.0.0.2:3478",), username="", credential=SECRET),
    ],
)
def test_turn_without_credentials_is_invalid_access(server: IceServer) -> None:
    with pytest.raises(InvalidAccessError) as info:
        validate_ice_servers([server], where='region "eu-west"')
    message = str(info.value)
    assert info.value.name == "InvalidAccessError"
    assert 'region "eu-west"' in message
    assert server.urls[0] in message
    assert "needs a username and credential" in message
    assert_no_secret(message)


def test_stun_needs_no_credentials() -> None:
    assert validate_ice_servers([STUN])[0].scheme == "stun"


def test_servers_checked_in_order() -> None:
    """As in a browser, the first bad entry decides which error is raised."""
    with pytest.raises(InvalidAccessError):
        validate_ice_servers([IceServer(("turn:h",)), IceServer(("bogus:h",))])
    with pytest.raises(RTCSyntaxError):
        validate_ice_servers([IceServer(("bogus:h",)), IceServer(("turn:h",))])


# -- set_configuration ---------------------------------------------------------


def test_first_configuration_is_accepted() -> None:
    config = Configuration(ice_servers=(STUN,))
    assert set_configuration(None, config) is config


def test_new_configuration_replaces_not_merges() -> None:
    old = Configuration(ice_servers=(STUN, TURN), ice_transport_policy="relay")
    new = Configuration(ice_servers=(IceServer(("stun:127.0.0.3",)),))
    result = set_configuration(old, new)
    assert result == new
    assert result.ice_servers == (IceServer(("stun:127.0.0.3",)),)
    assert result.ice_transport_policy == "all"


def test_empty_server_list_removes_all_servers() -> None:
    result = set_configuration(Configuration(ice_servers=(STUN,)), Configuration())
    assert result.ice_servers == ()


def test_closed_connection_is_invalid_state() -> None:
    with pytest.raises(InvalidStateError) as info:
        set_configuration(Configuration(), Configuration(), closed=True)
    assert "closed" in str(info.value)


def test_bundle_policy_change_is_invalid_modification() -> None:
    with pytest.raises(InvalidModificationError) as info:
        set_configuration(Configuration(), Configuration(bundle_policy="balanced"))
    assert "bundlePolicy" in str(info.value)


def test_certificates_change_is_invalid_modification() -> None:
    current = Configuration(certificates=("sha-256 AA",))
    with pytest.raises(InvalidModificationError) as info:
        set_configuration(current, Configuration(certificates=("sha-256 BB",)))
    assert "certificates" in str(info.value)


def test_certificates_same_set_or_omitted_keeps_them() -> None:
    current = Configuration(certificates=("a", "b"))
    assert set_configuration(current, Configuration(certificates=("b", "a"))).certificates == (
        "b",
        "a",
    )
    kept = set_configuration(current, Configuration(ice_servers=(STUN,)))
    assert kept.certificates == ("a", "b")
    assert kept.ice_servers == (STUN,)


def test_error_leaves_current_configuration_untouched() -> None:
    current = Configuration(ice_servers=(STUN,))
    before = repr(current), current
    with pytest.raises(InvalidAccessError) as info:
        set_configuration(current, Configuration(ice_servers=(IceServer(("turn:h",)),)))
    assert (repr(current), current) == before
    assert "turn:h" in str(info.value)
    with pytest.raises(RTCSyntaxError):
        set_configuration(current, Configuration(ice_servers=(IceServer(("stun://h",)),)))
    assert (repr(current), current) == before


# -- description, repr -------------------------------------------------------


def test_describe_urls_has_no_credentials() -> None:
    config = Configuration(ice_servers=(STUN, TURN))
    assert describe_urls(config) == ["stun:127.0.0.1:3478", "turn:127.0.0.2:3478"]
    assert_no_secret(" ".join(describe_urls(config)))


def test_repr_hides_credentials() -> None:
    text = repr(Configuration(ice_servers=(TURN,)))
    assert_no_secret(text)
    assert "turn:127.0.0.2:3478" in text


@pytest.mark.parametrize(
    ("url", "wire"),
    [
        ("turn:127.0.0.1", "udp"),
        ("turn:127.0.0.1?transport=udp", "udp"),
        ("turn:[::1]:3478?transport=tcp", "tcp"),
        ("turns:[::1]", "tls"),
        ("turns:127.0.0.1?transport=tcp", "tls"),
    ],
)
def test_wire_transport_is_the_relay_protocol(url: str, wire: str) -> None:
    assert parse_ice_url(url).wire_transport == wire
