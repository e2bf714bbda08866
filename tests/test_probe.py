"""The measuring helpers the restart tests rely on, checked on made-up arrivals."""

from __future__ import annotations

import pytest

from tests.gaps import allowed_gap_ms, assert_gap_within
from tests.rtc_probe import FRAME_SAMPLES, FrameRecorder


def recorder(stamps: list[int], every: float = 0.02) -> FrameRecorder:
    return FrameRecorder(arrivals=[i * every for i in range(len(stamps))], timestamps=stamps)


def test_consecutive_frames_miss_nothing_even_across_the_timestamp_wrap() -> None:
    start = 2**32 - 2 * FRAME_SAMPLES
    stamps = [(start + i * FRAME_SAMPLES) % 2**32 for i in range(6)]
    assert recorder(stamps).frames_missing() == 0


def test_a_skipped_timestamp_counts_the_frames_that_never_came() -> None:
    stamps = [0, 960, 1920, 1920 + 4 * 960, 1920 + 5 * 960]
    assert recorder(stamps).frames_missing() == 3
    assert recorder(stamps).frames_missing(since=0.06) == 0  # only after the hole


def test_a_switch_may_not_stand_out_from_the_call_at_rest() -> None:
    assert allowed_gap_ms(10) == allowed_gap_ms(40) == 160  # the floor: two frame times
    assert allowed_gap_ms(60) == 240
    assert_gap_within(150, 25, "caller")
    with pytest.raises(AssertionError, match="caller heard a 200 ms gap"):
        assert_gap_within(200, 25, "caller")
