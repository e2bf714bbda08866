"""RTCConfiguration for this project, and the validation rules of setConfiguration().

The W3C rules (https://w3c.github.io/webrtc-pc/#set-the-configuration) are
implemented here as pure functions so that both the config file loader and
``PeerConnection.setConfiguration`` apply exactly the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

IceTransportPolicy = Literal["all", "relay"]
BundlePolicy = Literal["balanced", "max-compat", "max-bundle"]


@dataclass(frozen=True)
class IceServer:
    """An RTCIceServer. ``credential`` is never shown by ``repr``."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Configuration:
    """An RTCConfiguration: the parts this softphone uses."""

    ice_servers: tuple[IceServer, ...] = ()
    ice_transport_policy: IceTransportPolicy = "all"
    bundle_policy: BundlePolicy = "max-bundle"
