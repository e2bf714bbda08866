"""Start-up benchmark: ``softphone --help`` against a bare ``python -c "import argparse"``.

Run: ``python -m bench.bench_startup [--runs N]``.

Printing the help must not pay for the session stack (aiortc, av, numpy,
aiohttp): the command line imports it only in the mode that runs it. Each run
starts a fresh interpreter and measures its wall time (spawn to exit) and its
peak resident set size. The peak is the child's own ``VmHWM``, written at exit
by a ``sitecustomize`` hook put on every child's path alike: ``ru_maxrss``
would not do, because Linux carries a parent's size over fork and exec, and
this benchmark's process is bigger than the processes it measures. The
commands are run interleaved — one of each per round — so a load spike on
this shared machine hits all of them alike; the baseline is the same Python
importing argparse and nothing else, measured in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.table import Row, print_table

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "baseline: python -c 'import argparse'"
HWM_FILE_ENV = "BENCH_STARTUP_HWM_FILE"
# Imported by site in every child: records the peak RSS (kB) when the interpreter exits.
_HOOK = f"""import atexit, os

def _report_peak_rss():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["{HWM_FILE_ENV}"], "w") as out:
        out.write(peak)

atexit.register(_report_peak_rss)
"""


def commands() -> dict[str, list[str]]:
    """What to start, by row name; the console script when this Python's venv has one."""
    found = {
        BASELINE: [sys.executable, "-c", "import argparse"],
        "python -m softphone --help": [sys.executable, "-m", "softphone", "--help"],
    }
    script = shutil.which("softphone", path=str(Path(sys.executable).parent))
    if script is not None:
        found["softphone --help (console script)"] = [script, "--help"]
    return found


def run_once(argv: list[str], hook_dir: Path) -> tuple[float, float]:
    """Wall milliseconds and peak RSS in MiB of one run of ``argv``."""
    hwm_file = hook_dir / "hwm"
    hwm_file.unlink(missing_ok=True)
    path = os.pathsep.join(p for p in (str(hook_dir), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, HWM_FILE_ENV: str(hwm_file)}
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)
    wall_ms = (time.perf_counter() - started) * 1000
    return wall_ms, int(hwm_file.read_text()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (one run of each per round)")
    args = parser.parse_args()
    todo = commands()
    wall = {name: Row(name, []) for name in todo}
    rss = {name: Row(name, [], unit="Mi") for name in todo}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        hook_dir = Path(tmp)
        (hook_dir / "sitecustomize.py").write_text(_HOOK)
        for argv in todo.values():  # warm the page cache before anything counts
            run_once(argv, hook_dir)
        for _ in range(args.runs):
            for name, argv in todo.items():
                ms, mib = run_once(argv, hook_dir)
                wall[name].values.append(ms)
                rss[name].values.append(mib)
    print_table(
        f"Start-up wall time (n={args.runs}, interleaved)",
        list(wall.values()),
        baseline=wall[BASELINE],
    )
    print()
    print_table(
        f"Start-up peak RSS, MiB (n={args.runs}, interleaved)",
        list(rss.values()),
        baseline=rss[BASELINE],
    )


if __name__ == "__main__":
    main()
