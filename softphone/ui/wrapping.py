"""Wrapping lists of short items without ever splitting one.

Textual wraps text at any whitespace, no-break spaces included, so "h hang
up" could become "h" / "hang up". Items are laid out here instead, knowing
each one's plain width, and Textual only sees lines that already fit.
"""

from __future__ import annotations

from collections.abc import Sequence

Item = tuple[str, str]  # (plain text, markup)


def wrap_items(items: Sequence[Item], width: int, *, first: int = 0, sep: str = "  ") -> list[str]:
    """Markup lines no wider than ``width``; the first line already has ``first`` cells used."""
    lines: list[str] = []
    current: list[str] = []
    used = first
    for plain, markup in items:
        needed = len(plain) + (len(sep) if current else 0)
        if current and used + needed > width:
            lines.append(sep.join(current))
            current, used = [], 0
            needed = len(plain)
        current.append(markup)
        used += needed
    if current:
        lines.append(sep.join(current))
    return lines
