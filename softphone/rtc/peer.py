"""PeerConnection: the browser's RTCPeerConnection API, for one audio stream, on aiortc parts.

aiortc's RTCPeerConnection cannot restart ICE, roll back, or tell
``disconnected`` from ``connected``. This class keeps aiortc's DTLS transport,
RTP sender/receiver and codecs, and adds the rest. It is only the facade:
method, attribute and event names follow the W3C API, and each call is
delegated to the part that owns it:

- ``negotiation``: offers, answers, set*Description, rollback, trickle;
- ``generations``: each ICE generation's gathering, checks and switch-over;
- ``restart_policy``: restartIce, negotiationneeded, retries, auto-restart;
- ``health``: consent checks and packet arrival -> iceConnectionState;
- ``media_watch``: missed packets + an unanswered check -> the path is lost (1.2);
- ``standby``: a warm standby generation on the fallback region (1.2);
- ``media_start``: DTLS transport, RTP sender/receiver, their start;
- ``direction`` (hold) and ``dtmf`` (RFC 4733), through ``media_start``;
- ``states`` and ``emitter``: the W3C state attributes and event handlers.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiortc import MediaStreamTrack, RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender

from softphone.descriptions import Candidate, Description

from .configuration import Configuration, set_configuration
from .emitter import Emitter, Handler
from .errors import InvalidStateError
from .gathering import default_host_addresses
from .generations import GenerationRunner, Generations
from .health import HealthMonitor
from .ice import IceTransport
from .media_start import Media
from .media_watch import MediaWatch
from .negotiation import Negotiation
from .restart_policy import RestartPolicy
from .standby import Standby
from .states import ConnectionStates
from .stats import CallStats, SelectedPair

# Longest time an ICE-restart answerer holds its checks waiting for the offerer's first
# check, the proof that the offerer applied our answer (see internals.install_check_gate).
ANSWERER_CHECK_HOLD = 1.0

# A locally requested restart whose new generation fails is requested again (W3C: the
# request stands until a restart succeeds), at most this many attempts in all, with a
# backoff of RESTART_RETRY_BACKOFF times the number of failed attempts before each one.
RESTART_ATTEMPTS = 3
RESTART_RETRY_BACKOFF = 0.5

# The fast loss detector (media_watch): a consent check once the peer's packets have been
# missing this long (7 audio packets), the path lost if it is not answered in
# MEDIA_PROBE_WAIT (or 3 RTTs, if longer). None turns the detector off (today's timers).
MEDIA_PROBE_AFTER = 0.15
MEDIA_PROBE_WAIT = 0.25

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
        "hold",  # (local: bool, remote: bool), when either flag changes
        "dtmf",  # (digit, duration_ms): a telephone-event received
        "dtmfsent",  # (digit, duration_ms): a digit's last packet sent
        "medialoss",
        "standby",
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
        media_probe_after: float | None = MEDIA_PROBE_AFTER,
        media_probe_wait: float = MEDIA_PROBE_WAIT,
    ) -> None:
        configuration = set_configuration(None, configuration)
        hosts = host_addresses if host_addresses is not None else default_host_addresses()
        self._emitter = Emitter(EVENTS)
        self._ice = IceTransport(linger=old_generation_linger, switch_timeout=switch_timeout)
        self._media = Media(self._ice, self._emitter)
        self._states = ConnectionStates(self._emitter, self._media.dtls)
        self._gens = Generations(self._ice, triggered_check_fix=triggered_check_fix)
        self._policy = RestartPolicy(
            self._ice,
            lambda: self._gens.negotiated,
            self._states,
            self._emitter,
            attempts=restart_attempts,
            backoff=restart_retry_backoff,
            auto_restart=auto_restart,
            make_before_break=make_before_break,
            other_change=lambda: self._media.directions.negotiation_needed,
        )
        self._health = HealthMonitor(
            self._ice,
            self._states,
            self._emitter,
            self._policy.auto_restart,
            consent_interval=consent_interval,
            disconnected_after=disconnected_after,
            failed_after=failed_after,
        )
        self._watch = MediaWatch(
            self._ice,
            self._states,
            self._emitter,
            on_lost=self._health.lost,
            healthy=lambda: self._health.health == "connected",
            expects_media=self._expects_media,
            busy=self._restart_under_way,
            probe_after=media_probe_after,
            probe_wait=media_probe_wait,
        )
        self._health.watch = self._watch
        self._standby = Standby(self._ice, self._emitter, hosts)
        self._runner = GenerationRunner(
            self._gens,
            self._policy,
            self._health,
            self._states,
            self._emitter,
            self._start_media,
            configuration=configuration,
            host_addresses=hosts,
            connect_timeout=connect_timeout,
            restart_timeout=restart_timeout,
            answerer_check_hold=answerer_check_hold,
            standby=self._standby,
        )
        self._negotiation = Negotiation(
            self._gens,
            self._runner,
            self._policy,
            self._media,
            self._states,
            on_restart_offer=self._watch.restart_offered,
        )

    # --- events -------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event``; coroutine handlers run as tasks."""
        self._emitter.on(event, handler)

    # --- W3C attributes -----------------------------------------------------------------------

    @property
    def signalingState(self) -> str:
        return self._states.signaling

    @property
    def iceGatheringState(self) -> str:
        return self._states.gathering

    @property
    def iceConnectionState(self) -> str:
        return self._states.ice

    @property
    def connectionState(self) -> str:
        return self._states.connection

    @property
    def localDescription(self) -> Description | None:
        return self._negotiation.pending_local or self._negotiation.current_local

    @property
    def remoteDescription(self) -> Description | None:
        return self._negotiation.pending_remote or self._negotiation.current_remote

    @property
    def dtls_transport(self) -> RTCDtlsTransport:
        """The one DTLS transport of this connection (it survives every ICE restart)."""
        return self._media.dtls

    @property
    def sender(self) -> RTCRtpSender:
        return self._media.sender

    @property
    def receiver(self) -> RTCRtpReceiver:
        return self._media.receiver

    def getConfiguration(self) -> Configuration:
        return self._runner.configuration

    def setConfiguration(self, configuration: Configuration) -> None:
        """Replace (never merge) the configuration; the next gathering (ICE restart) uses it."""
        self._runner.configuration = set_configuration(
            self._runner.configuration, configuration, closed=self._states.closed
        )

    def prepareStandby(self, configuration: Configuration | None) -> None:
        """(1.2, not W3C) Gather a warm standby on ``configuration`` in the background.

        A later restart whose configuration equals it (setConfiguration with
        the same servers, as a failover does) takes the standby instead of
        gathering. ``standby`` events say ``ready`` or ``failed``; None releases it.
        """
        self._assert_open()
        if configuration is not None:
            configuration = set_configuration(
                self._runner.configuration, configuration, closed=self._states.closed
            )
        self._standby.prepare(configuration)

    @property
    def standby_ready(self) -> bool:
        return self._standby.ready

    def selected_pair(self) -> SelectedPair | None:
        gen = self._ice.active
        return gen.selected_pair() if gen is not None else None

    @property
    def ice_generation(self) -> str | None:
        """The local ufrag of the generation carrying media (for tests and diagnostics)."""
        gen = self._ice.active
        return gen.ufrag if gen is not None else None

    # --- tracks, offers and answers -----------------------------------------------------------

    def addTrack(self, track: MediaStreamTrack) -> None:
        self._assert_open()
        self._media.add_track(track)

    async def createOffer(self, *, iceRestart: bool = False) -> Description:
        self._assert_open()
        return await self._negotiation.create_offer(iceRestart)

    async def createAnswer(self) -> Description:
        self._assert_open()
        return await self._negotiation.create_answer()

    async def setLocalDescription(self, description: Description | None = None) -> None:
        self._assert_open()
        if description is None:
            if self.signalingState == "have-remote-offer":
                description = await self.createAnswer()
            else:
                description = await self.createOffer()
        self._negotiation.set_local(description)

    async def setRemoteDescription(self, description: Description) -> None:
        self._assert_open()
        await self._negotiation.set_remote(description)

    async def addIceCandidate(self, candidate: Candidate | None) -> None:
        """Add a trickled remote candidate (None = end); old-generation ones are ignored."""
        self._assert_open()
        await self._negotiation.add_ice_candidate(candidate)

    def restartIce(self) -> None:
        """Ask for an ICE restart: the next offer gets new credentials; negotiationneeded fires."""
        self._assert_open()
        self._policy.restart_ice()

    # --- hold and DTMF ------------------------------------------------------------------------

    @property
    def direction(self) -> str:
        """W3C ``transceiver.direction`` of the audio m-line (``inactive`` while holding)."""
        return self._media.direction

    @property
    def currentDirection(self) -> str | None:
        """W3C ``transceiver.currentDirection``: what the last completed exchange negotiated."""
        return self._media.directions.current

    def hold(self, on: bool, *, sound: bool = False) -> None:
        """Hold (offer ``inactive``, or ``sendonly`` with ``sound``) or resume (``sendrecv``).

        Like setting ``transceiver.direction``: negotiationneeded fires once
        signaling is stable, so a hold asked for during an ICE restart's
        negotiation goes into the next offer. ``hold`` fires with the flags.
        """
        self._assert_open()
        self._media.directions.hold_sound = sound
        if self._media.set_hold(on):
            self._policy.update_negotiation_needed()

    @property
    def holding(self) -> tuple[bool, bool]:
        """(we hold, the peer holds us) as the last ``hold`` event said."""
        flags = self._media.directions.flags
        return flags.local, flags.remote

    def insertDTMF(self, tones: str, duration: int = 100, interToneGap: int = 70) -> None:
        """W3C ``RTCDTMFSender.insertDTMF`` (ms): queue digits as RFC 4733 events.

        Raises ValueError for a bad digit or duration, InvalidStateError when
        the peer did not negotiate telephone-event or nothing is being sent.
        """
        self._assert_open()
        sender = self._media.dtmf_sender
        if sender is None:
            raise InvalidStateError("DTMF cannot be sent: no telephone-event negotiated (yet)")
        if not self._media.directions.sending:
            raise InvalidStateError("DTMF cannot be sent while the audio is not sent (on hold)")
        sender.insert(tones, duration, max(30, interToneGap))

    # --- stats and close ----------------------------------------------------------------------

    async def getStats(self) -> CallStats:
        return await self._media.stats(ice_rtt_ms=self._ice.rtt_ms, pair=self.selected_pair())

    async def close(self, timeout: float = 3.0) -> None:
        """Close everything; bounded, even with a dead TURN server (its allocation then expires)."""
        if self._states.closed:
            return
        self._states.closed = True
        self._states.set_signaling("closed")
        start_task = self._media.start_task
        self._emitter.cancel_all(keep=start_task)
        await self._media.stop(timeout)
        await self._ice.close(timeout=timeout)
        if start_task is not None and not start_task.done():
            start_task.cancel()
        self._states.set_ice("closed")
        self._states.update_connection()

    # --- parts --------------------------------------------------------------------------------

    def _start_media(self) -> None:
        """ICE connected: start DTLS and RTP (only the first time)."""
        remote, mid = self._negotiation.remote, self._negotiation.mid
        assert remote is not None and mid is not None
        self._media.start(remote, mid, self._states)

    def _expects_media(self) -> bool:
        """Whether the peer should be sending us packets now (not on hold, not sendonly)."""
        remote = self._negotiation.remote
        return (
            remote is not None
            and remote.direction in ("sendrecv", "sendonly")
            and self._media.direction in ("sendrecv", "recvonly")
        )

    def _restart_under_way(self) -> bool:
        return self._policy.requested or self._states.signaling != "stable" or self._ice.checking

    def _assert_open(self) -> None:
        if self._states.closed:
            raise InvalidStateError("the RTCPeerConnection is closed")
