"""The TOML configuration file and command-line overrides (docs/protocol.md section 3).

Every rejection is a :class:`ConfigError` whose message says where the
problem is — the file, the key path such as ``regions[1].ice_servers[0].urls``,
the region, or the command-line option — because a softphone that refuses to
start must tell the user exactly what to fix. ICE servers go through the same
W3C checks as setConfiguration(), so a region that loads is a region that can
be switched to. Secrets (TURN username/credential, server token) are never
echoed: messages name keys and types, not those values.

No configuration at all is a supported state: a missing default file yields
:class:`Settings` defaults (the UI then starts its embedded server).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import platformdirs

from softphone.rtc.configuration import (
    Configuration,
    IceServer,
    IceServerAccessError,
    IceServerSyntaxError,
    IceTransportPolicy,
    validate_ice_servers,
)
from softphone.signaling.messages import is_user_name

CONFIG_ENV = "SOFTPHONE_CONFIG"
TRANSPORT_POLICIES: tuple[IceTransportPolicy, ...] = ("all", "relay")

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
)
_REGION_KEYS = ("name", "ice_servers")
_SERVER_KEYS = ("urls", "username", "credential")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class ConfigError(Exception):
    """A configuration problem; the message names the file or option and the key."""


@dataclass(frozen=True)
class Region:
    """A named set of ICE servers the user can switch calls to."""

    name: str
    ice_servers: tuple[IceServer, ...] = ()


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

    def region_named(self, name: str) -> Region:
        """The region called ``name``; a ConfigError lists the known ones otherwise."""
        for region in self.regions:
            if region.name == name:
                return region
        raise ConfigError(f"unknown region {name!r}; {_known_regions(self.regions)}")

    def configuration_for(self, region_name: str | None) -> Configuration:
        """The RTC configuration for a region; no region means no ICE servers at all."""
        servers = () if region_name is None else self.region_named(region_name).ice_servers
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
    return _settings_from_table(data, str(file))


def with_overrides(settings: Settings, **cli_values: Any) -> Settings:
    """Apply command-line options (None = not given) with the file's validation.

    Accepted names are the Settings fields (``ice_host_addresses`` for the
    repeatable ``--ice-host``); an unknown name is a programming error.
    """
    known = {f.name for f in dataclasses.fields(Settings)} - {"regions"}
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
        changes[name] = _check_value(name, value, where)
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


def _settings_from_table(data: Mapping[str, Any], file: str) -> Settings:
    _reject_unknown_keys(data, _TOP_KEYS, file, "")
    values: dict[str, Any] = {}
    for name in _TOP_KEYS:
        if name == "regions" or name not in data:
            continue
        values[name] = _check_value(name, data[name], f"{file}: {name}")
    values["regions"] = _regions_from(data.get("regions", []), file)
    settings = Settings(**values)
    for name in ("region", "fallback_region"):
        _check_region_ref(settings, name, f"{file}: {name}")
    return settings


def regions_from_data(raw: Any, source: str) -> tuple[Region, ...]:
    """Regions in the config file's shape from elsewhere (a server's ``welcome``), validated
    exactly like the file's; errors name ``source``."""
    return _regions_from(raw, source)


def regions_to_data(regions: Sequence[Region]) -> list[dict[str, Any]]:
    """The config file's shape of ``regions``, for a server to offer its clients."""
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
        data.append({"name": region.name, "ice_servers": servers})
    return data


def _regions_from(raw: Any, file: str) -> tuple[Region, ...]:
    tables = _array_of_tables(raw, f"{file}: regions", "[[regions]] tables")
    regions: list[Region] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        key = f"regions[{i}]"
        _reject_unknown_keys(table, _REGION_KEYS, file, key)
        if "name" not in table:
            raise ConfigError(f"{file}: {key}: missing required key 'name'")
        name = table["name"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{file}: {key}.name: expected a non-empty string, {_got(name)}")
        if name in seen:
            raise ConfigError(
                f"{file}: {key}.name: region {name!r} is already defined at regions[{seen[name]}]"
            )
        seen[name] = i
        servers = _ice_servers_from(table.get("ice_servers", []), file, key, name)
        regions.append(Region(name=name, ice_servers=servers))
    return tuple(regions)


def _ice_servers_from(raw: Any, file: str, region_key: str, name: str) -> tuple[IceServer, ...]:
    label = f'(region "{name}")'
    key = f"{region_key}.ice_servers"
    tables = _array_of_tables(raw, f"{file}: {key} {label}", "[[regions.ice_servers]] tables")
    servers: list[IceServer] = []
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
                f"{_got(urls)}"
            )
        secrets: dict[str, str | None] = {}
        for secret in ("username", "credential"):
            value = table.get(secret)
            if value is not None and not isinstance(value, str):
                raise ConfigError(
                    f"{file}: {skey}.{secret} {label}: expected a string, {_got(value)}"
                )
            secrets[secret] = value
        servers.append(IceServer(tuple(urls), secrets["username"], secrets["credential"]))
    where = f'region "{name}"'
    try:
        validate_ice_servers(servers, where=where)
    except (IceServerSyntaxError, IceServerAccessError) as exc:
        at = f"{key}[{exc.index}]" if exc.index is not None else key
        raise ConfigError(f"{file}: {where}: {exc.name}: {exc.detail} ({at})") from None
    return tuple(servers)


def _array_of_tables(raw: Any, where: str, expected: str) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"{where}: expected an array of {expected}, {_got(raw)}")
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


def _check_value(name: str, value: Any, where: str) -> Any:
    """Validate one setting; returns it in its Settings form (lists become tuples)."""
    if name == "ice_host_addresses":
        return _check_addresses(value, where)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, {_got(value)}")
    if name == "user" and not is_user_name(value):
        raise ConfigError(
            f"{where}: invalid user name {value!r}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    if name == "server":
        _check_server_url(value, where)
    if name == "ice_transport_policy" and value not in TRANSPORT_POLICIES:
        raise ConfigError(f"{where}: must be 'all' or 'relay', got {value!r}")
    if name in ("audio_in", "audio_out", "region", "fallback_region") and not value:
        raise ConfigError(f"{where}: must not be empty")
    return value


def _check_server_url(value: str, where: str) -> None:
    # The URL itself is never echoed: it may carry a token in its query or user part.
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{where}: not a valid URL (bad host or port)") from None
    if parts.scheme not in ("ws", "wss"):
        shown = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise ConfigError(f"{where}: must be a ws:// or wss:// URL, got {shown}")
    if not parts.hostname:
        raise ConfigError(f"{where}: {parts.scheme}:// URL has no host")
    if port == 0:
        raise ConfigError(f"{where}: port 0 is not a usable port")


def _check_addresses(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected an array of IP address strings, {_got(value)}")
    result: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{where}[{i}]: expected an IP address string, {_got(item)}")
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise ConfigError(f"{where}[{i}]: {item!r} is not an IP address") from None
        result.append(item)
    return tuple(result)


def _check_region_ref(settings: Settings, name: str, where: str) -> None:
    wanted = getattr(settings, name)
    if wanted is None:
        return
    if all(region.name != wanted for region in settings.regions):
        raise ConfigError(f"{where}: unknown region {wanted!r}; {_known_regions(settings.regions)}")


def _known_regions(regions: Sequence[Region]) -> str:
    if not regions:
        return "no regions are configured"
    return "configured regions: " + ", ".join(region.name for region in regions)


def _got(value: Any) -> str:
    """Names the TOML type of a wrong value without showing the value (it may be secret)."""
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    for kind, label in kinds.items():
        if isinstance(value, kind):
            return f"got {label}"
    return f"got {type(value).__name__}"
