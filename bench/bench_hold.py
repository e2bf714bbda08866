"""Hold, resume and DTMF on an in-process PeerConnection pair over loopback.

Rows, all in one run:
- baseline: ``restartIce()`` -> the caller's ``icerestart`` ``done`` (the
  renegotiation the connection already had: offer, answer, new ICE checks);
- ``hold(True)`` -> ``hold`` on both sides (a re-offer ``inactive``, no checks);
- ``hold(False)`` -> the first audio frame heard again by the callee;
- one 100 ms DTMF digit: ``insertDTMF`` -> the callee's ``dtmf`` event (the
  first end packet leaves in the 20 ms slot that completes the tone, so about
  the digit's duration, less the part of the first slot already gone).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.table import Row, print_table
from softphone.rtc.configuration import Configuration
from tests.rtc_probe import TwoPeers, wait_for


async def one_round(rows: dict[str, Row]) -> None:
    call = TwoPeers.with_configuration(Configuration())
    holds: list[str] = []
    digits: list[float] = []
    for side, pc in call.sides():
        pc.on("hold", lambda local, remote, s=side: holds.append(s))
    call.callee.on("dtmf", lambda digit, ms: digits.append(time.perf_counter()))
    try:
        await call.connect()
        done = len([p for p, _ in call.events["caller"] if p == "done"])
        started = time.perf_counter()
        call.caller.restartIce()
        await wait_for(
            lambda: len([p for p, _ in call.events["caller"] if p == "done"]) > done, 15, 0.001
        )
        rows["restart"].values.append((time.perf_counter() - started) * 1000)
        await call.heard["callee"].wait_frames(10)

        started = time.perf_counter()
        call.caller.hold(True)
        await wait_for(lambda: len(holds) >= 2, 10, 0.001)
        rows["hold"].values.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.3)

        heard = len(call.heard["callee"].arrivals)
        started = time.perf_counter()
        call.caller.hold(False)
        await wait_for(lambda: len(call.heard["callee"].arrivals) > heard, 10, 0.001)
        rows["resume"].values.append((time.perf_counter() - started) * 1000)
        await call.heard["callee"].wait_frames(10)

        started = time.perf_counter()
        call.caller.insertDTMF("5", 100)
        await wait_for(lambda: bool(digits), 10, 0.001)
        rows["dtmf"].values.append((digits[0] - started) * 1000)
    finally:
        await call.close()


async def run(n: int) -> str:
    rows = {
        "restart": Row("baseline: restartIce -> icerestart done", []),
        "hold": Row("hold(True) -> hold event on both sides", []),
        "resume": Row("hold(False) -> callee hears audio again", []),
        "dtmf": Row("insertDTMF('5', 100 ms) -> callee's dtmf event", []),
    }
    for _ in range(n):
        await one_round(rows)
    ordered = list(rows.values())
    return print_table(f"Hold and DTMF, host candidates on loopback (n={n})", ordered, ordered[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10, help="rounds")
    asyncio.run(run(parser.parse_args().n))


if __name__ == "__main__":
    main()
