"""The signaling server: registers users and relays call messages between two parties.

Design points:

* Every frame is validated by :mod:`softphone.signaling.messages`; a bad frame
  gets exactly one ``error`` reply and the connection stays open.
* Sends never block the sender (:mod:`softphone.signaling.connection`): a
  frame goes to the socket at once, or to the client's own queue when its
  socket pushes back. A client that does not read fills its queue; past
  ``max_queue_bytes`` it is disconnected, so one slow client cannot hold memory
  or delay anybody else.
* A call belongs to the two *connections* that set it up
  (:mod:`softphone.signaling.calls`), so a user who reconnects never inherits
  a stale call.
* Frames up to ``max_frame`` bytes (64 KiB) are handled; bigger ones up to
  ``limits.max_message`` (1 MiB) get ``too-large`` and the connection stays
  open. Beyond 1 MiB aiohttp refuses to buffer the frame and closes the socket
  with 1009 (message too big), with no reply.
* Limits (:mod:`softphone.signaling.limits`): a connection over its message
  rate gets ``rate-limited`` for each refused frame and, if it keeps on, a last
  ``rate-limited`` and a close with 1008 (policy violation); a source address
  over its number of connections gets ``too-many-connections`` and is closed
  with 1008; a connection without ``hello`` after ``hello_timeout`` gets
  ``not-registered`` and is closed with 1008; a user with too many invites not
  yet accepted gets ``too-many-invites``.
* Regions whose ICE servers carry a TURN ``shared_secret`` get credentials
  minted per user (:mod:`softphone.signaling.turn_rest`), renewed by a
  ``regions`` push at 80 % of their lifetime; the secret is never sent or logged.
* Presence goes to the clients watching that user
  (:mod:`softphone.signaling.presence`): a join or leave costs O(watchers),
  not O(clients).
* Nothing is logged at INFO per join or leave, or per message: with thousands
  of clients that is most of the log and a good part of the CPU. Refusals and
  disconnections for a limit are logged at INFO; joins and leaves at DEBUG.
* SDP bodies are relayed opaquely once their shape is valid (see
  :mod:`softphone.signaling.messages`).

Registration is open, or needs one shared token (``token``), or a per-user
token signed with ``secret`` (:mod:`softphone.signaling.tokens`); a refusal is
logged with its reason, never with the token. The token and SDP bodies are
never logged.

Several nodes (:mod:`softphone.signaling.cluster`) subclass this server and
fill its few hooks (``_locate``, ``_is_online``, ``_online_names``,
``_on_hello``, ``_on_invite``, ``_leave``); one node runs none of that code.

Why long: the relay rules, registration and limits are one state machine
over the same tables (users, calls, presence); split, each part would reach
into the others' tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import ssl
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from softphone.signaling import messages as m
from softphone.signaling.calls import Call, CallTable, Party
from softphone.signaling.connection import Connection
from softphone.signaling.limits import Limits, RateGuard, Verdict, raise_open_files_limit
from softphone.signaling.presence import PresenceIndex, PresenceMode
from softphone.signaling.tokens import TokenError, verify_token
from softphone.signaling.turn_rest import RegionCredentials

log = logging.getLogger("softphone.signaling")

__all__ = ["PresenceMode", "SignalingServer", "run_server"]

#: Connections the kernel queues before we accept them. aiohttp's 128 drops
#: SYNs when thousands of clients come back at once (a restart), and a
#: dropped SYN costs its client a 1 s retransmission; the kernel caps this at
#: net.core.somaxconn.
LISTEN_BACKLOG = 4096

_GOING_AWAY = WSCloseCode.GOING_AWAY
_POLICY = WSCloseCode.POLICY_VIOLATION


class SignalingServer:
    """The JSON-over-WebSocket signaling server of docs/protocol.md section 1.

    :attr:`app` is a plain :class:`aiohttp.web.Application` with ``GET /ws``;
    others may add routes (a page at ``/``, say) before :meth:`start`.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        secret: bytes | None = None,
        regions: list[dict[str, Any]] | None = None,
        max_frame: int = m.MAX_FRAME,
        max_queue_bytes: int = 8 * 1024 * 1024,
        heartbeat: float | None = 20.0,
        close_timeout: float = 1.0,
        limits: Limits | None = None,
        presence: PresenceMode = "all",
    ) -> None:
        if token is not None and secret is not None:
            raise ValueError("a shared token and a token secret are mutually exclusive")
        self._token = token.encode() if token is not None else None
        self._secret = secret
        self._regions = RegionCredentials(regions) if regions is not None else None
        self._max_frame = max_frame
        self._max_queue_bytes = max_queue_bytes
        self._limits = limits if limits is not None else Limits()
        self._per_address: Counter[str] = Counter()
        self._presence = PresenceIndex(presence)
        self._heartbeat = heartbeat
        self._close_timeout = close_timeout
        self._clients: set[Connection] = set()
        self._users: dict[str, Connection] = {}
        self._calls = CallTable()
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._scheme = "ws"
        self.app = web.Application()
        self.app.router.add_get("/ws", self._handle)
        self.app.on_shutdown.append(self._on_shutdown)

    # --- lifecycle -------------------------------------------------------------

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Listen on ``host:port`` (``port`` 0 picks a free one, see :attr:`port`)."""
        if self._runner is not None:
            raise RuntimeError("server already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=self._close_timeout)
        await runner.setup()
        raise_open_files_limit()
        site = web.TCPSite(
            runner, host, port, ssl_context=ssl_context, reuse_address=True, backlog=LISTEN_BACKLOG
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._scheme = "wss" if ssl_context is not None else "ws"
        self._port = int(runner.addresses[0][1])
        log.info("signaling server listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection (1001 going away) and stop listening."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await runner.cleanup()
        log.info("signaling server stopped")

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{self._scheme}://{host}:{self.port}/ws"

    @property
    def online(self) -> list[str]:
        """Registered user names (for status pages and tests)."""
        return sorted(self._users)

    async def _on_shutdown(self, _app: web.Application) -> None:
        clients = list(self._clients)
        if not clients:
            return
        log.info("closing %d signaling connection(s)", len(clients))
        tasks = [asyncio.ensure_future(self._close_client(c)) for c in clients]
        _done, pending = await asyncio.wait(tasks, timeout=self._close_timeout)
        for task in pending:
            task.cancel()
        for client in clients:
            if not client.ws.closed:
                client.abort()

    async def _close_client(self, client: Connection) -> None:
        client.stop_writing()
        with contextlib.suppress(Exception):
            await client.ws.close(code=_GOING_AWAY, message=b"server shutting down", drain=False)

    # --- connection --------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            compress=False,
            heartbeat=self._heartbeat,
            # aiohttp refuses a frame of exactly max_msg_size bytes.
            max_msg_size=self._limits.max_message + 1,
            timeout=self._close_timeout,
        )
        await ws.prepare(request)
        address = request.remote or "?"
        if self._per_address[address] >= self._limits.connections_per_address:
            await self._refuse_connection(ws, address)
            return ws
        loop = asyncio.get_running_loop()
        client = Connection(
            ws, request, RateGuard(self._limits, loop.time()), self._max_queue_bytes
        )
        self._clients.add(client)
        self._per_address[address] += 1
        log.debug("connection from %s", address)
        try:
            await self._read_loop(client)
        finally:
            self._clients.discard(client)
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]
            self._leave(client)
            client.stop_writing()
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(code=client.close_code), self._close_timeout)
        return ws

    async def _refuse_connection(self, ws: web.WebSocketResponse, address: str) -> None:
        limit = self._limits.connections_per_address
        log.info("refused a connection from %s: %d already open", address, limit)
        err = m.ProtocolError(
            "too-many-connections", f"at most {limit} connections from one address"
        )
        with contextlib.suppress(Exception):
            await ws.send_str(m.encode(err.to_message()))
            await asyncio.wait_for(
                ws.close(code=_POLICY, message=b"too many connections"), self._close_timeout
            )

    def _rate_check(self, client: Connection) -> Verdict:
        """Apply the rate limit to one received frame, replying ``rate-limited`` if refused."""
        verdict = client.rate.check(asyncio.get_running_loop().time())
        if verdict is Verdict.CLOSE:
            log.info("closing %s: over the message rate limit for too long", client.label())
        elif verdict is Verdict.REFUSE:
            limit = self._limits.rate
            self._reply_error(
                client,
                m.ProtocolError(
                    "rate-limited", f"more than {limit:g} messages a second; this one was dropped"
                ),
            )
        return verdict

    async def _close_for_policy(self, client: Connection, err: m.ProtocolError) -> None:
        """Say why (past the queue, which is dropped on close), then close with 1008."""
        client.close_code = _POLICY
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                client.ws.send_str(m.encode(err.to_message())), self._close_timeout
            )

    async def _read_loop(self, client: Connection) -> None:
        ws = client.ws
        loop = asyncio.get_running_loop()
        hello_timeout = self._limits.hello_timeout
        hello_by = loop.time() + hello_timeout
        while not client.closed:
            wait = None if client.name is not None else max(hello_by - loop.time(), 0.001)
            try:
                msg = await ws.receive(timeout=wait)
            except TimeoutError:
                log.info("closing %s: no hello within %g s", client.label(), hello_timeout)
                await self._close_for_policy(
                    client,
                    m.ProtocolError("not-registered", f"no hello within {hello_timeout:g} s"),
                )
                return
            kind = msg.type
            if kind in (WSMsgType.TEXT, WSMsgType.BINARY):
                verdict = self._rate_check(client)
                if verdict is Verdict.CLOSE:
                    await self._close_for_policy(
                        client,
                        m.ProtocolError("rate-limited", "over the message rate for too long"),
                    )
                    return
                if verdict is Verdict.REFUSE:
                    continue
            if kind is WSMsgType.TEXT:
                pending = self._on_text(client, msg.data)
                if pending is not None:  # a hello that asks the cluster first
                    await pending
            elif kind is WSMsgType.BINARY:
                self._reply_error(
                    client, m.ProtocolError("bad-message", "binary frames are not accepted")
                )
            elif kind is WSMsgType.ERROR:
                log.debug("connection %s failed: %s", client.label(), ws.exception())
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    def _send(self, client: Party, text: str) -> None:
        client.send(text)

    def _announce(self, user: str, *, online: bool) -> None:
        """Presence of ``user`` to those who watch it."""
        text = m.encode(m.Presence(user=user, online=online))
        for target in self._presence.watchers(user):
            self._send(target, text)

    def _on_subscribe(self, client: Connection, subscribe: m.Subscribe) -> None:
        users = self._presence.subscribe(client, subscribe.users)
        online = sorted(u for u in users if self._is_online(u) and u != client.name)
        self._send(client, m.encode(m.PresenceSnapshot(online=tuple(online))))

    def _reply_error(self, client: Party, err: m.ProtocolError) -> None:
        log.debug("error to %s: %s: %s", client.label(), err.code, err.message)
        self._send(client, m.encode(err.to_message()))

    # --- messages -------------------------------------------------------------------

    def _on_text(self, client: Connection, text: str) -> Awaitable[None] | None:
        try:
            if m.frame_too_large(text, self._max_frame):
                raise m.ProtocolError("too-large", f"frame is larger than {self._max_frame} bytes")
            msg, obj = m.decode(text)
            if client.name is None:
                if not isinstance(msg, m.Hello):
                    raise m.ProtocolError(
                        "not-registered", "the first message must be hello", _call_of(msg)
                    )
                return self._on_hello(client, msg)
            if isinstance(msg, m.Invite):
                return self._on_invite(client, msg, obj)
            elif isinstance(msg, m.Ringing | m.Accept | m.Decline | m.Hangup | m.Sdp | m.Ice):
                self._on_call_message(client, msg, obj)
            elif isinstance(msg, m.Subscribe):
                self._on_subscribe(client, msg)
            elif isinstance(msg, m.Hello):
                raise m.ProtocolError("bad-message", "hello: already registered")
            else:
                raise m.ProtocolError(
                    "bad-message", f"{obj['type']}: only the server sends this message"
                )
        except m.ProtocolError as err:
            self._reply_error(client, err)
        return None

    # --- what several nodes (softphone.signaling.cluster) replace ---------------------

    def _locate(self, name: str) -> Party | None:
        """The party registered as ``name``: here, one node's own connections."""
        return self._users.get(name)

    def _is_online(self, name: str) -> bool:
        return name in self._users

    def _online_names(self) -> list[str]:
        return list(self._users)

    def _on_hello(self, client: Connection, hello: m.Hello) -> Awaitable[None] | None:
        self._authorize(client, hello)
        name = hello.user
        if name in self._users:
            raise m.ProtocolError("name-taken", f'hello: user name "{name}" is already online')
        self._register(client, name)
        return None

    # --- registration ---------------------------------------------------------------

    def _authorize(self, client: Connection, hello: m.Hello) -> None:
        """Refuse a ``hello`` without the token this server requires."""
        if self._token is not None:
            given = (hello.token or "").encode()
            if not hmac.compare_digest(given, self._token):
                log.info("refused %s: wrong or missing token", client.label())
                raise m.ProtocolError("unauthorized", "hello: missing or wrong token")
        if self._secret is not None:
            try:
                verify_token(self._secret, hello.token, hello.user)
            except TokenError as err:
                log.info(
                    "refused %r from %s: %s", hello.user, client.request.remote or "?", err.reason
                )
                raise m.ProtocolError("unauthorized", f"hello: {err.reason}") from None

    def _register(self, client: Connection, name: str) -> None:
        """``name`` is free: register ``client`` under it and welcome it."""
        others = sorted(self._online_names()) if self._presence.mode == "all" else []
        self._announce(name, online=True)
        client.name = name
        self._users[name] = client
        self._presence.registered(client)
        regions = self._regions.for_user(name) if self._regions is not None else None
        self._send(client, m.encode(m.Welcome(user=name, online=tuple(others), regions=regions)))
        self._schedule_refresh(client)
        log.debug("%r joined (%d online)", name, len(self._users))

    def _schedule_refresh(self, client: Connection) -> None:
        """Push fresh TURN credentials to ``client`` before its current ones expire."""
        after = self._regions.refresh_after if self._regions is not None else None
        if after is not None:
            client.refresh = asyncio.get_running_loop().call_later(after, self._refresh, client)

    def _refresh(self, client: Connection) -> None:
        if client.closed or client.name is None or self._regions is None:
            return
        self._send(client, m.encode(m.Regions(regions=self._regions.for_user(client.name))))
        log.debug("fresh TURN credentials sent to %s", client.label())
        self._schedule_refresh(client)

    def _leave(self, client: Connection) -> None:
        if client.refresh is not None:
            client.refresh.cancel()
            client.refresh = None
        name = client.name
        if name is None:
            return
        for call_id, other in self._calls.end_all(client):
            self._send(other, m.encode(m.Hangup(call=call_id, reason="gone")))
        self._presence.unsubscribe(client)
        if self._users.get(name) is client:
            del self._users[name]
            self._announce(name, online=False)
        log.debug("%r left (%d online)", name, len(self._users))

    def _on_invite(
        self, client: Party, invite: m.Invite, obj: dict[str, Any]
    ) -> Awaitable[None] | None:
        call_id = invite.call
        existing = self._calls.get(call_id)
        callee = self._locate(invite.to)
        if existing is not None:
            same_pair = (existing.caller is client and existing.callee is callee) or (
                existing.caller is callee and existing.callee is client
            )
            if not same_pair and invite.resume and callee is not None:
                same_pair = self._calls.rebind(call_id, client, callee)
            if not same_pair:
                raise m.ProtocolError(
                    "bad-message", "invite: this call id is already in use; pick a new one", call_id
                )
            # The same invite again (a retransmission), or the other party
            # resuming the same call after a reconnect: relay it again.
        elif invite.to == client.name:
            raise m.ProtocolError("bad-message", "invite: cannot call yourself", call_id)
        elif callee is None:
            raise m.ProtocolError(
                "unavailable", f'invite: user "{invite.to}" is not online', call_id
            )
        elif invite.resume:
            # A call that was up before a reconnect or restart: nothing to accept.
            self._calls.add(call_id, Call(caller=client, callee=callee, accepted=True))
        else:
            limit = self._limits.pending_invites
            if client.pending >= limit:
                raise m.ProtocolError(
                    "too-many-invites",
                    f"invite: at most {limit} calls may wait for an answer at once",
                    call_id,
                )
            self._calls.add(call_id, Call(caller=client, callee=callee))
        assert callee is not None
        self._relay(client, callee, obj)
        return None

    def _on_call_message(self, client: Party, msg: m.CallMessage, obj: dict[str, Any]) -> None:
        call_id = msg.call
        call = self._calls.get(call_id)
        other = call.other(client) if call is not None else None
        if call is None or other is None:
            raise m.ProtocolError(
                "unknown-call", f"{obj['type']}: no call with this id is yours", call_id
            )
        if isinstance(msg, m.Decline | m.Hangup):
            self._calls.end(call_id)
        elif isinstance(msg, m.Accept) and client is call.callee:
            call.accept()
        self._relay(client, other, obj)

    def _relay(self, sender: Party, target: Party, obj: dict[str, Any]) -> None:
        obj["from"] = sender.name
        self._send(target, m.dumps(obj))


def _call_of(msg: m.Message) -> str | None:
    call = getattr(msg, "call", None)
    return call if isinstance(call, str) else None


async def run_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    *,
    secret: bytes | None = None,
    regions: list[dict[str, Any]] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve until cancelled or until SIGINT/SIGTERM (``softphone serve``)."""
    server = SignalingServer(token=token, secret=secret, regions=regions)
    await server.start(host, port, ssl_context=ssl_context)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stopping.set)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or not supported here
        installed.append(sig)
    try:
        await stopping.wait()
        log.info("signal received, shutting down")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.stop()
