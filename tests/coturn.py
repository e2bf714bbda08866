"""Real coturn ``turnserver`` regions on loopback addresses, for tests and the bench.

One process per region, each on its own 127.x address with its own sqlite
--db (TESTING.md); ``--allow-loopback-peers`` is what lets ChannelBind to a
127.x peer succeed. Ready means it answered a STUN Binding request.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from softphone.rtc.configuration import Configuration, IceServer
from tests.tls import Certificates

USER = "softphone"
PASSWORD = "loopback-secret"
REALM = "softphone.test"


@dataclass
class TurnRegion:
    """One running turnserver; ``kill()`` and ``start()`` simulate an outage."""

    address: str
    port: int = 3478
    min_port: int = 49160
    max_port: int = 49200
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="turn-"))
    # Set: ephemeral credentials only (TURN REST API, --use-auth-secret) instead of USER.
    static_auth_secret: str | None = None
    # Set: also TURN over TLS on ``tls_port`` with this certificate (``turns:`` URLs).
    tls: Certificates | None = None
    tls_port: int = 5349
    # The transports ice_server() and configuration() name, each one URL.
    transports: tuple[str, ...] = ("udp",)
    # Set: relay on this address instead of ``address`` (an IPv6 listener relaying
    # IPv4: aioice asks for no REQUESTED-ADDRESS-FAMILY, so it always gets IPv4).
    relay_address: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.url_for("udp")

    def url_for(self, transport: str) -> str:
        """This server's URL over ``udp``, ``tcp`` (coturn always listens on both) or ``tls``."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        if transport == "tls":
            return f"turns:{host}:{self.tls_port}"
        return f"turn:{host}:{self.port}?transport={transport}"

    def ice_server(self, credential: str = PASSWORD) -> IceServer:
        urls = tuple(self.url_for(transport) for transport in self.transports)
        return IceServer(urls=urls, username=USER, credential=credential)

    def configuration(self, policy: str = "relay") -> Configuration:
        return Configuration(ice_servers=(self.ice_server(),), ice_transport_policy=policy)  # type: ignore[arg-type]

    def start(self, timeout: float = 5.0) -> None:
        binary = shutil.which("turnserver") or "/usr/bin/turnserver"
        args = [
            binary, "-n", "--no-cli", *self._tls_args(), "--no-dtls",
            f"--listening-ip={self.address}", f"--listening-port={self.port}",
            f"--relay-ip={self.relay_address or self.address}", f"--min-port={self.min_port}",
            f"--max-port={self.max_port}", *self._auth_args(),
            f"--realm={REALM}", "--allow-loopback-peers", "--fingerprint",
            f"--db={os.path.join(self.workdir, 'turn.sqlite')}",
            f"--pidfile={os.path.join(self.workdir, 'turn.pid')}",
            f"--log-file={os.path.join(self.workdir, 'turn.log')}",
            "--simple-log", "--no-stdout-log",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"turnserver on {self.address} exited: see {self.workdir}")
            if stun_ping(self.address, self.port, 0.1):
                return
        self.kill()
        raise RuntimeError(f"turnserver on {self.address}:{self.port} did not answer STUN")

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return ["--no-tls"]
        return [
            f"--tls-listening-port={self.tls_port}",
            f"--cert={self.tls.cert}",
            f"--pkey={self.tls.key}",
        ]

    def _auth_args(self) -> list[str]:
        if self.static_auth_secret is not None:
            return ["--use-auth-secret", f"--static-auth-secret={self.static_auth_secret}"]
        return ["--lt-cred-mech", f"--user={USER}:{PASSWORD}"]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def stun_ping(address: str, port: int, timeout: float) -> bool:
    """Whether a STUN Binding request to (address, port) gets any answer within ``timeout``."""
    request = bytes.fromhex("0001 0000 2112a442".replace(" ", "")) + os.urandom(12)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (address, port))
            data, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[8:20] == request[8:20]


def start_regions(*addresses: str, base_port: int = 49160) -> list[TurnRegion]:
    """Start one region per address, with disjoint relay port ranges."""
    regions = []
    try:
        for i, address in enumerate(addresses):
            region = TurnRegion(
                address=address, min_port=base_port + 100 * i, max_port=base_port + 100 * i + 60
            )
            region.start()
            regions.append(region)
    except BaseException:
        for region in regions:
            region.stop()
        raise
    return regions


def in_loopback_namespace() -> bool:
    """True when the only interface is lo (``unshare --net``), where 127.0.0.2+ just work."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@contextmanager
def silenced(address: str) -> Iterator[None]:
    """Everything to and from ``address`` dropped, both ways: a silent outage (no ICMP).

    Only inside a loopback-only namespace: the rules must not touch the host.
    """
    assert in_loopback_namespace(), "iptables rules only inside unshare --net"
    rules = [["-d", address, "-j", "DROP"], ["-s", address, "-j", "DROP"]]
    for rule in rules:
        subprocess.run(["iptables", "-I", "INPUT", *rule], check=True, capture_output=True)
    try:
        yield
    finally:
        for rule in rules:
            subprocess.run(["iptables", "-D", "INPUT", *rule], check=True, capture_output=True)
