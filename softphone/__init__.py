"""softphone: a keyboard-driven WebRTC softphone for the terminal."""

__version__ = "0.1.0"
