"""A private PulseAudio server with a null sink, as in TESTING.md "Sound without a sound card".

The sink `vsink` is the default output and its monitor the default input, so
whatever is played can be recorded back. Each caller gets its own runtime
directory, hence its own server, so parallel test runs do not share one.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def pulse_env(runtime_dir: Path) -> dict[str, str]:
    """The environment every client of the server must inherit."""
    env = dict(os.environ)
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["PULSE_SERVER"] = f"unix:{runtime_dir}/pulse/native"
    return env


def _pactl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pactl", *args], env=env, capture_output=True, text=True, timeout=10, check=False
    )


def start_pulseaudio(runtime_dir: Path) -> dict[str, str]:
    """Start the server (if not already running there) and return its client environment."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    env = pulse_env(runtime_dir)
    if _pactl(env, "info").returncode != 0:
        subprocess.run(
            [
                "pulseaudio", "--daemonize=yes", "-n", "--exit-idle-time=-1",
                f"--log-target=file:{runtime_dir}/pulseaudio.log",
                "--load=module-native-protocol-unix auth-anonymous=1",
                "--load=module-null-sink sink_name=vsink rate=48000 channels=2",
            ],
            env=env, check=True, timeout=30, capture_output=True,
        )  # fmt: skip
    deadline = time.monotonic() + 10
    while _pactl(env, "info").returncode != 0:
        if time.monotonic() > deadline:
            log = runtime_dir / "pulseaudio.log"
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"PulseAudio did not start:\n{text}")
        time.sleep(0.05)
    for args in (("set-default-sink", "vsink"), ("set-default-source", "vsink.monitor")):
        done = _pactl(env, *args)
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {done.stderr}")
    return env


def stop_pulseaudio(env: dict[str, str]) -> None:
    """Stop the server started with this environment; fine if it is already gone."""
    subprocess.run(["pulseaudio", "-k"], env=env, capture_output=True, timeout=10, check=False)
    deadline = time.monotonic() + 5
    while _pactl(env, "info").returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.05)


@contextlib.contextmanager
def pulseaudio(runtime_dir: Path) -> Iterator[dict[str, str]]:
    """`with pulseaudio(tmp_path / "pulse") as env:` — a server for the block's duration."""
    env = start_pulseaudio(runtime_dir)
    try:
        yield env
    finally:
        stop_pulseaudio(env)


def portaudio_path() -> Path:
    name = ctypes.util.find_library("portaudio")
    assert name, "libportaudio2 must be installed for this test"
    for line in subprocess.run(
        ["ldconfig", "-p"], capture_output=True, text=True, check=True
    ).stdout.splitlines():
        if name in line and "=>" in line:
            return Path(line.split("=>")[1].strip()).resolve()
    raise AssertionError(f"{name} not in the ldconfig cache")


def without_portaudio_prefix() -> list[str]:
    """A command prefix running its command where PortAudio truly cannot load.

    A private mount namespace binds /dev/null over the library file, so
    dlopen fails exactly as on a machine without libportaudio2 (needs root).
    """
    library = portaudio_path()
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'mount --bind /dev/null "{library}" && exec "$0" "$@"']  # fmt: skip


def tone_wav(path: Path, hz: float, seconds: float, rate: int = 44100) -> Path:
    """A stereo sine WAV made by sox, to play into the virtual microphone."""
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", "2", str(path), "synth", str(seconds),
         "sine", str(hz), "vol", "0.5"],
        check=True, timeout=30,
    )  # fmt: skip
    return path
