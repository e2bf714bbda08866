"""How healthy a W3C state name is, as a theme colour.

One table for every panel, so "checking" is the same amber in the states
panel, the log and the switch progress.
"""

from __future__ import annotations

from typing import Literal

Health = Literal["good", "busy", "bad", "idle"]

_GOOD = {"connected", "completed", "complete", "stable", "active", "registered"}
_BUSY = {
    "new",
    "checking",
    "gathering",
    "connecting",
    "reconnecting",
    "have-local-offer",
    "have-remote-offer",
    "have-local-pranswer",
    "have-remote-pranswer",
    "disconnected",
    "dialing",
    "ringing",
    "incoming",
}
_BAD = {"failed", "closed-error", "error"}

VARIABLE: dict[Health, str] = {
    "good": "$success",
    "busy": "$warning",
    "bad": "$error",
    "idle": "$text-muted",
}


def health(state: str | None) -> Health:
    if state is None:
        return "idle"
    if state in _GOOD:
        return "good"
    if state in _BUSY:
        return "busy"
    if state in _BAD:
        return "bad"
    return "idle"


def state_markup(state: str | None, placeholder: str = "—") -> str:
    """``[$success]connected[/]``; the state text is escaped."""
    from textual.markup import escape

    text = escape(state) if state else placeholder
    return f"[{VARIABLE[health(state)]}]{text}[/]"
