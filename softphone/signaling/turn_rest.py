"""Ephemeral TURN credentials (the "TURN REST API" that coturn's ``--use-auth-secret`` checks).

A long-lived TURN password handed to every client is a password for the whole
internet once one client leaks it. Instead, an ICE server entry of a region in
the server's configuration may carry ``shared_secret`` (the value coturn was
started with as ``--static-auth-secret``) and an optional ``credential_ttl`` in
seconds (default 3600). For each registered user the server then mints::

    username   = "<unix expiry>:<user>"
    credential = base64(HMAC-SHA1(shared_secret, username))

which coturn accepts until the expiry without asking anybody. The shared
secret itself never leaves the server: it is in no frame, log line or error
text (validation errors name the field, not its value).

Clients get fresh credentials before the old ones lapse: the server pushes a
``regions`` message after :attr:`RegionCredentials.refresh_after` seconds.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["DEFAULT_TTL", "REFRESH_AT", "RegionCredentials", "mint_credential"]

#: Lifetime of minted credentials when the entry names none (seconds).
DEFAULT_TTL: Final = 3600
#: Fraction of the lifetime after which fresh credentials are pushed.
REFRESH_AT: Final = 0.8


def mint_credential(
    secret: str, user: str, ttl: int, *, now: float | None = None
) -> tuple[str, str]:
    """The (username, credential) pair coturn accepts for ``ttl`` seconds from ``now``."""
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


class RegionCredentials:
    """The configured regions, as each user is to receive them.

    Entries without ``shared_secret`` pass through unchanged (a static
    username/credential or a plain STUN server).
    """

    def __init__(self, regions: Sequence[Mapping[str, Any]]) -> None:
        self._regions = tuple(copy.deepcopy(dict(r)) for r in regions)
        ttls = [ttl for _, ttl in self._ephemeral()]
        self._min_ttl: int | None = min(ttls) if ttls else None

    @property
    def refresh_after(self) -> float | None:
        """Seconds after which a client needs fresh credentials, None if nothing expires."""
        return None if self._min_ttl is None else self._min_ttl * REFRESH_AT

    def for_user(self, user: str, *, now: float | None = None) -> tuple[dict[str, Any], ...]:
        """The regions with freshly minted credentials for ``user`` in every ephemeral entry."""
        out = []
        for region in self._regions:
            copied = dict(region)
            servers = region.get("ice_servers")
            if isinstance(servers, list):
                copied["ice_servers"] = [_minted(s, user, now) for s in servers]
            out.append(copied)
        return tuple(out)

    def _ephemeral(self) -> list[tuple[dict[str, Any], int]]:
        """Validated (entry, ttl) for every entry that has a shared secret."""
        found = []
        for i, region in enumerate(self._regions):
            servers = region.get("ice_servers")
            if not isinstance(servers, list):
                continue
            for j, entry in enumerate(servers):
                if isinstance(entry, dict) and "shared_secret" in entry:
                    found.append((entry, _check(entry, f"regions[{i}].ice_servers[{j}]")))
        return found


def _check(entry: Mapping[str, Any], where: str) -> int:
    secret = entry["shared_secret"]
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"{where}.shared_secret must be a non-empty string")
    if "username" in entry or "credential" in entry:
        raise ValueError(f"{where}: shared_secret replaces username/credential; give one or other")
    ttl = entry.get("credential_ttl", DEFAULT_TTL)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
        raise ValueError(f"{where}.credential_ttl must be a whole number of seconds >= 1")
    return ttl


def _minted(entry: Any, user: str, now: float | None) -> Any:
    if not isinstance(entry, dict) or "shared_secret" not in entry:
        return entry
    out = {k: v for k, v in entry.items() if k not in ("shared_secret", "credential_ttl")}
    ttl = int(entry.get("credential_ttl", DEFAULT_TTL))
    out["username"], out["credential"] = mint_credential(entry["shared_secret"], user, ttl, now=now)
    return out
