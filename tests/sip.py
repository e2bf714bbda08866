"""Kamailio + rtpengine + baresip on loopback, for the SIP tests (TESTING.md "SIP").

Each piece is a real process with its configuration generated into a temporary
directory and its own free ports, so tests never share state. Kamailio runs
docs/kamailio.cfg itself (the README's example), with the ``listen=`` lines and
``#!define`` values replaced. Ready means: Kamailio answers an OPTIONS on UDP,
rtpengine answers an ng ``ping``, baresip's ctrl_tcp port accepts a connection.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import Headless

ROOT = Path(__file__).resolve().parent.parent
KAMAILIO_CFG = ROOT / "docs" / "kamailio.cfg"
LOOPBACK = "127.0.0.1"
PASSWORDS = {"alice": "alice-secret", "carol": "carol-secret"}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free now for ``kind`` (and, for the caller's use, likely free for both)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _tcp_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP right now."""
    while True:
        port = free_port(socket.SOCK_DGRAM)
        if _tcp_free(port):
            return port


def free_sip_port() -> int:
    """A port for baresip's ``sip_listen``: UDP and TCP on it, and TCP on the next one.

    baresip 1.0 listens for SIP on UDP and TCP at the port given, and for
    SIP/TLS on the port after it; any of the three taken fails its start
    ("ua: init failed (Address already in use)", seen once in CI).
    """
    while True:
        port = free_udp_tcp_port()
        if port < 65535 and _tcp_free(port + 1):
            return port


def _wait(check: object, what: str, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not start: {log.read_text(errors='replace')[-3000:]}")


@dataclass
class Daemon:
    """A process whose output goes to a log file in its work directory."""

    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "log"

    def _spawn(self, args: list[str]) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class RtpEngine(Daemon):
    ng_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))

    def start(self) -> RtpEngine:
        low = 30000 + (self.ng_port % 200) * 100
        self._spawn(
            [
                "rtpengine", "--table=-1", f"--interface={LOOPBACK}",
                f"--listen-ng={LOOPBACK}:{self.ng_port}", f"--port-min={low}",
                f"--port-max={low + 99}", "--foreground", "--log-stderr", "--log-level=6",
                f"--pidfile={self.workdir / 'pid'}", "--no-fallback",
            ]
        )  # fmt: skip
        _wait(self._pong, "rtpengine", self.log)
        return self

    def _pong(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.2)
            sock.sendto(b"c1 d7:command4:pinge", (LOOPBACK, self.ng_port))
            try:
                return b"pong" in sock.recv(2048)
            except OSError:
                return False


def kamailio_config(
    template: str, *, udp_port: int, ws_port: int, ng_port: int, algorithm: str
) -> str:
    """docs/kamailio.cfg with these ports, rtpengine socket and digest algorithm."""
    text = re.sub(r"(?m)^listen=.*\n", "", template)
    listens = f"listen=udp:{LOOPBACK}:{udp_port}\nlisten=tcp:{LOOPBACK}:{ws_port}\n"
    text = text.replace("\ndebug=", f"\n{listens}\ndebug=", 1)
    defines = {
        "RTPENGINE_NG": f'"udp:{LOOPBACK}:{ng_port}"',
        "AUTH_ALGORITHM": f'"{algorithm}"',
        "ALICE_PASSWORD": f'"{PASSWORDS["alice"]}"',
        "CAROL_PASSWORD": f'"{PASSWORDS["carol"]}"',
    }
    for name, value in defines.items():
        text = re.sub(rf"(?m)^#!define {name} .*$", f"#!define {name} {value}", text)
    return text


@dataclass
class Kamailio(Daemon):
    ng_port: int = 0
    algorithm: str = "MD5"
    udp_port: int = field(default_factory=free_udp_tcp_port)
    ws_port: int = field(default_factory=free_port)

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.ws_port}"

    @property
    def domain(self) -> str:
        return LOOPBACK

    def start(self) -> Kamailio:
        cfg = self.workdir / "kamailio.cfg"
        cfg.write_text(
            kamailio_config(
                KAMAILIO_CFG.read_text(),
                udp_port=self.udp_port,
                ws_port=self.ws_port,
                ng_port=self.ng_port,
                algorithm=self.algorithm,
            )
        )
        rundir = self.workdir / "run"
        rundir.mkdir(exist_ok=True)
        self._spawn(["kamailio", "-DD", "-E", "-f", str(cfg), "-Y", str(rundir), "-w", str(rundir)])
        _wait(self._answers_options, "kamailio", self.log)
        return self

    def _answers_options(self) -> bool:
        port = self.udp_port
        request = (
            f"OPTIONS sip:{LOOPBACK}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:9;rport;branch=z9hG4bKprobe{time.monotonic_ns()}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
            f"To: <sip:{LOOPBACK}>\r\nCall-ID: probe-{time.monotonic_ns()}\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.2)
            try:
                sock.sendto(request.encode(), (LOOPBACK, port))
                return sock.recv(4096).startswith(b"SIP/2.0 200")
            except OSError:
                return False


@dataclass
class Baresip(Daemon):
    """A plain SIP phone: a 440 Hz source (or another), records what it hears."""

    user: str = "bob"
    kamailio: Kamailio | None = None
    tone_hz: int = 440
    answermode: str = "auto"
    sip_port: int = field(default_factory=free_sip_port)
    ctrl_port: int = field(default_factory=free_port)

    @property
    def recordings(self) -> Path:
        return self.workdir / "recordings"

    def start(self) -> Baresip:
        assert self.kamailio is not None
        self.recordings.mkdir(exist_ok=True)
        proxy = f"sip:{LOOPBACK}:{self.kamailio.udp_port};transport=udp"
        (self.workdir / "accounts").write_text(
            f'<sip:{self.user}@{LOOPBACK}>;auth_pass=none;outbound="{proxy}";'
            f"regint=600;answermode={self.answermode}\n"
        )
        (self.workdir / "contacts").write_text("")
        (self.workdir / "config").write_text(
            "\n".join(
                [
                    f"sip_listen {LOOPBACK}:{self.sip_port}",
                    f"net_interface {LOOPBACK}",
                    f"audio_source ausine,{self.tone_hz}",
                    "audio_player aubridge,nil",
                    "audio_alert aubridge,nil",
                    f"snd_path {self.recordings}",
                    f"ctrl_tcp_listen {LOOPBACK}:{self.ctrl_port}",
                    "rtp_ports 40000-40999",
                    "module_path /usr/lib/baresip/modules",
                    *(f"module {m}.so" for m in ("opus", "g711", "ausine", "aubridge", "sndfile")),
                    "module_app account.so",
                    "module_app ctrl_tcp.so",
                    "module_app menu.so",
                    "",
                ]
            )
        )
        self._spawn(["baresip", "-f", str(self.workdir)])
        _wait(self._ctrl_up, "baresip", self.log)
        return self

    def _ctrl_up(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.ctrl_port), timeout=0.2):
                return "registered" in self.log_text() or "200 OK" in self.log_text()
        except OSError:
            return False

    def command(self, command: str, params: str = "") -> str:
        """A ctrl_tcp command (netstring JSON); returns the raw response text."""
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        with socket.create_connection((LOOPBACK, self.ctrl_port), timeout=5) as sock:
            sock.sendall(str(len(body)).encode() + b":" + body + b",")
            sock.settimeout(5)
            try:
                return sock.recv(65536).decode(errors="replace")
            except TimeoutError:
                return ""

    def decoded_recordings(self) -> list[Path]:
        """The WAV files of what baresip heard (sndfile's ``*-dec.wav``)."""
        return sorted(self.recordings.glob("*dec*.wav"))


@dataclass
class SipStack:
    rtpengine: RtpEngine
    kamailio: Kamailio
    workdir: Path
    phones: list[Baresip] = field(default_factory=list)

    def baresip(self, user: str = "bob", **options: object) -> Baresip:
        directory = self.workdir / f"baresip-{user}"
        directory.mkdir()
        phone = Baresip(directory, user=user, kamailio=self.kamailio, **options)  # type: ignore[arg-type]
        self.phones.append(phone)
        return phone.start()

    def stop(self) -> None:
        for phone in self.phones:
            phone.stop()
        self.kamailio.stop()
        self.rtpengine.stop()


def start_stack(algorithm: str = "MD5") -> SipStack:
    workdir = Path(tempfile.mkdtemp(prefix="sip-"))
    (workdir / "rtpengine").mkdir()
    (workdir / "kamailio").mkdir()
    rtpengine = RtpEngine(workdir / "rtpengine").start()
    try:
        kamailio = Kamailio(workdir / "kamailio", ng_port=rtpengine.ng_port, algorithm=algorithm)
        kamailio.start()
    except BaseException:
        rtpengine.stop()
        raise
    return SipStack(rtpengine, kamailio, workdir)


def remove(stack: SipStack) -> None:
    stack.stop()
    shutil.rmtree(stack.workdir, ignore_errors=True)


async def sip_softphone(
    workdir: Path,
    name: str,
    kamailio: Kamailio,
    *extra: str,
    password: str | None = None,
    config: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    extra_toml: str = "",
) -> Headless:
    """``softphone --headless`` in SIP mode as ``name`` at ``kamailio`` (config file + env)."""
    values = {
        "signaling": "sip",
        "sip_uri": f"sip:{name}@{LOOPBACK}",
        "sip_ws": kamailio.ws_url,
        **(config or {}),
    }
    path = workdir / f"{name}-sip.toml"
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
    path.write_text(lines + extra_toml)
    full_env = dict(env or {})
    full_env["SOFTPHONE_SIP_PASSWORD"] = PASSWORDS.get(name, "") if password is None else password
    return await Headless.start_with(
        workdir, name, ["--headless", "--config", str(path), *extra], env=full_env
    )
