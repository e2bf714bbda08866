"""The call history file: kept across runs, never a crash, printed by ``softphone history``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from softphone.history import HISTORY_FILE, MAX_RECORDS, CallHistory, CallRecord

RECORD = CallRecord(
    call="c1",
    direction="outgoing",
    remote="bob",
    start=1_780_000_000.0,
    duration=42.5,
    reason="hangup",
    missed=False,
)
MISSED = CallRecord.refused("c2", "carol", "busy")
SIDEWAYS = json.dumps([{**RECORD.to_json(), "direction": "sideways"}])


def run_cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "softphone", "history", *args],
        capture_output=True,
        text=True,
        env={"SOFTPHONE_STATE_DIR": str(state), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


def test_records_survive_a_new_instance(tmp_path: Path) -> None:
    history = CallHistory(tmp_path)
    history.add(RECORD)
    history.add(MISSED)
    again = CallHistory(tmp_path)
    assert again.records() == (RECORD, MISSED)
    assert again.notice is None
    assert not list(tmp_path.glob("*.tmp"))  # written by rename


def test_the_oldest_records_are_dropped_beyond_the_cap(tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).write_text(json.dumps([RECORD.to_json()] * (MAX_RECORDS + 2)))
    history = CallHistory(tmp_path)
    history.add(MISSED)
    assert len(CallHistory(tmp_path)) == MAX_RECORDS
    assert CallHistory(tmp_path).records()[-1] == MISSED


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "is not a valid history"),
        ('{"a": 1}', "expected a list of records"),
        ('[{"call": "c1"}]', 'record field "direction"'),
        (SIDEWAYS, '"direction" must be'),
        (json.dumps([{**RECORD.to_json(), "missed": "no"}]), 'record field "missed"'),
    ],
)
def test_a_corrupt_file_is_moved_aside_with_a_notice(
    tmp_path: Path, content: str, why: str
) -> None:
    (tmp_path / HISTORY_FILE).write_text(content, encoding="utf-8")
    history = CallHistory(tmp_path)
    assert history.records() == ()
    assert history.notice is not None and why in history.notice
    (aside,) = tmp_path.glob(f"{HISTORY_FILE}.corrupt-*")
    assert str(aside) in history.notice
    assert aside.read_text(encoding="utf-8") == content
    history.add(RECORD)  # a new history starts
    assert CallHistory(tmp_path).records() == (RECORD,)


def test_a_file_that_is_not_utf8_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).write_bytes(b"\xff\xfe[]")
    history = CallHistory(tmp_path)
    assert history.notice is not None and "cannot be read" in history.notice


def test_an_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).mkdir()  # reading a directory fails with an OSError
    history = CallHistory(tmp_path)
    assert history.notice is not None and "cannot be read" in history.notice
    assert list(tmp_path.glob(f"{HISTORY_FILE}.corrupt-*"))


def test_softphone_history_prints_newest_first_as_json_and_text(tmp_path: Path) -> None:
    history = CallHistory(tmp_path)
    history.add(RECORD)
    history.add(MISSED)
    as_json = run_cli(tmp_path, "--json")
    assert as_json.returncode == 0, as_json.stderr
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert lines == [MISSED.to_json(), RECORD.to_json()]
    assert set(lines[1]) == {"call", "direction", "remote", "start", "duration", "reason", "missed"}
    text = run_cli(tmp_path)
    assert text.returncode == 0
    first, second = text.stdout.splitlines()
    assert "← carol" in first and "busy" in first and "missed" in first
    assert "→ bob" in second and "00:42" in second and "hangup" in second


def test_softphone_history_with_a_corrupt_file_says_so_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).write_text("garbage", encoding="utf-8")
    result = run_cli(tmp_path, "--json")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr.startswith("softphone: call history") and "moved to" in result.stderr
    assert "Traceback" not in result.stderr
