"""What one client may cost the signaling server, and how an abuser is told and dropped.

A server on the internet must keep serving everybody while one peer floods it,
opens hundreds of sockets or rings everyone at once. The limits here are per
connection (message rate), per source address (concurrent connections) and
per user (invites not yet accepted), and a connection that never registers is
closed after a while; their defaults leave a real client, whose
busiest moment is trickling a few dozen candidates, far below every one.

The source address is the TCP peer's: behind a reverse proxy every client
shares the proxy's address (``X-Forwarded-For`` is not trusted), so there the
per-address cap must be raised or left to the proxy.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import resource
from dataclasses import dataclass
from typing import Final

from softphone.signaling import limit_defaults

__all__ = [
    "MAX_MESSAGE",
    "Limits",
    "RateGuard",
    "TokenBucket",
    "Verdict",
    "raise_open_files_limit",
]

log = logging.getLogger("softphone.signaling")

#: Largest frame the server reads at all; a bigger one closes the socket with 1009.
MAX_MESSAGE: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """The server's limits; every one is per connection, source address or user."""

    #: Sustained messages per second one connection may send...
    rate: float = limit_defaults.RATE
    #: ...and how many it may send at once after being quiet.
    burst: int = limit_defaults.BURST
    #: Closed (1008) after being over the rate this long without a pause...
    abuse_seconds: float = 5.0
    #: ...or after this many refused frames in one such stretch.
    max_refusals: int = 500
    #: Concurrent WebSocket connections from one source address.
    connections_per_address: int = limit_defaults.CONNECTIONS_PER_ADDRESS
    #: Invites a user has sent that are not yet accepted, declined or hung up.
    pending_invites: int = limit_defaults.PENDING_INVITES
    #: Frames above this many bytes are not read: the socket closes with 1009.
    max_message: int = MAX_MESSAGE
    #: Seconds a connection may stay open without registering (closed with 1008).
    hello_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1 or self.abuse_seconds <= 0 or self.max_refusals < 1:
            raise ValueError("rate limits must be positive")
        if self.hello_timeout <= 0:
            raise ValueError("the hello timeout must be positive")
        if self.connections_per_address < 1 or self.pending_invites < 1 or self.max_message < 1:
            raise ValueError("limits must be at least 1")


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; each message takes one."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self._burst

    def _refill(self, now: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._last = now


class Verdict(enum.Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    CLOSE = "close"


class RateGuard:
    """One connection's rate limit: accept, refuse this frame, or close for good.

    A stretch of abuse starts with the first refused frame and ends only when
    the bucket has filled up again, i.e. when the client has stayed below the
    rate for a while; a client that keeps pushing at the limit stays in it.
    """

    __slots__ = ("_bucket", "_limits", "_refusals", "_since")

    def __init__(self, limits: Limits, now: float) -> None:
        self._limits = limits
        self._bucket = TokenBucket(limits.rate, limits.burst, now)
        self._since: float | None = None
        self._refusals = 0

    def check(self, now: float) -> Verdict:
        if self._since is not None and self._bucket.full(now):
            self._since, self._refusals = None, 0
        if self._bucket.take(now):
            return Verdict.ACCEPT
        if self._since is None:
            self._since = now
        self._refusals += 1
        limits = self._limits
        if now - self._since >= limits.abuse_seconds or self._refusals >= limits.max_refusals:
            return Verdict.CLOSE
        return Verdict.REFUSE


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit: every client is a descriptor.

    The usual soft limit (1024) would refuse connections long before memory
    or CPU run out; the hard limit is the administrator's choice. Returns the
    soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return soft
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log.debug("open files limit raised from %d to %d", soft, hard)
        return int(hard)
    return soft
