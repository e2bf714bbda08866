"""Themes: Textual CSS files whose ``$theme-*`` variables make a colour palette.

A theme file is ordinary TCSS. Its ``$theme-NAME: value;`` lines give the
palette (``primary``, ``background``, ``dark``, …) that becomes a Textual
:class:`~textual.theme.Theme`; its rules, scoped under ``App.-theme-NAME``
(the class Textual puts on the app for the active theme), change more than
colours — the high-contrast theme uses heavy borders, for instance. The
``$theme-*`` names are distinct from Textual's own variables on purpose:
redefining ``$primary`` inside a file would corrupt Textual's shared copy.

The shipped themes are the repository's top-level ``themes/`` folder, the
one copy there is. Installed (a wheel or an editable install), it is the
package ``softphone.themes`` (pyproject.toml maps it) and is found with
:mod:`importlib.resources`; run from a checkout that was never installed
(``PYTHONPATH=.``, as the tests run), that package does not exist and the
folder is the one beside the ``softphone`` package. ``SOFTPHONE_THEME_DIR``,
when set, adds or overrides themes.
"""

from __future__ import annotations

import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path

from textual.theme import Theme

THEME_PACKAGE = "softphone.themes"
CHECKOUT_THEMES = Path(__file__).resolve().parents[2] / "themes"
THEME_DIR_ENV = "SOFTPHONE_THEME_DIR"
DEFAULT_THEME = "dark"
# The order the theme key cycles through.
CYCLE = ("dark", "light", "high-contrast")

_PALETTE_LINE = re.compile(r"^\s*\$theme-([a-z][a-z0-9-]*)\s*:\s*([^;]+);", re.MULTILINE)
_COLOR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


class ThemeFileError(ValueError):
    """A theme file without the palette it needs; names the file."""


@dataclass(frozen=True)
class ThemeFile:
    name: str
    path: Path
    theme: Theme


def parse_theme(name: str, text: str, path: Path | None = None) -> Theme:
    palette = {key: value.strip() for key, value in _PALETTE_LINE.findall(text)}
    if "primary" not in palette:
        where = path or name
        raise ThemeFileError(f"theme {where}: missing '$theme-primary: COLOR;'")
    colors = {key: palette.pop(key) for key in _COLOR_FIELDS if key in palette}
    dark = palette.pop("dark", "true").lower() not in ("false", "no", "0")
    return Theme(name=name, dark=dark, variables=palette, **colors)


def package_themes() -> Path:
    """The folder of the shipped themes (see the module docstring for where it is)."""
    try:
        shipped = importlib.resources.files(THEME_PACKAGE)
    except ModuleNotFoundError:
        return CHECKOUT_THEMES
    if not isinstance(shipped, Path):  # a zip import: Textual reads CSS from paths only
        raise ThemeFileError(f"{THEME_PACKAGE} is not a folder on disk: {shipped}")
    return shipped


def theme_dirs() -> list[Path]:
    dirs = [package_themes()]
    extra = os.environ.get(THEME_DIR_ENV)
    if extra:
        dirs.append(Path(extra))
    return dirs


def discover_themes() -> list[ThemeFile]:
    """Every ``*.tcss`` theme, later directories overriding earlier ones by name."""
    found: dict[str, ThemeFile] = {}
    for directory in theme_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.tcss")):
            text = path.read_text(encoding="utf-8")
            found[path.stem] = ThemeFile(path.stem, path, parse_theme(path.stem, text, path))
    return list(found.values())


def next_theme(current: str) -> str:
    if current in CYCLE:
        return CYCLE[(CYCLE.index(current) + 1) % len(CYCLE)]
    return CYCLE[0]
