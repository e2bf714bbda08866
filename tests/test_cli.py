"""The command line (docs/protocol.md section 3): what parsing costs and keeps.

``softphone --help`` starts fast: the session stack (aiortc, av, numpy),
aiohttp and Textual take most of a second to import, and the command line
imports them only in the mode that runs, so help and argument errors are
instant (bench/bench_startup.py measures it). Options common to the client
and ``serve`` count wherever they are given.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from softphone.cli import build_parser

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


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "DEBUG", "--token", "t0k", "--ice-host", "127.0.0.1", "serve"],
        ["serve", "--log-level", "DEBUG", "--token", "t0k", "--ice-host", "127.0.0.1"],
    ],
)
def test_common_options_count_before_and_after_serve(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.command, args.log_level, args.token, args.ice_host) == (
        "serve",
        "DEBUG",
        "t0k",
        ["127.0.0.1"],
    )


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.log_level, args.token, args.config) == (
        "127.0.0.1",
        8765,
        "WARNING",
        None,
        None,
    )


_HISTORY_PROBE = """
import contextlib, io, json, sys
from softphone.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["history", "--json"])
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_history_imports_none_of_the_session_stack(state_dir: object) -> None:
    """(1.2) ``softphone history`` reads a JSON file: it must start as fast as ``--help``."""
    result = subprocess.run(
        [sys.executable, "-c", _HISTORY_PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    report = json.loads(result.stdout)
    assert report["code"] == 0 and report["out"] == ""  # no history yet: nothing printed
    loaded = {name.partition(".")[0] for name in report["modules"]}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_auto_answer_option() -> None:
    from softphone.cli import _settings

    args = build_parser().parse_args(["--auto-answer", "--config", "/dev/null"])
    assert _settings(args).auto_answer is True
    args = build_parser().parse_args(["--config", "/dev/null"])
    assert _settings(args).auto_answer is False
