"""Shared fixtures. End-to-end tests run real processes on loopback only."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.harness import Server
from tests.programs import missing, missing_message, read_requirements
from tests.pulse import pulseaudio
from tests.rtc_probe import TwoPeers
from tests.sip import SipStack, remove, start_stack


def _interfaces() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop before the first test when a program the suite starts is missing.

    In CI (and under scripts/run-tests) also refuse to run anywhere but a
    loopback-only namespace.
    """
    absent = missing(read_requirements())
    if absent:
        pytest.exit(missing_message(absent), returncode=pytest.ExitCode.USAGE_ERROR)
    if os.environ.get("CI") or os.environ.get("SOFTPHONE_LOOPBACK_NAMESPACE"):
        extra = _interfaces() - {"lo"}
        if extra:
            raise pytest.UsageError(
                f"tests must run in a loopback-only network namespace, but {sorted(extra)} exist: "
                "use scripts/run-tests"
            )


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's state (call history, UI state) in its own folder, never the home directory.

    Subprocesses the test starts inherit it through the environment.
    """
    folder = tmp_path / "state"
    monkeypatch.setenv("SOFTPHONE_STATE_DIR", str(folder))
    return folder


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """``softphone serve`` as a real subprocess on 127.0.0.1 with the echo user."""
    proc = await Server.start(tmp_path)
    yield proc
    await proc.stop()


@pytest.fixture
def sip_stack() -> Iterator[SipStack]:
    """Kamailio (docs/kamailio.cfg, MD5 digest) and rtpengine on loopback (tests/sip.py)."""
    started = start_stack()
    yield started
    remove(started)


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio server (null sink + its monitor); yields its client environment."""
    with pulseaudio(tmp_path / "pulse") as env:
        yield env


@pytest.fixture
async def calls() -> AsyncIterator[list[TwoPeers]]:
    """In-process two-peer calls a test makes; every one is closed afterwards."""
    made: list[TwoPeers] = []
    yield made
    for call in made:
        await call.close()
