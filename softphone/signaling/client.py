"""The JSON-over-WebSocket signaling client: docs/protocol.md section 1 behind :class:`Signaling`.

The session manager must never see a frame or an exception from the reader, so
everything the server says (including garbage) becomes an adapter event, and a
lost link turns into ``ConnectionChanged`` events while the client reconnects
and re-registers under the same name on its own.

Refusals are handled differently at start and later: at :meth:`start` a
``name-taken``/``unauthorized``/``bad-message`` reply is the user's problem and
raised as :class:`SignalingRefused`; after a reconnect ``name-taken`` usually
means the server has not yet noticed that our old connection died, so the
client keeps retrying, while ``unauthorized`` or ``bad-message`` cannot get
better by retrying and end the link (``SignalingError`` then
``ConnectionChanged("closed")``).

With ``contacts`` the client subscribes to their presence after every
welcome, and ``Registered.online`` is the server's ``presence-snapshot`` of
them. ``wss://`` servers are verified against the system trust store plus
``ca_file``; a certificate that does not verify fails :meth:`start` at once
with a reason naming the host. A ``regions`` push becomes ``RegionsRefreshed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import aiohttp
from yarl import URL

from softphone.signaling import messages as m
from softphone.signaling.adapter import (
    Accepted,
    Candidate,
    ConnectionChanged,
    Declined,
    Description,
    HungUp,
    Invited,
    Listener,
    Presence,
    RegionsRefreshed,
    Registered,
    RemoteCandidate,
    RemoteDescription,
    Ringing,
    Signaling,
    SignalingError,
    SignalingEvent,
    SignalingUnavailable,
)
from softphone.signaling.tls import INSECURE_NOTICE, client_context

log = logging.getLogger("softphone.signaling")

__all__ = ["JsonSignalingClient", "SignalingRefused"]

# Frames from the server may be larger than what we may send (a welcome with a
# long online list), so the client's receive limit is generous.
_MAX_RECEIVE: Final = 16 * 1024 * 1024
_CLOSE_TIMEOUT: Final = 1.0


class SignalingRefused(Exception):
    """The server refused to register us (``code`` as in docs/protocol.md section 1)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


_UNREACHABLE: Final = (OSError, aiohttp.ClientError, TimeoutError, ConnectionError)


def _describe(exc: BaseException) -> str:
    """A short reason for a failed connection, free of URLs and credentials."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        reason = getattr(cert_error, "verify_message", None) or str(cert_error)
        return f"the TLS certificate of {exc.host} does not verify: {reason}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        reason = getattr(exc.os_error, "reason", None) or type(exc.os_error).__name__
        return f"TLS with {exc.host} failed: {reason}"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"WebSocket handshake refused (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        return err.strerror or type(err).__name__
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return text if text else type(exc).__name__


def _close_detail(code: int | None) -> str:
    if code == aiohttp.WSCloseCode.GOING_AWAY:
        return "server is shutting down"
    if code is None:
        return "connection lost"
    return f"connection closed (code {code})"


async def _next_message(ws: aiohttp.ClientWebSocketResponse) -> tuple[str, m.Message | None]:
    """The next text frame during registration and its message (None if malformed).

    Binary frames are skipped; a closed link raises ``ConnectionError``.
    """
    while True:
        frame = await ws.receive()
        if frame.type is aiohttp.WSMsgType.TEXT:
            try:
                return frame.data, m.parse_frame(frame.data)
            except m.ProtocolError:
                return frame.data, None
        if frame.type is not aiohttp.WSMsgType.BINARY:
            raise ConnectionError(_close_detail(ws.close_code))


class JsonSignalingClient(Signaling):
    """A user on a JSON signaling server, reconnecting by itself until :meth:`close`."""

    def __init__(
        self,
        url: str,
        user: str,
        token: str | None = None,
        *,
        reconnect: bool = True,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        start_timeout: float = 3.0,
        handshake_timeout: float = 5.0,
        heartbeat: float | None = 15.0,
        contacts: Sequence[str] | None = None,
        ca_file: Path | None = None,
        insecure: bool = False,
    ) -> None:
        if contacts is not None and (
            len(contacts) > m.MAX_SUBSCRIPTIONS or not all(map(m.is_user_name, contacts))
        ):
            raise ValueError(f"contacts: at most {m.MAX_SUBSCRIPTIONS} valid user names")
        self.user = user
        secure = url.lower().startswith("wss:")
        self._ssl: ssl.SSLContext | bool = (
            client_context(ca_file, insecure=insecure) if secure else True
        )
        #: Something the user should know about this connection (verification off).
        self.notice: str | None = INSECURE_NOTICE if secure and insecure else None
        self._contacts = tuple(contacts) if contacts is not None else None
        self._early: list[str] = []  # frames that came while waiting for presence-snapshot
        self._url = url
        self._token = token
        self._reconnect = reconnect
        self._backoff_initial = backoff_initial
        self._backoff_max = max(backoff_max, backoff_initial)
        self._start_timeout = start_timeout
        self._handshake_timeout = handshake_timeout
        self._heartbeat = heartbeat
        self._listener: Listener | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """True while registered on a live connection."""
        return self._ws is not None and not self._ws.closed

    @property
    def shown_url(self) -> str:
        """The server URL without user info or query (safe to show and log)."""
        try:
            return str(URL(self._url).with_user(None).with_query(None))
        except (ValueError, TypeError):
            return "<invalid URL>"

    # --- lifecycle -------------------------------------------------------------

    async def start(self, listener: Listener) -> None:
        if self._listener is not None:
            raise RuntimeError("start() was already called")
        if self._closed:
            raise RuntimeError("client is closed")
        self._listener = listener
        if self.notice is not None:
            log.warning("%s (%s as %r)", self.notice, self.shown_url, self.user)
        self._session = aiohttp.ClientSession()
        self._emit(ConnectionChanged("connecting"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._start_timeout
        attempt = 0
        while True:
            remaining = deadline - loop.time()
            try:
                ws, welcome = await self._connect(min(self._handshake_timeout, max(remaining, 1.0)))
                break
            except _Refused as refused:
                await self._drop_session()
                raise SignalingRefused(refused.code, refused.message) from None
            except _UNREACHABLE as exc:
                delay = self._backoff(attempt)
                attempt += 1
                hopeless = isinstance(exc, aiohttp.ClientConnectorCertificateError)
                if self._closed or hopeless or loop.time() + delay >= deadline:
                    await self._drop_session()
                    raise SignalingUnavailable(
                        f"cannot reach the signaling server at {self.shown_url}: {_describe(exc)}"
                    ) from None
                await asyncio.sleep(delay)
        self._registered(ws, welcome)
        self._task = asyncio.create_task(self._run(ws), name=f"signaling-{self.user}")

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await ws.close()
        await self._drop_session()

    async def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _backoff(self, attempt: int) -> float:
        base = min(self._backoff_max, math.ldexp(self._backoff_initial, min(attempt, 30)))
        return base * random.uniform(0.5, 1.0)

    # --- connection -------------------------------------------------------------

    async def _connect(
        self, timeout: float | None = None
    ) -> tuple[aiohttp.ClientWebSocketResponse, m.Welcome]:
        """Connect and register; raises ``_Refused`` or one of ``_UNREACHABLE``."""
        session = self._session
        if session is None:
            raise ConnectionError("client is closed")
        async with asyncio.timeout(timeout if timeout is not None else self._handshake_timeout):
            ws = await session.ws_connect(
                self._url,
                ssl=self._ssl,
                heartbeat=self._heartbeat,
                max_msg_size=_MAX_RECEIVE,
                autoping=True,
            )
            try:
                await ws.send_str(m.encode(m.Hello(user=self.user, token=self._token)))
                while True:
                    _text, msg = await _next_message(ws)
                    if msg is None:
                        log.warning("malformed frame from server at hello")
                        continue
                    if isinstance(msg, m.Welcome):
                        return ws, await self._subscribe(ws, msg)
                    if isinstance(msg, m.Error):
                        raise _Refused(msg.code, msg.message)
                    log.debug("ignoring %s before welcome", type(msg).__name__)
            except BaseException:
                with contextlib.suppress(Exception):
                    await ws.close()
                raise

    async def _subscribe(
        self, ws: aiohttp.ClientWebSocketResponse, welcome: m.Welcome
    ) -> m.Welcome:
        """With contacts, subscribe to them; welcome's online list becomes the snapshot.

        Frames that arrive meanwhile (an invite, say) are kept for after
        ``Registered``, except presence, which the snapshot supersedes.
        """
        self._early.clear()
        if self._contacts is None:
            return welcome
        await ws.send_str(m.encode(m.Subscribe(users=self._contacts)))
        while True:
            text, msg = await _next_message(ws)
            if isinstance(msg, m.PresenceSnapshot):
                return dataclasses.replace(welcome, online=msg.online)
            if isinstance(msg, m.Error) and msg.call is None and msg.code == "bad-message":
                log.warning("server does not support presence subscriptions: %s", msg.message)
                return welcome
            if not isinstance(msg, m.Presence):
                self._early.append(text)  # malformed ones too: reported once registered

    def _registered(self, ws: aiohttp.ClientWebSocketResponse, welcome: m.Welcome) -> None:
        self._ws = ws
        log.info("registered as %r on %s", self.user, self.shown_url)
        self._emit(ConnectionChanged("connected"))
        self._emit(Registered(user=welcome.user, online=welcome.online, regions=welcome.regions))
        early, self._early = self._early, []
        for text in early:
            self._dispatch(text)

    async def _run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read until the link is lost, then reconnect; repeat until closed."""
        current: aiohttp.ClientWebSocketResponse | None = ws
        while current is not None and not self._closed:
            detail = await self._read(current)
            self._ws = None
            with contextlib.suppress(Exception):
                await current.close()
            if self._closed:
                return
            log.info("signaling link lost: %s", detail)
            if not self._reconnect:
                self._emit(ConnectionChanged("closed", detail))
                return
            current = await self._reconnect_loop(detail)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        while True:
            frame = await ws.receive()
            if frame.type is aiohttp.WSMsgType.TEXT:
                self._dispatch(frame.data)
            elif frame.type is aiohttp.WSMsgType.BINARY:
                log.warning("binary frame from server ignored")
                self._emit(SignalingError("bad-message", "server sent a binary frame"))
            elif frame.type is aiohttp.WSMsgType.ERROR:
                return f"connection error: {_describe(ws.exception() or ConnectionError())}"
            else:
                return _close_detail(ws.close_code)

    async def _reconnect_loop(self, detail: str) -> aiohttp.ClientWebSocketResponse | None:
        attempt = 0
        while not self._closed:
            delay = self._backoff(attempt)
            attempt += 1
            self._emit(ConnectionChanged("reconnecting", detail, retry_in=delay))
            await asyncio.sleep(delay)
            if self._closed:
                return None
            try:
                ws, welcome = await self._connect()
            except _Refused as refused:
                if refused.code == "name-taken":
                    detail = "the server still has our name; retrying"
                    continue
                log.warning("server refused to register again: %s", refused.code)
                self._emit(SignalingError(refused.code, refused.message))
                self._emit(ConnectionChanged("closed", f"server refused: {refused.code}"))
                return None
            except _UNREACHABLE as exc:
                detail = _describe(exc)
                continue
            self._registered(ws, welcome)
            return ws
        return None

    # --- events -------------------------------------------------------------------

    def _emit(self, event: SignalingEvent) -> None:
        listener = self._listener
        if self._closed or listener is None:
            return
        try:
            listener(event)
        except Exception:
            log.exception("signaling listener failed on %s", type(event).__name__)

    def _dispatch(self, text: str) -> None:
        try:
            msg = m.parse_frame(text)
        except m.ProtocolError as err:
            log.warning("malformed frame from server: %s", err.message)
            self._emit(SignalingError("bad-message", f"malformed frame from server: {err.message}"))
            return
        event = self._event_for(msg)
        if event is not None:
            self._emit(event)

    def _event_for(self, msg: m.Message) -> SignalingEvent | None:
        match msg:
            case m.Presence(user=user, online=online):
                return Presence(user=user, online=online)
            case m.Regions(regions=regions):
                return RegionsRefreshed(regions=regions)
            case m.Error(code=code, message=message, call=call):
                return SignalingError(code, message, call)
            case m.Invite(call=call, sender=sender, resume=resume):
                if sender is None:
                    return SignalingError(
                        "bad-message", 'server sent an invite without "from"', call
                    )
                return Invited(call=call, caller=sender, resume=resume)
            case m.Ringing(call=call):
                return Ringing(call=call)
            case m.Accept(call=call):
                return Accepted(call=call)
            case m.Decline(call=call, reason=reason):
                return Declined(call=call, reason=reason)
            case m.Hangup(call=call, reason=reason):
                return HungUp(call=call, reason=reason)
            case m.Sdp(call=call, description=description):
                return RemoteDescription(call=call, description=description)
            case m.Ice(call=call, candidate=candidate):
                return RemoteCandidate(call=call, candidate=candidate)
            case _:
                log.debug("ignoring unexpected %s from server", type(msg).__name__)
                return None

    # --- sends ----------------------------------------------------------------------

    async def _send(self, msg: m.Message) -> None:
        ws = self._ws
        if self._closed or ws is None or ws.closed:
            raise SignalingUnavailable("not connected to the signaling server")
        try:
            await ws.send_str(m.encode(msg))
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise SignalingUnavailable(
                f"lost the signaling server while sending: {_describe(exc)}"
            ) from None

    async def invite(self, call: str, to: str, *, resume: bool = False) -> None:
        await self._send(m.Invite(call=call, to=to, resume=resume))

    async def ringing(self, call: str) -> None:
        await self._send(m.Ringing(call=call))

    async def accept(self, call: str) -> None:
        await self._send(m.Accept(call=call))

    async def decline(self, call: str, reason: str = "declined") -> None:
        await self._send(m.Decline(call=call, reason=reason))

    async def hangup(self, call: str, reason: str | None = None) -> None:
        await self._send(m.Hangup(call=call, reason=reason))

    async def send_description(self, call: str, description: Description) -> None:
        await self._send(m.Sdp(call=call, description=description))

    async def send_candidate(self, call: str, candidate: Candidate | None) -> None:
        await self._send(m.Ice(call=call, candidate=candidate))
