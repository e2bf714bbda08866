"""``softphone probe`` against three coturn regions: healthy, blackholed, wrong credentials.

The probe must rank the healthy region first, report the blackholed one dead
within its timeout, name wrong credentials as such without ever printing a
password, and finish within ``2 * timeout + 1`` seconds (a correctness bound:
every check runs at once, each bounded by the timeout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from softphone.cli import main
from tests.coturn import PASSWORD, USER, TurnRegion, start_regions
from tests.test_rtc_restart import drop_udp_port

TIMEOUT = 2.0
WRONG = "not-the-right-password-42"


@pytest.fixture(scope="module")
def regions() -> Iterator[dict[str, TurnRegion]]:
    healthy, dead, wrong = start_regions("127.0.10.1", "127.0.10.2", "127.0.10.3", base_port=52000)
    healthy.transports = ("udp", "tcp")
    drop_udp_port(dead.address, dead.port, on=True)
    yield {"healthy": healthy, "dead": dead, "wrong": wrong}
    drop_udp_port(dead.address, dead.port, on=False)
    for region in (healthy, dead, wrong):
        region.stop()


@pytest.fixture
def config(tmp_path: Path, regions: dict[str, TurnRegion]) -> Path:
    lines = []
    for name, region in regions.items():
        server = region.ice_server(credential=WRONG if name == "wrong" else PASSWORD)
        lines += [
            "[[regions]]", f'name = "{name}"', "[[regions.ice_servers]]",
            f"urls = {json.dumps(list(server.urls))}",
            f'username = "{USER}"', f'credential = "{server.credential}"',
        ]  # fmt: skip
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def probe(
    capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[dict[str, Any]], float, str]:
    """Run ``softphone probe --json``; its status, lines, seconds taken and all it printed."""
    started = time.monotonic()
    status = main(["probe", "--json", "--timeout", str(TIMEOUT), *argv])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], elapsed, out + err


def test_probe_ranks_regions_and_says_what_is_wrong(
    capsys: pytest.CaptureFixture[str], config: Path, regions: dict[str, TurnRegion]
) -> None:
    status, lines, elapsed, printed = probe(capsys, "--config", str(config))
    assert elapsed < 2 * TIMEOUT + 1
    assert status == 0
    assert lines[-1] == {"ranking": ["healthy"], "best": "healthy"}
    rows = {(row["region"], row["transport"]): row for row in lines[:-1]}
    assert set(rows) == {("healthy", "udp"), ("healthy", "tcp"), ("dead", "udp"), ("wrong", "udp")}
    for transport in ("udp", "tcp"):
        row = rows["healthy", transport]
        assert row["ok"], row
        assert row["url"] == regions["healthy"].url_for(transport)
        assert row["relay"].startswith("127.0.10.1:")
        assert row["rtt_ms"] > 0 and row["allocate_ms"] > 0 and row["loss"] is not None
    dead = rows["dead", "udp"]
    assert not dead["ok"] and dead["loss"] == 1.0 and dead["rtt_ms"] is None
    assert dead["error"] == f"no answer within {TIMEOUT:g} s"
    wrong = rows["wrong", "udp"]
    assert not wrong["ok"] and wrong["rtt_ms"] > 0 and wrong["relay"] is None
    assert wrong["error"].startswith("401 ") and "wrong credentials" in wrong["error"]
    assert WRONG not in printed and PASSWORD not in printed


def test_no_working_region_exits_non_zero(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    status, lines, elapsed, _ = probe(capsys, "--config", str(config), "--region", "wrong")
    assert elapsed < 2 * TIMEOUT + 1
    assert status == 1
    assert lines[-1] == {"ranking": [], "best": None}


def test_candidates_and_the_table(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    status = main(
        ["probe", "--config", str(config), "--region", "healthy", "--candidates",
         "--ice-host", "127.0.0.1", "--timeout", str(TIMEOUT)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    table = [line.split() for line in out.splitlines() if line.startswith("healthy ")]
    relays = [cells for cells in table if cells[1] == "relay"]
    hosts = [cells for cells in table if cells[1] == "host"]
    assert len(relays) == 2 and {cells[2] for cells in relays} == {"udp"}
    assert all(cells[3] == "127.0.10.1" for cells in relays)
    assert [cells[3] for cells in hosts] == ["127.0.0.1"]
    assert "best: healthy" in out.splitlines()
