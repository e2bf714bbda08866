"""Run every benchmark in turn: ``python -m bench [NAME ...] [-- OPTIONS]``.

Run it inside scripts/run-bench. Names choose benchmarks (default: all); options
after ``--`` go to each one.
"""

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
    args = sys.argv[1:]
    options: list[str] = []
    if "--" in args:
        args, options = args[: args.index("--")], args[args.index("--") + 1 :]
    only = set(args)
    failed = []
    for name in names:
        if only and name not in only:
            continue
        print(f"\n### {name}\n", flush=True)
        # One process each, so one benchmark's leftovers cannot slow the next.
        if subprocess.call([sys.executable, "-m", f"bench.{name}", *options]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
