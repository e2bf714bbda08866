"""The browser client's routes: ``/`` is the page, ``/static/<file>`` its script and style.

The client is three plain files (no build step, no external assets) so that
``softphone serve`` alone is enough to call a terminal softphone from a
browser. Files are read from the package directory on each request: they are
tiny, and a person editing ``app.js`` sees the change on reload.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["STATIC_FILES", "WEB_DIR", "add_web_client"]

WEB_DIR = Path(__file__).resolve().parent

# Only these files are served: an explicit list cannot leak anything else in the package.
STATIC_FILES = {
    "app.js": "text/javascript",
    "style.css": "text/css",
}

# The page talks only to its own origin (the signaling WebSocket is same-origin, or
# the ws:/wss: URL the user types); nothing else may load or run.
_CSP = (
    "default-src 'self'; script-src 'self' blob:; worker-src 'self' blob:; "
    "style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": _CSP,
    "Referrer-Policy": "no-referrer",
}


async def _index(_request: web.Request) -> web.Response:
    body = (WEB_DIR / "index.html").read_bytes()
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=_HEADERS)


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text=f"no such file: {name}\n")
    body = (WEB_DIR / name).read_bytes()
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=_HEADERS)


def add_web_client(app: web.Application) -> None:
    """Serve the web client on ``app`` (call before the app is started)."""
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
