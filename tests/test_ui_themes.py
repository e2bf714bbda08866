"""The shipped themes: one copy (top-level themes/), packaged, loaded and parsed."""

from __future__ import annotations

import tomllib
from pathlib import Path

from softphone.ui.themes import CYCLE, discover_themes, next_theme, package_themes

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_themes_load_from_the_top_level_folder() -> None:
    themes = {t.name: t for t in discover_themes()}
    assert {"dark", "light", "high-contrast"} <= set(themes)
    assert package_themes().resolve() == (ROOT / "themes").resolve()
    for name in CYCLE:
        assert themes[name].path.resolve() == (ROOT / "themes" / f"{name}.tcss").resolve()


def test_themes_parse_with_light_and_dark_palettes() -> None:
    themes = {t.name: t.theme for t in discover_themes()}
    assert themes["dark"].dark and not themes["light"].dark
    assert themes["high-contrast"].background == "#000000"
    assert next_theme("high-contrast") == "dark"


def test_packaging_ships_every_package_and_the_themes() -> None:
    """pyproject lists packages by hand (for the themes mapping): none may be missing."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"] == {"softphone.themes": "themes"}
    assert "*.tcss" in tool["package-data"]["softphone.themes"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "softphone").rglob("__init__.py")
    }
    assert set(tool["packages"]) == on_disk | {"softphone.themes"}
