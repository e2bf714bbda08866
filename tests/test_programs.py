"""The session-start check for external programs, fed a fake PATH."""

from __future__ import annotations

from pathlib import Path

from tests.programs import (
    Requirement,
    missing,
    missing_message,
    read_requirements,
)


def fake_path(tmp_path: Path, *programs: str) -> str:
    """A directory holding executable stand-ins for ``programs``, as a PATH."""
    for name in programs:
        stub = tmp_path / name
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return str(tmp_path)


def test_only_programs_absent_from_path_are_reported(tmp_path: Path) -> None:
    wanted = [Requirement("sox", "sox"), Requirement("pactl", "pulseaudio-utils"),
              Requirement("paplay", "pulseaudio-utils")]  # fmt: skip
    assert missing(wanted, fake_path(tmp_path, "pactl")) == [wanted[0], wanted[2]]


def test_a_file_that_is_not_executable_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "sox").write_text("not a program")
    assert missing([Requirement("sox", "sox")], str(tmp_path)) == [Requirement("sox", "sox")]


def test_libraries_are_looked_up_by_the_loader_not_on_path(tmp_path: Path) -> None:
    libc, nothing = Requirement("lib:c", "libc6"), Requirement("lib:softphone-none", "x")
    assert missing([libc, nothing], fake_path(tmp_path)) == [nothing]


def test_the_message_names_each_program_and_its_package() -> None:
    message = missing_message([Requirement("sox", "sox"), Requirement("parec", "pulseaudio-utils"),
                               Requirement("paplay", "pulseaudio-utils")])  # fmt: skip
    assert message.startswith(
        "missing programs: sox (apt-get install sox), parec (apt-get install pulseaudio-utils), "
    )
    assert message.endswith("apt-get install -y pulseaudio-utils sox")


def test_the_list_file_parses_and_names_sox(tmp_path: Path) -> None:
    listing = tmp_path / "programs"
    listing.write_text("# comment\n\nsox  sox   # trailing comment\nlib:portaudio libportaudio2\n")
    assert read_requirements(listing) == [
        Requirement("sox", "sox"),
        Requirement("lib:portaudio", "libportaudio2"),
    ]
    assert Requirement("sox", "sox") in read_requirements()


def test_a_file_entry_is_a_glob_checked_on_disk(tmp_path: Path) -> None:
    (tmp_path / "lib" / "x86").mkdir(parents=True)
    (tmp_path / "lib" / "x86" / "websocket.so").write_text("")
    present = Requirement(f"file:{tmp_path}/lib/*/websocket.so", "kamailio-websocket-modules")
    absent = Requirement(f"file:{tmp_path}/lib/*/nothing.so", "x")
    assert missing([present, absent], fake_path(tmp_path)) == [absent]
    assert Requirement("baresip", "baresip-core") in read_requirements()
