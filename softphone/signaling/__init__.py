"""Signaling: the adapter the session manager talks to, and the JSON-over-WebSocket protocol."""
