"""SIP over WebSocket (RFC 7118): the second signaling adapter beside the JSON protocol."""
