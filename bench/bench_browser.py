"""Call set-up and region switch with a real browser: Chromium is the anchor.

    python -m bench.bench_browser [--runs N]

Three pairings, all relay-only through two loopback coturn regions
(eu-west on 127.0.0.2, us-east on 127.0.0.3), signaling through one
in-process server that also serves the web client:

- browser <-> browser: two pages of the web client in one headless Chromium
  (the baseline: what the browser's own RTCPeerConnection achieves);
- softphone -> browser: a headless softphone calls the web client;
- softphone <-> softphone: two headless softphones.

For each run: call set-up (the caller's "call" until the caller is connected,
ringing and answering included; the callee answers at once), then the caller
switches region (setConfiguration + restartIce) and we time the switch until
the caller's selected pair is a relay on the new region, and take the longest
gap between received audio frames at either end during the switch.

Root is needed: it re-runs itself inside a loopback-only network namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import Row, print_table  # noqa: E402
from softphone.signaling.server import SignalingServer  # noqa: E402
from softphone.web import add_web_client  # noqa: E402
from tests.browser import WebPhone, launch_chromium  # noqa: E402
from tests.coturn import PASSWORD, USER, TurnRegion, start_regions  # noqa: E402
from tests.harness import Headless  # noqa: E402

REGIONS = {"eu-west": "127.0.0.2", "us-east": "127.0.0.3"}
SETTLE = 1.0  # seconds of audio after a switch, inside the gap window


def region_dicts(regions: dict[str, TurnRegion]) -> list[dict[str, Any]]:
    return [
        {"name": n, "ice_servers": [{"urls": [r.url], "username": USER, "credential": PASSWORD}]}
        for n, r in regions.items()
    ]


def write_config(path: Path, regions: dict[str, TurnRegion]) -> Path:
    lines = ['ice_transport_policy = "relay"', 'region = "eu-west"']
    for name, region in regions.items():
        lines += [
            "[[regions]]",
            f'name = "{name}"',
            "[[regions.ice_servers]]",
            f'urls = ["{region.url}"]',
            f'username = "{USER}"',
            f'credential = "{PASSWORD}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Results:
    def __init__(self, name: str) -> None:
        self.name = name
        self.setup: list[float] = []
        self.switch: list[float] = []
        self.gap: list[float] = []


async def wait(predicate: Any, timeout: float = 20, interval: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(interval)


# --- browser <-> browser -------------------------------------------------------------------


async def browser_browser(server: SignalingServer, browser: Any, runs: int) -> Results:
    res = Results("browser <-> browser (anchor)")
    caller = await WebPhone.open(browser, server.url, "web-a", policy="relay")
    callee = await WebPhone.open(browser, server.url, "web-b", policy="relay", autoanswer="1")
    try:
        for i in range(runs):
            await caller.call("web-b")
            await caller.wait_connected()
            res.setup.append(float((await caller.summary())["setupMs"]))
            await callee.wait_until("() => window.softphone.current.framesReceived > 25")
            await caller.wait_until("() => window.softphone.current.framesReceived > 25")
            target = "us-east" if i % 2 == 0 else "eu-west"
            t0 = await caller.now()
            t0_b = await callee.now()
            await caller.switch_region(target)
            t1 = await caller.wait_until(
                """(addr) => { const p = window.softphone.current.selectedPair;
                     return p && p.local.address === addr && p.t; }""",
                REGIONS[target],
                what=f"pair on {target}",
            )
            res.switch.append(float(t1) - t0)
            await asyncio.sleep(SETTLE)
            gaps = [await caller.max_gap(t0 - 50), await callee.max_gap(t0_b - 50)]
            res.gap.append(max(gaps))
            await caller.hangup()
            await callee.wait_until("() => window.softphone.current === null")
            # back to the first region for the next call
            await caller.js("() => window.softphone.switchRegion('eu-west')")
    finally:
        await caller.close()
        await callee.close()
    return res


# --- softphone -> browser -------------------------------------------------------------------


async def softphone_stats(phone: Headless) -> dict[str, Any]:
    mark = phone.mark()
    await phone.send(cmd="stats")
    return await phone.wait_for("stats", since=mark)


async def switch_softphone(caller: Headless, target: str) -> tuple[float, int]:
    mark = caller.mark()
    t0 = time.monotonic()
    await caller.send(cmd="region", name=target)

    def moved() -> bool:
        pairs = [e for e in caller.events[mark:] if e["event"] == "selected-pair"]
        return bool(pairs) and pairs[-1]["local"]["address"] == REGIONS[target]

    await wait(moved)
    pair = [e for e in caller.events[mark:] if e["event"] == "selected-pair"][-1]
    return (pair["_received"] - t0) * 1000, mark


async def softphone_browser(
    server: SignalingServer, browser: Any, config: Path, workdir: Path, runs: int
) -> Results:
    res = Results("softphone -> browser")
    callee = await WebPhone.open(browser, server.url, "web", policy="relay", autoanswer="1")
    caller = await Headless.start(
        workdir,
        "sp",
        server.url,
        "--config",
        str(config),
        "--audio-in",
        "tone:440",
        "--audio-out",
        "null",
    )
    try:
        await caller.wait_for("registered")
        for i in range(runs):
            mark = caller.mark()
            t0 = time.monotonic()
            await caller.send(cmd="call", to="web")
            connected = await caller.wait_for("connection-state", since=mark, state="connected")
            res.setup.append((connected["_received"] - t0) * 1000)
            await callee.wait_until("() => window.softphone.current.framesReceived > 25")
            await asyncio.sleep(0.3)
            await softphone_stats(caller)  # opens the caller's gap window
            target = "us-east" if i % 2 == 0 else "eu-west"
            b0 = await callee.now()
            elapsed, _ = await switch_softphone(caller, target)
            res.switch.append(elapsed)
            await asyncio.sleep(SETTLE)
            stats = await softphone_stats(caller)
            res.gap.append(
                max(
                    await callee.max_gap(b0 - 50), float(stats["audio_max_gap_since_last_stats_ms"])
                )
            )
            mark = caller.mark()
            await caller.send(cmd="hangup")
            await caller.wait_for("call-state", since=mark, state="ended")
            await callee.wait_until("() => window.softphone.current === null")
            await caller.send(cmd="region", name="eu-west")
    finally:
        await callee.close()
        await caller.quit()
    return res


# --- softphone <-> softphone ----------------------------------------------------------------


async def softphone_softphone(
    server: SignalingServer, config: Path, workdir: Path, runs: int
) -> Results:
    res = Results("softphone <-> softphone")
    common = ("--config", str(config), "--audio-in", "tone:440", "--audio-out", "null")
    caller = await Headless.start(workdir, "sp-a", server.url, *common)
    callee = await Headless.start(workdir, "sp-b", server.url, *common)
    try:
        await caller.wait_for("registered")
        await callee.wait_for("registered")
        for i in range(runs):
            mark, mark_b = caller.mark(), callee.mark()
            t0 = time.monotonic()
            await caller.send(cmd="call", to="sp-b")
            await callee.wait_for("incoming", since=mark_b)
            await callee.send(cmd="answer")
            connected = await caller.wait_for("connection-state", since=mark, state="connected")
            res.setup.append((connected["_received"] - t0) * 1000)
            await asyncio.sleep(0.8)
            await softphone_stats(caller)
            await softphone_stats(callee)
            target = "us-east" if i % 2 == 0 else "eu-west"
            elapsed, _ = await switch_softphone(caller, target)
            res.switch.append(elapsed)
            await asyncio.sleep(SETTLE)
            gaps = [
                float((await softphone_stats(p))["audio_max_gap_since_last_stats_ms"])
                for p in (caller, callee)
            ]
            res.gap.append(max(gaps))
            mark = caller.mark()
            await caller.send(cmd="hangup")
            await caller.wait_for("call-state", since=mark, state="ended")
            await callee.wait_for("call-state", since=mark_b, state="ended")
            await caller.send(cmd="region", name="eu-west")
    finally:
        await caller.quit()
        await callee.quit()
    return res


async def main(runs: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    started = start_regions(*REGIONS.values(), base_port=54000)
    regions = dict(zip(REGIONS, started, strict=True))
    server = SignalingServer(regions=region_dicts(regions))
    add_web_client(server.app)
    await server.start("127.0.0.1", 0)
    config = write_config(workdir / "config.toml", regions)
    results: list[Results] = []
    try:
        async with launch_chromium(workdir) as browser:
            results.append(await browser_browser(server, browser, runs))
            results.append(await softphone_browser(server, browser, config, workdir, runs))
        results.append(await softphone_softphone(server, config, workdir, runs))
    finally:
        await server.stop()
        for region in started:
            region.stop()
    anchor = results[0]
    title = (
        f"relay-only via two loopback coturn regions, {runs} runs each; the caller switches region"
    )
    print_table(
        f"Call set-up (call -> caller connected). {title}",
        [Row(r.name, r.setup) for r in results],
        baseline=Row(anchor.name, anchor.setup),
    )
    print()
    print_table(
        "Region switch (switch -> caller's pair on the new region's relay)",
        [Row(r.name, r.switch) for r in results],
        baseline=Row(anchor.name, anchor.switch),
    )
    print()
    print_table(
        "Longest gap in received audio at either end during the switch",
        [Row(r.name, r.gap) for r in results],
        baseline=Row(anchor.name, anchor.gap),
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.environ.get("SOFTPHONE_BENCH_NETNS") != "1":
        command = (
            f"ip link set lo up; cd {ROOT}; "
            f"exec {sys.executable} -m bench.bench_browser --runs {args.runs}"
        )
        env = dict(os.environ, SOFTPHONE_BENCH_NETNS="1")
        sys.exit(subprocess.call(["unshare", "--net", "bash", "-c", command], env=env))
    sys.exit(asyncio.run(main(args.runs)))
