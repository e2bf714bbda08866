"""``softphone --help`` starts fast: parsing the command line imports nothing heavy.

The session stack (aiortc, av, numpy), aiohttp and Textual take most of a
second to import; the command line imports them only in the mode that runs,
so help and argument errors are instant. bench/bench_startup.py measures it.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("aiortc", "aioice", "av", "numpy", "aiohttp", "textual", "sounddevice")

_PROBE = """
import contextlib, io, json, sys
from softphone.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["--help"])
    except SystemExit:
        pass
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_imports_none_of_the_session_stack() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=30
    )
    report = json.loads(result.stdout)
    assert report["help"].startswith("usage: softphone")
    loaded = {name.partition(".")[0] for name in report["modules"]}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    assert "softphone.session" not in report["modules"]
