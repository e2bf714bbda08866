"""The error for a bad --audio-in / --audio-out value."""

from __future__ import annotations

SOURCE_FORMS = "default | tone[:HZ] | file:PATH.wav | silence"
SINK_FORMS = "default | file:PATH.wav | null"
#: (1.2) The form both take besides the built-in ones above.
DEVICE_FORM = "DEVICE (a device name or index from `softphone devices`)"


class MediaSpecError(ValueError):
    """A source or sink spec that cannot be used; the text is shown to the user as is."""


def source_error(spec: str, reason: str) -> MediaSpecError:
    return MediaSpecError(
        f"invalid --audio-in {spec!r}: {reason}. Valid forms: {SOURCE_FORMS} | {DEVICE_FORM}"
    )


def sink_error(spec: str, reason: str) -> MediaSpecError:
    return MediaSpecError(
        f"invalid --audio-out {spec!r}: {reason}. Valid forms: {SINK_FORMS} | {DEVICE_FORM}"
    )
