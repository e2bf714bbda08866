"""Where the softphone keeps what it remembers between runs (UI state, call history).

One folder for every front end: ``$SOFTPHONE_STATE_DIR`` when set (tests point
it at a temporary directory so they never touch the home directory), else the
user state directory's ``softphone/`` (platformdirs). Cheap to import:
platformdirs is only loaded when no override is set.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "SOFTPHONE_STATE_DIR"


def state_dir() -> Path:
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_state_dir("softphone"))
