"""Theme files: the repository copies match the packaged ones, and each parses."""

from __future__ import annotations

from pathlib import Path

from softphone.ui.themes import CYCLE, PACKAGE_THEMES, discover_themes, next_theme

REPO_THEMES = Path(__file__).resolve().parent.parent / "themes"


def test_repository_themes_are_the_packaged_ones() -> None:
    packaged = {p.name: p.read_text() for p in PACKAGE_THEMES.glob("*.tcss")}
    repo = {p.name: p.read_text() for p in REPO_THEMES.glob("*.tcss")}
    assert packaged == repo
    assert {f"{name}.tcss" for name in CYCLE} <= set(packaged)


def test_themes_parse_with_light_and_dark_palettes() -> None:
    themes = {t.name: t.theme for t in discover_themes()}
    assert themes["dark"].dark and not themes["light"].dark
    assert themes["high-contrast"].background == "#000000"
    assert next_theme("high-contrast") == "dark"
