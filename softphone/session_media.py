"""What each call sends and plays: the user's audio choice, opened afresh per call.

Every call gets its own source (wrapped so it can be muted or held without
renegotiating) and its own sink (whose arrival statistics feed ``stats``). A
fallback (no microphone: silence; no speaker: discard) is said once per
session, not once per call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from softphone import events as ev
from softphone.media import AudioSink, MediaSpecError, MutableSource, create_sink, create_source
from softphone.views import MicView

logger = logging.getLogger("softphone.session")


@dataclass
class MediaChoice:
    """What to send and where to play what is received (``--audio-in/--audio-out``)."""

    audio_in: str = "default"
    audio_out: str = "default"


@dataclass
class CallMedia:
    """Opens the source and sink of each new call; ``emit`` says fallbacks and bad specs."""

    choice: MediaChoice
    emit: Callable[[ev.Event], None]
    _notices_given: set[str] = field(default_factory=set)
    #: What the last call's source was (``SourceResult.description``), and whether
    #: it fell back to silence for want of a device: the Call panel's Mic row.
    mic: str | None = None
    mic_fallback: bool = False

    def open(self, muted: bool) -> tuple[MutableSource, AudioSink] | None:
        """A fresh source and sink; a bad audio spec is an ``error`` event and None."""
        try:
            source_result = create_source(self.choice.audio_in)
            sink_result = create_sink(self.choice.audio_out)
        except MediaSpecError as exc:
            self.emit(ev.ErrorReported(code="bad-audio", message=str(exc)))
            return None
        for notice in (source_result.notice, sink_result.notice):
            if notice and notice not in self._notices_given:
                self._notices_given.add(notice)
                logger.warning("%s", notice)
                self.emit(ev.Notice(message=notice))
        self.mic = source_result.description
        self.mic_fallback = source_result.notice is not None
        return MutableSource(source_result.track, muted=muted), sink_result.sink

    def mic_view(self, source: MutableSource | None) -> MicView:
        """The Mic row's view: the last call's source and its fallback; ``source``'s level."""
        return MicView(
            spec=self.choice.audio_in,
            source=self.mic,
            fallback=self.mic_fallback,
            level=None if source is None else source.level,
        )
