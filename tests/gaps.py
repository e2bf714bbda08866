"""How long a gap in received audio a switch may cause, judged against the same call at rest.

A fixed limit in milliseconds measures the machine as much as the code: on a
loaded 2-core machine one scheduling hiccup stretches any gap, switch or not.
So tests compare the longest gap across a switch with the longest gap of a
window of the same call with no switch, and leave the absolute figures to
the benchmarks (``bench/bench_restart.py``, ``bench/bench_browser.py``).
What cannot flake is asserted exactly elsewhere: no packet lost, no frame missing.
"""

from __future__ import annotations

FRAME_MS = 20.0
GAP_FACTOR = 4.0
QUIET_FLOOR_MS = 2 * FRAME_MS  # a window at rest is never taken as steadier than this


def allowed_gap_ms(quiet_ms: float) -> float:
    """The longest gap a switch may cause, given the longest gap heard with no switch."""
    return GAP_FACTOR * max(quiet_ms, QUIET_FLOOR_MS)


def assert_gap_within(gap_ms: float, quiet_ms: float, who: str) -> None:
    assert gap_ms <= allowed_gap_ms(quiet_ms), (
        f"{who} heard a {gap_ms:.0f} ms gap across the switch, "
        f"{quiet_ms:.0f} ms at most with no switch (limit {allowed_gap_ms(quiet_ms):.0f} ms)"
    )
