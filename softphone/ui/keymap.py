"""Every user action in one table: the footer, the help screen and the palette read it.

Each action has a plain key (bound on the main screen, shown in the footer)
and a function key bound on the app with ``priority=True``: a focused input —
the log filter, the dial box — swallows letters, never function keys, so the
phone stays operable from anywhere. One table means a key cannot be
documented in one place and bound differently in another.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class UiAction:
    action: str
    key: str
    global_key: str | None
    label: str
    help: str
    # In the footer too (the call panel and the help screen list every action): the
    # footer has room for one line of keys, so the call-juggling ones stay out of it.
    footer: bool = True

    @property
    def key_display(self) -> str:
        return KEY_NAMES.get(self.key, self.key)


KEY_NAMES = {"question_mark": "?", "slash": "/", "N": "N"}

ACTIONS: tuple[UiAction, ...] = (
    UiAction("dial", "d", "f2", "Dial", "Call someone; Tab completes from online contacts"),
    UiAction("answer", "a", "f3", "Answer", "Answer the ringing call"),
    UiAction("decline", "x", "f4", "Decline", "Refuse the ringing call"),
    UiAction("hangup", "h", "f5", "Hang up", "End the call"),
    UiAction("mute", "m", "f6", "Mute", "Mute or unmute the microphone"),
    UiAction("hold", "o", None, "Hold", "Put the call on hold or resume it"),
    UiAction(
        "switch_call", "s", None, "Switch", "Hold this call and resume the other one", footer=False
    ),
    UiAction(
        "contacts", "k", None, "Contacts", "Contacts with presence; Enter calls one", footer=False
    ),
    UiAction("history", "y", None, "History", "Call history; Enter calls back", footer=False),
    UiAction(
        "toggle_dnd",
        "z",
        None,
        "DND",
        "Do not disturb: callers get busy, listed as missed",
        footer=False,
    ),
    UiAction("pick_region", "r", "f7", "Region", "Pick a region: setConfiguration + restartIce"),
    UiAction("next_region", "n", "f8", "Next region", "Switch to the next configured region"),
    UiAction("restart_ice", "i", "f9", "Restart ICE", "restartIce with the current servers"),
    UiAction("pick_device", "v", "f11", "Audio", "Pick the microphone or speaker (mid-call too)"),
    UiAction("copy", "c", None, "Copy", "Copy the selected pair and stats to the clipboard"),
    UiAction("toggle_log", "l", None, "Log", "Show or hide the event log"),
    UiAction("filter_log", "slash", None, "Filter", "Filter the event log (Esc clears)"),
    UiAction("cycle_theme", "t", None, "Theme", "Next theme: dark, light, high-contrast"),
    UiAction("help", "question_mark", "f1", "Help", "This list of keys"),
    UiAction("quit", "q", "f10", "Quit", "Quit (asks first during a call)"),
)


#: (1.2) The keypad: during a call each key sends its DTMF digit (A-D only by command:
#: their letters are taken). Key name -> digit; not in the footer.
KEYPAD: dict[str, str] = {
    **{str(n): str(n) for n in range(10)},
    "asterisk": "*",
    "number_sign": "#",
}
KEYPAD_HELP = "0-9 * #"


def screen_bindings() -> list[Binding]:
    """The plain keys, for the main screen (letters a modal must not see)."""
    keys = [
        Binding(a.key, f"app.{a.action}", a.label, show=a.footer, key_display=a.key_display)
        for a in ACTIONS
    ]
    keypad = [
        Binding(key, f"app.dtmf('{digit}')", f"DTMF {digit}", show=False)
        for key, digit in KEYPAD.items()
    ]
    return keys + keypad


def global_bindings() -> list[Binding]:
    """The function keys, for the app, with priority over any focused widget."""
    return [
        Binding(a.global_key, a.action, a.label, show=False, priority=True)
        for a in ACTIONS
        if a.global_key is not None
    ]
