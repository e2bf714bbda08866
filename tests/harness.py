"""Real ``softphone`` subprocesses for end-to-end tests and benchmarks.

Everything here starts the installed program exactly as a user would
(``python -m softphone ...``) and talks to it only through its contracts:
JSON lines for ``--headless``, the printed URL for ``serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tests.rtc_probe import wait_for

SOFTPHONE = [sys.executable, "-m", "softphone"]
LOOPBACK = "127.0.0.1"

Predicate = Callable[[dict[str, Any]], bool]


class ProcessError(AssertionError):
    pass


class Process:
    """A running softphone subprocess whose stderr goes to a file for later checks."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str, stderr_path: Path) -> None:
        self.proc = proc
        self.name = name
        self.stderr_path = stderr_path

    @property
    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def stop(self, timeout: float = 10) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        return self.proc.returncode or 0

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


async def _spawn(
    args: list[str],
    name: str,
    workdir: Path,
    env: dict[str, str] | None,
    stdin: bool,
    prefix: list[str] | None = None,
) -> Process:
    stderr_path = workdir / f"{name}.stderr"
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    # No user config may leak into a test: point the default config somewhere empty.
    full_env["SOFTPHONE_CONFIG"] = str(workdir / f"{name}-no-config.toml")
    if env:
        full_env.update(env)
    with open(stderr_path, "wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *(prefix or []),
            *SOFTPHONE,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            env=full_env,
            limit=1 << 20,
        )
    return Process(proc, name, stderr_path)


class Server(Process):
    url: str = ""

    @classmethod
    async def start(
        cls,
        workdir: Path,
        *extra: str,
        name: str = "server",
        env: dict[str, str] | None = None,
        timeout: float = 20,
    ) -> Server:
        base = await _spawn(
            ["serve", "--port", "0", "--ice-host", LOOPBACK, *extra],
            name,
            workdir,
            env,
            stdin=False,
        )
        server = cls(base.proc, name, base.stderr_path)
        assert server.proc.stdout is not None
        try:
            line = await asyncio.wait_for(server.proc.stdout.readline(), timeout)
        except TimeoutError:
            server.kill()
            raise ProcessError(f"server did not start: {server.stderr}") from None
        text = line.decode().strip()
        if not text.startswith("listening on "):
            server.kill()
            raise ProcessError(f"server printed {text!r}; stderr: {server.stderr}")
        server.url = text.removeprefix("listening on ")
        return server


class Headless(Process):
    """``softphone --headless``: send commands, wait for events."""

    events: list[dict[str, Any]]
    _new_event: asyncio.Condition
    _reader: asyncio.Future[None]

    @classmethod
    async def start(
        cls,
        workdir: Path,
        user: str,
        server_url: str,
        *extra: str,
        env: dict[str, str] | None = None,
        ice_host: bool = True,
        prefix: list[str] | None = None,
    ) -> Headless:
        args = ["--headless", "--user", user, "--server", server_url, *extra]
        return await cls.start_with(workdir, user, args, env=env, ice_host=ice_host, prefix=prefix)

    @classmethod
    async def start_with(
        cls,
        workdir: Path,
        name: str,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        ice_host: bool = True,
        prefix: list[str] | None = None,
    ) -> Headless:
        """``softphone`` with exactly ``args`` (plus ``--ice-host``): SIP mode has no --server."""
        if ice_host:
            args = [*args, "--ice-host", LOOPBACK]
        base = await _spawn(args, name, workdir, env, stdin=True, prefix=prefix)
        self = cls(base.proc, name, base.stderr_path)
        self.events = []
        self._new_event = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                event = {
                    "event": "__not-json__",
                    "line": line.decode(errors="replace"),
                    "error": str(exc),
                }
            event["_received"] = time.monotonic()
            async with self._new_event:
                self.events.append(event)
                self._new_event.notify_all()
        async with self._new_event:
            self._new_event.notify_all()

    async def send(self, **command: Any) -> None:
        await self.send_line(json.dumps(command))

    async def send_line(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    def find(self, event: str, since: int = 0, **fields: Any) -> dict[str, Any] | None:
        for record in self.events[since:]:
            if record.get("event") == event and all(record.get(k) == v for k, v in fields.items()):
                return record
        return None

    async def wait_for(
        self, event: str, timeout: float = 20, since: int = 0, **fields: Any
    ) -> dict[str, Any]:
        """The first event named ``event`` (at index >= since) whose fields match."""
        deadline = time.monotonic() + timeout
        async with self._new_event:
            while True:
                found = self.find(event, since, **fields)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.returncode is not None and self._reader.done()):
                    tail = "\n".join(json.dumps(e) for e in self.events[-25:])
                    raise ProcessError(
                        f"{self.name}: no {event} {fields} within {timeout}s.\n"
                        f"last events:\n{tail}\nstderr tail:\n{self.stderr[-3000:]}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_event.wait(), remaining)

    def mark(self) -> int:
        """An index to pass as ``since`` to wait only for events from now on."""
        return len(self.events)

    async def stats(self) -> dict[str, Any]:
        """A ``stats`` event asked for now; each one opens a new longest-gap window."""
        mark = self.mark()
        await self.send(cmd="stats")
        return await self.wait_for("stats", since=mark)

    async def audio_flows(self, packets: int = 25, timeout: float = 10) -> None:
        """Return once ``packets`` more packets arrived than now: audio still flows.

        Waiting for the packets, rather than sleeping and then counting, holds
        on a slow machine and ends early on a fast one.
        """
        target = int((await self.stats())["packets_received"]) + packets

        async def arrived() -> bool:
            return int((await self.stats())["packets_received"]) >= target

        await wait_for(arrived, timeout, interval=0.05)

    async def quit(self, timeout: float = 15) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ConnectionError):
                await self.send(cmd="quit")
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        await asyncio.wait_for(self._reader, 5)
        return self.proc.returncode or 0


async def connected_call(
    caller: Headless, callee: Headless, callee_name: str, timeout: float = 30
) -> str:
    """Caller dials, callee answers, both reach connection-state connected; returns the call id."""
    await caller.send(cmd="call", to=callee_name)
    incoming = await callee.wait_for("incoming", timeout)
    await callee.send(cmd="answer")
    await caller.wait_for("connection-state", timeout, state="connected")
    await callee.wait_for("connection-state", timeout, state="connected")
    return str(incoming["call"])


@contextlib.asynccontextmanager
async def parties(
    workdir: Path, server_url: str, **args: tuple[str, ...]
) -> AsyncIterator[tuple[Headless, ...]]:
    """Start one registered headless softphone per keyword (name=extra args); quit them after.

    ``async with parties(tmp, url, alice=(...), bob=(...)) as (alice, bob):``
    """
    started: list[Headless] = []
    try:
        for name, extra in args.items():
            started.append(await Headless.start(workdir, name, server_url, *extra))
        for party in started:
            await party.wait_for("registered")
        yield tuple(started)
    finally:
        for party in started:
            await party.quit()
