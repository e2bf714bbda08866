"""The ``stats`` event: the call's counters, what its sink received, and the live MOS.

Why apart from the session: it folds three sources (the peer connection's
figures, the sink's arrival statistics, the quality watch's MOS) into the
one event front ends draw, and the session only says when.
"""

from __future__ import annotations

from softphone import events as ev
from softphone.call import pair_info
from softphone.media import AudioSink
from softphone.rtc.stats import CallStats


def stats_event(
    call_id: str, stats: CallStats, sink: AudioSink | None, mos: float | None
) -> ev.StatsReport:
    """The event for ``stats`` now; reading the sink opens its next longest-gap window.

    Each stats event opens a new window, so two stats events bracket a moment
    (a region switch) and the second says the longest gap inside it.
    """
    pair = stats.selected_pair
    audio = None if sink is None else sink.stats
    if sink is not None:
        sink.new_window()
    return ev.StatsReport(
        call=call_id,
        rtt_ms=stats.rtt_ms,
        jitter_ms=stats.jitter_ms,
        packets_sent=stats.packets_sent,
        packets_received=stats.packets_received,
        packets_lost=stats.packets_lost,
        bytes_sent=stats.bytes_sent,
        bytes_received=stats.bytes_received,
        selected_pair=None if pair is None else pair_info(pair),
        audio_frames_received=None if audio is None else audio.frames,
        audio_seconds_received=None if audio is None else round(audio.seconds, 3),
        audio_max_gap_ms=None if audio is None else round(audio.max_gap_ms, 1),
        audio_max_gap_since_last_stats_ms=(
            None if audio is None else round(audio.window_max_gap_ms, 1)
        ),
        mos=mos,
    )
