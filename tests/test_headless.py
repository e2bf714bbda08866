"""The headless front end: commands parsed at the edge, bad lines answered with errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.commands import (
    Answer,
    DeclineCall,
    Dial,
    DoNotDisturb,
    Dtmf,
    Hangup,
    Hold,
    MonitorInput,
    Mute,
    Quit,
    RestartIce,
    Stats,
    SwitchCall,
    SwitchDevice,
    SwitchRegion,
)
from softphone.headless import BadCommand, parse_command
from tests.harness import Headless, Server


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"cmd":"call","to":"bob"}', Dial("bob")),
        ('{"cmd":"mute","on":false}', Mute(False)),
        ('{"cmd":"region","name":"eu-west"}', SwitchRegion("eu-west")),
        ('{"cmd":"quit"}', Quit()),
        ('{"cmd":"device","kind":"input","name":"pulse"}', SwitchDevice("input", "pulse")),
        ('{"cmd":"hold","on":true}', Hold(True)),
        ('{"cmd":"hold","on":false}', Hold(False)),
        ('{"cmd":"dtmf","digits":"12#"}', Dtmf("12#", 100)),
        ('{"cmd":"dtmf","digits":"*","duration_ms":250}', Dtmf("*", 250)),
        ('{"cmd":"hold","on":true,"call":"c2"}', Hold(True, call="c2")),
        ('{"cmd":"dtmf","digits":"9","call":"c2"}', Dtmf("9", 100, call="c2")),
        ('{"cmd":"answer"}', Answer()),
        ('{"cmd":"answer","call":"c2"}', Answer(call="c2")),
        ('{"cmd":"decline","call":"c2"}', DeclineCall(call="c2")),
        ('{"cmd":"hangup","call":"c1"}', Hangup(call="c1")),
        ('{"cmd":"restart-ice","call":"c1"}', RestartIce(call="c1")),
        ('{"cmd":"stats","call":"c1"}', Stats(call="c1")),
        ('{"cmd":"switch"}', SwitchCall()),
        ('{"cmd":"switch","call":"c1"}', SwitchCall(call="c1")),
        ('{"cmd":"dnd"}', DoNotDisturb(True)),
        ('{"cmd":"dnd","on":false}', DoNotDisturb(False)),
        ('{"cmd":"monitor"}', MonitorInput(True)),
        ('{"cmd":"monitor","on":false}', MonitorInput(False)),
    ],
)
def test_good_commands_parse(line: str, expected: object) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"to":"bob"}', 'field "cmd"'),
        ('{"cmd":"call"}', '"call" needs a non-empty string field "to"'),
        ('{"cmd":"call","to":7}', 'field "to"'),
        ('{"cmd":"region"}', '"region" needs a non-empty string field "name"'),
        ('{"cmd":"mute","on":"yes"}', '"mute": field "on" must be true or false'),
        ('{"cmd":"dance"}', 'unknown command "dance"'),
        ('{"cmd":"device","kind":"mic","name":"0"}', 'field "kind" must be "input" or "output"'),
        ('{"cmd":"device","kind":"output"}', '"device" needs a non-empty string field "name"'),
        ('{"cmd":"hold","on":1}', '"hold": field "on" must be true or false'),
        ('{"cmd":"dtmf"}', '"dtmf" needs a non-empty string field "digits"'),
        ('{"cmd":"dtmf","digits":"1","duration_ms":"x"}', 'field "duration_ms" must be an'),
        ('{"cmd":"dtmf","digits":"1","duration_ms":true}', 'field "duration_ms" must be an'),
        ('{"cmd":"hold","call":7}', '"hold": field "call" must be a non-empty string'),
        ('{"cmd":"dtmf","digits":"1","call":""}', '"dtmf": field "call" must be a non-empty'),
        ('{"cmd":"hangup","call":7}', '"hangup": field "call" must be a non-empty string'),
        ('{"cmd":"answer","call":""}', '"answer": field "call" must be a non-empty string'),
        ('{"cmd":"switch","call":"' + "x" * 65 + '"}', 'field "call" is too long'),
        ('{"cmd":"dnd","on":1}', '"dnd": field "on" must be true or false'),
        ('{"cmd":"monitor","on":"yes"}', '"monitor": field "on" must be true or false'),
    ],
)
def test_bad_commands_name_the_problem(line: str, fragment: str) -> None:
    with pytest.raises(BadCommand) as info:
        parse_command(line)
    assert fragment in str(info.value)


def test_an_unknown_command_lists_every_command() -> None:
    with pytest.raises(BadCommand) as info:
        parse_command('{"cmd":"dance"}')
    known = str(info.value).split("(known: ")[1].rstrip(")").split(", ")
    assert known == sorted(known)
    assert set(known) == {
        "answer", "call", "decline", "device", "dnd", "dtmf", "hangup", "hold", "monitor",
        "mute", "probe", "quit", "region", "restart-ice", "stats", "switch",
    }  # fmt: skip


async def test_bad_lines_are_errors_and_the_process_goes_on(server: Server, tmp_path: Path) -> None:
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "tone", "--audio-out", "null"
    )
    try:
        await alice.wait_for("registered")
        cases = [
            ("{oops", "bad-command"),
            ('{"cmd":"teleport"}', "bad-command"),
            ('{"cmd":"call"}', "bad-command"),
            ('{"cmd":"call","to":"no spaces"}', "bad-command"),
            ("42", "bad-command"),
            ('{"cmd":"answer"}', "no-call"),
            ('{"cmd":"hangup"}', "no-call"),
            ('{"cmd":"restart-ice"}', "no-call"),
            ('{"cmd":"hold","on":true}', "no-call"),
            ('{"cmd":"dtmf","digits":"1"}', "no-call"),
            ('{"cmd":"region","name":"atlantis"}', "unknown-region"),
        ]
        for line, code in cases:
            mark = alice.mark()
            await alice.send_line(line)
            error = await alice.wait_for("error", since=mark)
            assert error["code"] == code, (line, error)
            assert error["message"]
        # still alive and useful: a real call to the echo user works
        await alice.send(cmd="call", to="echo")
        await alice.wait_for("connection-state", 30, state="connected")
        # (1.2) a second call is allowed (the first waits on hold); a third is over max_calls
        mark = alice.mark()
        await alice.send(cmd="call", to="echo")
        await alice.wait_for("active-call", since=mark)
        mark = alice.mark()
        await alice.send_line('{"cmd":"call","to":"bob"}')
        busy = await alice.wait_for("error", since=mark)
        assert busy["code"] == "busy"
        mark = alice.mark()
        await alice.send_line('{"cmd":"hangup","call":"nope"}')
        unknown = await alice.wait_for("error", since=mark)
        assert unknown["code"] == "unknown-call" and '"nope"' in unknown["message"]
        for _ in range(2):
            mark = alice.mark()
            await alice.send(cmd="hangup")
            await alice.wait_for("call-state", since=mark, state="ended")
    finally:
        assert await alice.quit() == 0


async def test_end_of_stdin_quits_cleanly(server: Server, tmp_path: Path) -> None:
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "silence", "--audio-out", "null"
    )
    await alice.wait_for("registered")
    assert alice.proc.stdin is not None
    alice.proc.stdin.close()
    assert await alice.quit() == 0
