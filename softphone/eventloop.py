"""Which asyncio event loop the long-running commands run on.

A call is ~100 small events a second (RTP in and out, timers, RTCP); uvloop's
C loop schedules each for a fraction of what the stock loop's Python
``_run_once`` costs. It is a dependency where it builds (not on Windows);
without it the stock loop runs everything the same way.
"""

from __future__ import annotations

import asyncio


def install_fast_loop() -> bool:
    """Make ``asyncio.run`` use uvloop when it is installed; True when it is."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
