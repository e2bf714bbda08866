"""The load generator of bench_signaling: one process, commands and results as JSON lines.

Each generator holds whole calls (both parties), so a relayed message's
latency is measured on one monotonic clock (CLOCK_MONOTONIC, shared by every
process, so spans across generators are comparable too). Every timed message
starts with ``{"ts":<send time>,``; the servers relay unknown fields, so the
receiver reads the send time back without parsing the rest.

Two kinds of clients:

- lean WebSockets (bench/lean_ws.py, ``register``) for relay load: fixed
  rate, saturation, and call set-ups (invite -> ringing -> accept -> offer ->
  answer -> 4 ice -> hangup, each step sent when the previous one arrives).
  Every message is handled in the socket's ``data_received`` and the next one
  written from there, from frames built once per template, so the generators
  cost a fraction of the servers they load;
- real :class:`~softphone.signaling.client.JsonSignalingClient` instances
  (``clients``) for the mass reconnect, so their own backoff and jitter decide
  when they come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from bench.lean_ws import Heartbeat, LeanWebSocket, text_frame, text_header
from softphone.signaling.adapter import ConnectionChanged, Registered, SignalingEvent
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.limits import raise_open_files_limit

LOOPBACK = "127.0.0.1"
REGISTER_CONCURRENCY = 25  # per generator
CLIENT_HEARTBEAT = 15.0  # s between pings, as JsonSignalingClient sends them
SAMPLES_KEPT = 20000  # latencies each generator sends back per phase

_CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ srflx "
    "raddr 0.0.0.0 rport 0 generation 0",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "sXcL",
}
_SDP = "\r\n".join(
    [
        "v=0",
        "o=- 3926582370 3926582370 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic:WMS *",
        "m=audio 50000 UDP/TLS/RTP/SAVPF 96 0 8",
        "c=IN IP4 127.0.0.1",
        "a=sendrecv",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=mid:0",
        "a=msid:4e3d7f0c-6a52-4b1b-a5b4-8a3a9f1c2d3e 6b0e6c1a-27d4-4f59-9b2b-0c7c3b8f1e2a",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=rtcp-mux",
        "a=ssrc:1874402374 cname:7c7f2f1e-0e7e",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=candidate:842163049 1 udp 2130706431 127.0.0.1 50000 typ host",
        "a=end-of-candidates",
        "a=ice-ufrag:sXcL",
        "a=ice-pwd:Wq3Z1lQ0c7XbYy8gCkq7nE",
        "a=fingerprint:sha-256 3B:5C:0E:7A:1F:9D:44:21:AB:CD:EF:01:23:45:67:89:"
        "9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78",
        "a=fingerprint:sha-384 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:"
        "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5",
        "a=setup:actpass",
        "",
    ]
)

#: One call set-up: (step, 0 if the caller sends it, 1 if the callee does).
SETUP_STEPS: tuple[tuple[str, int], ...] = (
    ("invite", 0),
    ("ringing", 1),
    ("accept", 1),
    ("offer", 0),
    ("answer", 1),
    ("ice", 0),
    ("ice", 1),
    ("ice", 0),
    ("ice", 1),
    ("hangup", 0),
)


def _compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


_TS = b'{"ts":'  # every timed message starts with it, then the send time
_CALL, _TO = "@call@", "@to@"  # placeholders of the set-up templates


def _tail(obj: dict[str, Any]) -> bytes:
    """What follows ``{"ts":<time>`` in a timed frame carrying ``obj``."""
    return ("," + _compact(obj)[1:]).encode()


def _sdp(call: str, kind: str) -> dict[str, Any]:
    return {"type": "sdp", "call": call, "description": {"type": kind, "sdp": _SDP}}


def _setup_templates() -> tuple[bytes, ...]:
    """The tail of every set-up step, with placeholders for the call id and the callee."""
    by_step = {
        "invite": {"type": "invite", "call": _CALL, "to": _TO},
        "ringing": {"type": "ringing", "call": _CALL},
        "accept": {"type": "accept", "call": _CALL},
        "offer": _sdp(_CALL, "offer"),
        "answer": _sdp(_CALL, "answer"),
        "ice": {"type": "ice", "call": _CALL, "candidate": _CANDIDATE},
        "hangup": {"type": "hangup", "call": _CALL},
    }
    return tuple(_tail(by_step[step]) for step, _sender in SETUP_STEPS)


_SETUP_TEMPLATES = _setup_templates()


def _setup_tails(call: str, to: str) -> tuple[bytes, ...]:
    """The tails of one set-up (``call`` and ``to`` need no JSON escaping: u<i>, s-u<i>-<n>)."""
    c, t = call.encode(), to.encode()
    filled = {
        tmpl: tmpl.replace(b'"' + _CALL.encode() + b'"', b'"' + c + b'"').replace(
            b'"' + _TO.encode() + b'"', b'"' + t + b'"'
        )
        for tmpl in set(_SETUP_TEMPLATES)
    }
    return tuple(filled[tmpl] for tmpl in _SETUP_TEMPLATES)


def _suffixes(call: str) -> tuple[bytes, ...]:
    """For the relay phases: four ``ice`` messages and one ``sdp`` on an accepted call."""
    ice = _tail({"type": "ice", "call": call, "candidate": _CANDIDATE})
    return (_tail(_sdp(call, "offer")),) + (ice,) * 4


@dataclass(slots=True)
class _Setup:
    caller: _Client
    callee: _Client
    tails: tuple[bytes, ...]
    started: float
    received: int = 0  # steps received so far (they arrive in order)


class _Client:
    __slots__ = (
        "accepted",
        "call",
        "contacts",
        "group",
        "name",
        "peer",
        "setup",
        "snapshot",
        "suffixes",
        "welcome",
        "ws",
    )

    def __init__(self, group: str, name: str) -> None:
        loop = asyncio.get_running_loop()
        self.group = group
        self.name = name
        self.ws: LeanWebSocket | None = None
        self.peer: _Client | None = None
        self.call = ""
        self.suffixes: tuple[bytes, ...] = ()
        self.contacts: list[str] = []
        self.welcome = loop.create_future()
        self.snapshot = loop.create_future()
        self.accepted = loop.create_future()
        self.setup: _Setup | None = None


def _contacts(name: str, contacts: int, total: int) -> list[str]:
    """The ``contacts`` users after ``name`` (u<i>) in a ring of ``total``."""
    i = int(name[1:])
    return [f"u{(i + k) % total}" for k in range(1, contacts + 1)]


class Generator:
    """Clients come in groups, one per server under test."""

    def __init__(self) -> None:
        self.heartbeat = Heartbeat(CLIENT_HEARTBEAT)
        self.groups: dict[str, list[_Client]] = {}
        self.closing: set[str] = set()
        self.received = 0
        self.errors: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.presence = 0
        self.latencies: list[float] = []
        self.answer_until = 0.0  # saturation: answer each message until then
        self.sent = self.unsent = 0
        self.idle: deque[tuple[_Client, _Client]] = deque()
        self.setup_ms: list[float] = []
        self.real: list[_RealClient] = []

    # --- registration ---------------------------------------------------------------

    async def register(
        self,
        group: str,
        url: str,
        pairs: list[list[str]],
        contacts: int = 0,
        total: int = 0,
        concurrency: int = REGISTER_CONCURRENCY,
        callee_url: str | None = None,
    ) -> dict[str, Any]:
        """Connect, hello, welcome (and with ``contacts``, subscribe and its snapshot).

        With ``callee_url`` every callee registers there (another node of a
        cluster, bench_cluster), every caller at ``url``.
        """
        raise_open_files_limit()
        self.heartbeat.start()
        clients = self.groups[group] = []
        self.errors[group] = self.dropped[group] = self.presence = 0
        for i, (a, b) in enumerate(pairs):
            caller, callee = _Client(group, a), _Client(group, b)
            caller.peer, callee.peer = callee, caller
            caller.call = callee.call = f"call-{a}-{i}"
            for c in (caller, callee):
                c.suffixes = _suffixes(c.call)
                if contacts:
                    c.contacts = _contacts(c.name, contacts, total)
            clients += [caller, callee]
        limit = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        callee_url = callee_url or url
        results = await asyncio.gather(
            *(
                self._register(c, callee_url if i % 2 else url, limit)
                for i, c in enumerate(clients)
            ),
            return_exceptions=True,
        )
        latencies = [r for r in results if isinstance(r, float)]
        failed = [r for r in results if not isinstance(r, float)]
        for exc in failed[:3]:
            print(f"generator: registration failed: {exc!r}", file=sys.stderr)
        return {
            "start": started,
            "end": time.perf_counter(),
            "latencies": latencies,
            "failed": len(failed),
            "presence": self.presence,
        }

    async def _register(self, client: _Client, url: str, limit: asyncio.Semaphore) -> float:
        async with limit:
            t0 = time.perf_counter()
            ws = client.ws = await LeanWebSocket.connect(
                url, functools.partial(self._on_text, client), heartbeat=self.heartbeat
            )
            ws.lost.add_done_callback(functools.partial(self._on_lost, client))
            ws.send_frame(text_frame(_compact({"type": "hello", "user": client.name}).encode()))
            await asyncio.wait_for(client.welcome, 60)
            if client.contacts:
                subscribe = {"type": "subscribe", "users": client.contacts}
                ws.send_frame(text_frame(_compact(subscribe).encode()))
                await asyncio.wait_for(client.snapshot, 60)
            return (time.perf_counter() - t0) * 1000

    async def pair(self, group: str) -> dict[str, Any]:
        """Every caller invites its callee, which accepts (for the relay phases)."""
        callers = self.groups[group][0::2]
        for c in callers:
            assert c.ws is not None and c.peer is not None
            invite = {"type": "invite", "call": c.call, "to": c.peer.name}
            c.ws.send_frame(text_frame(_compact(invite).encode()))
        await asyncio.wait_for(asyncio.gather(*(c.accepted for c in callers)), 60)
        return {"calls": len(callers)}

    # --- receiving ------------------------------------------------------------------

    def _on_text(self, client: _Client, payload: bytes) -> None:
        """Every text message a client receives, from its socket's ``data_received``."""
        if payload.startswith(_TS):
            now = time.perf_counter()
            self.latencies.append((now - float(payload[6 : payload.index(b",", 6)])) * 1000)
            self.received += 1
            if client.setup is not None:
                self._advance(client.setup, client)
            elif now < self.answer_until:
                self._send(client)
            return
        if payload.startswith(b'{"type":"presence",'):
            self.presence += 1
            return
        self._on_untimed(client, json.loads(payload))

    def _on_lost(self, client: _Client, _lost: asyncio.Future[None]) -> None:
        if client.group not in self.closing:
            self.dropped[client.group] += 1

    def _on_untimed(self, client: _Client, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "welcome" and not client.welcome.done():
            client.welcome.set_result(None)
        elif kind == "presence-snapshot" and not client.snapshot.done():
            client.snapshot.set_result(None)
        elif kind == "invite":
            assert client.ws is not None
            client.ws.send_frame(
                text_frame(_compact({"type": "accept", "call": obj["call"]}).encode())
            )
        elif kind == "accept" and not client.accepted.done():
            client.accepted.set_result(None)
        elif kind == "error":
            self.errors[client.group] += 1
            print(
                f"generator: server error {obj.get('code')}: {obj.get('message')}",
                file=sys.stderr,
            )

    # --- sending --------------------------------------------------------------------

    def _send_tail(self, client: _Client, tail: bytes) -> None:
        ws = client.ws
        assert ws is not None
        if ws.closed:
            # Closed under overload (no pong within heartbeat/2) or by the server:
            # counted, not raised, so one lost socket does not end the generator.
            self.unsent += 1
            return
        self.sent += 1
        stamp = _TS + repr(time.perf_counter()).encode()
        ws.send_frame(text_header(len(stamp) + len(tail)) + stamp + tail)

    def _send(self, client: _Client) -> None:
        suffixes = client.suffixes
        self._send_tail(client, suffixes[self.sent % len(suffixes)])

    def _reset(self) -> None:
        self.received = self.sent = self.unsent = 0
        self.latencies = []
        self.setup_ms = []

    async def _drain(self, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while self.received < self.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def _result(self, group: str, elapsed: float, received_in_window: int) -> dict[str, Any]:
        lat = self.latencies
        if len(lat) > SAMPLES_KEPT:
            lat = lat[:: len(lat) // SAMPLES_KEPT + 1]
        return {
            "sent": self.sent,
            "received": self.received,
            "in_window": received_in_window,
            "elapsed": elapsed,
            "latencies": lat,
            "errors": self.errors[group],
            "dropped": self.dropped[group],
            "unsent": self.unsent,
        }

    async def rate(self, group: str, rate: float, seconds: float) -> dict[str, Any]:
        """Open loop: send at ``rate`` per second, round robin over the clients."""
        clients = self.groups[group]
        self._reset()
        started = time.perf_counter()
        end = started + seconds
        i = 0
        while (now := time.perf_counter()) < end:
            due = int(rate * (now - started)) - self.sent
            for _ in range(due):
                self._send(clients[i % len(clients)])
                i += 1
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        in_window = self.received
        await self._drain()
        return self._result(group, elapsed, in_window)

    async def saturate(self, group: str, seconds: float, window: int) -> dict[str, Any]:
        """Closed loop: ``window`` messages in flight per client, each answered on arrival."""
        self._reset()
        started = time.perf_counter()
        self.answer_until = started + seconds
        for _ in range(window):
            for client in self.groups[group]:
                self._send(client)
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        in_window = self.received
        await self._drain()
        return self._result(group, elapsed, in_window)

    # --- call set-ups ---------------------------------------------------------------

    async def setups(self, group: str, rate: float, seconds: float) -> dict[str, Any]:
        """Open loop: start ``rate`` call set-ups a second between idle pairs of this group."""
        clients = self.groups[group]
        self._reset()
        self.idle = deque(zip(clients[0::2], clients[1::2], strict=True))
        started = time.perf_counter()
        end = started + seconds
        begun = skipped = 0
        while (now := time.perf_counter()) < end:
            for _ in range(int(rate * (now - started)) - begun - skipped):
                if not self.idle:
                    skipped += 1  # every pair busy: the generator could not keep the rate
                    continue
                caller, callee = self.idle.popleft()
                tails = _setup_tails(f"s-{caller.name}-{begun}", callee.name)
                caller.setup = callee.setup = _Setup(caller, callee, tails, time.perf_counter())
                begun += 1
                self._send_tail(caller, tails[0])
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
        in_window = self.received
        await self._drain()
        result = self._result(group, elapsed, in_window)
        done = len(self.setup_ms)
        result.update(begun=begun, completed=done, skipped=skipped, setup_ms=self.setup_ms)
        return result

    def _advance(self, setup: _Setup, receiver: _Client) -> None:
        """One step arrived at ``receiver``: send what it sends next, or finish the set-up."""
        step = setup.received + 1
        setup.received = step
        if step == len(SETUP_STEPS):
            setup.caller.setup = setup.callee.setup = None
            self.idle.append((setup.caller, setup.callee))
            self.setup_ms.append((time.perf_counter() - setup.started) * 1000)
            return
        role = 0 if receiver is setup.caller else 1
        while step < len(SETUP_STEPS) and SETUP_STEPS[step][1] == role:
            self._send_tail(receiver, setup.tails[step])
            step += 1

    async def close(self, group: str) -> dict[str, Any]:
        self.closing.add(group)
        clients = self.groups.pop(group, [])
        sockets = [c.ws for c in clients if c.ws is not None]
        await asyncio.wait_for(
            asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 30
        )
        return {"closed": len(clients)}

    # --- real clients, for the mass reconnect ---------------------------------------

    async def clients(
        self, url: str, names: list[str], contacts: int, total: int
    ) -> dict[str, Any]:
        """Start a JsonSignalingClient per name (subscribed to ``contacts`` users)."""
        raise_open_files_limit()
        limit = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def start(name: str) -> None:
            async with limit:
                client = _RealClient(url, name, _contacts(name, contacts, total))
                await client.client.start(client.on_event)
                self.real.append(client)

        await asyncio.gather(*(start(n) for n in names))
        return {"started": len(self.real)}

    async def registered_again(self, timeout: float) -> dict[str, Any]:
        """Wait until every real client has registered twice; when each did, and the refusals."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(c.registrations < 2 for c in self.real):
            await asyncio.sleep(0.05)
        return {
            "times": [c.last_registered for c in self.real if c.registrations >= 2],
            "missing": sum(c.registrations < 2 for c in self.real),
            "attempts": sum(c.attempts for c in self.real),
            "gave_up": sum(c.gave_up for c in self.real),
        }

    async def stop_clients(self) -> dict[str, Any]:
        real, self.real = self.real, []
        await asyncio.gather(*(c.client.close() for c in real))
        return {"closed": len(real)}

    async def quit(self) -> None:
        for group in list(self.groups):
            await self.close(group)
        await self.stop_clients()
        await self.heartbeat.stop()


class _RealClient:
    """A JsonSignalingClient and what its events said."""

    def __init__(self, url: str, name: str, contacts: list[str]) -> None:
        self.client = JsonSignalingClient(url, name, contacts=contacts, start_timeout=60)
        self.registrations = 0
        self.last_registered = 0.0
        self.attempts = 0
        self.gave_up = 0

    def on_event(self, event: SignalingEvent) -> None:
        if isinstance(event, Registered):
            self.registrations += 1
            self.last_registered = time.perf_counter()
        elif isinstance(event, ConnectionChanged):
            if event.state == "reconnecting":
                self.attempts += 1
            elif event.state == "closed":
                self.gave_up += 1


async def generator_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    gen = Generator()
    while line := await reader.readline():
        cmd = json.loads(line)
        name = cmd.pop("cmd")
        if name == "quit":
            break
        result = await getattr(gen, name)(**cmd)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        await gen.quit()
