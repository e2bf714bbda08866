"""A throw-away test CA and a server certificate for ``IP:127.0.0.1``, made with ``openssl``.

TESTING.md "TLS on loopback": a self-made CA is what a client must be told
about (``ca_file``); without it the system store does not know the server.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Certificates", "make_certificates"]


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate (PEM) a client trusts
    cert: Path  # the server certificate, signed by the CA
    key: Path  # the server's private key


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_certificates(workdir: Path, address: str = "127.0.0.1") -> Certificates:
    """A CA and a server certificate for ``address`` under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=softphone test CA", "-keyout", "ca.key", "-out", "ca.pem",
        cwd=workdir,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={address}",
        "-keyout", "server.key", "-out", "server.csr",
        cwd=workdir,
    )  # fmt: skip
    (workdir / "server.ext").write_text(
        f"subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
        cwd=workdir,
    )  # fmt: skip
    return Certificates(
        ca=workdir / "ca.pem", cert=workdir / "server.pem", key=workdir / "server.key"
    )
