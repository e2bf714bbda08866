"""REGISTER with digest auth, refreshed before expiry, removed on quit (RFC 3261 section 10).

A refusal is a :class:`RegistrationRefused` naming the server and the status
(401 after our credentials, 403), never the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from sipmessage import URI, Address, Response

from softphone.signaling.sip import message as m
from softphone.signaling.sip.ua import UserAgent

log = logging.getLogger("softphone.signaling.sip")

REQUESTED_EXPIRES: Final = 600
# Refresh at this fraction of the granted time (and at least this many seconds early).
REFRESH_AT: Final = 0.8
MIN_EARLY: Final = 5.0


class RegistrationRefused(Exception):
    """The registrar said no; the text names it and the status code."""

    def __init__(self, server: str, response: Response, hint: str = "") -> None:
        text = f"registration at {server} refused: {response.code} {response.phrase}"
        super().__init__(text + (f" ({hint})" if hint else ""))
        self.code = response.code


class Registration:
    """One binding of our Contact at the registrar, kept fresh until :meth:`remove`."""

    def __init__(self, ua: UserAgent, server: str, expires: int = REQUESTED_EXPIRES) -> None:
        self._ua = ua
        self._server = server
        self._expires = expires
        self._call_id = m.new_call_id()
        self._tag = m.new_tag()
        self._cseq = 0
        self._refresher: asyncio.Task[None] | None = None
        self.granted: int | None = None
        self.on_lost: asyncio.Future[str] | None = None

    @property
    def registrar(self) -> URI:
        aor = self._ua.identity.aor
        return URI(scheme=aor.scheme, host=aor.host, port=aor.port)

    async def register(self, expires: int | None = None) -> int:
        """REGISTER (answering one challenge); the granted expiry, or RegistrationRefused."""
        wanted = self._expires if expires is None else expires
        aor = self._ua.identity.aor

        def build(cseq: int) -> m.Request:
            request = self._ua.request(
                "REGISTER",
                self.registrar,
                to=Address(uri=aor),
                from_tag=self._tag,
                call_id=self._call_id,
                cseq=cseq,
                contact=True,
            )
            request.headers.set("Expires", str(wanted))
            return request

        response, self._cseq = await self._ua.transact_authenticated(build, self._cseq + 1)
        if response.code in (401, 407):
            raise RegistrationRefused(
                self._server, response, "check sip_auth_user and sip_password"
            )
        if response.code == 403:
            raise RegistrationRefused(
                self._server, response, "check sip_auth_user and sip_password"
            )
        if response.code >= 300:
            raise RegistrationRefused(self._server, response)
        return self._granted(response, wanted)

    def _granted(self, response: Response, wanted: int) -> int:
        ours = str(self._ua.identity.contact_uri)
        for contact in response.contact:
            if str(contact.uri).split(";")[0] == ours.split(";")[0]:
                value = contact.parameters.get("expires")
                if value and value.isdigit():
                    return int(value)
        return response.expires if response.expires is not None else wanted

    async def start(self) -> None:
        self.granted = await self.register()
        log.info("registered at %s for %d s", self._server, self.granted)
        self._refresher = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        while True:
            granted = self.granted or self._expires
            delay = max(1.0, min(granted * REFRESH_AT, granted - MIN_EARLY))
            await asyncio.sleep(delay)
            try:
                self.granted = await self.register()
                log.info("re-registered at %s for %d s", self._server, self.granted)
            except (RegistrationRefused, ConnectionError, TimeoutError) as exc:
                log.warning("re-registration failed: %s", exc)
                await asyncio.sleep(min(30.0, granted / 4))

    async def stop(self) -> None:
        """Stop refreshing (the link is gone); the binding lapses at the registrar."""
        refresher, self._refresher = self._refresher, None
        # Python 3.11's wait_for can swallow a cancel that lands as its inner
        # future completes, so cancel until the task is really gone.
        while refresher is not None and not refresher.done():
            refresher.cancel()
            await asyncio.wait([refresher], timeout=0.1)

    async def remove(self) -> None:
        """unREGISTER (Expires: 0), best effort and bounded."""
        await self.stop()
        if self.granted is None:
            return
        with contextlib.suppress(RegistrationRefused, ConnectionError, TimeoutError):
            await asyncio.wait_for(self.register(expires=0), 3)
            log.info("unregistered at %s", self._server)
        self.granted = None
