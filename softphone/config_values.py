"""Checks of single configuration values, shared by the file and the command line.

Each check names where the value came from (``where``: the file and key, or
the option) and what was expected, never the value itself when it may be a
secret. :class:`ConfigError` lives here so both this module and
:mod:`softphone.config` raise the same error without importing each other.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

# The calls one softphone holds at once (docs/protocol.md section 3, ``max_calls``).
DEFAULT_MAX_CALLS = 2
MAX_CALLS_LIMIT = 16


class ConfigError(Exception):
    """A configuration problem; the message names the file or option and the key."""


CONTACT_KEYS = ("name", "label")
MAX_LABEL = 64


def check_contact(item: Any, where: str) -> str:
    """One ``contacts`` entry: a user name, or **(1.2)** ``{ name = …, label = … }``."""
    if isinstance(item, dict):
        unknown = sorted(set(item) - set(CONTACT_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (a contact has name, label)")
        name, label = item.get("name"), item.get("label", "")
        if not isinstance(name, str):
            raise ConfigError(f"{where}.name: expected a user name string, {got(name)}")
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise ConfigError(f"{where}.label: expected a string of at most {MAX_LABEL} characters")
        return name
    if not isinstance(item, str):
        raise ConfigError(f"{where}: expected a user name string, {got(item)}")
    return item


def contact_labels(value: Any) -> tuple[tuple[str, str], ...]:
    """(name, label) of the checked ``contacts`` entries that have a non-empty label."""
    return tuple(
        (item["name"], item["label"])
        for item in value
        if isinstance(item, dict) and item.get("label")
    )


def check_max_calls(value: Any, where: str) -> int:
    """How many calls at once: an integer from 1 to 16."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, {got(value)}")
    if not 1 <= value <= MAX_CALLS_LIMIT:
        raise ConfigError(f"{where}: must be between 1 and {MAX_CALLS_LIMIT}, got {value}")
    return value


def check_server_url(value: str, where: str) -> None:
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


def check_addresses(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected an array of IP address strings, {got(value)}")
    result: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{where}[{i}]: expected an IP address string, {got(item)}")
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise ConfigError(f"{where}[{i}]: {item!r} is not an IP address") from None
        result.append(item)
    return tuple(result)


def got(value: Any) -> str:
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
