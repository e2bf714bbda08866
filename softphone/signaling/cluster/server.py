"""The signaling server of one node among several (``serve --redis``).

The relay rules are those of :class:`~softphone.signaling.server.SignalingServer`,
unchanged: this class only fills its hooks. A user on another node is a
:class:`~softphone.signaling.cluster.party.RemoteParty`, so a call between
nodes is a call between two parties like any other; each node keeps the call
with its own party and the other node's stand-in, and applies the same rules
to what arrives from Redis as to what arrives from a socket. A frame from
another node is validated again here: a node trusts no frame it did not check.

Names in ``local_names`` (the echo user) live on every node, each node's own:
never claimed in Redis, never announced to other nodes, always found here.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Awaitable
from typing import Any

from softphone.signaling import messages as m
from softphone.signaling.calls import Party
from softphone.signaling.cluster.directory import Directory
from softphone.signaling.cluster.link import RedisLink
from softphone.signaling.cluster.party import RemoteParty
from softphone.signaling.connection import Connection
from softphone.signaling.server import SignalingServer

log = logging.getLogger("softphone.signaling.cluster")

__all__ = ["ClusteredServer"]


class ClusteredServer(SignalingServer):
    """A :class:`SignalingServer` whose users, presence and calls span every node."""

    def __init__(
        self,
        link: RedisLink,
        *,
        node: str | None = None,
        local_names: frozenset[str] = frozenset(),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._link = link
        self._node = node
        self._local_names = local_names
        self._directory = Directory(link)
        self._claiming: set[str] = set()

    @property
    def node(self) -> str:
        return self._link.node

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Reach Redis (a clear error if not), listen, then join the cluster."""
        await self._link.connect()
        await super().start(host, port, ssl_context=ssl_context)
        try:
            await self._link.start(self._node or f"{socket.gethostname()}:{self.port}", self)
        except BaseException:
            await super().stop()
            raise

    async def stop(self) -> None:
        # First the bye: the other nodes then take neither this node's silence
        # while it closes its connections nor its users' leaves for a death,
        # and their calls wait for a resume.
        await self._link.bye()
        await super().stop()
        await self._link.stop()

    # --- the hooks of SignalingServer --------------------------------------------------

    def _locate(self, name: str) -> Party | None:
        return self._users.get(name) or self._directory.users.get(name)

    def _is_online(self, name: str) -> bool:
        return name in self._users or name in self._directory.users

    def _online_names(self) -> list[str]:
        return list(self._users.keys() | self._directory.users.keys())

    def _on_hello(self, client: Connection, hello: m.Hello) -> Awaitable[None] | None:
        self._authorize(client, hello)
        name = hello.user
        if name in self._users or name in self._claiming or name in self._directory.users:
            raise m.ProtocolError("name-taken", f'hello: user name "{name}" is already online')
        if name in self._local_names:
            self._register(client, name)
            return None
        self._claiming.add(name)
        return self._claim_and_register(client, name)

    async def _claim_and_register(self, client: Connection, name: str) -> None:
        try:
            holder = await self._link.claim(name)
        finally:
            self._claiming.discard(name)
        if holder is not None:
            self._reply_error(
                client,
                m.ProtocolError(
                    "name-taken", f'hello: user name "{name}" is already online (on {holder})'
                ),
            )
        elif client.closed:
            self._link.left(name)
        else:
            self._register(client, name)

    def _on_invite(
        self, client: Party, invite: m.Invite, obj: dict[str, Any]
    ) -> Awaitable[None] | None:
        if self._locate(invite.to) is None and isinstance(client, Connection):
            # Not known here yet (its join is still in a presence batch): ask Redis.
            return self._look_up_and_invite(client, invite, obj)
        return super()._on_invite(client, invite, obj)

    async def _look_up_and_invite(
        self, client: Connection, invite: m.Invite, obj: dict[str, Any]
    ) -> None:
        where = await self._link.locate(invite.to)
        if where is not None and where[0] != self._link.node:
            self.on_presence(where[0], where[1], [invite.to], [])
        try:
            super()._on_invite(client, invite, obj)
        except m.ProtocolError as err:
            self._reply_error(client, err)

    def _leave(self, client: Connection) -> None:
        name = client.name
        ours = name is not None and self._users.get(name) is client
        for call_id in list(client.calls):
            # Said by the server on one node; across nodes it is a relayed hangup,
            # so the other node knows whose it is.
            call = self._calls.get(call_id)
            other = call.other(client) if call is not None else None
            if isinstance(other, RemoteParty):
                self._calls.end(call_id)
                hangup = {"type": "hangup", "call": call_id, "reason": "gone"}
                self._relay(client, other, hangup)
        super()._leave(client)
        if ours and name is not None and name not in self._local_names:
            self._link.left(name)

    # --- what the link hears (softphone.signaling.cluster.link.Listener) -----------------

    def on_frame(self, node: str, boot: str, user: str, text: str) -> None:
        """A frame another node relays to ``user`` here: the same rules as from a socket."""
        target = self._users.get(user)
        try:
            msg, obj = m.decode(text)
        except m.ProtocolError as err:
            log.warning("dropped a bad frame from node %s: %s", node, err.message)
            return
        if isinstance(msg, m.Error):
            self._on_remote_error(target, msg, text)
            return
        sender_name = obj.get("from")
        if not isinstance(sender_name, str) or not m.is_user_name(sender_name):
            log.warning("dropped a frame without a sender from node %s", node)
            return
        sender = self._directory.party(node, boot, sender_name)
        try:
            if isinstance(msg, m.Invite):
                if target is None or msg.to != user:
                    raise m.ProtocolError(
                        "unavailable", f'invite: user "{msg.to}" is not online', msg.call
                    )
                self._on_invite(sender, msg, obj)
            elif isinstance(msg, m.Ringing | m.Accept | m.Decline | m.Hangup | m.Sdp | m.Ice):
                call = self._calls.get(msg.call)
                if call is None or not isinstance(call.other(sender), Connection):
                    raise m.ProtocolError(
                        "unknown-call", f"{obj['type']}: no call with this id is yours", msg.call
                    )
                self._on_call_message(sender, msg, obj)
            else:
                log.warning("dropped a %s frame from node %s", obj["type"], node)
        except m.ProtocolError as err:
            self._reply_error(sender, err)

    def _on_remote_error(self, target: Connection | None, err: m.Error, text: str) -> None:
        """Another node refused what one of ours sent it: tell ours, as one node would."""
        if target is None:
            return
        if err.code == "unavailable" and err.call is not None:
            call = self._calls.get(err.call)
            if call is not None and call.caller is target and not call.accepted:
                self._calls.end(err.call)
        self._send(target, text)

    def on_presence(self, node: str, boot: str, joins: list[str], leaves: list[str]) -> None:
        for name in self._directory.join(node, boot, joins):
            self._announce(name, online=True)
        for name in self._directory.leave(node, boot, leaves):
            self._announce(name, online=False)

    def on_sync(self, node: str, boot: str, users: list[str]) -> None:
        joined, left = self._directory.sync(node, boot, users)
        for name in joined:
            self._announce(name, online=True)
        for name in left:
            self._announce(name, online=False)

    def on_bye(self, node: str, boot: str) -> None:
        for name in self._directory.said_bye(node, boot):
            self._announce(name, online=False)

    def on_dead(self, node: str, boot: str) -> None:
        """A node died: its users are offline and the other party of each call gets ``gone``."""
        gone, parties = self._directory.died(node, boot)
        ended = 0
        for party in parties:
            for call_id, other in self._calls.end_all(party):
                self._send(other, m.encode(m.Hangup(call=call_id, reason="gone")))
                ended += 1
        for name in gone:
            self._announce(name, online=False)
        log.warning("node %s is gone: %d user(s) offline, %d call(s) ended", node, len(gone), ended)

    def watched_nodes(self) -> list[tuple[str, str]]:
        return self._directory.nodes()

    def local_users(self) -> list[str]:
        return sorted(n for n in self._users if n not in self._local_names)
