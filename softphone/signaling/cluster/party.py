"""A party on another node: what a call on this node holds for a connection elsewhere.

It has what :class:`softphone.signaling.calls.Party` needs. Sending to it
publishes the frame to its node's channel, addressed to that incarnation of
the node (``boot``), so a frame for a node that restarted meanwhile is dropped
there rather than delivered to a stranger.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Outbox", "RemoteParty"]


class Outbox(Protocol):
    def send_frame(self, node: str, boot: str, user: str, text: str) -> None: ...


class RemoteParty:
    """``name`` as registered on ``node`` (incarnation ``boot``)."""

    __slots__ = ("boot", "calls", "name", "node", "outbox", "pending")

    def __init__(self, name: str, node: str, boot: str, outbox: Outbox) -> None:
        self.name: str | None = name
        self.node = node
        self.boot = boot
        self.outbox = outbox
        self.calls: set[str] = set()
        self.pending = 0

    def send(self, text: str) -> None:
        assert self.name is not None
        self.outbox.send_frame(self.node, self.boot, self.name, text)

    def label(self) -> str:
        return f"{self.name!r} on node {self.node}"
