"""HTTP Digest for SIP (RFC 3261 section 22, RFC 7616 and RFC 8760): MD5 and SHA-256, qop=auth.

The password only ever enters a hash here; the returned header carries the
response hash, never the password.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sipmessage import AuthChallenge, AuthCredentials, AuthParameters

HASHES: Final[dict[str, Callable[[bytes], hashlib._Hash]]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}


class DigestError(ValueError):
    """A challenge we cannot answer (unknown scheme, algorithm or qop)."""


@dataclass(frozen=True)
class Credentials:
    """Who we authenticate as; repr hides the password."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


def _h(algorithm: str, text: str) -> str:
    return HASHES[algorithm](text.encode()).hexdigest()


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The ``response`` value (RFC 7616 section 3.4.1; without qop, RFC 2069's form)."""
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop is None:
        return _h(algorithm, f"{ha1}:{nonce}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def choose(challenges: list[str]) -> AuthChallenge:
    """The strongest Digest challenge we can answer (SHA-256 before MD5, RFC 8760 section 2.4)."""
    usable: list[tuple[int, AuthChallenge]] = []
    reasons: list[str] = []
    for raw in challenges:
        try:
            challenge = AuthChallenge.parse(raw)
        except ValueError:
            reasons.append("a malformed challenge")
            continue
        params = challenge.parameters
        algorithm = params.get("algorithm", "MD5").upper()
        if challenge.scheme.lower() != "digest":
            reasons.append(f"scheme {challenge.scheme}")
        elif algorithm not in HASHES:
            reasons.append(f"algorithm {algorithm}")
        elif "nonce" not in params or "realm" not in params:
            reasons.append("a challenge without nonce or realm")
        elif "qop" in params and "auth" not in _qops(params["qop"]):
            reasons.append(f"qop {params['qop']}")
        else:
            usable.append((list(HASHES).index(algorithm), challenge))
    if not usable:
        raise DigestError("cannot answer the challenge: " + (", ".join(reasons) or "none given"))
    return max(usable, key=lambda pair: pair[0])[1]


def _qops(value: str) -> list[str]:
    return [q.strip() for q in value.split(",")]


def authorization(
    challenge: AuthChallenge, credentials: Credentials, method: str, uri: str, nc: int = 1
) -> AuthCredentials:
    """The Authorization / Proxy-Authorization value answering ``challenge``."""
    params = challenge.parameters
    algorithm = params.get("algorithm", "MD5").upper()
    qop = "auth" if "qop" in params else None
    cnonce = secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    response = digest_response(
        algorithm=algorithm,
        username=credentials.username,
        realm=params["realm"],
        password=credentials.password,
        method=method,
        uri=uri,
        nonce=params["nonce"],
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
    )
    values = {
        "username": credentials.username,
        "realm": params["realm"],
        "nonce": params["nonce"],
        "uri": uri,
        "response": response,
        "algorithm": algorithm,
    }
    if "opaque" in params:
        values["opaque"] = params["opaque"]
    if qop is not None:
        values.update(qop=qop, nc=nc_text, cnonce=cnonce)
    return AuthCredentials(scheme="Digest", parameters=AuthParameters(**values))
