"""The browser client served by ``softphone serve`` (see :mod:`softphone.web.routes`)."""

from softphone.web.routes import add_web_client

__all__ = ["add_web_client"]
