"""The baseline of bench_signaling: a bare aiohttp relay doing the same work as the server.

It registers users (hello -> welcome), keeps presence subscriptions (subscribe
-> presence-snapshot, presence to the subscribers of whoever joins or leaves,
and, with ``--presence all``, to those that never subscribed) and relays call
messages between the two parties of a call with ``from`` added. It has no
validation, no per-client queues, no limits, no logging: the cost of those is
what the ratio to it shows. Like the server it pings quiet clients every 20 s
and listens with the same backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from aiohttp import WSMsgType, web

from bench.signaling_generator import LOOPBACK
from softphone.signaling.limits import raise_open_files_limit
from softphone.signaling.server import LISTEN_BACKLOG


async def bare_server(presence: str, port: int = 0) -> None:
    """Serve on loopback ``port`` (0: a free one; printed) until stdin closes."""
    raise_open_files_limit()
    users: dict[str, web.WebSocketResponse] = {}
    calls: dict[str, tuple[web.WebSocketResponse, web.WebSocketResponse]] = {}
    subscribers: dict[str, set[web.WebSocketResponse]] = {}
    watch_all: set[web.WebSocketResponse] = set()
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    async def announce(name: str, online: bool) -> None:
        text = dumps({"type": "presence", "user": name, "online": online})
        for other in (*watch_all, *subscribers.get(name, ())):
            if not other.closed:
                await other.send_str(text)

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20, heartbeat=20.0)
        await ws.prepare(request)
        name: str | None = None
        watched: list[str] = []
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                obj = json.loads(msg.data)
                kind = obj.get("type")
                if kind == "hello":
                    name = str(obj["user"])
                    await announce(name, True)
                    others = sorted(users) if presence == "all" else []
                    users[name] = ws
                    if presence == "all":
                        watch_all.add(ws)
                    await ws.send_str(dumps({"type": "welcome", "user": name, "online": others}))
                    continue
                if kind == "subscribe":
                    watch_all.discard(ws)
                    watched = list(obj["users"])
                    for user in watched:
                        subscribers.setdefault(user, set()).add(ws)
                    online = sorted(u for u in watched if u in users)
                    await ws.send_str(dumps({"type": "presence-snapshot", "online": online}))
                    continue
                if kind == "invite":
                    target = users[obj["to"]]
                    calls[obj["call"]] = (ws, target)
                else:
                    a, b = calls[obj["call"]]
                    target = b if ws is a else a
                    if kind == "hangup":
                        del calls[obj["call"]]
                obj["from"] = name
                await target.send_str(dumps(obj))
        finally:
            watch_all.discard(ws)
            for user in watched:
                subscribers.get(user, set()).discard(ws)
            if name is not None and users.get(name) is ws:
                del users[name]
                with contextlib.suppress(ConnectionError):
                    await announce(name, False)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port, reuse_address=True, backlog=LISTEN_BACKLOG)
    await site.start()
    print(f"listening on ws://{LOOPBACK}:{runner.addresses[0][1]}/ws", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
