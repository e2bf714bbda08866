"""Audio sources and sinks for calls: devices, tones, files, silence, echo.

Every source is an aiortc audio track of 20 ms s16 mono 48 kHz frames paced in
real time; every sink consumes a received track and keeps arrival statistics.
"""

from .echo import create_echo
from .errors import MediaSpecError
from .factory import SinkResult, SourceResult, create_sink, create_source
from .sinks import AudioSink, SinkStats
from .sources import MutableSource

__all__ = [
    "AudioSink",
    "MediaSpecError",
    "MutableSource",
    "SinkResult",
    "SinkStats",
    "SourceResult",
    "create_echo",
    "create_sink",
    "create_source",
]
