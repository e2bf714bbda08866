"""Two local coturn regions for the no-setup start, so a region switch can be seen at once.

With no configuration the softphone runs an embedded server and the echo
user, but no region: the product's signature move, switching a live call to
another region's TURN servers, has nothing to switch to. When coturn's
``turnserver`` is installed, this module runs one per region on its own
loopback address (127.0.0.2, 127.0.0.3 — all of 127/8 is the loopback
interface on Linux), each on a port found free, with a random password for
this run only, and hands back the regions to offer. Processes are stopped
when the block ends; each also gets SIGTERM if the softphone dies first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from softphone.config import Region
from softphone.rtc.configuration import IceServer

logger = logging.getLogger("softphone.demo")

ADDRESSES = ("127.0.0.2", "127.0.0.3")
NAMES = ("demo-a", "demo-b")
USER = "demo"
REALM = "softphone.demo"
#: How long a turnserver may take to answer its first STUN request (~0.1 s measured).
READY_TIMEOUT = 5.0
#: Relay ports per region: a call and a warm standby need a handful.
RELAY_PORTS = 40
#: The one line the region picker shows when there are no regions and no coturn.
HOW_TO_GET_THEM = "coturn's turnserver is not installed (apt-get install coturn): no demo regions"


def turnserver() -> str | None:
    """The ``turnserver`` program, if coturn is installed."""
    return shutil.which("turnserver")


@dataclass
class _Process:
    address: str
    port: int
    workdir: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def free_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address`` (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
            return port
    raise OSError(f"no free port on {address}")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the softphone dies (Linux PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _start(binary: str, address: str, password: str, relay_base: int) -> _Process:
    port = free_port(address)
    workdir = tempfile.mkdtemp(prefix="softphone-demo-turn-")
    args = [
        binary, "-n", "--no-cli", "--no-tls", "--no-dtls",
        f"--listening-ip={address}", f"--listening-port={port}", f"--relay-ip={address}",
        f"--min-port={relay_base}", f"--max-port={relay_base + RELAY_PORTS}",
        "--lt-cred-mech", f"--user={USER}:{password}", f"--realm={REALM}",
        "--allow-loopback-peers", "--fingerprint",
        f"--db={os.path.join(workdir, 'turn.sqlite')}",
        f"--pidfile={os.path.join(workdir, 'turn.pid')}",
        f"--log-file={os.path.join(workdir, 'turn.log')}", "--simple-log", "--no-stdout-log",
    ]  # fmt: skip
    proc = _Process(address, port, workdir)
    proc.process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # only prctl: nothing that could deadlock after fork
    )
    return proc


def _answers_stun(address: str, port: int, timeout: float) -> bool:
    request = bytes.fromhex("000100002112a442") + os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (address, port))
            data, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[8:20] == request[8:20]


def _wait_ready(proc: _Process) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.process is not None
        if proc.process.poll() is not None:
            raise OSError(f"turnserver on {proc.address} exited (log in {proc.workdir})")
        if _answers_stun(proc.address, proc.port, 0.1):
            return
    raise OSError(f"turnserver on {proc.address}:{proc.port} did not answer STUN")


def _stop(proc: _Process) -> None:
    process = proc.process
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(2)
    shutil.rmtree(proc.workdir, ignore_errors=True)


def _stop_all(procs: Sequence[_Process]) -> None:
    for proc in procs:
        _stop(proc)


def _regions(procs: Sequence[_Process], password: str) -> tuple[Region, ...]:
    return tuple(
        Region(
            name,
            (
                IceServer(
                    (f"turn:{p.address}:{p.port}?transport=udp",),
                    username=USER,
                    credential=password,
                ),
            ),
        )
        for name, p in zip(NAMES, procs, strict=True)
    )


@contextlib.asynccontextmanager
async def demo_regions() -> AsyncIterator[tuple[Region, ...]]:
    """Two running coturn regions while the block runs; none when coturn is missing or fails."""
    binary = turnserver()
    if binary is None:
        yield ()
        return
    password = secrets.token_urlsafe(12)
    procs: list[_Process] = []
    try:
        for i, address in enumerate(ADDRESSES):
            procs.append(_start(binary, address, password, 50000 + 1000 * i + os.getpid() % 900))
        await asyncio.gather(*(asyncio.to_thread(_wait_ready, p) for p in procs))
    except OSError as exc:
        logger.warning("demo regions not started: %s", exc)
        await asyncio.to_thread(_stop_all, procs)
        yield ()
        return
    logger.info("demo regions: %s", ", ".join(f"{p.address}:{p.port}" for p in procs))
    try:
        yield _regions(procs, password)
    finally:
        await asyncio.to_thread(_stop_all, procs)
