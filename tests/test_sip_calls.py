"""The softphone on SIP over WebSocket against real Kamailio, rtpengine and baresip (issue 14).

Everything runs on loopback, started by the tests (tests/sip.py); Kamailio
runs docs/kamailio.cfg, the README's example, with digest authentication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip import PASSWORDS, SipStack, remove, sip_softphone, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def sha256_stack() -> Iterator[SipStack]:
    started = start_stack(algorithm="SHA-256")
    yield started
    remove(started)


async def _registers(stack: SipStack, tmp_path: Path) -> None:
    alice = await sip_softphone(tmp_path, "alice", stack.kamailio, "--audio-in", "silence",
                                "--audio-out", "null", "--log-level", "INFO")  # fmt: skip
    try:
        registered = await alice.wait_for("registered")
        assert registered["user"] == "alice"
        await alice.wait_for("signaling", state="connected")
    finally:
        assert await alice.quit() == 0
    assert "unregistered at" in alice.stderr
    assert PASSWORDS["alice"] not in alice.stderr


async def test_registers_with_md5_digest_and_unregisters_on_quit(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    await _registers(sip_stack, tmp_path)


async def test_registers_with_sha256_digest(sha256_stack: SipStack, tmp_path: Path) -> None:
    await _registers(sha256_stack, tmp_path)


async def test_a_wrong_password_is_a_clear_error_without_the_password(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    wrong = "not-the-password-123"
    alice = await sip_softphone(tmp_path, "alice", sip_stack.kamailio, "--audio-out", "null",
                                password=wrong)  # fmt: skip
    error = await alice.wait_for("error")
    assert await alice.quit() == 1
    message = error["message"]
    assert sip_stack.kamailio.ws_url in message
    assert "403" in message and "sip_password" in message
    assert wrong not in message and wrong not in alice.stderr
    await asyncio.sleep(0)
