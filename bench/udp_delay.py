"""A userspace UDP relay that delays every datagram: a far-away server on loopback.

The kernel here has no netem, so a TURN server "100 ms away" is this relay in
front of a loopback coturn: each client gets its own upstream socket (coturn
tells its allocations apart by the client's address), and every datagram
waits ``delay`` seconds in each direction.
"""

from __future__ import annotations

import asyncio
from typing import Any

Address = tuple[str, int]


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: DelayRelay, client: Address) -> None:
        self._relay = relay
        self._client = client

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._relay.later(lambda: self._relay.to_client(data, self._client))


class _Front(asyncio.DatagramProtocol):
    def __init__(self, relay: DelayRelay) -> None:
        self._relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._relay.later(lambda: self._relay.to_server(data, (addr[0], addr[1])))


class DelayRelay:
    """Listens on ``listen``, forwards to ``target``; ``delay`` seconds each way."""

    def __init__(self, listen: Address, target: Address, delay: float) -> None:
        self.listen = listen
        self._target = target
        self._delay = delay
        self._front: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Address, asyncio.DatagramTransport] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._opening: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._front, _ = await loop.create_datagram_endpoint(
            lambda: _Front(self), local_addr=self.listen
        )

    def later(self, send: Any) -> None:
        asyncio.get_running_loop().call_later(self._delay, send)

    def to_server(self, data: bytes, client: Address) -> None:
        upstream = self._upstreams.get(client)
        if upstream is not None:
            upstream.sendto(data)
            return
        pending = self._pending.setdefault(client, [])
        pending.append(data)
        if len(pending) == 1:
            task = asyncio.ensure_future(self._open(client))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, client: Address) -> None:
        loop = asyncio.get_running_loop()
        upstream, _ = await loop.create_datagram_endpoint(
            lambda: _Upstream(self, client), remote_addr=self._target
        )
        self._upstreams[client] = upstream
        for data in self._pending.pop(client, []):
            upstream.sendto(data)

    def to_client(self, data: bytes, client: Address) -> None:
        if self._front is not None:
            self._front.sendto(data, client)

    def close(self) -> None:
        for upstream in self._upstreams.values():
            upstream.close()
        if self._front is not None:
            self._front.close()
