"""The no-setup start with coturn installed: two local demo regions, a live call switched
between them, and every turnserver gone afterwards; without coturn, one line says how."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from softphone.demo_regions import demo_regions
from tests.coturn import stun_ping
from tests.harness import SOFTPHONE

pytestmark = pytest.mark.e2e


def demo_turnservers() -> list[int]:
    """Pids of running turnservers started by softphone.demo_regions (their workdir says so)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if "turnserver" in cmdline and "softphone-demo-turn-" in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


async def test_demo_regions_run_two_turnservers_and_stop_them() -> None:
    before = set(demo_turnservers())
    async with demo_regions() as regions:
        assert [r.name for r in regions] == ["demo-a", "demo-b"]
        hosts = set()
        for region in regions:
            (server,) = region.ice_servers
            assert server.username and server.credential
            host, port = server.urls[0].removeprefix("turn:").split("?")[0].rsplit(":", 1)
            hosts.add(host)
            assert stun_ping(host, int(port), 1.0)
        assert hosts == {"127.0.0.2", "127.0.0.3"}
        assert len(set(demo_turnservers()) - before) == 2
    assert set(demo_turnservers()) - before == set()


class Lines:
    """JSON lines from a headless softphone, waited for by event name and fields."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, object]] = []

    async def until(self, event: str, timeout: float = 30, **fields: object) -> dict[str, object]:
        assert self.proc.stdout is not None
        for record in self.seen:
            if record["event"] == event and all(record.get(k) == v for k, v in fields.items()):
                self.seen.remove(record)
                return record
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            assert line, f"process ended; saw {self.seen}"
            record = json.loads(line)
            if record["event"] == event and all(record.get(k) == v for k, v in fields.items()):
                return record
            self.seen.append(record)

    async def send(self, **command: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()


async def test_no_setup_start_offers_demo_regions_and_n_moves_the_echo_call(
    tmp_path: Path,
) -> None:
    before = set(demo_turnservers())
    proc = await asyncio.create_subprocess_exec(
        *SOFTPHONE, "--headless", "--user", "newcomer", "--audio-in", "tone",
        "--audio-out", "null", "--ice-host", "127.0.0.1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SOFTPHONE_CONFIG": str(tmp_path / "absent.toml")},
    )  # fmt: skip
    lines = Lines(proc)
    try:
        adopted = await lines.until("regions")
        assert adopted["names"] == ["demo-a", "demo-b"]
        await lines.until("region", name="demo-a")
        assert len(set(demo_turnservers()) - before) == 2
        await lines.send(cmd="call", to="echo")
        first = await lines.until("selected-pair")
        assert first["local"]["type"] == "relay"  # type: ignore[index]
        assert first["local"]["address"] == "127.0.0.2"  # type: ignore[index]
        await lines.send(cmd="region", name="demo-b")
        await lines.until("ice-restart", phase="done")
        while True:
            pair = await lines.until("selected-pair")
            if pair["local"]["address"] == "127.0.0.3":  # type: ignore[index]
                break
        assert pair["local"]["type"] == "relay"  # type: ignore[index]
        await lines.send(cmd="quit")
        await lines.until("call-state", state="ended")
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert set(demo_turnservers()) - before == set()


async def test_serve_demo_regions_prints_them_and_cleans_up(tmp_path: Path) -> None:
    before = set(demo_turnservers())
    proc = await asyncio.create_subprocess_exec(
        *SOFTPHONE, "serve", "--port", "0", "--demo-regions",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SOFTPHONE_CONFIG": str(tmp_path / "absent.toml")},
    )  # fmt: skip
    assert proc.stdout is not None
    printed = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(3)]
    assert printed[0].startswith("demo region demo-a: turn:127.0.0.2:")
    assert printed[1].startswith("demo region demo-b: turn:127.0.0.3:")
    assert printed[2].startswith("listening on ws://127.0.0.1:")
    assert len(set(demo_turnservers()) - before) == 2
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert set(demo_turnservers()) - before == set()


async def test_without_coturn_serve_says_how_to_get_demo_regions(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "softphone", "serve", "--port", "0", "--demo-regions",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PATH": str(empty), "SOFTPHONE_CONFIG": str(tmp_path / "absent.toml")},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    listening = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert listening.startswith(b"listening on ")
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 20)
    err = (await proc.stderr.read()).decode()
    assert "apt-get install coturn" in err and err.count("\n") == 1, err


async def test_in_the_ui_n_moves_the_echo_call_between_the_demo_regions(tmp_path: Path) -> None:
    """The UI's no-setup start, as cli.py builds it: embedded server, demo regions, relay only."""
    from softphone.cli import demo_settings, embedded_server
    from softphone.config import Region, Settings
    from tests.rtc_probe import wait_for
    from tests.test_ui_support import make_app, make_session

    settings = Settings(user="newcomer", audio_in="tone", audio_out="null")
    started: list[Region] = []
    async with embedded_server(settings, demo=started) as url:
        assert len(started) == 2
        session = make_session(url, demo_settings(settings), check_ice_servers=False)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await wait_for(lambda: [r.name for r in session.regions()] == ["demo-a", "demo-b"])
            await wait_for(lambda: session.view.region == "demo-a")
            app.dial("echo")
            view = app.connection_panel.view
            await wait_for(lambda: view.pair is not None, timeout=30)
            assert view.pair is not None and view.pair.local.address == "127.0.0.2"
            await pilot.press("n")
            await wait_for(
                lambda: view.pair is not None and view.pair.local.address == "127.0.0.3", 30
            )
            assert session.view.region == "demo-b" and app.call_panel.call_state == "active"
            await pilot.press("h")
            await wait_for(lambda: app.call_panel.call_state == "ended")
