"""Per-user tokens: minted by ``softphone token``, checked by the server in ``hello``."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest

from softphone import cli
from softphone.signaling.adapter import Registered
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.server import SignalingServer
from softphone.signaling.tokens import (
    COMMAND_LINE_TOKEN_WARNING,
    SecretError,
    TokenError,
    command_line_token_notice,
    mint_token,
    parse_duration,
    read_secret,
    verify_token,
)
from tests.test_signaling_server import Raw

SECRET = b"server-secret-0123456789abcdef-0123456789"


@pytest.fixture
def secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The secret in a file, and none in the environment."""
    monkeypatch.delenv("SOFTPHONE_SECRET", raising=False)
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    return path


@pytest.fixture
async def secured() -> AsyncIterator[SignalingServer]:
    srv = SignalingServer(secret=SECRET)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop()


def _expired() -> str:
    return mint_token(SECRET, "alice", 60, now=time.time() - 3600)


def _foreign() -> str:
    return mint_token(b"another-secret-0123456789abcdef-0123456789", "alice", 86400)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing token"),
        ("not-a-jwt", "malformed"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.AAAA", "wrong signature"),
        ("a.b.c", "malformed"),
        (_foreign(), "wrong signature"),
        (_expired(), "expired"),
        (mint_token(SECRET, "bob", 86400), "another user"),
    ],  # minted at collection: valid for a day, so a long suite run cannot expire them
    ids=["missing", "garbage", "bad-signature", "bad-base64", "foreign", "expired", "other-user"],
)
async def test_bad_tokens_are_unauthorized_with_the_reason(
    secured: SignalingServer, token: str | None, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="softphone")
    async with aiohttp.ClientSession() as session:
        raw = Raw(await session.ws_connect(secured.url), None)
        hello = {"type": "hello", "user": "alice"}
        if token is not None:
            hello["token"] = token
        await raw.send(**hello)
        err = await raw.error("unauthorized")
        assert reason in err["message"]
        assert secured.online == []
        # The connection stays open: a good token now registers.
        await raw.send(type="hello", user="alice", token=mint_token(SECRET, "alice", 60))
        await raw.expect(type="welcome", user="alice", online=[])
    assert reason in caplog.text and "'alice'" in caplog.text
    if token is not None:
        assert token not in caplog.text
        assert token not in err["message"]


async def test_a_client_registers_with_its_token(secured: SignalingServer) -> None:
    client = JsonSignalingClient(secured.url, "alice", mint_token(SECRET, "alice", 3600))
    seen: list[object] = []
    await client.start(seen.append)
    try:
        assert any(isinstance(e, Registered) for e in seen)
        assert secured.online == ["alice"]
    finally:
        await client.close()


def test_shared_token_and_secret_are_mutually_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        SignalingServer(token="shared", secret=SECRET)


def test_token_claims_and_leeway() -> None:
    token = mint_token(SECRET, "alice", 8 * 3600, now=1_000_000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sub": "alice", "iat": 1_000_000, "exp": 1_000_000 + 8 * 3600}
    verify_token(SECRET, mint_token(SECRET, "alice", 1, now=time.time() - 3), "alice")  # leeway
    with pytest.raises(TokenError, match="expired"):
        verify_token(SECRET, mint_token(SECRET, "alice", 1, now=time.time() - 30), "alice")
    with pytest.raises(TokenError, match="in the future"):
        verify_token(SECRET, mint_token(SECRET, "alice", 60, now=time.time() + 60), "alice")
    unsigned = jwt.encode({"sub": "alice", "iat": 1, "exp": 2**40}, None, algorithm="none")
    with pytest.raises(TokenError, match="malformed"):
        verify_token(SECRET, unsigned, "alice")


@pytest.mark.parametrize(("text", "seconds"), [("8h", 28800), ("90m", 5400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1h", "8x", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_secret_from_file_or_environment(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(SECRET + b"\n")
    assert read_secret(path, {}) == SECRET
    assert read_secret(None, {"SOFTPHONE_SECRET": SECRET.decode()}) == SECRET
    assert read_secret(None, {}) is None
    path.write_bytes(b"short")
    with pytest.raises(SecretError, match="at least 32 bytes") as short:
        read_secret(path, {})
    assert "short" not in str(short.value).replace(str(path), "")
    with pytest.raises(SecretError, match="cannot read"):
        read_secret(tmp_path / "missing", {})


def test_token_command_prints_a_token_for_the_user(
    secret_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["token", "--user", "alice", "--ttl", "8h", "--secret-file", str(secret_file)]
    assert cli.main(argv) == 0
    token = capsys.readouterr().out.strip()
    verify_token(SECRET, token, "alice")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 8 * 3600
    monkeypatch.setenv("SOFTPHONE_SECRET", SECRET.decode())
    assert cli.main(["token", "--user", "bob"]) == 0
    verify_token(SECRET, capsys.readouterr().out.strip(), "bob")


def test_token_command_needs_a_secret_and_a_valid_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOFTPHONE_SECRET", raising=False)
    assert cli.main(["token", "--user", "alice"]) == 2
    assert "--secret-file" in capsys.readouterr().err
    monkeypatch.setenv("SOFTPHONE_SECRET", SECRET.decode())
    assert cli.main(["token", "--user", "no spaces"]) == 2
    assert "--user" in capsys.readouterr().err


def test_serve_refuses_token_with_secret(
    secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--port", "0", "--token", "shared", "--secret-file", str(secret_file)]
    assert cli.main(argv) == 2
    assert "mutually exclusive" in capsys.readouterr().err


def test_command_line_token_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="softphone.signaling")
    assert command_line_token_notice(False) is None
    assert caplog.text == ""
    notice = command_line_token_notice(True)
    assert notice == COMMAND_LINE_TOKEN_WARNING
    assert "process list" in notice and "$SOFTPHONE_TOKEN" in notice
    assert "process list" in caplog.text


def test_client_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = cli.build_parser()
    monkeypatch.setenv("SOFTPHONE_TOKEN", "from-env")
    assert cli._client_token(parser.parse_args([])) == "from-env"
    assert cli._client_token(parser.parse_args(["--token", "given"])) == "given"
    assert cli._client_token(parser.parse_args(["serve"])) is None
    monkeypatch.delenv("SOFTPHONE_TOKEN")
    assert cli._client_token(parser.parse_args([])) is None
