"""A userspace UDP relay that adds delay, for tests and benchmarks (no netem on this kernel).

It listens on one address and forwards every client's datagrams to one
upstream (a TURN server), each client through its own upstream socket so the
replies find their way back; ``delay`` (seconds, each direction) and
``jitter`` (up to that much more, uniformly at random, per datagram) can
change while packets flow, so a call is set up fast and then slowed down.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

Address = tuple[str, int]


class _Upstream(asyncio.DatagramProtocol):
    """One client's socket towards the upstream; what comes back goes to that client."""

    def __init__(self, relay: UdpDelayRelay, client: Address) -> None:
        self.relay = relay
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay.later(self.relay.send_to_client, data, self.client)


class UdpDelayRelay(asyncio.DatagramProtocol):
    def __init__(self, upstream: Address) -> None:
        self.upstream = upstream
        self.delay = 0.0
        self.jitter = 0.0
        self.transport: asyncio.DatagramTransport | None = None
        self._clients: dict[Address, _Upstream] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._opening: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def later(self, send: Callable[[bytes, Address], None], data: bytes, addr: Address) -> None:
        loop = asyncio.get_running_loop()
        wait = self.delay + (random.uniform(0, self.jitter) if self.jitter else 0.0)
        if wait > 0:
            loop.call_later(wait, send, data, addr)
        else:
            send(data, addr)

    def send_to_client(self, data: bytes, client: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, client)

    def send_upstream(self, data: bytes, client: Address) -> None:
        upstream = self._clients.get(client)
        if upstream is None or upstream.transport is None:
            self._pending.setdefault(client, []).append(data)  # its socket is being opened
            return
        if not upstream.transport.is_closing():
            upstream.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if addr not in self._clients and addr not in self._pending:
            self._pending[addr] = []
            task = asyncio.ensure_future(self._open(addr))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
        self.later(self.send_upstream, data, addr)

    async def _open(self, client: Address) -> None:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: _Upstream(self, client), remote_addr=self.upstream
        )
        self._clients[client] = protocol
        for data in self._pending.pop(client, []):
            self.send_upstream(data, client)

    def close(self) -> None:
        for upstream in self._clients.values():
            if upstream.transport is not None:
                upstream.transport.close()
        if self.transport is not None:
            self.transport.close()


@asynccontextmanager
async def delay_relay(listen: Address, upstream: Address) -> AsyncIterator[UdpDelayRelay]:
    """A relay on ``listen`` towards ``upstream``; set ``.delay`` to slow it down."""
    loop = asyncio.get_running_loop()
    _, relay = await loop.create_datagram_endpoint(
        lambda: UdpDelayRelay(upstream), local_addr=listen
    )
    try:
        yield relay
    finally:
        relay.close()
