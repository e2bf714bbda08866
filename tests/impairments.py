"""Random packet loss on loopback with iptables, for tests and benchmarks.

No netem on this kernel (TESTING.md): iptables' ``statistic`` match drops a
share of the datagrams instead. Only ever inside a loopback-only namespace.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests.coturn import in_loopback_namespace


@contextmanager
def random_udp_loss(probability: float) -> Iterator[None]:
    """Drop ``probability`` of every UDP datagram on loopback (media and STUN; not signaling)."""
    assert in_loopback_namespace(), "iptables rules only inside unshare --net (scripts/run-tests)"
    rule = ["INPUT", "-p", "udp", "-m", "statistic", "--mode", "random"]
    rule += ["--probability", str(probability), "-j", "DROP"]
    subprocess.run(["iptables", "-I", *rule], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True, capture_output=True)
