"""Several signaling nodes acting as one server, through Redis (``serve --redis``).

One node without ``--redis`` never imports this package. With it:

* :mod:`.link` is everything that talks to Redis: the name claims, the
  heartbeat, one pub/sub channel per node for call messages and one shared
  channel for presence, batched.
* :mod:`.directory` is this node's copy of who is online on the other nodes,
  kept from the presence channel, so a lookup never waits for Redis.
* :mod:`.party` stands in for a connection on another node inside a call.
* :mod:`.server` is the signaling server with those plugged into its few
  hooks; the relay rules stay those of :mod:`softphone.signaling.server`.
"""
