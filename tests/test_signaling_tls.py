"""Signaling over TLS: wss:// and the web client over https, verified against a test CA."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from softphone import cli
from softphone.signaling.adapter import Registered, SignalingEvent, SignalingUnavailable
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.server import SignalingServer
from softphone.signaling.tls import INSECURE_NOTICE, TlsError, client_context, server_context
from softphone.web import add_web_client
from tests.tls import Certificates, make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_server(certs: Certificates) -> AsyncIterator[SignalingServer]:
    srv = SignalingServer()
    add_web_client(srv.app)
    await srv.start("127.0.0.1", 0, ssl_context=server_context(certs.cert, certs.key))
    yield srv
    await srv.stop()


async def _register(client: JsonSignalingClient) -> list[SignalingEvent]:
    events: list[SignalingEvent] = []
    await client.start(events.append)
    return events


async def test_client_with_the_ca_registers_over_wss(
    tls_server: SignalingServer, certs: Certificates
) -> None:
    assert tls_server.url.startswith("wss://127.0.0.1:")
    client = JsonSignalingClient(tls_server.url, "alice", ca_file=certs.ca)
    try:
        events = await _register(client)
        assert any(isinstance(e, Registered) for e in events)
        assert client.notice is None
        assert tls_server.online == ["alice"]
    finally:
        await client.close()


async def test_web_client_is_served_over_https(
    tls_server: SignalingServer, certs: Certificates
) -> None:
    url = tls_server.url.replace("wss://", "https://").removesuffix("/ws") + "/"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, ssl=client_context(certs.ca)) as response,
    ):
        assert response.status == 200
        assert "html" in response.headers["Content-Type"]


async def test_unknown_ca_is_a_clear_error_at_once(tls_server: SignalingServer) -> None:
    client = JsonSignalingClient(tls_server.url, "alice", start_timeout=10)
    t0 = time.monotonic()
    with pytest.raises(SignalingUnavailable) as refused:
        await _register(client)
    assert time.monotonic() - t0 < 2  # no retrying: a certificate does not get better
    text = str(refused.value)
    assert "the TLS certificate of 127.0.0.1 does not verify" in text
    assert "unable to get local issuer certificate" in text
    assert "Traceback" not in text and "\n" not in text
    assert tls_server.online == []


async def test_insecure_skips_verification_and_says_so(
    tls_server: SignalingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="softphone.signaling")
    client = JsonSignalingClient(tls_server.url, "alice", insecure=True)
    try:
        events = await _register(client)
        assert any(isinstance(e, Registered) for e in events)
        assert client.notice == INSECURE_NOTICE
        assert "verification is off" in caplog.text
    finally:
        await client.close()
    plain = JsonSignalingClient("ws://127.0.0.1:1/ws", "bob", insecure=True)
    assert plain.notice is None  # nothing to verify on ws://


def test_unusable_files_are_named(certs: Certificates, tmp_path: Path) -> None:
    with pytest.raises(TlsError, match=r"missing\.pem"):
        server_context(tmp_path / "missing.pem", certs.key)
    other = make_certificates(tmp_path / "other")
    with pytest.raises(TlsError, match="cannot use the certificate"):
        server_context(certs.cert, other.key)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(TlsError, match=r"junk\.pem"):
        client_context(tmp_path / "junk.pem")


def test_serve_needs_cert_and_key_together(
    certs: Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--port", "0", "--no-echo", "--tls-cert", str(certs.cert)]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err


async def test_softphone_serve_over_tls_with_the_echo_user(certs: Certificates) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "softphone", "serve", "--port", "0", "--no-web",
        "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SOFTPHONE_SECRET": ""},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("listening on wss://127.0.0.1:"), line
        url = line.split()[-1]
        client = JsonSignalingClient(url, "alice", ca_file=certs.ca)
        try:
            events = await _register(client)
            registered = next(e for e in events if isinstance(e, Registered))
            assert "echo" in registered.online
        finally:
            await client.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
