"""``region = "auto"`` and the region picker's live figures, against three coturn regions:
one with wrong credentials, one blackholed (iptables DROP), one healthy.

The session starts in the first configured region at once (registering does
not wait for the probe) and moves to the best one when the probe answers; the
picker opens at once, fills in each region's figures as they come and marks
the dead one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import OptionList

from softphone.config import load_settings
from softphone.ui.screens.region_picker import RegionPickerScreen
from tests.coturn import PASSWORD, USER, TurnRegion, start_regions
from tests.harness import Headless, Server
from tests.rtc_probe import wait_for
from tests.test_rtc_restart import drop_udp_port
from tests.test_ui_pilot import screen_text
from tests.test_ui_support import make_app, make_session, notices, server_url, ui_settings

pytestmark = pytest.mark.e2e

WRONG = "not-the-right-password-43"
ORDER = ("wrong", "dead", "healthy")


@pytest.fixture(scope="module")
def regions() -> Iterator[dict[str, TurnRegion]]:
    wrong, dead, healthy = start_regions("127.0.11.1", "127.0.11.2", "127.0.11.3", base_port=53000)
    drop_udp_port(dead.address, dead.port, on=True)
    yield {"wrong": wrong, "dead": dead, "healthy": healthy}
    drop_udp_port(dead.address, dead.port, on=False)
    for region in (wrong, dead, healthy):
        region.stop()


@pytest.fixture
def config(tmp_path: Path, regions: dict[str, TurnRegion]) -> Path:
    lines = ['region = "auto"', 'user = "alice"', 'ice_host_addresses = ["127.0.0.1"]']
    for name in ORDER:
        server = regions[name].ice_server(credential=WRONG if name == "wrong" else PASSWORD)
        lines += [
            "[[regions]]", f'name = "{name}"', "[[regions.ice_servers]]",
            f"urls = {json.dumps(list(server.urls))}",
            f'username = "{USER}"', f'credential = "{server.credential}"',
        ]  # fmt: skip
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_auto_starts_in_the_first_region_then_moves_to_the_best(
    server: Server, tmp_path: Path, config: Path
) -> None:
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--config", str(config), "--audio-in", "silence",
        "--audio-out", "null", "--region", "auto",
    )  # fmt: skip
    try:
        first = await alice.wait_for("region")
        assert first["name"] == "wrong"  # at once, without waiting for the probe
        registered = await alice.wait_for("registered")
        ranked = await alice.wait_for("region-ranking", 15)
        assert ranked["ranking"] == ["healthy"] and ranked["best"] == "healthy" and ranked["auto"]
        assert alice.events.index(registered) < alice.events.index(ranked)
        await alice.wait_for("region", name="healthy")
        probes = {e["region"]: e for e in alice.events if e["event"] == "region-probe"}
        assert set(probes) == set(ORDER)
        assert probes["healthy"]["ok"] and probes["healthy"]["rtt_ms"] > 0
        assert probes["healthy"]["allocate_ms"] > 0
        assert not probes["dead"]["ok"] and "no answer" in probes["dead"]["error"]
        assert not probes["wrong"]["ok"] and "wrong credentials" in probes["wrong"]["error"]
        # a probe asked for later ranks again but chooses nothing
        mark = alice.mark()
        await alice.send(cmd="probe")
        again = await alice.wait_for("region-ranking", 15, since=mark)
        assert again["best"] == "healthy" and again["auto"] is False
        assert len([e for e in alice.events[mark:] if e["event"] == "region-probe"]) == 3
        assert alice.find("region", since=mark) is None
        # and a call goes out through the region the probe chose
        await alice.send(cmd="call", to="echo")
        await alice.wait_for("connection-state", 30, state="connected")
        pair = await alice.wait_for("selected-pair")
        assert pair["local"]["address"] in ("127.0.0.1", "127.0.11.3")
        printed = json.dumps(alice.events)
        assert WRONG not in printed and PASSWORD not in printed
    finally:
        await alice.quit()


async def test_region_picker_shows_live_figures_and_marks_the_dead_one(
    tmp_path: Path, config: Path
) -> None:
    settings = load_settings(config)
    settings = type(settings)(**{**settings.__dict__, "region": "healthy"})
    async with server_url(settings) as url:
        session = make_session(url, settings, check_ice_servers=False)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(110, 40)) as pilot:
            await wait_for(lambda: session.view.signaling == "connected")
            await pilot.press("r")
            await wait_for(lambda: isinstance(app.screen, RegionPickerScreen))
            options = app.screen.query_one(OptionList)

            def shown(name: str) -> str:
                return str(options.get_option(name).prompt)

            # The picker opens at once: the dead region is still being probed, or
            # (on a slow machine, more than its 2 s timeout after the start) marked.
            assert "probing…" in shown("dead") or "✗ dead" in shown("dead"), shown("dead")
            await wait_for(lambda: "✗ dead" in shown("dead") and "✗ dead" in shown("wrong"), 15)
            await wait_for(lambda: "alloc" in shown("healthy"), 15)
            assert "loss" in shown("healthy") and "ms" in shown("healthy")
            assert "wrong credentials" in shown("wrong") and "no answer" in shown("dead")
            assert "✗ dead" in screen_text(app)
            await pilot.press("escape")


async def test_without_regions_or_coturn_the_picker_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)  # as on a machine without coturn
    settings = ui_settings(regions=(), region=None)
    async with server_url(settings) as url:
        app = make_app(make_session(url, settings, check_ice_servers=False), tmp_path)
        async with app.run_test(size=(110, 40)) as pilot:
            await wait_for(lambda: app.session is not None and app.session.view.user is not None)
            await pilot.press("r")
            await wait_for(lambda: isinstance(app.screen, RegionPickerScreen))
            options = app.screen.query_one(OptionList)
            assert options.option_count == 1
            line = str(options.get_option_at_index(0).prompt)
            assert "apt-get install coturn" in line and "demo regions" in line
            await pilot.press("escape")
            await pilot.press("n")
            await wait_for(lambda: any("apt-get install coturn" in n for n in notices(app)))


def test_auto_is_a_valid_region_in_the_file_and_on_the_command_line(config: Path) -> None:
    from softphone.config import with_overrides

    settings = load_settings(config)
    assert settings.region == "auto"
    assert with_overrides(settings, region="auto").region == "auto"
