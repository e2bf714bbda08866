"""Run every benchmark in turn: ``python -m bench`` (inside scripts/run-bench)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    only = set(sys.argv[1:])
    failed = []
    for name in names:
        if only and name not in only:
            continue
        print(f"\n### {name}\n", flush=True)
        # One process each, so one benchmark's leftovers cannot slow the next.
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
