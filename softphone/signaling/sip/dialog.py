"""A SIP dialog (RFC 3261 section 12): what in-dialog requests are built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from sipmessage import URI, Address, Request, Response

from softphone.signaling.sip.ua import UserAgent


def record_routes(message: Request | Response) -> list[str]:
    """Every Record-Route entry in order (one header may hold several, comma-separated)."""
    return [
        str(address)
        for value in message.headers.getlist("Record-Route")
        for address in Address.parse_many(value)
    ]


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote: Address  # the remote party's From/To, with its tag
    remote_target: URI
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    owns_call_id: bool = True  # we sent the initial INVITE (RFC 3261 section 14.1, glare)

    @classmethod
    def as_uac(cls, invite: Request, response: Response, local_tag: str, cseq: int) -> Dialog:
        """From our INVITE and its 2xx: the route set is the Record-Route reversed."""
        contacts = response.contact
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote=response.to_address,
            remote_target=contacts[0].uri if contacts else invite.uri,
            route_set=list(reversed(record_routes(response))),
            local_cseq=cseq,
            owns_call_id=True,
        )

    @classmethod
    def as_uas(cls, invite: Request, local_tag: str) -> Dialog:
        """From an INVITE we answer: the route set is its Record-Route in order."""
        contacts = invite.contact
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote=invite.from_address,
            remote_target=contacts[0].uri if contacts else invite.from_address.uri,
            route_set=record_routes(invite),
            local_cseq=0,
            owns_call_id=False,
        )

    def request(self, ua: UserAgent, method: str, *, cseq: int | None = None) -> Request:
        """An in-dialog request; ``cseq`` given (an ACK) reuses that number."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        return ua.request(
            method,
            self.remote_target,
            to=self.remote,
            from_tag=self.local_tag,
            call_id=self.call_id,
            cseq=cseq,
            routes=list(self.route_set),
            contact=method in ("INVITE", "UPDATE"),
        )
