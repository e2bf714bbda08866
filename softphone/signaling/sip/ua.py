"""The user agent core: builds requests, matches responses to client transactions.

Over a WebSocket (reliable) nothing is retransmitted; a client transaction
only needs its timeout (RFC 3261 Timer B/F, 64*T1 = 32 s). Every frame from
outside goes through :func:`message.parse`; a malformed request is answered
400 where possible and logged, a malformed response is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from sipmessage import URI, Address, CSeq, Parameters, Request, Response, Via

from softphone.signaling.sip import message as m
from softphone.signaling.sip.digest import Credentials, DigestError, authorization, choose
from softphone.signaling.sip.transport import WsTransport

log = logging.getLogger("softphone.signaling.sip")

TRANSACTION_TIMEOUT: Final = 32.0
USER_AGENT: Final = "softphone"
ALLOW: Final = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

Provisional = Callable[[Response], None]
RequestHandler = Callable[[Request], None]


class SipTimeout(TimeoutError):
    """No final response within Timer B/F."""


@dataclass
class Identity:
    """Who we are: address of record, display name, the Contact we register."""

    aor: URI
    display_name: str = ""
    credentials: Credentials | None = None
    outbound_proxy: URI | None = None
    secure: bool = False
    instance: str = field(default_factory=lambda: secrets.token_hex(6))

    @property
    def via_transport(self) -> str:
        return "WSS" if self.secure else "WS"

    @property
    def contact_uri(self) -> URI:
        return URI(
            scheme="sip",
            host=f"{self.instance}.invalid",
            user=self.instance,
            parameters=Parameters(transport="ws"),
        )

    @property
    def local_address(self) -> Address:
        return Address(uri=self.aor, name=self.display_name)


@dataclass
class _Pending:
    method: str
    future: asyncio.Future[Response]
    provisional: Provisional | None


class UserAgent:
    """Sends requests; routes responses to their transactions, requests to ``handler``."""

    def __init__(self, transport: WsTransport, identity: Identity) -> None:
        self.transport = transport
        self.identity = identity
        self.handler: RequestHandler | None = None
        self._pending: dict[str, _Pending] = {}
        self._replies: set[asyncio.Task[None]] = set()

    # --- building -------------------------------------------------------------

    def request(
        self,
        method: str,
        uri: URI,
        *,
        to: Address,
        from_tag: str,
        call_id: str,
        cseq: int,
        routes: list[str] | None = None,
        contact: bool = False,
        branch: str | None = None,
    ) -> Request:
        request = Request(method, uri)
        via = Via(
            transport=self.identity.via_transport,
            host=f"{self.identity.instance}.invalid",
            parameters=Parameters(branch=branch or m.new_branch(), rport=None),
        )
        request.headers.set("Via", str(via))
        request.headers.set("Max-Forwards", "70")
        local = self.identity.local_address
        request.from_address = Address(
            uri=local.uri, name=local.name, parameters=local.parameters.replace(tag=from_tag)
        )
        request.to_address = to
        request.call_id = call_id
        request.cseq = CSeq(cseq, method)
        if routes is None and self.identity.outbound_proxy is not None:
            routes = [f"<{self.identity.outbound_proxy};lr>"]
        if routes:
            request.headers.setlist("Route", routes)
        if contact:
            request.headers.set("Contact", f"<{self.identity.contact_uri}>")
        request.headers.set("User-Agent", USER_AGENT)
        m.with_body(request, b"", None)
        return request

    # --- sending ------------------------------------------------------------------

    async def send(self, message: Request | Response) -> None:
        await self.transport.send(bytes(message))

    async def transact(self, request: Request, provisional: Provisional | None = None) -> Response:
        """Send ``request`` and return its final response (Timer B/F: :class:`SipTimeout`)."""
        key = _key(request.via[0].parameters.get("branch") or "", request.method)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[key] = _Pending(request.method, future, provisional)
        try:
            await self.send(request)
            return await asyncio.wait_for(asyncio.shield(future), TRANSACTION_TIMEOUT)
        except TimeoutError:
            raise SipTimeout(
                f"no answer to {request.method} within {TRANSACTION_TIMEOUT:.0f} s"
            ) from None
        finally:
            self._pending.pop(key, None)

    async def transact_authenticated(
        self,
        build: Callable[[int], Request],
        first_cseq: int,
        provisional: Provisional | None = None,
    ) -> tuple[Response, int]:
        """``build(cseq)`` sent, and once more with credentials after a 401/407.

        Returns the final response and the CSeq number used last. A second
        challenge is returned as is (the credentials were refused).
        """
        request = build(first_cseq)
        response = await self.transact(request, provisional)
        if response.code not in (401, 407) or self.identity.credentials is None:
            return response, first_cseq
        if request.method == "INVITE":
            await self.send(self.ack_for_failure(request, response))
        header = "WWW-Authenticate" if response.code == 401 else "Proxy-Authenticate"
        try:
            challenge = choose(response.headers.getlist(header))
        except DigestError as exc:
            log.warning("%s challenge from the server: %s", request.method, exc)
            return response, first_cseq
        log.info(
            "answering the %d challenge to %s (%s)",
            response.code,
            request.method,
            challenge.parameters.get("algorithm", "MD5"),
        )
        cseq = first_cseq + 1
        retry = build(cseq)
        credentials = authorization(
            challenge, self.identity.credentials, retry.method, str(retry.uri)
        )
        key = "Authorization" if response.code == 401 else "Proxy-Authorization"
        retry.headers.set(key, str(credentials))
        return await self.transact(retry, provisional), cseq

    def ack_for_failure(self, invite: Request, response: Response) -> Request:
        """The hop-by-hop ACK of a non-2xx final response (RFC 3261 section 17.1.1.3)."""
        return same_transaction(invite, "ACK", response.headers["To"])

    # --- receiving ------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """One frame from the server: keepalive, response, or request."""
        if not data.strip():
            return  # a CRLF keepalive pong (RFC 5626 section 4.4.1)
        try:
            message = m.parse(data)
        except m.SipSyntaxError as exc:
            log.warning("malformed SIP message from %s dropped: %s", self.transport.url, exc)
            reply = m.bad_request_reply(data, str(exc))
            if reply is not None:
                task = asyncio.ensure_future(self.send_quietly(reply))
                self._replies.add(task)
                task.add_done_callback(self._replies.discard)
            return
        if isinstance(message, Response):
            self._on_response(message)
        elif self.handler is not None:
            self.handler(message)

    async def send_quietly(self, message: Request | Response) -> None:
        """Best effort (an ACK, a reply): a dead link is logged, not raised."""
        try:
            await self.send(message)
        except ConnectionError as exc:
            log.info("could not send %s: %s", type(message).__name__, exc)

    async def transact_quietly(self, request: Request) -> None:
        """Best effort (a BYE, a CANCEL): no answer or a dead link is logged, not raised."""
        try:
            await self.transact(request)
        except (ConnectionError, TimeoutError) as exc:
            log.info("%s got no answer: %s", request.method, exc)

    def _on_response(self, response: Response) -> None:
        branch = response.via[0].parameters.get("branch") or ""
        pending = self._pending.get(_key(branch, response.cseq.method))
        if pending is None:
            log.debug("response %d for no transaction of ours dropped", response.code)
            return
        if response.code < 200:
            if pending.provisional is not None:
                pending.provisional(response)
        elif not pending.future.done():
            pending.future.set_result(response)

    def fail_all(self, reason: str) -> None:
        """The link dropped: every open transaction ends now (with a 503 of our own)."""
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(ConnectionError(reason))


def _key(branch: str, method: str) -> str:
    """A client transaction is its branch and method (a CANCEL shares the INVITE's branch)."""
    return f"{branch} {method}"


def same_transaction(invite: Request, method: str, to: str | None = None) -> Request:
    """An ACK (non-2xx) or CANCEL of ``invite``: its branch, Call-ID, From, Route, CSeq number."""
    request = Request(method, invite.uri)
    request.headers.set("Via", invite.headers.getlist("Via")[0])
    request.headers.set("Max-Forwards", "70")
    request.headers.set("From", invite.headers["From"])
    request.headers.set("To", to or invite.headers["To"])
    request.call_id = invite.call_id
    request.cseq = CSeq(invite.cseq.sequence, method)
    if routes := invite.headers.getlist("Route"):
        request.headers.setlist("Route", routes)
    m.with_body(request, b"", None)
    return request
