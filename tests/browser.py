"""Debian's Chromium, headless, as a WebRTC peer: launch it and drive the web client.

The browser is the system package (``/usr/bin/chromium``) driven through the
``playwright`` Python package; ``playwright install`` is never run (it would
download a browser). The flags are those of TESTING.md: loopback candidates
allowed and not hidden behind mDNS names, a fake microphone that plays a WAV
we generate (so the other side can find its frequency), no permission prompt,
audio that plays without a user gesture.

:class:`WebPhone` is one page of the web client (``softphone serve`` at ``/``)
in its own browser context, driven through ``window.softphone``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import struct
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
BROWSER_TONE_HZ = 523.0  # what the browser's fake microphone plays (C5)


def spki_sha256(certificate: Path) -> str:
    """Base64 SHA-256 of ``certificate``'s public key (SubjectPublicKeyInfo): what
    ``--ignore-certificate-errors-spki-list`` takes to trust that one server."""
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def chromium_args(fake_audio: Path | None, trusted: Path | None = None) -> list[str]:
    """``trusted``: a server certificate (not signed by a CA Chromium knows) to accept."""
    args = [
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--metrics-recording-only",
        "--password-store=basic",
        "--mute-audio",
    ]
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    if trusted is not None:
        args.append(f"--ignore-certificate-errors-spki-list={spki_sha256(trusted)}")
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return args


def write_tone_wav(
    path: Path,
    hz: float = BROWSER_TONE_HZ,
    seconds: float = 2.0,
    rate: int = 48000,
    amplitude: float = 0.3,
) -> Path:
    """A mono 16-bit tone; Chromium loops it as the fake microphone.

    A whole number of periods keeps the loop seamless (no click at the seam).
    """
    periods = max(1, round(hz * seconds))
    frames = round(periods * rate / hz)
    scale = amplitude * 32767
    data = b"".join(
        struct.pack("<h", round(scale * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(frames)
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data)
    return path


@contextlib.asynccontextmanager
async def launch_chromium(workdir: Path, trusted: Path | None = None) -> AsyncIterator[Browser]:
    """One headless Chromium whose fake microphone plays :data:`BROWSER_TONE_HZ`;
    ``trusted`` as in :func:`chromium_args`."""
    tone = write_tone_wav(workdir / "browser-mic.wav")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args(tone, trusted)
        )
        try:
            yield browser
        finally:
            await browser.close()


def http_base(ws_url: str) -> str:
    """``ws://host:port/ws`` -> ``http://host:port``."""
    base = ws_url.rsplit("/ws", 1)[0]
    return "https" + base[3:] if base.startswith("wss") else "http" + base[2:]


class WebPhoneError(AssertionError):
    pass


class WebPhone:
    """One web client page, registered as ``user``; its own context (own permissions, storage)."""

    def __init__(self, context: BrowserContext, page: Page, user: str) -> None:
        self.context = context
        self.page = page
        self.user = user
        self.console: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    @classmethod
    async def open(
        cls, browser: Browser, server_url: str, user: str, *, register: bool = True, **params: str
    ) -> WebPhone:
        """Open the client served next to ``server_url`` (the ws URL); wait until registered."""
        context = await browser.new_context()
        page = await context.new_page()
        query = dict(params)
        if register:
            query["user"] = user
        phone = cls(context, page, user)
        url = f"{http_base(server_url)}/"
        if query:
            url += "?" + urlencode(query)
        await page.goto(url)
        if register:
            # A function, not a bare expression: Playwright evals a bare expression again at
            # every poll, which the page's CSP (no 'unsafe-eval') refuses after the first.
            await phone.wait_until(
                "() => window.softphone && window.softphone.user !== null", what="registered"
            )
        return phone

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()

    # --- driving ---------------------------------------------------------------

    async def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate ``expression`` (a function of ``arg`` when it is one) in the page."""
        return await self.page.evaluate(expression, arg)

    async def call(self, to: str) -> str:
        return str(await self.js("(to) => window.softphone.call(to)", to))

    async def answer(self) -> None:
        await self.js("() => window.softphone.answer()")

    async def hangup(self) -> None:
        await self.js("() => window.softphone.hangup()")

    async def restart_ice(self) -> None:
        await self.js("() => window.softphone.restartIce()")

    async def switch_region(self, name: str) -> None:
        await self.js("(name) => window.softphone.switchRegion(name)", name)

    async def now(self) -> float:
        """The page clock (``performance.now()``, ms): event ``t`` values are on it."""
        return float(await self.js("() => window.softphone.now()"))

    async def summary(self) -> dict[str, Any]:
        """The current call's summary (``window.softphone.current``); raises if there is none."""
        call = await self.js("() => window.softphone.current")
        if call is None:
            raise WebPhoneError(f"{self.user}: no call; {await self.tail()}")
        return dict(call)

    async def stats(self) -> dict[str, Any]:
        return dict(await self.js("() => window.softphone.stats()"))

    async def max_gap(self, start: float, end: float | None = None) -> float:
        """Longest interval between received audio frames in [start, end] (page clock)."""
        value = await self.js(
            "([a, b]) => window.softphone.maxGap(a, b === null ? Infinity : b)", [start, end]
        )
        return float(value)

    async def frames_since(self, start: float, frames: int) -> None:
        """Wait until ``frames`` audio frames arrived since ``start`` (page clock).

        Proves that audio flows, and that time passed for whatever would
        otherwise have happened by then, without a fixed sleep.
        """
        await self.wait_until(
            "([t, n]) => window.softphone.arrivals(t).length >= n",
            [start, frames],
            what=f"{frames} frames received",
        )

    async def hears_energy(self, level: float, timeout: float = 20) -> None:
        """Wait until the received audio reached ``level`` (RMS) in the page's level meter.

        Chromium's playout pulls decoded audio at its own pace, and on a loaded
        machine it starts a while after the first packets arrive.
        """
        await self.wait_until(
            "(level) => { const a = window.softphone.current && window.softphone.current.audio;"
            " return a && a.maxLevel > level; }",
            level,
            timeout=timeout,
            what=f"received audio above RMS {level}",
        )

    async def events(self, since: int = 0) -> list[dict[str, Any]]:
        return list(await self.js("(i) => window.softphone.events.slice(i)", since))

    async def mark(self) -> int:
        return int(await self.js("() => window.softphone.events.length"))

    async def tail(self, n: int = 25) -> str:
        try:
            events = await self.js("(n) => window.softphone.events.slice(-n)", n)
        except Exception as exc:  # the page is gone
            events = [f"(no events: {exc})"]
        lines = [json.dumps(e) for e in events]
        return (
            "last events:\n"
            + "\n".join(lines)
            + "\nconsole:\n"
            + "\n".join(self.console[-10:])
            + "\npage errors:\n"
            + "\n".join(self.page_errors)
        )

    # --- waiting -------------------------------------------------------------------

    async def wait_until(
        self, expression: str, arg: Any = None, *, timeout: float = 20, what: str = ""
    ) -> Any:
        """Wait until the JS ``expression`` (of ``arg``) is truthy; returns its value."""
        try:
            handle = await self.page.wait_for_function(
                expression, arg=arg, timeout=timeout * 1000, polling=20
            )
        except Exception as exc:
            raise WebPhoneError(
                f"{self.user}: {what or expression} not within {timeout}s ({exc})\n"
                f"{await self.tail()}"
            ) from None
        return await handle.json_value()

    async def wait_event(
        self, name: str, /, *, since: int = 0, timeout: float = 20, **fields: Any
    ) -> dict[str, Any]:
        """The first event ``name`` at index >= since whose fields match."""
        found = await self.wait_until(
            """([name, since, fields]) => window.softphone.events.slice(since).find(
                 (e) => e.event === name &&
                   Object.entries(fields).every(
                     ([k, v]) => JSON.stringify(e[k]) === JSON.stringify(v)))""",
            [name, since, fields],
            timeout=timeout,
            what=f"event {name} {fields}",
        )
        return dict(found)

    async def wait_connected(self, timeout: float = 20) -> None:
        await self.wait_until(
            "() => window.softphone.current"
            " && window.softphone.current.connectionState === 'connected'",
            timeout=timeout,
            what="connection-state connected",
        )


async def wait_page_clock(phone: WebPhone, seconds: float) -> None:
    """Sleep on the page (keeps its timers honest) rather than in Python."""
    await phone.js("(ms) => new Promise((r) => setTimeout(r, ms))", seconds * 1000)


def monotonic_ms() -> float:
    return time.monotonic() * 1000
