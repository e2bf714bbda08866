"""PeerConnection: the browser's RTCPeerConnection API, for one audio stream, on aiortc parts.

aiortc's RTCPeerConnection cannot restart ICE, roll back, or tell
``disconnected`` from ``connected``. This class keeps aiortc's DTLS transport,
RTP sender/receiver and codecs, and owns the rest: the signaling state
machine (with rollback), ICE generations (``ice.IceTransport``), gathering
from every configured server, ``restartIce``/``negotiationneeded`` and
failure detection. Method and event names follow the W3C API.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCCertificate,
    RTCDtlsParameters,
    RTCDtlsTransport,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc import sdp as aiosdp
from aiortc.codecs import CODECS, HEADER_EXTENSIONS
from aiortc.rtcpeerconnection import find_common_codecs, find_common_header_extensions
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.stats import RTCStatsReport

from softphone.descriptions import Candidate, Description

from . import internals, sdpbuild
from .configuration import Configuration, set_configuration
from .errors import InvalidStateError, OperationError
from .gathering import default_host_addresses
from .ice import IceGeneration, IceTransport
from .stats import CallStats, SelectedPair, call_stats

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]

# Longest time an ICE-restart answerer holds its checks waiting for the offerer's first
# check, the proof that the offerer applied our answer (see internals.install_check_gate).
ANSWERER_CHECK_HOLD = 1.0

# A locally requested restart whose new generation fails is requested again (W3C: the
# request stands until a restart succeeds), at most this many attempts in all, with a
# backoff of RESTART_RETRY_BACKOFF times the number of failed attempts before each one.
RESTART_ATTEMPTS = 3
RESTART_RETRY_BACKOFF = 0.5

EVENTS = frozenset(
    {
        "negotiationneeded",
        "signalingstatechange",
        "icegatheringstatechange",
        "iceconnectionstatechange",
        "connectionstatechange",
        "track",
        "selectedpairchange",
        "icerestart",
    }
)


class PeerConnection:
    """An RTCPeerConnection for one bidirectional audio stream, with live ICE restarts.

    Timing knobs (seconds) are keyword arguments so tests and the bench can
    tighten them; the defaults suit a phone call.
    """

    def __init__(
        self,
        configuration: Configuration,
        *,
        host_addresses: Sequence[str] | None = None,
        connect_timeout: float = 20.0,
        restart_timeout: float = 8.0,
        consent_interval: float = 0.5,
        disconnected_after: float = 1.5,
        failed_after: float = 2.0,
        auto_restart: bool = True,
        old_generation_linger: float = 2.0,
        switch_timeout: float = 10.0,
        answerer_check_hold: float = ANSWERER_CHECK_HOLD,
        triggered_check_fix: bool = True,
        make_before_break: bool = True,
        restart_attempts: int = RESTART_ATTEMPTS,
        restart_retry_backoff: float = RESTART_RETRY_BACKOFF,
    ) -> None:
        self._configuration = set_configuration(None, configuration)
        self._host_addresses = (
            list(host_addresses) if host_addresses is not None else default_host_addresses()
        )
        self._connect_timeout = connect_timeout
        self._restart_timeout = restart_timeout
        self._consent_interval = consent_interval
        self._disconnected_after = disconnected_after
        self._failed_after = failed_after
        self._auto_restart = auto_restart
        self._triggered_check_fix = triggered_check_fix
        self._make_before_break = make_before_break
        self._answerer_check_hold = answerer_check_hold
        self._restart_attempts_max = max(1, restart_attempts)
        self._restart_retry_backoff = restart_retry_backoff
        self._handlers: dict[str, list[Handler]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

        self.signalingState = "stable"
        self.iceGatheringState = "new"
        self.iceConnectionState = "new"
        self.connectionState = "new"
        self._closed = False

        self._current_local: Description | None = None
        self._pending_local: Description | None = None
        self._current_remote: Description | None = None
        self._pending_remote: Description | None = None

        self._certificate = RTCCertificate.generateCertificate()
        self._ice = IceTransport(linger=old_generation_linger, switch_timeout=switch_timeout)
        # RTCDtlsTransport only calls _recv/_send/role on its ICE transport (see internals).
        self._dtls = RTCDtlsTransport(self._ice, [self._certificate])  # type: ignore[arg-type]
        self._sender = RTCRtpSender("audio", self._dtls)
        self._receiver = RTCRtpReceiver("audio", self._dtls)
        internals.set_receiver_rtcp_ssrc(self._receiver, internals.sender_ssrc(self._sender))
        self._stream_id = str(uuid.uuid4())
        internals.set_sender_stream_id(self._sender, self._stream_id)
        self._cname = str(uuid.uuid4())
        self._track: MediaStreamTrack | None = None
        self._remote_track: MediaStreamTrack | None = None

        self._mid: str | None = None
        self._codecs: list[RTCRtpCodecParameters] = []
        self._header_extensions: list[RTCRtpHeaderExtensionParameters] = []
        self._remote: sdpbuild.RemoteAudio | None = None  # from the current remote description
        self._pending_remote_audio: sdpbuild.RemoteAudio | None = None
        self._rejected: list[aiosdp.MediaDescription] = []
        self._audio_index = 0

        self._role_set = False
        self._gen: IceGeneration | None = None  # the negotiated generation (current descriptions)
        self._offer_gen: IceGeneration | None = None  # a generation in our pending offer
        self._answer_gen: IceGeneration | None = None  # a generation for a pending remote offer
        self._media_started = False
        self._dtls_task: asyncio.Future[None] | None = None

        # restartIce bookkeeping (W3C [[LocalIceCredentialsToReplace]] and negotiation-needed).
        self._restart_requested = False
        self._restart_baseline: str | None = None
        self._negotiation_needed = False
        self._nn_queued = False
        self._restart_started: dict[int, float] = {}  # generation serial -> monotonic start
        self._restart_attempt = 0  # attempt number of the pending local restart request
        # generation serial -> attempt number, for generations that satisfied a local request
        self._restart_attempt_of: dict[int, int] = {}

        self._ice_health = "new"  # new, connected, disconnected, failed
        self._monitor_task: asyncio.Future[None] | None = None
        self._auto_restarts = 0

    # --- events -------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event``; coroutine handlers run as tasks."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; known: {', '.join(sorted(EVENTS))}")
        self._handlers.setdefault(event, []).append(handler)

    def _emit(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers.get(event, ())):
            try:
                result = handler(*args)
            except Exception:
                logger.exception("%s handler failed", event)
                continue
            if inspect.isawaitable(result):
                self._spawn(result)

    def _spawn(self, awaitable: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    # --- W3C attributes -----------------------------------------------------------------------

    @property
    def localDescription(self) -> Description | None:
        return self._pending_local or self._current_local

    @property
    def remoteDescription(self) -> Description | None:
        return self._pending_remote or self._current_remote

    @property
    def dtls_transport(self) -> RTCDtlsTransport:
        """The one DTLS transport of this connection (it survives every ICE restart)."""
        return self._dtls

    @property
    def sender(self) -> RTCRtpSender:
        return self._sender

    @property
    def receiver(self) -> RTCRtpReceiver:
        return self._receiver

    def getConfiguration(self) -> Configuration:
        return self._configuration

    def setConfiguration(self, configuration: Configuration) -> None:
        """Replace (never merge) the configuration; the next gathering (ICE restart) uses it."""
        self._configuration = set_configuration(
            self._configuration, configuration, closed=self._closed
        )

    def selected_pair(self) -> SelectedPair | None:
        gen = self._ice.active
        return gen.selected_pair() if gen is not None else None

    @property
    def ice_generation(self) -> str | None:
        """The local ufrag of the generation carrying media (for tests and diagnostics)."""
        gen = self._ice.active
        return gen.ufrag if gen is not None else None

    # --- tracks -------------------------------------------------------------------------------

    def addTrack(self, track: MediaStreamTrack) -> None:
        self._assert_open()
        if track.kind != "audio":
            raise ValueError(f"only audio tracks are supported, not {track.kind!r}")
        if self._track is not None:
            raise InvalidStateError("a track was already added")
        self._track = track
        self._sender.replaceTrack(track)

    # --- offers and answers -------------------------------------------------------------------

    async def createOffer(self, *, iceRestart: bool = False) -> Description:
        self._assert_open()
        if self.signalingState not in ("stable", "have-local-offer"):
            raise InvalidStateError(f"cannot create an offer in state {self.signalingState}")
        restart = (iceRestart or self._restart_requested) and self._gen is not None
        if restart:
            gen = self._offer_gen if self._offer_gen_is_fresh() else None
            if gen is None:
                if self._offer_gen is not None and self._offer_gen is not self._gen:
                    self._discard_generation(self._offer_gen)
                gen = self._new_generation()
                self._begin_restart(
                    gen, "local", self._restart_attempt if self._restart_requested else None
                )
        elif self._gen is not None:
            gen = self._gen
        else:
            gen = self._offer_gen or self._new_generation()
        self._offer_gen = gen
        await self._gather(gen)
        self._assert_open()
        if gen is not self._gen and self._gen is not None and not gen.local_candidates:
            # Nothing gathered with the new configuration: offering it could only fail.
            # Keep the running generation and report why (without credentials).
            # Not retried: the same configuration would gather nothing again.
            self._discard_generation(gen)
            detail: dict[str, Any] = {
                "ufrag": gen.ufrag,
                "reason": "no candidates: " + _failures_text(gen),
                "kept_old_path": self._ice.active is not None,
            }
            if self._restart_requested:
                detail.update(attempt=self._restart_attempt, will_retry=False)
            self._restart_requested = False
            self._emit("icerestart", "failed", detail)
            gen = self._gen
            self._offer_gen = None

        if self._mid is None:
            self._mid = "0"
        if not self._codecs or self._current_remote is None:
            codecs = copy.deepcopy(CODECS["audio"])
            extensions = copy.deepcopy(HEADER_EXTENSIONS["audio"])
        else:
            codecs, extensions = self._codecs, self._header_extensions
        role = internals.dtls_role(self._dtls)
        sdp = sdpbuild.build(
            "offer",
            self._local_audio(gen, codecs, extensions, role, self._direction()),
            rejected=self._rejected,
            audio_index=self._audio_index,
        )
        return Description(type="offer", sdp=sdp)

    async def createAnswer(self) -> Description:
        self._assert_open()
        if self.signalingState != "have-remote-offer":
            raise InvalidStateError(f"cannot create an answer in state {self.signalingState}")
        remote = self._pending_remote_audio
        assert remote is not None
        gen = self._answer_gen or self._gen
        assert gen is not None
        await self._gather(gen)
        self._assert_open()
        role = internals.dtls_role(self._dtls)
        if role == "auto":
            role = "server" if remote.dtls_role == "client" else "client"
        direction = _answer_direction(self._direction(), remote.direction)
        sdp = sdpbuild.build(
            "answer",
            self._local_audio(gen, self._codecs, self._header_extensions, role, direction),
            rejected=self._rejected,
            audio_index=self._audio_index,
        )
        return Description(type="answer", sdp=sdp)

    async def setLocalDescription(self, description: Description | None = None) -> None:
        self._assert_open()
        if description is None:
            if self.signalingState == "have-remote-offer":
                description = await self.createAnswer()
            else:
                description = await self.createOffer()
        if description.type == "rollback":
            self._rollback_local()
            return
        if description.type == "offer":
            if self.signalingState not in ("stable", "have-local-offer"):
                raise InvalidStateError(f"cannot set a local offer in state {self.signalingState}")
            gen = self._generation_of(description)
            self._offer_gen = gen
            if not self._role_set:
                gen.connection.ice_controlling = True
                self._ice.set_controlling(True)
            self._pending_local = description
            self._set_signaling("have-local-offer")
        elif description.type == "answer":
            if self.signalingState != "have-remote-offer":
                raise InvalidStateError(f"cannot set a local answer in state {self.signalingState}")
            gen = self._generation_of(description)
            remote = self._pending_remote_audio
            assert remote is not None
            _, mine = sdpbuild.parse(description.sdp, "answer")
            if internals.dtls_role(self._dtls) == "auto":
                internals.set_dtls_role(self._dtls, mine.dtls_role)
            self._role_set = True
            self._current_local = description
            self._pending_local = None
            self._current_remote = self._pending_remote
            self._pending_remote = None
            self._remote = remote
            self._pending_remote_audio = None
            self._answer_gen = None
            self._set_signaling("stable")
            self._negotiated(gen)
        else:
            raise InvalidStateError(f"unsupported local description type {description.type!r}")

    async def setRemoteDescription(self, description: Description) -> None:
        self._assert_open()
        if description.type == "rollback":
            self._rollback_remote()
            return
        if description.type not in ("offer", "answer"):
            raise InvalidStateError(f"unsupported remote description type {description.type!r}")
        if description.type == "offer":
            if self.signalingState not in ("stable", "have-remote-offer", "have-local-offer"):
                raise InvalidStateError(f"cannot set a remote offer in state {self.signalingState}")
            parsed, remote = sdpbuild.parse(description.sdp, "offer")
            codecs = find_common_codecs(CODECS["audio"], remote.codecs)
            if not codecs:
                raise OperationError("no audio codec in common with the remote offer")
            if self.signalingState == "have-local-offer":
                self._rollback_local()  # implicit rollback (perfect negotiation, polite side)
            elif self.signalingState == "have-remote-offer":
                self._rollback_remote()
            await self._apply_remote_offer(description, parsed, remote, codecs)
        else:
            if self.signalingState != "have-local-offer":
                raise InvalidStateError(
                    f"cannot set a remote answer in state {self.signalingState}"
                )
            parsed, remote = sdpbuild.parse(description.sdp, "answer")
            if remote.mid != self._mid:
                raise ValueError(
                    f"invalid SDP answer: audio mid {remote.mid!r} does not match "
                    f"offer {self._mid!r}"
                )
            codecs = find_common_codecs(CODECS["audio"], remote.codecs)
            if not codecs:
                raise OperationError("no audio codec in common with the remote answer")
            gen = self._offer_gen
            assert gen is not None
            if (
                gen is not self._gen
                and self._gen is not None
                and self._remote is not None
                and (remote.ufrag, remote.pwd) == (self._remote.ufrag, self._remote.pwd)
            ):
                # The peer answered our restart with its old credentials: it does not
                # support ICE restart (plain aiortc). Keep the running generation; asking
                # again would get the same answer, so the request ends here.
                self._discard_generation(gen)
                detail: dict[str, Any] = {
                    "ufrag": gen.ufrag,
                    "reason": "the peer answered without new ICE credentials "
                    "(it does not support ICE restart)",
                    "kept_old_path": self._ice.active is not None,
                }
                if self._restart_requested:
                    detail.update(attempt=self._restart_attempt, will_retry=False)
                self._restart_requested = False
                self._emit("icerestart", "failed", detail)
                gen = self._gen
            await self._apply_remote_ice(gen, remote)
            if internals.dtls_role(self._dtls) == "auto":
                internals.set_dtls_role(
                    self._dtls, "server" if remote.dtls_role == "client" else "client"
                )
            self._role_set = True
            if not self._media_started:
                self._codecs = codecs
                self._header_extensions = find_common_header_extensions(
                    HEADER_EXTENSIONS["audio"], remote.header_extensions
                )
            self._remote = remote
            self._current_remote = description
            self._pending_remote = None
            self._current_local = self._pending_local
            self._pending_local = None
            self._set_signaling("stable")
            self._maybe_track(remote)
            self._negotiated(gen)

    async def _apply_remote_offer(
        self,
        description: Description,
        parsed: aiosdp.SessionDescription,
        remote: sdpbuild.RemoteAudio,
        codecs: list[RTCRtpCodecParameters],
    ) -> None:
        if self._mid is not None and remote.mid != self._mid and self._gen is not None:
            raise ValueError(
                f"invalid SDP offer: audio mid changed from {self._mid!r} to {remote.mid!r}"
            )
        current_remote = self._remote
        restart = current_remote is not None and (
            remote.ufrag != current_remote.ufrag or remote.pwd != current_remote.pwd
        )
        if self._gen is None:
            gen = self._answer_gen or self._new_generation()
            if not self._role_set:
                gen.connection.ice_controlling = remote.ice_lite
                self._ice.set_controlling(remote.ice_lite)
        elif restart:
            gen = self._new_generation()
            self._begin_restart(gen, "remote")
        else:
            gen = self._gen
        self._answer_gen = gen if gen is not self._gen else None
        await self._apply_remote_ice(gen, remote)
        self._mid = remote.mid
        self._audio_index = remote.index
        self._rejected = [m for i, m in enumerate(parsed.media) if i != remote.index]
        if not self._media_started:
            self._codecs = codecs
            self._header_extensions = find_common_header_extensions(
                HEADER_EXTENSIONS["audio"], remote.header_extensions
            )
        self._pending_remote = description
        self._pending_remote_audio = remote
        self._set_signaling("have-remote-offer")
        self._maybe_track(remote)

    async def _apply_remote_ice(self, gen: IceGeneration, remote: sdpbuild.RemoteAudio) -> None:
        if gen.remote_ufrag is None:
            gen.set_remote(remote.ufrag, remote.pwd, remote.ice_lite)
        elif gen.remote_ufrag != remote.ufrag:
            # The peer changed credentials without us offering a restart: not allowed by
            # JSEP for an answer; keep what is running.
            logger.info("ignoring remote ICE credentials change outside a restart")
            return
        for candidate in remote.candidates:
            await gen.add_remote_candidate(candidate)
        if remote.end_of_candidates:
            await gen.add_remote_candidate(None)

    async def addIceCandidate(self, candidate: Candidate | None) -> None:
        """Add a trickled remote candidate (None = end); old-generation ones are ignored."""
        self._assert_open()
        if candidate is None:
            gen = self._newest_remote_generation()
            restarting = gen is not None and gen.serial in self._restart_started
            if gen is not None and restarting and not gen.remote_candidates:
                # An end-of-candidates without a ufrag cannot say its generation. One that
                # reaches a restart generation before any of its candidates is, in practice,
                # a rolled-back offer's (glare): applied, it would fail the restart at once.
                # Ignored, the restart still ends within restart_timeout.
                logger.debug("ignoring an unscoped end-of-candidates before any candidate")
                return
            if gen is not None:
                await gen.add_remote_candidate(None)
            return
        if not candidate.candidate.strip():
            # An empty candidate string is end-of-candidates for that generation (W3C).
            gen = self._newest_remote_generation(candidate.username_fragment)
            if gen is not None:
                await gen.add_remote_candidate(None)
            return
        parsed = sdpbuild.parse_candidate(candidate.candidate)
        if candidate.sdp_mid is None and candidate.sdp_mline_index is None:
            raise ValueError("an ICE candidate needs sdpMid or sdpMLineIndex")
        if self.remoteDescription is None:
            raise InvalidStateError("addIceCandidate before setRemoteDescription")
        if candidate.sdp_mid is not None:
            if candidate.sdp_mid != self._mid:
                return  # a rejected m-line (bundled away)
        elif candidate.sdp_mline_index != self._audio_index:
            return
        gen = self._newest_remote_generation(candidate.username_fragment)
        if gen is None:
            logger.debug("ignoring a candidate of an old ICE generation")
            return
        await gen.add_remote_candidate(parsed)

    def _newest_remote_generation(self, ufrag: str | None = None) -> IceGeneration | None:
        if ufrag is not None:
            gen = self._ice.generation_by_remote_ufrag(ufrag)
            if gen is None:
                return None
            newest = self._newest_generation_with_remote()
            return gen if gen is newest else None
        return self._newest_generation_with_remote()

    def _newest_generation_with_remote(self) -> IceGeneration | None:
        for gen in (self._answer_gen, self._offer_gen, self._gen):
            if gen is not None and gen.remote_ufrag is not None and gen.state != "closed":
                return gen
        return None

    # --- restarts -----------------------------------------------------------------------------

    def restartIce(self) -> None:
        """Ask for an ICE restart: the next offer gets new credentials; negotiationneeded fires."""
        self._assert_open()
        self._request_restart(1)

    def _request_restart(self, attempt: int) -> None:
        if not self._restart_requested:
            self._restart_requested = True
            self._restart_baseline = self._gen.ufrag if self._gen is not None else None
            self._restart_attempt = attempt
        self._update_negotiation_needed()

    async def _retry_restart(
        self, failed: IceGeneration, running: IceGeneration | None, attempt: int
    ) -> None:
        """Request attempt ``attempt`` after a short backoff, unless something superseded it.

        The backoff lets a transient cause (a peer that was not ready, a lost
        nomination) pass; a restart requested or completed meanwhile makes
        this one moot.
        """
        await asyncio.sleep(self._restart_retry_backoff * (attempt - 1))
        if self._closed or self._restart_requested or self._gen is not running:
            return
        logger.info("ICE restart %s failed; requesting attempt %d", failed.ufrag, attempt)
        self._request_restart(attempt)

    def _update_negotiation_needed(self) -> None:
        if self._closed or not self._restart_requested or self._negotiation_needed:
            return
        if self.signalingState != "stable":
            return  # re-checked when signaling is next stable
        self._negotiation_needed = True
        if not self._nn_queued:
            self._nn_queued = True
            asyncio.get_running_loop().call_soon(self._fire_negotiation_needed)

    def _fire_negotiation_needed(self) -> None:
        self._nn_queued = False
        if self._closed or not self._negotiation_needed:
            return
        if self.signalingState != "stable":
            self._negotiation_needed = False  # fired again when stable
            return
        self._emit("negotiationneeded")

    def _negotiated(self, gen: IceGeneration) -> None:
        """An offer/answer exchange completed with ``gen`` as our generation."""
        previous = self._gen
        self._gen = gen
        self._offer_gen = None
        self._answer_gen = None
        if self._restart_requested and gen.ufrag != self._restart_baseline and previous is not None:
            self._restart_requested = False
            # Whichever side offered it, this generation carries our request: if it
            # fails, the request is renewed (see _run_generation).
            self._restart_attempt_of[gen.serial] = max(1, self._restart_attempt)
        if gen.state in ("gathered", "new", "gathering"):
            self._spawn(self._run_generation(gen, restart=previous is not None))
        self._negotiation_needed = False
        self._update_negotiation_needed()

    def _begin_restart(self, gen: IceGeneration, side: str, attempt: int | None = None) -> None:
        self._restart_started[gen.serial] = time.monotonic()
        detail: dict[str, Any] = {"ufrag": gen.ufrag, "side": side}
        if attempt is not None:
            detail["attempt"] = attempt
        self._emit("icerestart", "begun", detail)
        if not self._make_before_break and self._ice.active is not None:
            # Only for comparison (bench): drop the old path before the new one exists.
            self._ice.release(self._ice.active)

    def _offer_gen_is_fresh(self) -> bool:
        gen = self._offer_gen
        return (
            gen is not None
            and gen is not self._gen
            and gen.remote_ufrag is None
            and gen.state not in ("closed", "failed")
        )

    def _rollback_local(self) -> None:
        if self.signalingState != "have-local-offer":
            raise InvalidStateError(
                f"cannot roll back a local offer in state {self.signalingState}"
            )
        gen = self._offer_gen
        self._pending_local = None
        self._offer_gen = None
        if gen is not None and gen is not self._gen:
            self._discard_generation(gen)
            self._emit("icerestart", "failed", {"ufrag": gen.ufrag, "reason": "rolled back"})
        self._back_to_stable()

    def _rollback_remote(self) -> None:
        if self.signalingState != "have-remote-offer":
            raise InvalidStateError(
                f"cannot roll back a remote offer in state {self.signalingState}"
            )
        gen = self._answer_gen
        self._pending_remote = None
        self._pending_remote_audio = None
        self._answer_gen = None
        if gen is not None and gen is not self._gen:
            self._discard_generation(gen)
        self._back_to_stable()

    def _back_to_stable(self) -> None:
        """After a rollback: stable again, and a remembered restart asks to be negotiated."""
        self._set_signaling("stable")
        self._negotiation_needed = False
        self._update_negotiation_needed()

    def _discard_generation(self, gen: IceGeneration) -> None:
        self._restart_started.pop(gen.serial, None)
        self._restart_attempt_of.pop(gen.serial, None)
        if gen is not self._ice.active:
            self._ice.release(gen)

    async def _run_generation(self, gen: IceGeneration, *, restart: bool) -> None:
        """Check ``gen`` and, once it has a selected pair, move media onto it."""
        started = self._restart_started.get(gen.serial, time.monotonic())
        attempt = self._restart_attempt_of.get(gen.serial)
        tag: dict[str, Any] = {} if attempt is None else {"attempt": attempt}
        if restart:
            self._emit("icerestart", "checking", {"ufrag": gen.ufrag, **tag})
        else:
            self._set_ice_state("checking")
            self._update_connection_state()
        if gen.gathered is None:
            await self._gather(gen)
        timeout = self._restart_timeout if restart else self._connect_timeout
        if restart and self._current_local is not None and self._current_local.type == "answer":
            # Answering a restart: a check reaching libwebrtc before it applied our answer
            # is filed under an unknown generation and lost with its nomination, and the
            # restart stalls or media stays on the old path (issue 5).
            gen.hold_checks(self._answerer_check_hold)
        ok, reason = await gen.connect(timeout)
        if self._closed:
            return
        self._restart_attempt_of.pop(gen.serial, None)
        if not ok or gen.state == "closed":
            superseded = gen.state == "closed" or self._gen is not gen
            if gen.state == "closed" and ok:
                reason = "superseded"
            self._ice.release(gen)
            if self._gen is gen and self._ice.active is not None:
                self._gen = self._ice.active  # keep the old path, and say so
            if restart:
                # Our request stands until a restart succeeds (W3C restartIce), so a
                # generation that carried it and failed is tried again, a few times.
                retry = (
                    attempt is not None
                    and not superseded
                    and not self._restart_requested
                    and attempt < self._restart_attempts_max
                )
                detail: dict[str, Any] = {
                    "ufrag": gen.ufrag,
                    "reason": reason,
                    "kept_old_path": self._ice.active is not None,
                    **tag,
                }
                if attempt is not None:
                    detail["will_retry"] = retry
                self._emit("icerestart", "failed", detail)
                if retry:
                    assert attempt is not None
                    self._spawn(self._retry_restart(gen, self._gen, attempt + 1))
            if self._ice.active is None or self._ice_health in ("disconnected", "failed"):
                self._set_health("failed")
            return
        previous = self._ice.activate(gen)
        elapsed_ms = (time.monotonic() - started) * 1000
        self._restart_started.pop(gen.serial, None)
        pair = gen.selected_pair()
        self._emit("selectedpairchange", pair)
        if previous is not None:
            self._emit(
                "icerestart",
                "done",
                {
                    "ufrag": gen.ufrag,
                    "elapsed_ms": round(elapsed_ms, 1),
                    "pair": pair.to_dict() if pair else None,
                    **tag,
                },
            )
        self._auto_restarts = 0
        self._set_health("connected")
        self._spawn(self._ice.consent_check())  # an RTT for the new path at once
        if self._monitor_task is None:
            self._monitor_task = self._spawn(self._monitor())
        if self._dtls_task is None:
            self._dtls_task = self._spawn(self._start_media())

    async def _start_media(self) -> None:
        remote = self._remote
        assert remote is not None
        self._update_connection_state()
        await self._dtls.start(RTCDtlsParameters(fingerprints=remote.fingerprints))
        if self._dtls.state != "connected":
            self._update_connection_state()
            return
        assert self._mid is not None
        if remote.direction in ("sendrecv", "recvonly"):
            rtcp = RTCRtcpParameters(
                cname=self._cname, ssrc=internals.sender_ssrc(self._sender), mux=True
            )
            await self._sender.send(
                RTCRtpSendParameters(
                    codecs=self._codecs,
                    headerExtensions=self._header_extensions,
                    muxId=self._mid,
                    rtcp=rtcp,
                )
            )
        if remote.direction in ("sendrecv", "sendonly") and self._remote_track is not None:
            encodings = []
            if remote.ssrc is not None:
                encodings = [
                    RTCRtpDecodingParameters(ssrc=remote.ssrc, payloadType=c.payloadType)
                    for c in self._codecs
                    if c.name.lower() != "rtx" and c.payloadType is not None
                ][:1]
            await self._receiver.receive(
                RTCRtpReceiveParameters(
                    codecs=self._codecs,
                    headerExtensions=self._header_extensions,
                    muxId=self._mid,
                    encodings=encodings,
                )
            )
        self._media_started = True
        self._update_connection_state()

    def _maybe_track(self, remote: sdpbuild.RemoteAudio) -> None:
        if remote.direction in ("sendrecv", "sendonly") and self._remote_track is None:
            self._remote_track = internals.set_receiver_track(
                self._receiver, "audio", remote.track_id or str(uuid.uuid4())
            )
            self._emit("track", self._remote_track)

    # --- failure detection --------------------------------------------------------------------

    async def _monitor(self) -> None:
        """Consent checks every ``consent_interval`` plus a watch on received packets.

        aioice only notices a dead path after ~30 s of consent failures; a
        phone call must say so within seconds.
        """
        failures = 0
        bad_since: float | None = None
        while not self._closed:
            await asyncio.sleep(self._consent_interval)
            if self._closed:
                return
            gen = self._ice.active
            if gen is None:
                continue
            rtt = await self._ice.consent_check()
            now = time.monotonic()
            failures = 0 if rtt is not None else failures + 1
            # Silence alone is no failure (the peer may be on hold); with a failed check it is.
            silent = (
                failures > 0
                and self._ice.rx_packets > 0
                and now - self._ice.last_rx > self._disconnected_after
            )
            if failures == 0:
                bad_since = None
                if self._ice_health in ("disconnected", "failed"):
                    self._set_health("connected")
                continue
            if bad_since is None:
                bad_since = now
            if self._ice_health == "connected" and (
                silent or now - bad_since + self._consent_interval >= self._disconnected_after
            ):
                self._set_health("disconnected")
                bad_since = now
            elif self._ice_health == "disconnected" and now - bad_since >= self._failed_after:
                self._set_health("failed")
            elif self._ice_health == "failed" and now - bad_since >= self._failed_after * 3:
                # Still dead after a restart attempt: try again, a few times at most.
                bad_since = now
                self._maybe_auto_restart()

    def _set_health(self, health: str) -> None:
        if health == self._ice_health:
            return
        self._ice_health = health
        self._set_ice_state(health)
        self._update_connection_state()
        if health == "failed":
            self._maybe_auto_restart()

    def _maybe_auto_restart(self) -> None:
        if not self._auto_restart or self._closed or self._auto_restarts >= 3:
            return
        if self._gen is None:
            return
        self._auto_restarts += 1
        self.restartIce()

    # --- state --------------------------------------------------------------------------------

    def _set_signaling(self, state: str) -> None:
        if state != self.signalingState:
            self.signalingState = state
            self._emit("signalingstatechange", state)

    def _set_ice_state(self, state: str) -> None:
        if state != self.iceConnectionState:
            self.iceConnectionState = state
            self._emit("iceconnectionstatechange", state)

    def _set_gathering(self, state: str) -> None:
        if state != self.iceGatheringState:
            self.iceGatheringState = state
            self._emit("icegatheringstatechange", state)

    def _update_connection_state(self) -> None:
        ice = self.iceConnectionState
        dtls = self._dtls.state
        if self._closed:
            state = "closed"
        elif ice == "failed" or dtls == "failed":
            state = "failed"
        elif ice == "disconnected":
            state = "disconnected"
        elif ice == "new" and dtls == "new":
            state = "new"
        elif ice == "connected" and dtls == "connected":
            state = "connected"
        else:
            state = "connecting"
        if state != self.connectionState:
            self.connectionState = state
            self._emit("connectionstatechange", state)

    # --- helpers ------------------------------------------------------------------------------

    def _new_generation(self) -> IceGeneration:
        return self._ice.new_generation(triggered_check_fix=self._triggered_check_fix)

    async def _gather(self, gen: IceGeneration) -> None:
        if gen.gathered is not None:
            return
        self._set_gathering("gathering")
        result = await gen.gather(self._configuration, self._host_addresses)
        self._set_gathering("complete")
        if gen.serial in self._restart_started:
            self._emit(
                "icerestart",
                "gathered",
                {
                    "ufrag": gen.ufrag,
                    "candidates": len(result.candidates),
                    "elapsed_ms": round(result.elapsed_ms, 1),
                    "failures": [{"url": u, "reason": r} for u, r in result.failures],
                },
            )

    def _generation_of(self, description: Description) -> IceGeneration:
        ufrag = sdpbuild.local_ufrag(description.sdp)
        gen = self._ice.generation_by_ufrag(ufrag) if ufrag else None
        if gen is None:
            raise InvalidStateError(
                "the local description was not created by this connection (unknown ice-ufrag)"
            )
        return gen

    def _local_audio(
        self,
        gen: IceGeneration,
        codecs: list[RTCRtpCodecParameters],
        extensions: list[RTCRtpHeaderExtensionParameters],
        dtls_role: str,
        direction: str,
    ) -> sdpbuild.LocalAudio:
        assert self._mid is not None
        return sdpbuild.LocalAudio(
            mid=self._mid,
            direction=direction,
            codecs=codecs,
            header_extensions=extensions,
            ssrc=internals.sender_ssrc(self._sender),
            cname=self._cname,
            msid=f"{self._stream_id} {internals.sender_track_id(self._sender)}",
            ufrag=gen.ufrag,
            pwd=gen.pwd,
            candidates=gen.local_candidates,
            fingerprints=self._dtls.getLocalParameters().fingerprints,
            dtls_role=dtls_role,
        )

    def _direction(self) -> str:
        return "sendrecv" if self._track is not None else "recvonly"

    def _assert_open(self) -> None:
        if self._closed:
            raise InvalidStateError("the RTCPeerConnection is closed")

    # --- stats and close ----------------------------------------------------------------------

    async def getStats(self) -> CallStats:
        report = RTCStatsReport()
        for part in await asyncio.gather(self._sender.getStats(), self._receiver.getStats()):
            report.update(part)
        clock_rate = self._codecs[0].clockRate if self._codecs else 48000
        return call_stats(
            report,
            clock_rate=clock_rate,
            ice_rtt_ms=self._ice.rtt_ms,
            selected_pair=self.selected_pair(),
        )

    async def close(self, timeout: float = 3.0) -> None:
        """Close everything; bounded, even with a dead TURN server (its allocation then expires)."""
        if self._closed:
            return
        self._closed = True
        self._set_signaling("closed")
        for task in list(self._tasks):
            if task is not self._dtls_task:
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._sender.stop(), timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._receiver.stop(), timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._dtls.stop(), timeout)
        await self._ice.close(timeout=timeout)
        if self._dtls_task is not None and not self._dtls_task.done():
            self._dtls_task.cancel()
        self._set_ice_state("closed")
        self._update_connection_state()


def _failures_text(gen: IceGeneration) -> str:
    failures = gen.gathered.failures if gen.gathered else []
    if not failures:
        return "no ICE server configured for this policy"
    return "; ".join(f"{url}: {reason}" for url, reason in failures)


def _answer_direction(local: str, remote_offer: str) -> str:
    send = local in ("sendrecv", "sendonly") and remote_offer in ("sendrecv", "recvonly")
    recv = local in ("sendrecv", "recvonly") and remote_offer in ("sendrecv", "sendonly")
    return {(True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}.get(
        (send, recv), "inactive"
    )
