"""Headless softphones against ``softphone serve --tls-cert/--tls-key``: real processes, wss://.

A client verifies the server with ``--ca-file`` (the test CA), fails clearly
without it (the host and the reason, no traceback), and with ``--insecure``
registers and says that verification is off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softphone.signaling.tls import INSECURE_NOTICE
from tests.harness import Headless, Server
from tests.tls import Certificates, make_certificates

pytestmark = pytest.mark.e2e


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[Server, Certificates]]:
    certs = make_certificates(tmp_path / "tls")
    server = await Server.start(
        tmp_path, "--tls-cert", str(certs.cert), "--tls-key", str(certs.key), "--no-web"
    )
    yield server, certs
    await server.stop()


async def test_client_with_the_ca_file_registers(
    tls_server: tuple[Server, Certificates], tmp_path: Path
) -> None:
    server, certs = tls_server
    assert server.url.startswith("wss://127.0.0.1:")
    alice = await Headless.start(tmp_path, "alice", server.url, "--ca-file", str(certs.ca))
    try:
        registered = await alice.wait_for("registered")
        assert registered["user"] == "alice"
        assert alice.find("notice") is None
    finally:
        assert await alice.quit() == 0


async def test_the_ca_file_may_come_from_the_config(
    tls_server: tuple[Server, Certificates], tmp_path: Path
) -> None:
    server, certs = tls_server
    config = tmp_path / "client.toml"
    config.write_text(f'ca_file = "{certs.ca.relative_to(tmp_path)}"\n')
    alice = await Headless.start(tmp_path, "alice", server.url, "--config", str(config))
    try:
        await alice.wait_for("registered")
    finally:
        await alice.quit()


async def test_without_the_ca_the_error_names_host_and_reason(
    tls_server: tuple[Server, Certificates], tmp_path: Path
) -> None:
    server, _ = tls_server
    alice = await Headless.start(tmp_path, "alice", server.url)
    error = await alice.wait_for("error", code="signaling-unavailable")
    assert await alice.quit() == 1
    message = error["message"]
    assert "the TLS certificate of 127.0.0.1 does not verify" in message, message
    assert "certificate" in message.split("does not verify:", 1)[1], message  # the reason
    assert "Traceback" not in alice.stderr
    assert alice.find("registered") is None


async def test_insecure_registers_and_says_so(
    tls_server: tuple[Server, Certificates], tmp_path: Path
) -> None:
    server, _ = tls_server
    alice = await Headless.start(tmp_path, "alice", server.url, "--insecure")
    try:
        notice = await alice.wait_for("notice", message=INSECURE_NOTICE)
        registered = await alice.wait_for("registered")
        assert alice.events.index(notice) < alice.events.index(registered)
        assert INSECURE_NOTICE in alice.stderr
    finally:
        await alice.quit()


async def test_an_unusable_ca_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("no certificate here\n")
    alice = await Headless.start(tmp_path, "alice", "wss://127.0.0.1:9/ws", "--ca-file", str(bad))
    assert await alice.quit() == 2
    assert f"cannot use the CA file {bad}" in alice.stderr
    assert "Traceback" not in alice.stderr
