"""The default limits of the signaling server, as plain numbers.

The command line prints them in ``softphone serve --help``; importing
:mod:`softphone.signaling.limits` for that would load logging and dataclasses
on every ``softphone --help`` (bench_startup measures it). Nothing else here.
"""

RATE = 50.0
BURST = 100
CONNECTIONS_PER_ADDRESS = 20
PENDING_INVITES = 4
