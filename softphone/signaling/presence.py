"""Who watches whose presence on the signaling server.

Presence goes to the clients watching that user: those that subscribed to it
(``subscribe``, answered by ``presence-snapshot``) and, in ``all`` mode, those
that never subscribed. An index user -> subscribers keeps a join or leave at
O(watchers), not O(clients): in ``subscribed`` mode nobody watches everybody.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

from softphone.signaling.connection import Connection

__all__ = ["PresenceIndex", "PresenceMode"]

#: ``all``: a client that never subscribes gets every user's presence (the
#: original protocol); ``subscribed``: only what it subscribed to.
PresenceMode = Literal["all", "subscribed"]


class PresenceIndex:
    """Connections that watch everybody, and user -> connections subscribed to it."""

    def __init__(self, mode: PresenceMode) -> None:
        if mode not in ("all", "subscribed"):
            raise ValueError('presence must be "all" or "subscribed"')
        self.mode: PresenceMode = mode
        self._watch_all: set[Connection] = set()
        self._subscribers: dict[str, set[Connection]] = {}

    def registered(self, client: Connection) -> None:
        """A client that just registered watches everybody, in ``all`` mode."""
        if self.mode == "all":
            self._watch_all.add(client)

    def subscribe(self, client: Connection, users: Iterable[str]) -> frozenset[str]:
        """Replace what ``client`` watches with ``users``; returns them."""
        self.unsubscribe(client)
        watched = frozenset(users)
        client.subscriptions = watched
        for user in watched:
            self._subscribers.setdefault(user, set()).add(client)
        return watched

    def unsubscribe(self, client: Connection) -> None:
        """``client`` watches nobody any more (it subscribed anew or left)."""
        self._watch_all.discard(client)
        for user in client.subscriptions:
            watchers = self._subscribers.get(user)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self._subscribers[user]
        client.subscriptions = frozenset()

    def watchers(self, user: str) -> Iterator[Connection]:
        """Everybody to tell when ``user`` joins or leaves."""
        yield from self._watch_all
        yield from self._subscribers.get(user, ())
