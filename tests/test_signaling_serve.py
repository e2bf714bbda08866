"""``softphone serve`` as a real process with the internet-facing options wired up."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from softphone import cli
from softphone.signaling.tokens import mint_token
from tests.test_signaling_server import Raw

SECRET = b"serve-secret-0123456789abcdef-0123456789"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[str]:
    """``serve`` with per-user tokens, subscribed presence and two connections per address."""
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET + b"\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "softphone", "serve", "--port", "0", "--no-web",
        "--secret-file", str(secret_file), "--presence", "subscribed",
        "--max-connections-per-address", "2", "--log-level", "INFO",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "SOFTPHONE_SECRET"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("listening on ws://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        proc.terminate()
        _out, err = await asyncio.wait_for(proc.communicate(), 10)
    log = err.decode()
    assert SECRET.decode() not in log
    assert "token is malformed" in log


async def test_serve_with_secret_presence_and_connection_limit(served: str) -> None:
    async with aiohttp.ClientSession() as session:
        alice = Raw(await session.ws_connect(served), None)  # the echo user holds the other
        await alice.send(type="hello", user="alice", token="forged")
        assert "malformed" in (await alice.error("unauthorized"))["message"]
        await alice.send(type="hello", user="alice", token=mint_token(SECRET, "alice", 60))
        welcome = await alice.recv()
        assert welcome == {"type": "welcome", "user": "alice", "online": []}  # subscribed mode
        await alice.send(type="subscribe", users=["echo"])
        await alice.expect(type="presence-snapshot", online=["echo"])
        third = Raw(await session.ws_connect(served), None)
        await third.error("too-many-connections")
        msg = await third.ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await alice.sync()
        assert json.dumps(welcome).count("secret") == 0


def test_serve_refuses_bad_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--port", "0", "--no-echo", "--max-pending-invites", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
