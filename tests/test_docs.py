"""docs/protocol.md names everything the code offers: options, keys, commands, events, keys.

The document is the contract other programs are written against, so a name
the code adds without documenting it is a bug this test reports by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from pathlib import Path

import pytest

from softphone.cli import build_parser
from softphone.config import Settings
from softphone.events import Event
from softphone.headless import BadCommand, parse_command
from softphone.ui.keymap import ACTIONS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def _documented(name: str) -> bool:
    return f"`{name}`" in DOC


def _help(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return out.getvalue()


def test_every_command_line_option_is_documented() -> None:
    options = set(re.findall(r"--[a-z][a-z-]+", _help() + _help("serve"))) - {"--help"}
    assert {"--headless", "--no-web"} <= options
    assert sorted(o for o in options if f"`{o}" not in DOC) == []


def test_every_config_key_is_documented() -> None:
    keys = [f.name for f in dataclasses.fields(Settings)]
    assert [key for key in keys if not _documented(key)] == []


def test_every_headless_command_is_documented() -> None:
    with pytest.raises(BadCommand) as refused:
        parse_command('{"cmd":"no-such-command"}')
    known = re.search(r"\(known: ([^)]*)\)", str(refused.value))
    assert known is not None
    commands = known.group(1).split(", ")
    assert "restart-ice" in commands
    assert [c for c in commands if f'"cmd":"{c}"' not in DOC] == []


def _event_classes(base: type[Event]) -> list[type[Event]]:
    subclasses = base.__subclasses__()
    return subclasses + [c for sub in subclasses for c in _event_classes(sub)]


def test_every_emitted_event_is_documented() -> None:
    """Every typed event a front end can receive (softphone/events.py) is in the document."""
    names = {cls.NAME for cls in _event_classes(Event) if "NAME" in vars(cls)}
    assert {"registered", "call-state", "ice-restart"} <= names
    assert sorted(n for n in names if not _documented(n)) == []


def test_every_ui_key_is_documented() -> None:
    rows = {line.split("|")[1].strip() for line in DOC.splitlines() if line.startswith("| `")}
    assert [a.key_display for a in ACTIONS if f"`{a.key_display}`" not in rows] == []
