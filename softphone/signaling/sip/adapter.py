"""SIP over WebSocket as the session manager's :class:`Signaling` (issue 14).

How the session's JSON-shaped flow maps onto SIP, where the INVITE carries
the offer (:attr:`offer_in_invite`):

- outgoing: ``invite()`` records the target; ``send_description(offer)`` sends the INVITE.
  180/183 are :class:`Ringing`, the 2xx :class:`Accepted`, the answer (a 183's SDP: early
  media) a :class:`RemoteDescription`; 486/603/480 are :class:`Declined`.
- incoming: an INVITE is :class:`Invited`; ``accept()`` hands its offer to the session as a
  :class:`RemoteDescription`, whose answer goes in the 200 OK. CANCEL, BYE: :class:`HungUp`.
- an offer in a call (ICE restart, region switch, hold) is a re-INVITE, and one from the
  far end a remote offer. Glare is 491, retried after RFC 3261 section 14.1's random wait.

A late-offer INVITE (no SDP) is answered with our offer in the 200; the ACK has the answer.
No trickle (all candidates are in the SDP). link.py: WebSocket, registration, keepalive,
reconnects; calls.py: the per-call record; info.py: INFO dtmf-relay.

Why long: every request and response of a call meets the session's flow here, in one
place that reads the same per-call state; what is not that already lives in the modules named.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Coroutine
from typing import Any

from sipmessage import URI, Address, Request, Response

from softphone.descriptions import Candidate, Description
from softphone.signaling.adapter import (
    Accepted,
    Declined,
    HungUp,
    Invited,
    Listener,
    RemoteDescription,
    Ringing,
    Signaling,
    SignalingError,
    SignalingEvent,
    SignalingUnavailable,
)
from softphone.signaling.sip import message as m
from softphone.signaling.sip.calls import (
    DECLINE_CODES,
    FAILURE_REASONS,
    SDP,
    SipCall,
    SipConfig,
    answer_in,
    party_name,
    target_uri,
)
from softphone.signaling.sip.dialog import Dialog
from softphone.signaling.sip.digest import Credentials
from softphone.signaling.sip.info import answer_info
from softphone.signaling.sip.link import Link
from softphone.signaling.sip.settings import SipSettingError, parse_sip_uri
from softphone.signaling.sip.transport import WsTransport
from softphone.signaling.sip.ua import ALLOW, Identity, UserAgent, same_transaction

__all__ = ["SipConfig", "SipSignaling"]

log = logging.getLogger("softphone.signaling.sip")


class SipSignaling(Signaling):
    """One registered SIP user agent on one WebSocket; at most a few calls at a time."""

    offer_in_invite = True

    def __init__(self, config: SipConfig) -> None:
        aor = parse_sip_uri(config.uri)
        if not aor.user:
            raise SipSettingError("sip_uri has no user part")
        self.aor = aor
        self.user = aor.user
        self.server = config.ws
        self.transport = WsTransport(config.ws)
        credentials = None
        if config.password:
            credentials = Credentials(config.auth_user or aor.user, config.password)
        proxy = parse_sip_uri(config.outbound_proxy) if config.outbound_proxy else None
        self.identity = Identity(
            aor=aor,
            display_name=config.display_name or "",
            credentials=credentials,
            outbound_proxy=proxy,
            secure=config.ws.startswith("wss:"),
        )
        self.ua = UserAgent(self.transport, self.identity)
        self.ua.handler = self._on_request
        self.link = Link(self.ua, self._emit, config.keepalive_s)
        self._listener: Listener | None = None
        self._calls: dict[str, SipCall] = {}
        self._by_call_id: dict[str, SipCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- target names ------------------------------------------------------------

    def callee_problem(self, to: str) -> str | None:
        try:
            self.target(to)
        except SipSettingError as exc:
            return f"cannot call {to[:64]!r}: {exc}"
        return None

    def target(self, to: str) -> URI:
        """``sip:bob@host`` as given; a bare ``bob`` completed with the domain of sip_uri."""
        return target_uri(self.aor, to)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, listener: Listener) -> None:
        if self._listener is not None:
            raise RuntimeError("start() was already called")
        self._listener = listener
        await self.link.start()

    async def close(self) -> None:
        if self._closed:
            return
        self.link.closing = True
        for call in list(self._calls.values()):
            with contextlib.suppress(SignalingUnavailable):
                await self.hangup(call.id)
        await self.link.close()
        self._closed = True
        for task in list(self._tasks):
            task.cancel()

    # --- commands from the session ---------------------------------------------------

    async def invite(self, call: str, to: str, *, resume: bool = False) -> None:
        self._require_link()
        if resume:
            return  # a SIP dialog lives in the endpoints; nothing to re-announce
        try:
            target = self.target(to)
        except SipSettingError as exc:
            raise SignalingUnavailable(str(exc)) from None
        sip_call = SipCall(
            id=call,
            direction="outgoing",
            call_id=m.new_call_id(),
            local_tag=m.new_tag(),
            target=target,
        )
        self._add(sip_call)

    async def ringing(self, call: str) -> None:
        sip_call = self._calls.get(call)
        if sip_call is None or sip_call.invite is None or sip_call.direction != "incoming":
            return
        reply = self._uas_reply(sip_call, 180, "Ringing")
        await self._send(reply)

    async def accept(self, call: str) -> None:
        sip_call = self._calls.get(call)
        if sip_call is None or sip_call.direction != "incoming" or sip_call.state == "ended":
            return
        sip_call.accepted = True
        if not sip_call.late_offer:
            self._emit(RemoteDescription(call, Description("offer", sip_call.offer.decode())))

    def answer_carries_offer(self, call: str) -> bool:
        sip_call = self._calls.get(call)
        return sip_call is not None and sip_call.late_offer and sip_call.dialog is None

    async def decline(self, call: str, reason: str = "declined") -> None:
        sip_call = self._calls.get(call)
        if sip_call is None or sip_call.invite is None or sip_call.state == "ended":
            return
        code, phrase = DECLINE_CODES.get(reason, (603, "Decline"))
        self._end(sip_call)
        await self._send(self._uas_reply(sip_call, code, phrase))

    async def hangup(self, call: str, reason: str | None = None) -> None:
        sip_call = self._calls.get(call)
        if sip_call is None or sip_call.state == "ended":
            return
        state = sip_call.state
        self._end(sip_call)
        if sip_call.direction == "incoming" and sip_call.dialog is None:
            if sip_call.invite is not None:
                await self._send(self._uas_reply(sip_call, 603, "Decline"))
            return
        if state == "confirmed" and sip_call.dialog is not None:
            bye = sip_call.dialog.request(self.ua, "BYE")
            self._spawn(self.ua.transact_quietly(bye))
        elif state in ("inviting", "early"):
            sip_call.cancelled = True
            self._spawn(self._cancel(sip_call))

    async def send_description(self, call: str, description: Description) -> None:
        sip_call = self._calls.get(call)
        if sip_call is None or sip_call.state == "ended":
            return
        self._require_link()
        body = description.sdp.encode()
        if description.type == "offer" and self.answer_carries_offer(call):
            await self._send_answer(sip_call, body)  # late offer: our offer in the 200 OK
        elif description.type == "offer":
            if sip_call.direction == "outgoing" and sip_call.state == "pending":
                sip_call.state = "inviting"
                self._spawn(self._run_invite(sip_call, body))
            elif sip_call.state == "confirmed":
                self._spawn(self._run_reinvite(sip_call, body))
            else:
                log.info("call %s: offer while %s not sent", call, sip_call.state)
        elif description.type == "answer":
            await self._send_answer(sip_call, body)

    async def send_candidate(self, call: str, candidate: Candidate | None) -> None:
        """Nothing to do: every candidate is already in the SDP (no trickle over SIP)."""

    # --- outgoing INVITE ----------------------------------------------------------------

    async def _run_invite(self, call: SipCall, sdp: bytes) -> None:
        assert call.target is not None
        target = call.target

        def build(cseq: int) -> Request:
            request = self.ua.request(
                "INVITE",
                target,
                to=Address(uri=target),
                from_tag=call.local_tag,
                call_id=call.call_id,
                cseq=cseq,
                contact=True,
            )
            request.headers.set("Allow", ALLOW)
            m.with_body(request, sdp, SDP)
            call.invite = request
            return request

        def provisional(response: Response) -> None:
            call.provisional.set()
            if response.code in (180, 183) and call.state == "inviting":
                call.state = "early"
                self._emit(Ringing(call.id))
            if call.state == "early" and (early := answer_in(call, response)) is not None:
                self._emit(RemoteDescription(call.id, early))  # early media (183 with SDP)

        try:
            response, cseq = await self.ua.transact_authenticated(build, 1, provisional)
        except (ConnectionError, TimeoutError) as exc:
            self._fail(call, "unavailable", f"INVITE not answered by {self.server}: {exc}")
            return
        invite = call.invite
        assert invite is not None
        if response.code >= 300:
            await self.ua.send_quietly(self.ua.ack_for_failure(invite, response))
            self._on_invite_failed(call, response)
            return
        if response.code >= 200:
            dialog = Dialog.as_uac(invite, response, call.local_tag, cseq)
            call.dialog = dialog
            await self.ua.send_quietly(dialog.request(self.ua, "ACK", cseq=cseq))
            if call.cancelled or call.state == "ended":
                # The 200 crossed our CANCEL: the call is up at the far end; end it there.
                self._spawn(self.ua.transact_quietly(dialog.request(self.ua, "BYE")))
                return
            call.state = "confirmed"
            self._emit(Accepted(call.id))
            if (answer := answer_in(call, response)) is not None:
                self._emit(RemoteDescription(call.id, answer))

    def _on_invite_failed(self, call: SipCall, response: Response) -> None:
        if call.cancelled or call.state == "ended":
            return
        code = response.code
        if code == 487:
            self._end(call)
            self._emit(HungUp(call.id, "cancelled"))
            return
        reason = FAILURE_REASONS.get(code)
        if reason is None:
            reason = "unauthorized" if code in (401, 403, 407) else "failed"
            self._emit(
                SignalingError(
                    code=reason,
                    message=f"call refused by {self.server}: {code} {response.phrase}",
                    call=call.id,
                )
            )
        self._end(call)
        self._emit(Declined(call.id, reason))

    async def _cancel(self, call: SipCall) -> None:
        """CANCEL once a provisional response came (RFC 3261 section 9.1)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.provisional.wait(), 5)
        if call.invite is not None:
            await self.ua.transact_quietly(same_transaction(call.invite, "CANCEL"))

    # --- re-INVITE ---------------------------------------------------------------------

    async def _run_reinvite(self, call: SipCall, sdp: bytes) -> None:
        dialog = call.dialog
        assert dialog is not None
        for _attempt in range(3):
            if call.state != "confirmed":
                return
            call.reinvite_out = True
            try:
                response = await self._reinvite_once(dialog, sdp)
            except (ConnectionError, TimeoutError) as exc:
                self._emit(SignalingError("reinvite-failed", f"re-INVITE: {exc}", call.id))
                return
            finally:
                call.reinvite_out = False
            if response.code == 491:
                # Glare: the owner of the Call-ID waits 2.1-4 s, the other side 0-2 s.
                low, high = (2.1, 4.0) if dialog.owns_call_id else (0.0, 2.0)
                await asyncio.sleep(random.uniform(low, high))
                continue
            if response.code >= 300:
                self._emit(
                    SignalingError(
                        "reinvite-failed",
                        f"re-INVITE refused: {response.code} {response.phrase}",
                        call.id,
                    )
                )
                return
            if response.body:
                answer = Description("answer", response.body.decode())
                self._emit(RemoteDescription(call.id, answer))
            return

    async def _reinvite_once(self, dialog: Dialog, sdp: bytes) -> Response:
        sent: list[Request] = []

        def build(cseq: int) -> Request:
            request = dialog.request(self.ua, "INVITE", cseq=cseq)
            m.with_body(request, sdp, SDP)
            sent.append(request)
            return request

        dialog.local_cseq += 1
        response, cseq = await self.ua.transact_authenticated(build, dialog.local_cseq)
        dialog.local_cseq = cseq
        if 200 <= response.code < 300:
            await self.ua.send_quietly(dialog.request(self.ua, "ACK", cseq=cseq))
        elif response.code >= 300:
            await self.ua.send_quietly(self.ua.ack_for_failure(sent[-1], response))
        return response

    # --- answering --------------------------------------------------------------------------

    async def _send_answer(self, call: SipCall, sdp: bytes) -> None:
        if call.reinvite_in is not None:
            request, call.reinvite_in = call.reinvite_in, None
            reply = m.reply_to(request, 200, "OK")
            reply.headers.set("Contact", f"<{self.identity.contact_uri}>")
            m.with_body(reply, sdp, SDP)
            await self._send(reply)
        elif call.direction == "incoming" and call.accepted and call.dialog is None:
            assert call.invite is not None
            call.dialog = Dialog.as_uas(call.invite, call.local_tag)
            reply = self._uas_reply(call, 200, "OK")
            reply.headers.set("Allow", ALLOW)
            m.with_body(reply, sdp, SDP)
            call.state = "confirmed"
            await self._send(reply)

    def _uas_reply(self, call: SipCall, code: int, phrase: str) -> Response:
        assert call.invite is not None
        reply = m.reply_to(call.invite, code, phrase, to_tag=call.local_tag)
        if code < 300:
            reply.headers.set("Contact", f"<{self.identity.contact_uri}>")
        m.with_body(reply, b"", None)
        return reply

    # --- requests from the far end ---------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        method = request.method
        call = self._by_call_id.get(request.call_id)
        has_to_tag = "tag" in request.to_address.parameters
        if method == "ACK":
            if call is not None and call.late_offer and call.dialog is not None and request.body:
                call.late_offer = False  # the answer to the offer in our 200 OK
                self._emit(RemoteDescription(call.id, Description("answer", request.body.decode())))
            return
        if method == "INVITE" and not has_to_tag:
            self._on_invite(request, call)
        elif method == "INVITE":
            self._on_reinvite(request, call)
        elif method == "CANCEL":
            self._on_cancel(request, call)
        elif method == "BYE":
            self._on_bye(request, call)
        elif method == "INFO" and call is not None and call.state == "confirmed":
            reply, dtmf = answer_info(request, call.id)
            self._reply(reply)
            if dtmf is not None:
                self._emit(dtmf)
        else:
            code, phrase = (
                (200, "OK") if method in ("OPTIONS", "INFO") else (405, "Method Not Allowed")
            )
            reply = m.reply_to(request, code, phrase, to_tag=m.new_tag())
            reply.headers.set("Allow", ALLOW)
            self._reply(reply)

    def _on_invite(self, request: Request, existing: SipCall | None) -> None:
        if existing is not None:
            return  # a retransmission of an INVITE we know
        content_type = request.content_type
        if request.body and (content_type is None or str(content_type).lower() != SDP):
            log.warning("INVITE with a body that is not SDP refused with 488")
            self._reply(m.reply_to(request, 488, "Not Acceptable Here", to_tag=m.new_tag()))
            return
        self._reply(m.reply_to(request, 100, "Trying"))
        call = SipCall(
            id=secrets.token_hex(8),
            direction="incoming",
            call_id=request.call_id,
            local_tag=m.new_tag(),
            invite=request,
            offer=request.body,
            late_offer=not request.body,
            state="early",
        )
        self._add(call)
        self._emit(Invited(call.id, party_name(self.aor, request.from_address)))

    def _on_reinvite(self, request: Request, call: SipCall | None) -> None:
        if call is None or call.dialog is None or call.state != "confirmed":
            self._reply(m.reply_to(request, 481, "Call/Transaction Does Not Exist"))
            return
        if call.reinvite_out or call.reinvite_in is not None:
            self._reply(m.reply_to(request, 491, "Request Pending"))
            return
        if not request.body:
            self._reply(m.reply_to(request, 488, "Not Acceptable Here"))
            return
        self._reply(m.reply_to(request, 100, "Trying"))
        call.reinvite_in = request
        self._emit(RemoteDescription(call.id, Description("offer", request.body.decode())))

    def _on_cancel(self, request: Request, call: SipCall | None) -> None:
        if call is None or call.direction != "incoming" or call.invite is None:
            self._reply(m.reply_to(request, 481, "Call/Transaction Does Not Exist"))
            return
        self._reply(m.reply_to(request, 200, "OK"))
        if call.state == "ended" or call.dialog is not None:
            return
        self._end(call)
        self._reply(self._uas_reply(call, 487, "Request Terminated"))
        self._emit(HungUp(call.id, "cancelled"))

    def _on_bye(self, request: Request, call: SipCall | None) -> None:
        if call is None or call.state == "ended":
            self._reply(m.reply_to(request, 481, "Call/Transaction Does Not Exist"))
            return
        self._reply(m.reply_to(request, 200, "OK"))
        self._end(call)
        self._emit(HungUp(call.id, "hangup"))

    # --- helpers ----------------------------------------------------------------------------

    def _add(self, call: SipCall) -> None:
        self._calls[call.id] = call
        self._by_call_id[call.call_id] = call

    def _end(self, call: SipCall) -> None:
        call.state = "ended"
        self._calls.pop(call.id, None)
        # Kept by Call-ID a little longer, so a late BYE/CANCEL is answered, not 481.
        asyncio.get_running_loop().call_later(32, self._by_call_id.pop, call.call_id, None)

    def _fail(self, call: SipCall, reason: str, message: str) -> None:
        if call.state == "ended":
            return
        self._end(call)
        self._emit(SignalingError(reason, message, call.id))
        self._emit(Declined(call.id, reason))

    def _emit(self, event: SignalingEvent) -> None:
        if self._listener is not None and not self._closed:
            self._listener(event)

    def _require_link(self) -> None:
        if not self.transport.connected:
            raise SignalingUnavailable(f"not connected to SIP server {self.server}")

    async def _send(self, message: Request | Response) -> None:
        try:
            await self.ua.send(message)
        except ConnectionError as exc:
            raise SignalingUnavailable(str(exc)) from None

    def _reply(self, reply: Response) -> None:
        self._spawn(self.ua.send_quietly(reply))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("SIP task failed", exc_info=t.exception())

        task.add_done_callback(done)
