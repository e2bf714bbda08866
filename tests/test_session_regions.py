"""The session's regions: adopted from the server, renewed by its pushes, the user's untouched.

A fake signaling channel hands the session the adapter events a server
would cause; no network, no call.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from softphone import events as ev
from softphone.config import Region, Settings
from softphone.regions import credential_refusals, expires_in
from softphone.rtc.configuration import IceServer
from softphone.session import SessionManager
from softphone.signaling.adapter import (
    Candidate,
    Description,
    Listener,
    RegionsRefreshed,
    Registered,
    Signaling,
    SignalingEvent,
)

TURN = "turn:127.0.0.2:3478?transport=udp"


class FakeSignaling(Signaling):
    """Registers at once; :meth:`deliver` plays a server's event to the session."""

    def __init__(self, user: str = "alice", notice: str | None = None) -> None:
        self.user = user
        self.notice = notice
        self._listener: Listener | None = None

    async def start(self, listener: Listener) -> None:
        self._listener = listener

    async def deliver(self, event: SignalingEvent) -> None:
        assert self._listener is not None
        self._listener(event)
        for _ in range(5):  # the session handles events in tasks
            await asyncio.sleep(0)

    async def close(self) -> None: ...
    async def invite(self, call: str, to: str, *, resume: bool = False) -> None: ...
    async def ringing(self, call: str) -> None: ...
    async def accept(self, call: str) -> None: ...
    async def decline(self, call: str, reason: str = "declined") -> None: ...
    async def hangup(self, call: str, reason: str | None = None) -> None: ...
    async def send_description(self, call: str, description: Description) -> None: ...
    async def send_candidate(self, call: str, candidate: Candidate | None) -> None: ...


def offered(expiry: int, *names: str) -> tuple[dict[str, Any], ...]:
    """Regions as a minting server sends them: one TURN entry each, expiring at ``expiry``."""
    return tuple(
        {
            "name": name,
            "ice_servers": [
                {"urls": [TURN], "username": f"{expiry}:alice", "credential": f"c{expiry}"}
            ],
        }
        for name in names
    )


async def started(
    settings: Settings, signaling: FakeSignaling
) -> tuple[SessionManager, list[ev.Event]]:
    session = SessionManager(settings, signaling, check_ice_servers=False)
    seen: list[ev.Event] = []
    session.subscribe(seen.append)
    await session.start()
    return session, seen


async def test_pushed_regions_renew_the_adopted_ones() -> None:
    signaling = FakeSignaling()
    session, seen = await started(Settings(user="alice"), signaling)
    now = int(time.time())
    await signaling.deliver(Registered("alice", (), offered(now + 3, "eu", "us")))
    assert session.settings.configuration_for("eu").ice_servers[0].credential == f"c{now + 3}"

    await signaling.deliver(RegionsRefreshed(offered(now + 6, "eu", "us", "new")))
    [renewed] = [e for e in seen if isinstance(e, ev.CredentialsRefreshed)]
    assert renewed.regions == ("eu", "us") and renewed.call is None
    assert renewed.expires_in is not None and 4 <= renewed.expires_in <= 6
    # The current region and the one a switch would go to both use the new credentials.
    assert session.settings.configuration_for("us").ice_servers[0].credential == f"c{now + 6}"
    assert [r.name for r in session.regions()] == ["eu", "us"]  # "new" was never offered before
    await session.switch_region("us")
    assert session.view.region == "us"


async def test_a_welcome_after_a_reconnect_renews_too() -> None:
    signaling = FakeSignaling()
    session, seen = await started(Settings(user="alice"), signaling)
    await signaling.deliver(Registered("alice", (), offered(100, "eu")))
    await signaling.deliver(Registered("alice", (), offered(200, "eu")))
    assert [e.NAME for e in seen].count("regions") == 1
    assert session.settings.configuration_for("eu").ice_servers[0].username == "200:alice"


async def test_the_users_own_regions_are_never_touched() -> None:
    own = Region("eu", (IceServer((TURN,), "mine", "my-credential"),))
    signaling = FakeSignaling()
    session, seen = await started(Settings(user="alice", regions=(own,), region="eu"), signaling)
    await signaling.deliver(Registered("alice", (), offered(100, "eu")))
    await signaling.deliver(RegionsRefreshed(offered(200, "eu")))
    assert session.settings.regions == (own,)
    assert not any(isinstance(e, ev.CredentialsRefreshed | ev.RegionsAdopted) for e in seen)


async def test_a_bad_push_is_reported_and_changes_nothing() -> None:
    signaling = FakeSignaling()
    session, seen = await started(Settings(user="alice"), signaling)
    await signaling.deliver(Registered("alice", (), offered(100, "eu")))
    await signaling.deliver(RegionsRefreshed(({"name": "eu", "ice_servers": [{"urls": [TURN]}]},)))
    assert any(isinstance(e, ev.ErrorReported) and e.code == "bad-regions" for e in seen)
    assert session.settings.configuration_for("eu").ice_servers[0].username == "100:alice"


async def test_the_channels_notice_comes_first() -> None:
    _, seen = await started(Settings(user="alice"), FakeSignaling(notice="verification is off"))
    assert seen == [ev.Notice(message="verification is off")]


def test_expires_in_reads_turn_rest_usernames() -> None:
    regions = [
        Region("a", (IceServer((TURN,), "1010:alice", "x"), IceServer(("stun:127.0.0.1",)))),
        Region("b", (IceServer((TURN,), "1005:alice", "x"),)),
    ]
    assert expires_in(regions, now=1000) == 5
    assert expires_in(regions, now=2000) == 0
    assert expires_in([Region("c", (IceServer((TURN,), "static", "x"),))], now=0) is None


def test_only_401_failures_are_credential_refusals() -> None:
    failures = [
        ev.GatheringFailure(
            url=TURN, reason="TransactionFailed: STUN transaction failed (401 - Unauthorized)"
        ),
        ev.GatheringFailure(url="turn:127.0.0.3", reason="no answer (timed out)"),
    ]
    [message] = credential_refusals(failures)
    assert message.startswith(TURN) and "401" in message
