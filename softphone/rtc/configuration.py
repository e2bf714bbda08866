"""RTCConfiguration for this project, and the validation rules of setConfiguration().

The W3C rules (https://w3c.github.io/webrtc-pc/#set-the-configuration) are
implemented here as pure functions so that both the config file loader and
``PeerConnection.setConfiguration`` apply exactly the same checks.

URL syntax follows RFC 7064 (stun/stuns) and RFC 7065 (turn/turns) as the
W3C "validate an ICE server URL" steps and the browsers apply them: the URL
must have an opaque path (``stun://host`` is rejected), no ``user@`` part,
no fragment, no query on STUN URLs, and on TURN URLs only
``?transport=udp`` or ``?transport=tcp``. Where the browsers are stricter
than the generic URL parser (an empty or zero port, ``turns:`` over UDP) we
follow the browsers, because a URL a browser refuses is never what the user
meant.

Credentials never appear in any message produced here: errors name the
place (``where``) and the URL, and a URL that smuggles a ``user@`` part is
shown with that part masked.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from softphone.rtc.errors import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    RTCSyntaxError,
)

IceTransportPolicy = Literal["all", "relay"]
BundlePolicy = Literal["balanced", "max-compat", "max-bundle"]
IceScheme = Literal["stun", "stuns", "turn", "turns"]
TurnTransport = Literal["udp", "tcp"]
RelayProtocol = Literal["udp", "tcp", "tls"]

DEFAULT_PORT = 3478
DEFAULT_TLS_PORT = 5349

_SCHEMES: dict[str, IceScheme] = {
    "stun": "stun",
    "stuns": "stuns",
    "turn": "turn",
    "turns": "turns",
}
_TRANSPORTS: dict[str, TurnTransport] = {"transport=udp": "udp", "transport=tcp": "tcp"}
# RFC 3986 reg-name: unreserved / pct-encoded / sub-delims ("%" checked separately).
_REG_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-._~" + "!$&'()*+,;=" + "%")
_PCT_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


@dataclass(frozen=True, repr=False)
class IceServer:
    """An RTCIceServer. ``repr`` shows whether credentials are set, never their values."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __repr__(self) -> str:
        user = "None" if self.username is None else "'***'"
        cred = "None" if self.credential is None else "'***'"
        return f"IceServer(urls={self.urls!r}, username={user}, credential={cred})"


@dataclass(frozen=True)
class Configuration:
    """An RTCConfiguration: the parts this softphone uses.

    ``certificates`` holds certificate fingerprints; like the W3C attribute it
    is fixed for the life of a connection once set.
    """

    ice_servers: tuple[IceServer, ...] = ()
    ice_transport_policy: IceTransportPolicy = "all"
    bundle_policy: BundlePolicy = "max-bundle"
    certificates: tuple[str, ...] | None = None


@dataclass(frozen=True)
class IceUrl:
    """A parsed STUN/TURN URL. ``transport`` is None when the URL does not say."""

    scheme: IceScheme
    host: str
    port: int
    transport: TurnTransport | None
    url: str

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    @property
    def wire_transport(self) -> RelayProtocol:
        """What reaches the server: ``turns:``/``stuns:`` are TLS, else ``?transport=`` or UDP.

        For a TURN URL this is the W3C ``relayProtocol`` of its relay candidates.
        """
        if self.scheme in ("stuns", "turns"):
            return "tls"
        return self.transport or "udp"


class IceServerSyntaxError(RTCSyntaxError):
    """A malformed ICE server entry; keeps ``where`` and ``detail`` apart for re-wording."""

    def __init__(self, detail: str, where: str = "", index: int | None = None) -> None:
        super().__init__(f"{where}: {detail}" if where else detail)
        self.detail = detail
        self.where = where
        self.index = index


class IceServerAccessError(InvalidAccessError):
    """A TURN entry without credentials; same shape as :class:`IceServerSyntaxError`."""

    def __init__(self, detail: str, where: str = "", index: int | None = None) -> None:
        super().__init__(f"{where}: {detail}" if where else detail)
        self.detail = detail
        self.where = where
        self.index = index


# Builds the SyntaxError for the URL being parsed, given the reason.
_BadFactory = Callable[[str], IceServerSyntaxError]


def shown_url(url: str) -> str:
    """``url`` as it may appear in messages: any ``user@`` part is masked."""
    if "@" not in url:
        return url
    scheme, colon, rest = url.partition(":")
    if not colon:
        return "***@" + url.rsplit("@", 1)[1]
    return f"{scheme}:***@{rest.rsplit('@', 1)[1]}"


def parse_ice_url(url: str) -> IceUrl:
    """Parse one STUN/TURN URL, raising :class:`RTCSyntaxError` exactly where browsers do."""

    def bad(reason: str) -> IceServerSyntaxError:
        return IceServerSyntaxError(f"ICE server URL {shown_url(url)!r} {reason}")

    if not isinstance(url, str):
        raise IceServerSyntaxError(f"ICE server URL must be a string, got {type(url).__name__}")
    if not url:
        raise IceServerSyntaxError("ICE server URL is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise bad("contains whitespace or control characters")
    raw_scheme, colon, rest = url.partition(":")
    if not colon or not _URL_SCHEME.fullmatch(raw_scheme):
        raise bad("is not a URL (expected stun:, stuns:, turn: or turns:)")
    scheme = _SCHEMES.get(raw_scheme.lower())
    if scheme is None:
        raise bad(f"has unknown scheme {raw_scheme!r} (expected stun, stuns, turn or turns)")
    if "#" in rest:
        raise bad("must not have a fragment")
    path, question, query = rest.partition("?")
    if path.startswith("/"):
        raise bad(f"must not use the '//' form; write {scheme}:HOST[:PORT]")
    if "/" in path:
        raise bad("must not contain '/'")
    if "@" in path:
        raise bad("must not contain a user@ part; put credentials in username/credential")
    transport: TurnTransport | None = None
    if question:
        if scheme in ("stun", "stuns"):
            raise bad("must not have a query: ?transport= is only for turn: and turns:")
        transport = _TRANSPORTS.get(query)
        if transport is None:
            raise bad("has an invalid query: only ?transport=udp or ?transport=tcp is allowed")
        if scheme == "turns" and transport == "udp":
            raise bad("asks for turns: over udp; turns: runs over TLS, use ?transport=tcp")
    host, port_text = _split_host_port(path, bad)
    default = DEFAULT_TLS_PORT if scheme in ("stuns", "turns") else DEFAULT_PORT
    port = default if port_text is None else _parse_port(port_text, bad)
    return IceUrl(scheme=scheme, host=host, port=port, transport=transport, url=url)


def _split_host_port(path: str, bad: _BadFactory) -> tuple[str, str | None]:
    """Split ``host[:port]``; an IPv6 literal must be bracketed (RFC 3986 IP-literal)."""
    if path.startswith("["):
        end = path.find("]")
        if end < 0:
            raise bad("has an unclosed '[' in its host")
        literal, after = path[1:end], path[end + 1 :]
        if "%" in literal:
            raise bad("must not use an IPv6 zone id")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise bad(f"has an invalid IPv6 address [{literal}]") from None
        if after and not after.startswith(":"):
            raise bad("has characters after the ']' of its IPv6 address")
        return literal, (after[1:] if after else None)
    host, colon, port_text = path.partition(":")
    if not host:
        raise bad("has no host")
    if ":" in port_text:
        raise bad("has too many ':' (an IPv6 address must be written in [brackets])")
    _check_reg_name(host, bad)
    return host, (port_text if colon else None)


def _check_reg_name(host: str, bad: _BadFactory) -> None:
    if not set(host) <= _REG_NAME_CHARS:
        raise bad(f"has invalid characters in its host {host!r}")
    if "%" in host and len(_PCT_ENCODED.findall(host)) != host.count("%"):
        raise bad(f"has a bad %-escape in its host {host!r}")
    labels = host.rstrip(".").split(".")
    # The URL standard treats a host whose last label is numeric as IPv4 and
    # rejects it when it is not a valid address (e.g. 999.1.1.1).
    if labels[-1].isdigit():
        try:
            ipaddress.IPv4Address(host.rstrip("."))
        except ValueError:
            raise bad(f"has an invalid IPv4 address {host!r}") from None


def _parse_port(text: str, bad: _BadFactory) -> int:
    if not text:
        raise bad("has an empty port after ':'")
    if not (text.isascii() and text.isdigit()):
        raise bad(f"has an invalid port {text!r}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise bad(f"has port {port} out of range 1-65535")
    return port


def validate_ice_servers(servers: Sequence[IceServer], *, where: str = "") -> tuple[IceUrl, ...]:
    """Validate like step "validate the ICE servers" of the W3C set-the-configuration.

    Servers and their URLs are checked in order, so the first problem is the
    one reported, as in a browser. An empty username or credential counts as
    missing (Chromium's rule): a TURN server cannot authenticate without them.
    """
    parsed: list[IceUrl] = []
    for index, server in enumerate(servers):
        urls = (server.urls,) if isinstance(server.urls, str) else tuple(server.urls)
        if not urls:
            raise IceServerSyntaxError("an ICE server has an empty urls list", where, index)
        for url in urls:
            try:
                ice_url = parse_ice_url(url)
            except IceServerSyntaxError as exc:
                raise IceServerSyntaxError(exc.detail, where, index) from None
            if ice_url.is_turn and not (server.username and server.credential):
                kind = "TURNS" if ice_url.scheme == "turns" else "TURN"
                raise IceServerAccessError(
                    f"{kind} URL {shown_url(url)} needs a username and credential", where, index
                )
            parsed.append(ice_url)
    return tuple(parsed)


def set_configuration(
    current: Configuration | None, new: Configuration, *, closed: bool = False
) -> Configuration:
    """The checks of RTCPeerConnection.setConfiguration(); returns what is now in force.

    The result replaces ``current`` entirely (a server missing from ``new`` is
    gone), except ``certificates``: they belong to the connection, so when
    ``new`` leaves them out the ones in force are kept, as getConfiguration()
    would report them. Nothing is changed when an error is raised, because
    this function has no state: the caller keeps ``current``.
    """
    if closed:
        raise InvalidStateError("setConfiguration on a closed RTCPeerConnection")
    if current is not None:
        if (
            new.certificates is not None
            and current.certificates is not None
            and frozenset(new.certificates) != frozenset(current.certificates)
        ):
            raise InvalidModificationError("certificates cannot be changed after they are set")
        if new.bundle_policy != current.bundle_policy:
            raise InvalidModificationError(
                f"bundlePolicy cannot change from {current.bundle_policy!r} "
                f"to {new.bundle_policy!r}"
            )
    validate_ice_servers(new.ice_servers)
    if current is not None and new.certificates is None and current.certificates is not None:
        return replace(new, certificates=current.certificates)
    return new


def describe_urls(config: Configuration) -> list[str]:
    """Every configured URL in order, without credentials."""
    return [shown_url(url) for server in config.ice_servers for url in _urls_of(server)]


def _urls_of(server: IceServer) -> tuple[str, ...]:
    return (server.urls,) if isinstance(server.urls, str) else tuple(server.urls)
