"""aiortc extensions: configuration, gathering, ICE restart and negotiation.

Where things are (importing this package imports none of them, nor aiortc):

- ``peer``: ``PeerConnection``, the W3C-named facade over the parts below;
- ``negotiation``: offer/answer, set*Description, rollback, trickled candidates;
- ``generations``: each ICE generation's roles, gathering, checks and switch-over;
- ``restart_policy``: restartIce, negotiationneeded, retries, auto-restart;
- ``health``: consent checks and packet arrival -> iceConnectionState;
- ``media_start``: the DTLS transport, RTP sender and receiver, and their start;
- ``states``, ``emitter``: the W3C state attributes, event handlers and tasks;
- ``ice``: generations behind one transport (make-before-break for aiortc's DTLS);
- ``gathering``: candidates from every configured STUN/TURN server;
- ``sdpbuild``: SDP for one audio stream, with aiortc's sdp module;
- ``configuration``, ``errors``: RTCConfiguration rules and W3C error names;
- ``stats``, ``server_check``: call statistics, ICE server reachability;
- ``internals``: every use of aiortc/aioice private parts, version-pinned.
"""
