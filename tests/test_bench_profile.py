"""bench.profile_call's summary of py-spy's collapsed stacks: main thread only, idle left out."""

from __future__ import annotations

from bench.profile_call import top, total_samples

LOOP = "run (asyncio/runners.py:190);Runner.run (asyncio/runners.py:118)"
COLLAPSED = "\n".join(
    [
        f"{LOOP};encode (softphone/rtc/internals.py:418) 6",
        f"{LOOP};_run_rtp (aiortc/rtcrtpsender.py:371);send_data (aioice/ice.py:343) 3",
        f"{LOOP};epoll_pwait (libc.so.6) 50",  # the loop waiting: idle
        "Thread.run (threading.py:982);reader (softphone/headless.py:118) 40",  # not the loop
        "garbage line",
        f"{LOOP} 1",
    ]
)


def test_top_counts_the_main_threads_busy_samples_only() -> None:
    text = top(COLLAPSED, 3)
    assert total_samples(text) == 10
    lines = text.splitlines()
    self_part = lines[lines.index("top 3 self:") + 1 : lines.index("top 3 inclusive:") - 1]
    assert self_part[0].split() == ["60.0", "%", "encode", "(softphone/rtc/internals.py:418)"]
    assert "send_data (aioice/ice.py:343)" in self_part[1]
    assert "reader" not in text and "epoll" not in text
    assert "100.0 %  Runner.run (asyncio/runners.py:118)" in text
