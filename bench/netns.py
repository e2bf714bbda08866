"""Re-run a benchmark inside a loopback-only network namespace (root needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAG = "SOFTPHONE_BENCH_NETNS"


def in_namespace() -> bool:
    return os.environ.get(FLAG) == "1"


def rerun_in_namespace(module: str, args: list[str]) -> int:
    """``python -m module args`` under ``unshare --net`` with only ``lo`` up."""
    quoted = " ".join(f"'{a}'" for a in args)
    command = f"ip link set lo up; cd {ROOT}; exec {sys.executable} -m {module} {quoted}"
    env = dict(os.environ, **{FLAG: "1"})
    return subprocess.call(["unshare", "--net", "bash", "-c", command], env=env)
