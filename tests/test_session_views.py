"""What the front ends may read of a session: frozen views, and refusals from execute()."""

from __future__ import annotations

import dataclasses

import pytest

from softphone.commands import CommandRefused, Dial, Hangup, Mute, RestartIce, Stats, execute
from softphone.config import Region
from softphone.events import Event, MuteChanged
from softphone.rtc.configuration import IceServer
from softphone.session import SessionManager
from softphone.signaling.client import JsonSignalingClient
from softphone.views import IceServerView, RegionView
from tests.test_ui_support import SECRET, STUN_URL, TURN_URL, ui_settings

TURNS_URL = "turns:relay.example.net?transport=tcp"


def offline_session() -> SessionManager:
    """A session never started: nothing here talks to a server."""
    settings = ui_settings(
        regions=(
            Region("eu-west", (IceServer((STUN_URL,)),)),
            Region("us-east", (IceServer((TURN_URL, TURNS_URL), "alice", SECRET),)),
        )
    )
    return SessionManager(settings, JsonSignalingClient("ws://127.0.0.1:9/ws", "alice"))


def test_regions_are_shown_without_credentials() -> None:
    regions = offline_session().regions()
    assert regions == [
        RegionView(
            name="eu-west",
            servers=(
                IceServerView(
                    url=STUN_URL,
                    kind="stun",
                    transport="udp",
                    host="127.0.0.1",
                    port=3478,
                    has_credentials=False,
                ),
            ),
        ),
        RegionView(
            name="us-east",
            servers=(
                IceServerView(
                    url=TURN_URL,
                    kind="turn",
                    transport="udp",
                    host="127.0.0.1",
                    port=3479,
                    has_credentials=True,
                ),
                IceServerView(
                    url=TURNS_URL,
                    kind="turns",
                    transport="tls",
                    host="relay.example.net",
                    port=5349,
                    has_credentials=True,
                ),
            ),
        ),
    ]
    assert SECRET not in repr(regions)


def test_the_view_is_a_frozen_copy() -> None:
    session = offline_session()
    view = session.view
    assert view.call is None and view.region == "eu-west" and not view.muted
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.muted = True  # type: ignore[misc]


async def test_execute_refuses_what_makes_no_sense_now() -> None:
    session = offline_session()
    seen: list[Event] = []
    session.subscribe(seen.append)
    for command, code in (
        (Hangup(), "no-call"),
        (RestartIce(), "no-call"),
        (Stats(), "no-call"),
        (Dial("no spaces"), "bad-command"),
        (Dial("alice"), "bad-command"),
    ):
        with pytest.raises(CommandRefused) as info:
            await execute(session, command)
        assert info.value.code == code, command
    await execute(session, Mute(True))
    assert seen == [MuteChanged(on=True)]
    assert session.view.muted
