"""The little the UI remembers between runs (today: the theme).

The file lives in the user state directory; ``SOFTPHONE_STATE_DIR`` points it
elsewhere so tests never touch the real home directory. A missing or broken
file is not an error: the UI starts with defaults and says nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from softphone.statedir import state_dir

logger = logging.getLogger("softphone.ui")

STATE_FILE = "ui.json"


@dataclass
class UiState:
    theme: str | None = None


def load_ui_state(directory: Path | None = None) -> UiState:
    path = (directory or state_dir()) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return UiState()
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable UI state %s: %s", path, exc)
        return UiState()
    theme = data.get("theme") if isinstance(data, dict) else None
    return UiState(theme=theme if isinstance(theme, str) else None)


def save_ui_state(state: UiState, directory: Path | None = None) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    folder = directory or state_dir()
    path = folder / STATE_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        logger.warning("could not save UI state to %s: %s", path, exc)
