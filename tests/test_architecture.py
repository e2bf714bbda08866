"""The arrows between the package's parts, checked from the source.

A newcomer reads the architecture off the folder names; this test keeps it
true. It follows module-level imports only (an import inside a function, or
under ``TYPE_CHECKING``, is deliberate: it defers a heavy stack or names a type).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "softphone"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "softphone"}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = _top_level_imports(tree, module, path.name == "__init__.py")
        graph[module] = {name for name in imports if name in paths and name != module}
    return graph


def _arrows(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    return sorted(
        f"{module} -> {name}"
        for module, names in graph.items()
        if module.startswith(source)
        for name in names
        if name.startswith(target)
    )


def test_signaling_does_not_import_rtc() -> None:
    """Signaling carries descriptions and candidates; it never needs the WebRTC stack."""
    assert _arrows(_graph(), "softphone.signaling", "softphone.rtc") == []


def test_rtc_and_media_do_not_import_the_session_or_front_ends() -> None:
    graph = _graph()
    for lower in ("softphone.rtc", "softphone.media", "softphone.signaling"):
        for upper in ("softphone.session", "softphone.call", "softphone.ui", "softphone.headless"):
            assert _arrows(graph, lower, upper) == []


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components: every one must be a single module."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_long_modules_say_why() -> None:
    """A module over 500 lines states at its top why it is not split (a ``Why long:`` line)."""
    long = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > 500
        and "Why long:" not in path.read_text(encoding="utf-8")[:3000]
    ]
    assert long == []
