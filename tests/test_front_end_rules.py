"""The front ends talk to the session only, and the UI starts before the media stack.

Walked with ``ast`` so the rule holds for code not yet written: no module of
``softphone/ui`` nor ``softphone/headless.py`` imports ``softphone.rtc``; the UI
imports no ``softphone.signaling`` at all and, at module level, nothing of the
session, call, RTC or media stack (type-checking imports aside); and neither
reaches through the session into a call or a peer connection.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "softphone"
UI_FILES = sorted((ROOT / "ui").rglob("*.py"))
FRONT_ENDS = [*UI_FILES, ROOT / "headless.py"]
HEAVY = ("softphone.session", "softphone.call", "softphone.echo", "softphone.rtc")
HEAVY += ("softphone.media",)
SESSION_INTERNALS = {"call", "state", "settings", "signaling", "bus", "media"}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT.parent))


def _imports(tree: ast.AST) -> Iterator[tuple[str, ast.stmt]]:
    """Every imported module, ``from softphone import rtc`` counted as ``softphone.rtc``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node


def _module_level_imports(tree: ast.Module) -> Iterator[str]:
    """Imports run when the module is imported: not in functions, not under TYPE_CHECKING."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending.extend(node.body)
            pending.extend(node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield from (name for name, _ in _imports(node))


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("path", FRONT_ENDS, ids=_name)
def test_front_ends_never_import_rtc(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [name for name, _ in _imports(tree) if _within(name, "softphone.rtc")]
    assert bad == [], f"{_name(path)} imports {bad}: use the session's views"


@pytest.mark.parametrize("path", UI_FILES, ids=_name)
def test_ui_never_imports_signaling(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [name for name, _ in _imports(tree) if _within(name, "softphone.signaling")]
    assert bad == [], f"{_name(path)} imports {bad}"


@pytest.mark.parametrize("path", UI_FILES, ids=_name)
def test_ui_imports_no_media_stack_at_module_level(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [n for n in _module_level_imports(tree) if any(_within(n, h) for h in HEAVY)]
    assert bad == [], f"{_name(path)} imports {bad} at module level: the first frame waits"


@pytest.mark.parametrize("path", FRONT_ENDS, ids=_name)
def test_front_ends_read_no_session_internals(path: Path) -> None:
    """``session.call``, ``session.state``… and any ``.peer`` are the session's business."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        owner_name = (
            owner.id
            if isinstance(owner, ast.Name)
            else owner.attr
            if isinstance(owner, ast.Attribute)
            else ""
        )
        if node.attr == "peer" or (owner_name == "session" and node.attr in SESSION_INTERNALS):
            bad.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert bad == [], f"{_name(path)} reads {bad}: use session.view / session.regions()"
