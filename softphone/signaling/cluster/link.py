"""Everything a signaling node says to Redis and hears from it.

Keys and channels (``softphone:`` prefix):

* ``alive:NODE`` = this incarnation's random ``boot`` id, with a lifetime of
  ``ttl`` (4 s) renewed by the heartbeat every ``heartbeat`` (1 s). It is the
  lifetime of every registration of the node: ``user:NAME`` = ``"NODE BOOT"``
  counts only while ``alive:NODE`` still holds that boot, so a node that dies
  without a word loses all its users when its key lapses, with no per-user
  renewal. ``members:NODE`` (a set, same lifetime) lists them, so a node that
  starts can read who is where.
* A name is claimed by a Lua script (free, or held by a dead incarnation →
  ours), so a name is unique across the cluster.
* ``node:NODE`` is the node's channel: call frames for its users, each
  prefixed with the sender's node, boot and the addressee's boot and name;
  what one write carries for one channel is one message (frames joined by
  ``SEPARATOR``), so under load one PUBLISH carries many frames.
* ``presence`` carries batches: every node's joins and leaves of the last
  ``batch`` seconds (20 ms) in one message, a full list after Redis lost its
  data (``sync``), and ``bye`` when a node stops cleanly.

Sends never wait. Call frames go out through ``Publisher`` (publisher.py):
buffered and written once per loop turn on a raw connection, never behind a
Redis reply. Presence, claims and releases (and call frames whenever that
connection is not up) go into a queue that one writer task flushes as a
pipeline, so under load one round trip carries many of them and their order
is kept. While Redis is unreachable the node says so once in its
log (and again when it is back), drops what it could not send, claims names
locally, and declares no other node dead until every node had time to
re-publish; calls between its own clients never notice.

Why long: the heartbeat, the listener and the writer share the connection
state and the recovery after an outage; split, each would need the others'
internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any, Protocol

from softphone.signaling.cluster.publisher import SEPARATOR, Publisher
from softphone.signaling.cluster.urls import redact_url, redis_secrets

try:
    from redis import asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - checked by serve before it gets here
    aioredis = None  # type: ignore[assignment]
    RedisError = OSError  # type: ignore[misc,assignment]

log = logging.getLogger("softphone.signaling.cluster")

__all__ = ["ClusterError", "Listener", "RedisLink", "redis_available"]

PREFIX = "softphone:"
PRESENCE = PREFIX + "presence"

_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then
  local node, boot = string.match(v, '^(%S+) (%S+)$')
  if node and redis.call('GET', ARGV[2] .. node) == boot then return v end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return false
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""

_Errors = (RedisError, OSError)


class ClusterError(Exception):
    """Redis cannot be used (unreachable at start, or the package is missing)."""


def redis_available() -> bool:
    return aioredis is not None


class Listener(Protocol):
    """What the link tells the server."""

    def on_frame(self, node: str, boot: str, user: str, text: str) -> None: ...

    def on_presence(self, node: str, boot: str, joins: list[str], leaves: list[str]) -> None: ...

    def on_sync(self, node: str, boot: str, users: list[str]) -> None: ...

    def on_bye(self, node: str, boot: str) -> None: ...

    def on_dead(self, node: str, boot: str) -> None: ...

    def watched_nodes(self) -> list[tuple[str, str]]: ...

    def local_users(self) -> list[str]: ...


def _alive(node: str) -> str:
    return f"{PREFIX}alive:{node}"


def _members(node: str) -> str:
    return f"{PREFIX}members:{node}"


def _user(name: str) -> str:
    return f"{PREFIX}user:{name}"


def _channel(node: str) -> str:
    return f"{PREFIX}node:{node}"


class RedisLink:
    """One node's connection to Redis (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        heartbeat: float = 1.0,
        ttl: float = 4.0,
        batch: float = 0.02,
    ) -> None:
        if aioredis is None:
            raise ClusterError("--redis needs the redis package: pip install 'softphone[cluster]'")
        self.url = url
        self.safe_url = redact_url(url)
        self.node = ""
        self.boot = secrets.token_hex(6)
        self._heartbeat = heartbeat
        self._ttl = ttl
        self._batch = batch
        try:
            # Any: redis-py's own annotations say bytes | str for every reply.
            self._redis: Any = aioredis.Redis.from_url(
                url, socket_connect_timeout=2, socket_timeout=3, decode_responses=True
            )
            self._sub: Any = aioredis.Redis.from_url(
                url, socket_connect_timeout=2, decode_responses=True, health_check_interval=5
            )
        except ValueError as exc:
            raise ClusterError(f"bad --redis URL {self.safe_url}: {exc}") from None
        self._listener: Listener | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._frames: list[tuple[str, str]] = []
        self._claims: list[tuple[str, asyncio.Future[str | None]]] = []
        self._joins: list[str] = []
        self._leaves: list[str] = []
        self._leaving: list[str] = []  # left, to release with the next write
        self._presence_timer: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._down = False
        self._grace_until = 0.0
        self._fast = Publisher()
        self.closing = False

    # --- lifecycle --------------------------------------------------------------------

    async def connect(self) -> None:
        """Check that Redis answers; a clear error naming the URL (never its password) if not."""
        try:
            await self._redis.ping()
        except _Errors as exc:
            await self._close_clients()
            raise ClusterError(
                f"cannot reach Redis at {self.safe_url}: {self._clean(exc)}"
            ) from None

    async def start(self, node: str, listener: Listener) -> None:
        """Join the cluster as ``node``: heartbeat key, channel, and the others' users."""
        self.node = node
        self._listener = listener
        await self._forget_previous_incarnation()
        await self._redis.set(_alive(node), self.boot, px=int(self._ttl * 1000))
        await self._fast.connect(self.url)
        ready = asyncio.get_running_loop().create_future()
        self._tasks = [
            asyncio.ensure_future(self._listen(ready)),
            asyncio.ensure_future(self._beat()),
            asyncio.ensure_future(self._write()),
        ]
        await ready
        log.info("node %s (boot %s) joined the cluster at %s", node, self.boot, self.safe_url)

    async def stop(self) -> None:
        """Leave cleanly: flush, say ``bye`` (calls wait for a resume), release every name.

        Each step is bounded: a node that stops never hangs on a Redis that went quiet.
        """
        self.closing = True
        self._flush_presence()
        with contextlib.suppress(TimeoutError, *_Errors):
            await asyncio.wait_for(self._write_once(), 3)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3)
        with contextlib.suppress(TimeoutError, *_Errors):
            await asyncio.wait_for(self._say_bye(), 3)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._close_clients(), 3)
        self._fast.close()

    async def bye(self) -> None:
        """Tell the other nodes this one stops cleanly; nothing for other nodes goes out after."""
        self.closing = True
        with contextlib.suppress(TimeoutError, *_Errors):
            message = json.dumps({"node": self.node, "boot": self.boot, "bye": 1})
            await asyncio.wait_for(self._redis.publish(PRESENCE, message), 3)

    async def _say_bye(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.publish(PRESENCE, json.dumps({"node": self.node, "boot": self.boot, "bye": 1}))
        await pipe.execute()
        await self._forget_previous_incarnation(self.boot)
        # alive:NODE is left to lapse: a node that reads it before it heard
        # the bye must not take this clean stop for a death.

    async def _close_clients(self) -> None:
        for client in (self._redis, self._sub):
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _forget_previous_incarnation(self, boot: str | None = None) -> None:
        """Release the names this node held in an earlier life (or, at stop, in this one)."""
        names = await self._redis.smembers(_members(self.node))
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            value = await self._redis.get(_user(name))
            ours = value is not None and value.split(" ")[0] == self.node
            if ours and (boot is None or value == f"{self.node} {boot}"):
                pipe.delete(_user(name))
        pipe.delete(_members(self.node))
        await pipe.execute()

    # --- names --------------------------------------------------------------------------

    async def claim(self, name: str) -> str | None:
        """Claim ``name`` cluster-wide: None when it is ours now, else the node that holds it."""
        claimed: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._claims.append((name, claimed))
        self._wake.set()
        return await claimed

    async def locate(self, name: str) -> tuple[str, str] | None:
        """The (node, boot) holding ``name`` now, asking Redis; None if nobody (or no Redis)."""
        try:
            value = await self._redis.get(_user(name))
            if value is None:
                return None
            node, _, boot = str(value).partition(" ")
            alive = await self._redis.get(_alive(node))
        except _Errors as exc:
            self._unreachable(exc)
            return None
        return (node, boot) if alive == boot else None

    def left(self, name: str) -> None:
        """``name`` left this node: released and announced with the next batch."""
        self._leaves.append(name)
        self._schedule_presence()

    # --- sending --------------------------------------------------------------------------

    def send_frame(self, node: str, boot: str, user: str, text: str) -> None:
        """Queue a frame for ``user`` on ``node`` (incarnation ``boot``)."""
        if self.closing:
            return  # shutting down: the other side waits for a resume
        frame = (_channel(node), f"{self.node} {self.boot} {boot} {user}\n{text}")
        if self._down or not self._fast.send(*frame):
            self._frames.append(frame)
            self._wake.set()

    def _schedule_presence(self) -> None:
        if self._presence_timer is None:
            loop = asyncio.get_running_loop()
            self._presence_timer = loop.call_later(self._batch, self._flush_presence)

    def _flush_presence(self) -> None:
        self._presence_timer = None
        if not self._joins and not self._leaves:
            return
        joins, leaves = self._joins, self._leaves
        self._joins, self._leaves = [], []
        message = {"node": self.node, "boot": self.boot, "join": joins, "leave": leaves}
        self._frames.append((PRESENCE, json.dumps(message)))
        self._leaving.extend(leaves)
        self._wake.set()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_once()

    async def _write_once(self) -> None:
        """One pipeline: the claims waiting, the releases, then every frame, batched by channel.

        Claims go through here too, so a thousand ``hello`` at once are a few
        round trips on one connection, not a thousand connections.
        """
        claims, self._claims = self._claims, []
        frames, self._frames = self._frames, []
        leaving, self._leaving = self._leaving, []
        if not frames and not leaving and not claims:
            return
        me = f"{self.node} {self.boot}"
        pipe = self._redis.pipeline(transaction=False)
        for name, _ in claims:
            keys = (_user(name), _members(self.node))
            pipe.eval(_CLAIM, 2, *keys, me, PREFIX + "alive:", name, int(self._ttl))
        for name in leaving:
            self._release_in(pipe, name)
        batches: dict[str, list[str]] = {}
        for channel, payload in frames:
            batches.setdefault(channel, []).append(payload)
        for channel, payloads in batches.items():
            pipe.publish(channel, SEPARATOR.join(payloads))
        try:
            results = await pipe.execute()
        except _Errors as exc:
            self._unreachable(exc, dropped=len(frames))
            results = [None] * len(claims)  # Redis is away: serve locally, re-publish later
        for (name, claimed), holder in zip(claims, results, strict=False):
            if holder and not self._down:
                claimed.set_result(str(holder).split(" ")[0])
                continue
            if not self._down:
                self._joins.append(name)
                self._schedule_presence()
            claimed.set_result(None)

    def _release_in(self, pipe: Any, name: str) -> None:
        keys = (_user(name), _members(self.node))
        pipe.eval(_RELEASE, 2, *keys, f"{self.node} {self.boot}", name)

    # --- hearing --------------------------------------------------------------------------

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        """Read this node's channel and the presence channel; come back after an outage."""
        while True:
            pubsub = self._sub.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(_channel(self.node), PRESENCE)
                await self._read_others()
                if not ready.done():
                    ready.set_result(None)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        channel = message["channel"]
                        for data in message["data"].split(SEPARATOR):
                            self._dispatch(channel, data)
            except _Errors as exc:
                if not ready.done():
                    ready.set_exception(
                        ClusterError(f"cannot subscribe at {self.safe_url}: {self._clean(exc)}")
                    )
                    return
                self._unreachable(exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 2)

    async def _read_others(self) -> None:
        """Who is online on the other nodes now (at start, and after the link came back)."""
        assert self._listener is not None
        nodes: dict[str, str] = {}
        async for key in self._redis.scan_iter(match=_alive("*"), count=1000):
            node = key.removeprefix(_alive(""))
            boot = await self._redis.get(key)
            if node != self.node and boot is not None:
                nodes[node] = boot
        for node, boot in nodes.items():
            names = sorted(await self._redis.smembers(_members(node)))
            self._listener.on_sync(node, boot, names)

    def _dispatch(self, channel: str, data: str) -> None:
        assert self._listener is not None
        try:
            if channel == PRESENCE:
                self._on_presence(json.loads(data))
                return
            head, _, text = data.partition("\n")
            node, boot, to_boot, user = head.split(" ")
        except (ValueError, KeyError, TypeError):
            log.warning("dropped a malformed cluster message on %s", channel)
            return
        if to_boot != self.boot:
            log.debug("dropped a frame for %r meant for an earlier incarnation", user)
            return
        self._listener.on_frame(node, boot, user, text)

    def _on_presence(self, message: dict[str, Any]) -> None:
        assert self._listener is not None
        node, boot = str(message["node"]), str(message["boot"])
        if node == self.node:
            return
        if message.get("bye"):
            log.info("node %s stopped", node)
            self._listener.on_bye(node, boot)
        elif "sync" in message:
            self._listener.on_sync(node, boot, list(message["sync"]))
        else:
            self._listener.on_presence(node, boot, list(message["join"]), list(message["leave"]))

    # --- heartbeat ------------------------------------------------------------------------

    async def _beat(self) -> None:
        """Renew our lifetime, notice a Redis that lost our data, and nodes that died."""
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        ttl_ms = int(self._ttl * 1000)
        while True:
            await asyncio.sleep(self._heartbeat)
            watched = self._listener.watched_nodes()
            names = sorted({node for node, _ in watched})
            try:
                pipe = self._redis.pipeline(transaction=False)
                pipe.set(_alive(self.node), self.boot, px=ttl_ms, get=True)
                pipe.pexpire(_members(self.node), ttl_ms)
                if names:
                    pipe.mget([_alive(n) for n in names])
                result = await pipe.execute()
                if result[0] not in (None, self.boot):
                    log.error("another node runs as %r: give each node its own --node", self.node)
                if self._down or result[0] != self.boot:
                    await self._back(result[0] is None)
                    continue
                if not self._fast.connected and not self.closing:
                    await self._fast.connect(self.url)
            except _Errors as exc:
                self._unreachable(exc)
                continue
            if not names or loop.time() < self._grace_until:
                continue
            alive = dict(zip(names, result[2], strict=True))
            still = set(self._listener.watched_nodes())  # a bye may have come meanwhile
            for node, boot in watched:
                if (node, boot) not in still:
                    continue
                if alive.get(node) != boot:
                    log.warning("node %s (boot %s) is gone: its heartbeat lapsed", node, boot)
                    self._listener.on_dead(node, boot)

    async def _back(self, lost: bool) -> None:
        """Redis answers again (or lost our keys): re-publish everything this node holds."""
        assert self._listener is not None
        if self._down:
            log.warning("Redis at %s is reachable again: re-publishing", self.safe_url)
        elif lost:
            log.warning("Redis at %s lost this node's registrations: re-publishing", self.safe_url)
        users = self._listener.local_users()
        me = f"{self.node} {self.boot}"
        ttl_ms = int(self._ttl * 1000)
        held = await self._redis.smembers(_members(self.node))
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(_alive(self.node), self.boot, px=ttl_ms)
        for name in set(held) - set(users):
            self._release_in(pipe, name)
        for name in users:
            pipe.set(_user(name), me)
        if users:
            pipe.sadd(_members(self.node), *users)
            pipe.pexpire(_members(self.node), ttl_ms)
        sync = {"node": self.node, "boot": self.boot, "sync": users}
        pipe.publish(PRESENCE, json.dumps(sync))
        await pipe.execute()
        self._down = False
        # The others re-publish within a heartbeat or two: nobody is dead before that.
        self._grace_until = asyncio.get_running_loop().time() + 2 * self._ttl

    def _unreachable(self, exc: BaseException, dropped: int = 0) -> None:
        if not self._down:
            more = f"; dropped {dropped} cluster message(s)" if dropped else ""
            log.warning(
                "Redis at %s is unreachable (%s): serving this node's own calls%s",
                self.safe_url,
                self._clean(exc),
                more,
            )
        self._down = True
        self._grace_until = float("inf")

    def _clean(self, exc: BaseException) -> str:
        """An error's text, with the URL's password (should a library echo it) masked."""
        text = (str(exc) or type(exc).__name__).replace(self.url, self.safe_url)
        for secret in redis_secrets(self.url):
            text = text.replace(secret, "***")
        return text
