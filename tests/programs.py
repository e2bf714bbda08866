"""The external programs the suite starts, checked once before any test runs.

The list lives in ``.ci/programs`` (plain text, because ``.ci/run`` reads it
to install the packages before Python exists). Checking it at session start
turns "sox is not installed" into one clear line naming the package, instead
of a ``FileNotFoundError`` deep inside a test.
"""

from __future__ import annotations

import ctypes.util
import glob
import shutil
from dataclasses import dataclass
from pathlib import Path

PROGRAMS_FILE = Path(__file__).resolve().parent.parent / ".ci" / "programs"
LIBRARY_PREFIX = "lib:"
# A file a package installs that is no program (a Kamailio module): a glob, so
# that the multiarch directory need not be spelled out.
FILE_PREFIX = "file:"


@dataclass(frozen=True)
class Requirement:
    """A program (``lib:NAME`` library, ``file:GLOB`` file) and the Debian package providing it."""

    name: str
    package: str

    def present(self, path: str | None) -> bool:
        if self.name.startswith(LIBRARY_PREFIX):
            return ctypes.util.find_library(self.name.removeprefix(LIBRARY_PREFIX)) is not None
        if self.name.startswith(FILE_PREFIX):
            return bool(glob.glob(self.name.removeprefix(FILE_PREFIX)))
        return shutil.which(self.name, path=path) is not None


def read_requirements(file: Path = PROGRAMS_FILE) -> list[Requirement]:
    """The ``program package`` lines of ``file``; ``#`` comments and blank lines skipped."""
    requirements = []
    for line in file.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ValueError(f"{file}: expected 'program package', got {line!r}")
        requirements.append(Requirement(*fields))
    return requirements


def missing(requirements: list[Requirement], path: str | None = None) -> list[Requirement]:
    """Those not found; ``path`` is searched instead of ``$PATH`` when given."""
    return [r for r in requirements if not r.present(path)]


def missing_message(absent: list[Requirement]) -> str:
    """``missing programs: sox (apt-get install sox), …`` plus the one command that fixes all."""
    named = ", ".join(f"{r.name} (apt-get install {r.package})" for r in absent)
    packages = " ".join(sorted({r.package for r in absent}))
    return f"missing programs: {named}; install them with: apt-get install -y {packages}"
