"""softphone.eventloop: headless and serve run on uvloop, or on the stock loop without it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import uvloop

_PROGRAM = """
import asyncio, sys
if {hide}:
    sys.modules["uvloop"] = None  # as if it were not installed
from softphone.eventloop import install_fast_loop
print(install_fast_loop())
async def main(): return type(asyncio.get_running_loop()).__module__
print(asyncio.run(main()))
"""


# In a child: the policy is process-wide and pytest-asyncio owns this process's.
@pytest.mark.parametrize(
    ("hide", "expected"),
    [(False, ["True", uvloop.Loop.__module__]), (True, ["False", "asyncio.unix_events"])],
)
def test_install_fast_loop(hide: bool, expected: list[str]) -> None:
    program = _PROGRAM.format(hide=hide)
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == expected
