"""UI benchmark: time to first frame and CPU use, against a bare Textual app.

Run: ``python -m bench.bench_ui [--runs N] [--seconds S]``.

Every figure is measured in this run, next to its baseline:

* first frame — a fresh interpreter per run (imports included) until the
  first screen has been composed and painted, headless; the baseline is a
  hello-world Textual app started the same way, in the same rounds (one run
  of each per round, so a load spike on this shared machine hits both). The
  goal is a softphone median at most 1.5 times the baseline's. The
  softphone is given a session factory, as ``softphone`` runs it: the panels
  say "starting…" and the media stack loads after the first frame; a third
  row imports that stack (``softphone.session``) alone, to show what the
  first frame does not wait for. Children keep compiled bytecode in a
  temporary cache (a warm-up round fills it), as an installed package has
  it: with ``PYTHONDONTWRITEBYTECODE`` set, every run would compile our
  modules anew while Textual's come precompiled from site-packages.
* CPU — process CPU seconds per wall second over a window: the hello-world
  app idle, the softphone idle (registered on an embedded server), the
  softphone in a call with the echo peer (stats polled every second), and the
  same call with no UI at all, so the UI's own share is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.table import Row, print_table

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.5  # softphone first frame / hello-world first frame, medians


def _hello_app() -> Any:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Hello(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("Hello, world")

    return Hello()


def _settings() -> Any:
    from softphone.config import Region, Settings

    return Settings(user="bench", ice_host_addresses=("127.0.0.1",), region="eu-west",
                    regions=(Region("eu-west"), Region("us-east")),
                    audio_in="tone:440", audio_out="null")  # fmt: skip


async def _painted(app: Any, ready: Any) -> float:
    """Seconds since start until the first screen update sent out once ``ready()`` holds.

    Not ``pilot.pause()``: that waits for the whole process to go idle, so it
    would count the media stack the softphone loads on a thread after drawing.
    """
    painted: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    display = app._display

    def spy(screen: Any, update: Any) -> None:
        display(screen, update)
        if not painted.done() and ready():
            painted.set_result(time.perf_counter() - STARTED)

    app._display = spy
    async with app.run_test(size=(80, 24)):
        return await painted


async def _first_frame(kind: str) -> float:
    if kind == "imports":
        import importlib

        importlib.import_module("softphone.session")  # the session stack: aiortc, av, numpy

        return time.perf_counter() - STARTED
    if kind == "hello":
        from textual.widgets import Static

        app = _hello_app()
        return await _painted(app, lambda: bool(app.screen.query(Static)))
    from softphone.ui.app import SoftphoneApp

    async def open_session() -> Any:
        """As ``softphone`` does: called after the first frame, media stack loaded off the loop."""
        from softphone.cli import embedded_server
        from softphone.session import MediaChoice, SessionManager
        from softphone.signaling.client import JsonSignalingClient

        settings = _settings()
        url = await stack.enter_async_context(embedded_server(settings))
        return SessionManager(settings, JsonSignalingClient(url, "bench"),
                              media=MediaChoice("tone:440", "null"))  # fmt: skip

    async with contextlib.AsyncExitStack() as stack:
        softphone = SoftphoneApp(open_session)
        return await _painted(softphone, softphone._panels_ready)


async def _cpu(kind: str, seconds: float) -> float:
    """CPU seconds per wall second over ``seconds`` once the state is reached."""
    if kind == "hello":
        app = _hello_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            return await _window(seconds)
    from softphone.cli import embedded_server
    from softphone.session import MediaChoice, SessionManager
    from softphone.signaling.client import JsonSignalingClient
    from softphone.ui.app import SoftphoneApp

    settings = _settings()
    os.environ.setdefault("SOFTPHONE_STATE_DIR", tempfile.mkdtemp())
    async with embedded_server(settings) as url:
        session = SessionManager(settings, JsonSignalingClient(url, "bench"),
                                 media=MediaChoice("tone:440", "null"))  # fmt: skip
        if kind == "headless-call":
            await session.start()
            await session.dial("echo")
            await _until(lambda: session.call is not None and session.call.state == "active")
            await asyncio.sleep(2)

            async def poll() -> None:
                while True:
                    await asyncio.sleep(1)
                    await session.stats()

            task = asyncio.ensure_future(poll())
            try:
                return await _window(seconds)
            finally:
                task.cancel()
                await session.close()
        softphone = SoftphoneApp(session)
        async with softphone.run_test(size=(120, 40)) as pilot:
            await _until(lambda: session.state.signaling == "connected")
            if kind == "ui-call":
                softphone.dial("echo")
                await _until(lambda: softphone.connection_panel.view.pair is not None)
                await asyncio.sleep(2)
            await pilot.pause(0.5)
            return await _window(seconds)


async def _until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("bench state not reached")
        await asyncio.sleep(0.02)


async def _window(seconds: float) -> float:
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


def _child(args: argparse.Namespace) -> None:
    if args.child == "first-frame":
        value = asyncio.run(_first_frame(args.kind))
    else:
        value = asyncio.run(_cpu(args.kind, args.seconds))
    print(json.dumps({"value": value}))


def _spawn(mode: str, kind: str, seconds: float, pycache: str) -> float:
    env = {**os.environ, "SOFTPHONE_STATE_DIR": tempfile.mkdtemp(), "PYTHONPYCACHEPREFIX": pycache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_ui", "--child", mode, "--kind", kind,
         "--seconds", str(seconds)],
        capture_output=True, text=True, check=True, cwd=ROOT, env=env,
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1])["value"])


FIRST_FRAME = {
    "hello": "first frame: hello-world Textual app (baseline)",
    "softphone": "first frame: softphone UI (imports included)",
    "imports": "importing the session stack only",
}
CPU = {
    "hello": "CPU idle: hello-world (baseline), %",
    "ui-idle": "CPU idle: softphone UI, registered, %",
    "headless-call": "CPU call: session, no UI (baseline), %",
    "ui-call": "CPU call: softphone UI, live stats, %",
}


def first_frames(runs: int, pycache: str) -> dict[str, Row]:
    """Milliseconds to the first painted frame, ``runs`` interleaved rounds after a warm-up."""
    rows = {kind: Row(name, []) for kind, name in FIRST_FRAME.items()}
    for kind in rows:  # fills the bytecode cache and the page cache; not counted
        _spawn("first-frame", kind, 0, pycache)
    for _ in range(runs):
        for kind, row in rows.items():
            row.values.append(_spawn("first-frame", kind, 0, pycache) * 1000)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="first-frame rounds (one run of each)")
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU window length")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ui-pyc-") as pycache:
        frames = first_frames(args.runs, pycache)
        cpu = {
            kind: Row(name, [_spawn("cpu", kind, args.seconds, pycache) * 100], unit="")
            for kind, name in CPU.items()
        }
    hello, softphone = frames["hello"], frames["softphone"]
    print_table(
        f"Time to the first painted frame (n={args.runs}, interleaved)",
        list(frames.values()),
        baseline=hello,
    )
    ratio = softphone.median / hello.median
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"goal: softphone <= {GOAL}x the hello world: {ratio:.2f}x, {verdict}")
    print()
    title = f"CPU, % of one core over {args.seconds:.0f} s"
    print_table(title, [cpu["hello"], cpu["ui-idle"]], baseline=cpu["hello"])
    print()
    print_table(title, [cpu["headless-call"], cpu["ui-call"]], baseline=cpu["headless-call"])


if __name__ == "__main__":
    main()
