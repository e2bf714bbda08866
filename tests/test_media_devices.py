"""The `default` microphone and speaker through real PortAudio and a private PulseAudio,
and the fallbacks when PortAudio or the sound server is missing.

Each scenario runs in a fresh Python process: PortAudio reads XDG_RUNTIME_DIR
and PULSE_SERVER when it initialises, once per process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.analysis import dominant_frequency, longest_silence_ms, rms

from .pulse import pulse_env, tone_wav, without_portaudio_prefix

pytestmark = pytest.mark.audio

TESTS_DIR = Path(__file__).parent

PRELUDE = """
import asyncio, json, sys
import numpy as np
from softphone.media import create_sink, create_source
from tests.rtc_probe import wait_for

def samples(frames):
    return (np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
            .astype(np.float32) / 32768).tolist()
"""


def run_script(body: str, env: dict[str, str], prefix: list[str] | None = None) -> dict[str, Any]:
    """Run PRELUDE + body in a new interpreter; the body prints one JSON line last."""
    code = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [*(prefix or []), sys.executable, "-c", code],
        env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"script failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output:\n{done.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def loud_part(samples: np.ndarray, rate: int = 48000) -> np.ndarray:
    """The samples from the first to the last 20 ms block with sound in it."""
    block = rate // 50
    levels = [np.abs(samples[i : i + block]).max() for i in range(0, samples.size, block)]
    loud = [i for i, level in enumerate(levels) if level > 0.05]
    assert loud, "nothing audible was recorded"
    return samples[loud[0] * block : (loud[-1] + 1) * block]


def test_default_source_hears_the_virtual_microphone(pulse: dict[str, str], tmp_path: Path) -> None:
    wav = tone_wav(tmp_path / "mic.wav", 660, 3)
    result = run_script(
        f"""
        import subprocess
        async def main():
            src = create_source("default")
            player = subprocess.Popen(["paplay", "--device=vsink", {str(wav)!r}])
            frames = [await src.track.recv() for _ in range(200)]
            src.track.stop()
            player.wait(timeout=30)
            print(json.dumps({{"notice": src.notice, "description": src.description,
                              "pts": [f.pts for f in frames],
                              "formats": sorted({{(f.format.name, f.layout.name, f.samples,
                                                  f.sample_rate) for f in frames}}),
                              "samples": samples(frames)}}))
        asyncio.run(main())
        """,
        pulse,
    )
    assert result["notice"] is None
    assert result["description"].startswith("microphone")
    assert result["formats"] == [["s16", "mono", 960, 48000]]
    assert result["pts"] == [960 * i for i in range(200)]
    heard = loud_part(np.array(result["samples"], dtype=np.float32))
    assert heard.size > 1.0 * 48000
    assert abs(dominant_frequency(heard, 48000) - 660) < 2
    assert rms(heard) > 0.1


def test_default_sink_plays_into_the_virtual_speaker(pulse: dict[str, str], tmp_path: Path) -> None:
    raw = tmp_path / "speaker.raw"
    result = run_script(
        f"""
        import subprocess
        async def main():
            out = open({str(raw)!r}, "wb")
            recorder = subprocess.Popen(
                ["parec", "--device=vsink.monitor", "--rate=48000", "--channels=1",
                 "--format=s16le", "--raw"], stdout=out)
            import os, time
            deadline = time.monotonic() + 20
            while os.path.getsize({str(raw)!r}) == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # the recorder takes a while to start
            sink = create_sink("default")
            tone = create_source("tone:880").track
            await sink.sink.start(tone)
            await wait_for(lambda: sink.sink.stats.frames >= 250, 30)  # 5 s played
            stats = sink.sink.stats
            await sink.sink.stop()
            tone.stop()
            await asyncio.sleep(0.3)
            recorder.terminate()
            recorder.wait(timeout=10)
            print(json.dumps({{"notice": sink.notice, "description": sink.description,
                              "frames": stats.frames, "max_gap_ms": stats.max_gap_ms}}))
        asyncio.run(main())
        """,
        pulse,
    )
    assert result["notice"] is None
    assert result["description"].startswith("speaker")
    assert result["frames"] >= 200
    assert result["max_gap_ms"] < 500
    recorded = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float32) / 32768
    heard = loud_part(recorded)
    # A freshly started PulseAudio null sink takes up to ~2 s to render its first
    # block (it sleeps for its idle latency); what follows must be steady.
    assert heard.size > 2.5 * 48000
    assert abs(dominant_frequency(heard, 48000) - 880) < 2
    # Steady playback once sound started (a tone crosses zero briefly). A machine
    # loaded by other work may underrun a block or two of the real-time stream;
    # a stall (the sink waiting on something) would be far longer.
    assert longest_silence_ms(heard[4800:-960], 48000) < 100


FALLBACK_CHECK = """
async def main():
    src = create_source("default")
    sink = create_sink("default")
    frames = [await src.track.recv() for _ in range(10)]
    await sink.sink.start(src.track)
    await wait_for(lambda: sink.sink.stats.frames >= 5, 30)
    src.track.stop()
    await sink.sink.stop()
    print(json.dumps({"source_notice": src.notice, "sink_notice": sink.notice,
                      "source": src.description, "sink": sink.description,
                      "audible": any(samples(frames)), "pts": [f.pts for f in frames],
                      "sink_frames": sink.sink.stats.frames}))
asyncio.run(main())
"""


def assert_fallback(result: dict[str, Any], source_cause: str, sink_cause: str) -> None:
    assert source_cause in result["source_notice"]
    assert sink_cause in result["sink_notice"]
    assert result["source_notice"].startswith("No microphone: ")
    assert "Sending silence" in result["source_notice"]
    assert "--audio-in tone[:HZ] | file:PATH.wav | silence." in result["source_notice"]
    assert result["sink_notice"].startswith("No speaker: ")
    assert "--audio-out file:PATH.wav | null." in result["sink_notice"]
    assert result["source"].startswith("silence")
    assert result["sink"].startswith("null")
    assert not result["audible"]
    assert result["pts"] == [960 * i for i in range(10)]
    assert result["sink_frames"] >= 5  # the null sink still counts


def test_without_portaudio_library_falls_back(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "needs root for unshare --mount"
    prefix = without_portaudio_prefix()
    env = pulse_env(tmp_path / "nothing")
    result = run_script(FALLBACK_CHECK, env, prefix)
    cause = "PortAudio library not found (install libportaudio2)"
    assert_fallback(result, cause, cause)


def test_without_sound_server_falls_back(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = pulse_env(runtime)  # points at a socket nobody listens on
    assert not (runtime / "pulse" / "native").exists()
    result = run_script(FALLBACK_CHECK, env)
    assert_fallback(result, "no default input device", "no default output device")
    assert "PulseAudio" in result["source_notice"]


def test_server_started_after_sounddevice_import(tmp_path: Path) -> None:
    """PortAudio caches an empty device list; opening the default device rescans."""
    runtime = tmp_path / "late"
    env = pulse_env(runtime)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    try:
        result = run_script(
            f"""
            from pathlib import Path
            import sounddevice as sd
            empty = len(sd.query_devices()) == 0
            import pulse
            pulse.start_pulseaudio(Path({str(runtime)!r}))
            async def main():
                src = create_source("default")
                frames = [await src.track.recv() for _ in range(5)]
                src.track.stop()
                sink = create_sink("default")
                await sink.sink.stop()
                print(json.dumps({{"empty": empty, "source": src.notice,
                                  "sink": sink.notice}}))
            asyncio.run(main())
            """,
            env,
        )
    finally:
        if shutil.which("pulseaudio"):
            from .pulse import stop_pulseaudio

            stop_pulseaudio(env)
    assert result == {"empty": True, "source": None, "sink": None}
