"""(1.2) What the other party hears while we hold: the ``hold_sound`` setting.

Nothing (``"none"``, the default) makes the hold offer ``inactive``; a tone
(``"tone"`` or ``"tone:HZ"``) makes it offer ``sendonly`` and send the tone
in place of the microphone (RFC 3264 §8.4, RFC 6337 §5.3). Cheap to import:
the configuration checks the value at load time.
"""

from __future__ import annotations

#: The hold sound's pitch when ``hold_sound = "tone"``.
HOLD_TONE_HZ = 425.0
FORMS = '"none", "tone" or "tone:HZ"'


def tone_hz(value: str | None) -> float | None:
    """The hold tone's frequency, None for no hold sound; ValueError naming a bad value."""
    if value is None or value == "none":
        return None
    kind, sep, arg = value.partition(":")
    if kind != "tone":
        raise ValueError(f"expected {FORMS}, got {value!r}")
    if not sep:
        return HOLD_TONE_HZ
    try:
        hz = float(arg)
    except ValueError:
        hz = 0.0
    if not 20 <= hz <= 20000:
        raise ValueError(f"tone frequency must be 20-20000 Hz, got {arg!r}")
    return hz
