"""The TOML configuration file and command-line overrides (docs/protocol.md section 3).

Every rejection is a :class:`ConfigError` whose message says where the
problem is — the file, the key path such as ``regions[1].ice_servers[0].urls``,
the region, or the command-line option — because a softphone that refuses to
start must tell the user exactly what to fix. ICE servers go through the same
W3C checks as setConfiguration(), so a region that loads is a region that can
be switched to. Secrets (TURN username/credential, TURN shared secret, server
token) are never echoed: messages name keys and types, not those values.

An ICE server entry may carry a TURN REST ``shared_secret`` (and
``credential_ttl``) instead of ``username``/``credential``: ``softphone serve``
then mints per-user credentials from it (:mod:`softphone.signaling.turn_rest`),
and a client that holds the secret itself mints its own when it uses the region.

The ``signaling`` and ``sip_*`` keys (1.2) select SIP over WebSocket instead of
the JSON protocol; their checks live in :mod:`softphone.signaling.sip.settings`.

No configuration at all is a supported state: a missing default file yields
:class:`Settings` defaults (the UI then starts its embedded server).

Why long: every key's check sits with the others, so one table of keys and one
validator decide what a file may say, and each message names the same places.

A table with rules of its own (``[quality]``,
:meth:`softphone.quality.QualityThresholds.from_table`) is checked by its
owner and only wrapped here.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import platformdirs

from softphone import hold_sound
from softphone.config_values import (
    DEFAULT_MAX_CALLS,
    check_addresses,
    check_contact,
    check_max_calls,
    check_server_url,
    contact_labels,
    got,
)
from softphone.config_values import (
    ConfigError as ConfigError,
)
from softphone.quality import QualityThresholds
from softphone.rtc.configuration import (
    Configuration,
    IceServer,
    IceServerAccessError,
    IceServerSyntaxError,
    IceTransportPolicy,
    shown_url,
    validate_ice_servers,
)
from softphone.signaling.messages import MAX_SUBSCRIPTIONS, is_user_name
from softphone.signaling.sip.settings import SIP_KEYS, SipSettingError, check_sip_value
from softphone.signaling.turn_rest import DEFAULT_TTL, mint_credential

CONFIG_ENV = "SOFTPHONE_CONFIG"
TRANSPORT_POLICIES: tuple[IceTransportPolicy, ...] = ("all", "relay")
AUTO_REGION = "auto"  # (1.2) region = "auto": the best region a preflight finds

_TOP_KEYS = (
    "user",
    "server",
    "token",
    "ice_transport_policy",
    "ice_host_addresses",
    "region",
    "fallback_region",
    "regions",
    "audio_in",
    "audio_out",
    "theme",
    "ca_file",
    "insecure",
    "contacts",
    "hold_sound",
    "quality",
    "max_calls",
    "dnd",
    "auto_answer",
    "standby",
    *SIP_KEYS,
)
_REGION_KEYS = ("name", "ice_servers")
_SERVER_KEYS = ("urls", "username", "credential", "shared_secret", "credential_ttl")
_SHARED_SECRET_KEY = re.compile(r"(?<![\w\"'-])shared_secret\s*=")
_USER_NAME_RULE = "use 1-64 letters, digits, '.', '_' or '-'"
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass(frozen=True, repr=False)
class TurnSecret:
    """A TURN REST API secret for ``ice_servers[index]`` of a region; repr hides it."""

    index: int
    shared_secret: str
    credential_ttl: int = DEFAULT_TTL

    def __repr__(self) -> str:
        return f"TurnSecret(index={self.index}, shared_secret='***', ttl={self.credential_ttl})"


@dataclass(frozen=True)
class Region:
    """A named set of ICE servers the user can switch calls to.

    An entry named in ``turn_secrets`` has no username/credential of its own:
    they are minted from its shared secret where it is used.
    """

    name: str
    ice_servers: tuple[IceServer, ...] = ()
    turn_secrets: tuple[TurnSecret, ...] = ()

    def minted_servers(self, user: str) -> tuple[IceServer, ...]:
        """``ice_servers`` with credentials for ``user`` minted now from every shared secret."""
        servers = list(self.ice_servers)
        for secret in self.turn_secrets:
            username, credential = mint_credential(
                secret.shared_secret, user, secret.credential_ttl
            )
            servers[secret.index] = IceServer(servers[secret.index].urls, username, credential)
        return tuple(servers)


@dataclass(frozen=True)
class Settings:
    """Everything the config file and command line decide. ``token`` is hidden from repr."""

    user: str | None = None
    server: str | None = None
    token: str | None = field(default=None, repr=False)
    ice_transport_policy: IceTransportPolicy = "all"
    ice_host_addresses: tuple[str, ...] = ()
    region: str | None = None
    regions: tuple[Region, ...] = ()
    audio_in: str = "default"
    audio_out: str = "default"
    theme: str | None = None
    fallback_region: str | None = None
    ca_file: Path | None = None
    insecure: bool = False
    contacts: tuple[str, ...] | None = None
    hold_sound: str | None = None  # (1.2) "none", "tone" or "tone:HZ"
    quality: QualityThresholds = field(default_factory=QualityThresholds)  # [quality] (1.2)
    contact_labels: tuple[tuple[str, str], ...] = ()
    max_calls: int = DEFAULT_MAX_CALLS
    dnd: bool = False
    auto_answer: bool = False
    standby: bool = True  # (1.2) a warm standby during a call (softphone/failover.py)
    signaling: str = "json"
    sip_uri: str | None = None
    sip_ws: str | None = None
    sip_auth_user: str | None = None
    sip_password: str | None = field(default=None, repr=False)
    sip_outbound_proxy: str | None = None
    sip_display_name: str | None = None

    def region_named(self, name: str) -> Region:
        """The region called ``name``; a ConfigError lists the known ones otherwise."""
        for region in self.regions:
            if region.name == name:
                return region
        raise ConfigError(f"unknown region {name!r}; {_known_regions(self.regions)}")

    def configuration_for(self, region_name: str | None) -> Configuration:
        """The RTC configuration for a region; no region means no ICE servers at all."""
        servers = (
            ()
            if region_name is None
            else self.region_named(region_name).minted_servers(self.user or "softphone")
        )
        return Configuration(ice_servers=servers, ice_transport_policy=self.ice_transport_policy)


def default_config_path() -> Path:
    """``$SOFTPHONE_CONFIG`` if set (keeps tests hermetic), else the user config dir."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("softphone")) / "config.toml"


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the config file.

    ``path=None`` means the default location, where a missing file is normal
    and gives defaults; a missing file the caller named is an error.
    """
    explicit = path is not None
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{file}: no such configuration file") from None
        return Settings()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {_describe_toml_error(exc)}") from None
    return _settings_from_table(data, str(file), iter(_secret_lines(text)), file.parent)


def with_overrides(settings: Settings, **cli_values: Any) -> Settings:
    """Apply command-line options (None = not given) with the file's validation.

    Accepted names are the Settings fields (``ice_host_addresses`` for the
    repeatable ``--ice-host``); an unknown name is a programming error.
    """
    known = {f.name for f in dataclasses.fields(Settings)} - {"regions", "contact_labels"}
    unknown = sorted(set(cli_values) - known)
    if unknown:
        raise TypeError(f"with_overrides: unknown option(s) {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for name, value in cli_values.items():
        if value is None:
            continue
        where = f"command line: --{name.replace('_', '-')}"
        if name == "ice_host_addresses":
            where = "command line: --ice-host"
            if isinstance(value, str):
                value = [value]
        if name == "ca_file":
            value = str(value)
        changes[name] = _check_value(name, value, where, Path.cwd())
    result = dataclasses.replace(settings, **changes)
    for name in ("region", "fallback_region"):
        if name in changes:
            _check_region_ref(result, name, f"command line: --{name.replace('_', '-')}")
    return result


# -- parsing the file ---------------------------------------------------------


def _describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match is None:
        return f"TOML syntax error: {message}"
    reason = message[: match.start()]
    return f"line {match.group(1)}, column {match.group(2)}: TOML syntax error: {reason}"


def _secret_lines(text: str) -> list[int]:
    """Line numbers of the ``shared_secret = ...`` keys, in document order (comments skipped)."""
    lines = []
    for match in _SHARED_SECRET_KEY.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        if "#" not in text[start : match.start()]:
            lines.append(text.count("\n", 0, match.start()) + 1)
    return lines


def _settings_from_table(
    data: Mapping[str, Any], file: str, secret_lines: Iterator[int], base: Path
) -> Settings:
    _reject_unknown_keys(data, _TOP_KEYS, file, "")
    values: dict[str, Any] = {}
    for name in _TOP_KEYS:
        if name == "regions" or name not in data:
            continue
        values[name] = _check_value(name, data[name], f"{file}: {name}", base)
    values["regions"] = _regions_from(data.get("regions", []), file, secret_lines)
    values["contact_labels"] = contact_labels(data.get("contacts", ()))
    settings = Settings(**values)
    for name in ("region", "fallback_region"):
        _check_region_ref(settings, name, f"{file}: {name}")
    return settings


def regions_from_data(raw: Any, source: str) -> tuple[Region, ...]:
    """Regions in the config file's shape from elsewhere (a server's ``welcome``), validated
    exactly like the file's; errors name ``source``."""
    return _regions_from(raw, source)


def regions_to_data(regions: Sequence[Region]) -> list[dict[str, Any]]:
    """The config file's shape of ``regions``, for a server to offer its clients.

    Entries with a shared secret keep it (and their ``credential_ttl``): the
    server mints each user's credentials from it and never sends it on.
    """
    data: list[dict[str, Any]] = []
    for region in regions:
        servers: list[dict[str, Any]] = []
        for server in region.ice_servers:
            entry: dict[str, Any] = {"urls": list(server.urls)}
            if server.username is not None:
                entry["username"] = server.username
            if server.credential is not None:
                entry["credential"] = server.credential
            servers.append(entry)
        for secret in region.turn_secrets:
            servers[secret.index]["shared_secret"] = secret.shared_secret
            servers[secret.index]["credential_ttl"] = secret.credential_ttl
        data.append({"name": region.name, "ice_servers": servers})
    return data


def _regions_from(
    raw: Any, file: str, secret_lines: Iterator[int] | None = None
) -> tuple[Region, ...]:
    """``secret_lines``: the line of each ``shared_secret`` key in turn, for errors."""
    tables = _array_of_tables(raw, f"{file}: regions", "[[regions]] tables")
    regions: list[Region] = []
    seen: dict[str, int] = {}
    lines = secret_lines if secret_lines is not None else iter(())
    for i, table in enumerate(tables):
        key = f"regions[{i}]"
        _reject_unknown_keys(table, _REGION_KEYS, file, key)
        if "name" not in table:
            raise ConfigError(f"{file}: {key}: missing required key 'name'")
        name = table["name"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{file}: {key}.name: expected a non-empty string, {got(name)}")
        if name in seen:
            raise ConfigError(
                f"{file}: {key}.name: region {name!r} is already defined at regions[{seen[name]}]"
            )
        seen[name] = i
        regions.append(_region_from(table.get("ice_servers", []), file, key, name, lines))
    return tuple(regions)


def _region_from(raw: Any, file: str, region_key: str, name: str, lines: Iterator[int]) -> Region:
    label = f'(region "{name}")'
    key = f"{region_key}.ice_servers"
    tables = _array_of_tables(raw, f"{file}: {key} {label}", "[[regions.ice_servers]] tables")
    servers: list[IceServer] = []
    turn_secrets: list[TurnSecret] = []
    for j, table in enumerate(tables):
        skey = f"{key}[{j}]"
        _reject_unknown_keys(table, _SERVER_KEYS, file, skey, label)
        if "urls" not in table:
            raise ConfigError(f"{file}: {skey} {label}: missing required key 'urls'")
        urls = table["urls"]
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ConfigError(
                f"{file}: {skey}.urls {label}: expected a string or an array of strings, "
                f"{got(urls)}"
            )
        secrets: dict[str, str | None] = {}
        for secret in ("username", "credential"):
            value = table.get(secret)
            if value is not None and not isinstance(value, str):
                raise ConfigError(
                    f"{file}: {skey}.{secret} {label}: expected a string, {got(value)}"
                )
            secrets[secret] = value
        if "shared_secret" in table:
            line = next(lines, None)
            at = f"{file}: line {line}: " if line is not None else f"{file}: "
            turn_secrets.append(_turn_secret(table, j, f"{at}{skey} {label} ({_shown_urls(urls)})"))
        elif "credential_ttl" in table:
            raise ConfigError(
                f"{file}: {skey}.credential_ttl {label}: only goes with shared_secret"
            )
        servers.append(IceServer(tuple(urls), secrets["username"], secrets["credential"]))
    where = f'region "{name}"'
    # Minted credentials stand in for the shared secrets, so the W3C checks see what is used.
    checked = Region(name, tuple(servers), tuple(turn_secrets)).minted_servers("check")
    try:
        validate_ice_servers(checked, where=where)
    except (IceServerSyntaxError, IceServerAccessError) as exc:
        at = f"{key}[{exc.index}]" if exc.index is not None else key
        raise ConfigError(f"{file}: {where}: {exc.name}: {exc.detail} ({at})") from None
    return Region(name, tuple(servers), tuple(turn_secrets))


def _turn_secret(table: Mapping[str, Any], index: int, where: str) -> TurnSecret:
    """The entry's shared secret and ttl; errors say ``where`` but never the secret."""
    if "username" in table or "credential" in table:
        raise ConfigError(
            f"{where}: shared_secret replaces username/credential (credentials are minted "
            "from it); give one or the other"
        )
    secret = table["shared_secret"]
    if not isinstance(secret, str) or not secret:
        raise ConfigError(f"{where}: shared_secret: expected a non-empty string, {got(secret)}")
    ttl = table.get("credential_ttl", DEFAULT_TTL)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
        shown = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else got(ttl)
        raise ConfigError(
            f"{where}: credential_ttl: expected a whole number of seconds >= 1, got {shown}"
        )
    return TurnSecret(index, secret, ttl)


def _shown_urls(urls: Sequence[str]) -> str:
    return ", ".join(shown_url(url) for url in urls)


def _array_of_tables(raw: Any, where: str, expected: str) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"{where}: expected an array of {expected}, {got(raw)}")
    return cast(list[Mapping[str, Any]], raw)


def _reject_unknown_keys(
    table: Mapping[str, Any], allowed: Sequence[str], file: str, prefix: str, label: str = ""
) -> None:
    for key in table:
        if key in allowed:
            continue
        path = f"{prefix}.{key}" if prefix else key
        hint = difflib.get_close_matches(key, allowed, n=1)
        suggestion = (
            f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(allowed)}"
        )
        tail = f" {label}" if label else ""
        raise ConfigError(f"{file}: {path}{tail}: unknown key {key!r}{suggestion}")


# -- value rules shared by the file and the command line ----------------------


def _check_value(name: str, value: Any, where: str, base: Path) -> Any:
    """Validate one setting; returns it in its Settings form (lists become tuples).

    A relative ``ca_file`` is relative to ``base``: the config file's directory,
    or the working directory for the command line.
    """
    if name == "ice_host_addresses":
        return check_addresses(value, where)
    if name == "contacts":
        return _check_contacts(value, where)
    if name == "quality":
        try:
            return QualityThresholds.from_table(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if name in ("insecure", "dnd", "auto_answer", "standby"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, {got(value)}")
        return value
    if name == "max_calls":
        return check_max_calls(value, where)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, {got(value)}")
    if name in SIP_KEYS:
        try:
            return check_sip_value(name, value)
        except SipSettingError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if name == "user" and not is_user_name(value):
        raise ConfigError(f"{where}: invalid user name {value!r}: {_USER_NAME_RULE}")
    if name == "server":
        check_server_url(value, where)
    if name == "ice_transport_policy" and value not in TRANSPORT_POLICIES:
        raise ConfigError(f"{where}: must be 'all' or 'relay', got {value!r}")
    if name in ("audio_in", "audio_out", "region", "fallback_region", "ca_file") and not value:
        raise ConfigError(f"{where}: must not be empty")
    if name == "ca_file":
        return base / Path(value).expanduser()
    if name == "hold_sound":
        _check_hold_sound(value, where)
    return value


def _check_hold_sound(value: str, where: str) -> None:
    try:
        hold_sound.tone_hz(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_contacts(value: Any, where: str) -> tuple[str, ...]:
    """The users whose presence to subscribe to: signaling's user-name rule, at most 1000.

    **(1.2)** An entry may be a table ``{ name = "bob", label = "Bob (work)" }``;
    the labels are kept apart (:func:`softphone.config_values.contact_labels`).
    """
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected an array of user names, {got(value)}")
    if len(value) > MAX_SUBSCRIPTIONS:
        raise ConfigError(f"{where}: at most {MAX_SUBSCRIPTIONS} contacts, got {len(value)}")
    names = []
    for i, item in enumerate(value):
        name = check_contact(item, f"{where}[{i}]")
        if not is_user_name(name):
            raise ConfigError(f"{where}[{i}]: invalid user name {name[:64]!r}: {_USER_NAME_RULE}")
        names.append(name)
    return tuple(dict.fromkeys(names))


def _check_region_ref(settings: Settings, name: str, where: str) -> None:
    wanted = getattr(settings, name)
    if wanted is None or (name == "region" and wanted == AUTO_REGION):
        return
    if all(region.name != wanted for region in settings.regions):
        raise ConfigError(f"{where}: unknown region {wanted!r}; {_known_regions(settings.regions)}")


def _known_regions(regions: Sequence[Region]) -> str:
    if not regions:
        return "no regions are configured"
    return "configured regions: " + ", ".join(region.name for region in regions)
