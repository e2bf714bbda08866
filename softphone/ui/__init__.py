"""The terminal front end: a Textual app over the session manager.

It only sends session commands and renders session events; it never touches
aiortc or the signaling wire format, so the headless front end and this one
cannot drift apart.
"""
