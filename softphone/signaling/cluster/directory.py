"""This node's copy of who is online on the other nodes.

Kept from the presence channel (batches of joins and leaves, a full list
when a node re-publishes after a Redis restart) and from the heartbeat (a
node whose heartbeat key lapsed is dead). A lookup is a dictionary read: a
call set-up never waits for Redis to learn where the callee is.

The parties of calls are kept apart from the users online: after a node
restart a call's old party stays here until the other side resumes the call
under its new party, or hangs up.
"""

from __future__ import annotations

from softphone.signaling.cluster.party import Outbox, RemoteParty

__all__ = ["Directory"]

_Key = tuple[str, str, str]  # node, boot, name


class Directory:
    """Remote users online (name -> party) and every remote party a call holds."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.users: dict[str, RemoteParty] = {}
        self._parties: dict[_Key, RemoteParty] = {}
        self._nodes: set[tuple[str, str]] = set()  # (node, boot) watched by the heartbeat
        self._stopped: set[tuple[str, str]] = set()  # said bye: never watched again

    def party(self, node: str, boot: str, name: str) -> RemoteParty:
        """The one party for ``name`` on that node's incarnation (made on first use)."""
        key = (node, boot, name)
        party = self._parties.get(key)
        if party is None:
            party = self._parties[key] = RemoteParty(name, node, boot, self._outbox)
            self._watch(node, boot)
        return party

    def nodes(self) -> list[tuple[str, str]]:
        """The other nodes' incarnations (node, boot) whose heartbeat is watched."""
        return list(self._nodes)

    def join(self, node: str, boot: str, names: list[str]) -> list[str]:
        """``names`` came online on ``node``; returns those that were not online before."""
        if names:
            self._watch(node, boot)
        fresh = []
        for name in names:
            before = self.users.get(name)
            self.users[name] = self.party(node, boot, name)
            if before is None:
                fresh.append(name)
        return fresh

    def _watch(self, node: str, boot: str) -> None:
        if (node, boot) not in self._stopped:
            self._nodes.add((node, boot))

    def leave(self, node: str, boot: str, names: list[str]) -> list[str]:
        """``names`` left ``node``; returns those that are now offline."""
        gone = []
        for name in names:
            party = self.users.get(name)
            if party is not None and party.node == node and party.boot == boot:
                del self.users[name]
                gone.append(name)
                if not party.calls:
                    self._parties.pop((node, boot, name), None)
        return gone

    def sync(self, node: str, boot: str, names: list[str]) -> tuple[list[str], list[str]]:
        """``node`` re-published all its users: returns (came online, went offline)."""
        held = [n for n, p in self.users.items() if p.node == node and p.boot == boot]
        wanted = set(names)
        gone = self.leave(node, boot, [n for n in held if n not in wanted])
        return self.join(node, boot, names), gone

    def said_bye(self, node: str, boot: str) -> list[str]:
        """``node`` stopped cleanly: its users are offline, its calls wait for a resume."""
        self._nodes.discard((node, boot))
        self._stopped.add((node, boot))
        held = [n for n, p in self.users.items() if p.node == node and p.boot == boot]
        return self.leave(node, boot, held)

    def died(self, node: str, boot: str) -> tuple[list[str], list[RemoteParty]]:
        """``node`` died: returns its users (now offline) and every party of it in a call."""
        gone = self.said_bye(node, boot)
        parties = [p for k, p in self._parties.items() if k[0] == node and k[1] == boot]
        for party in parties:
            del self._parties[(party.node, party.boot, party.name or "")]
        return gone, parties
