"""Offer/answer: the signaling state machine, the four descriptions, and rollback.

JSEP as a browser runs it for one audio m-line: createOffer/createAnswer
build SDP for the right ICE generation, set*Description move the signaling
state and apply what the peer said, ``rollback`` (explicit, or implicit when a
remote offer meets our own, as the polite side of perfect negotiation does)
undoes a pending offer, and trickled candidates go to the generation they
belong to. A new ICE generation appears here when an offer carries a restart
(ours or the peer's); what happens to it next is ``generations``' business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import sdp as aiosdp
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from softphone.descriptions import Candidate, Description

from . import internals, sdpbuild
from .errors import InvalidStateError
from .generations import GenerationRunner, Generations
from .ice import IceGeneration, no_candidates_reason
from .media_start import Media
from .restart_policy import RestartPolicy
from .states import ConnectionStates

logger = logging.getLogger(__name__)


class Negotiation:
    """What the W3C offer/answer methods do, on the parts they need."""

    def __init__(
        self,
        generations: Generations,
        runner: GenerationRunner,
        policy: RestartPolicy,
        media: Media,
        states: ConnectionStates,
        on_restart_offer: Callable[[], None],
    ) -> None:
        self._gens = generations
        self._on_restart_offer = on_restart_offer
        self._transport = generations.transport
        self._runner = runner
        self._policy = policy
        self._media = media
        self._states = states
        self.current_local: Description | None = None
        self.pending_local: Description | None = None
        self.current_remote: Description | None = None
        self.pending_remote: Description | None = None
        self.mid: str | None = None
        self.remote: sdpbuild.RemoteAudio | None = None  # from the current remote description
        self._pending_remote_audio: sdpbuild.RemoteAudio | None = None
        self._rejected: list[aiosdp.MediaDescription] = []
        self._audio_index = 0
        self._role_set = False

    @property
    def _dtls_role(self) -> str:
        return internals.dtls_role(self._media.dtls)

    # --- creating descriptions --------------------------------------------------------------

    async def create_offer(self, ice_restart: bool) -> Description:
        states, gens = self._states, self._gens
        if states.signaling not in ("stable", "have-local-offer"):
            raise InvalidStateError(f"cannot create an offer in state {states.signaling}")
        restart = (ice_restart or self._policy.requested) and gens.negotiated is not None
        if restart:
            gen = gens.offered if gens.offered_is_fresh() else None
            if gen is None:
                if gens.offered is not None and gens.offered is not gens.negotiated:
                    self._runner.discard(gens.offered)
                gen = self._runner.restart_generation()
                self._policy.begin(gen, "local")
        else:
            gen = gens.negotiated or gens.offered or gens.new()
        gens.offered = gen
        await self._runner.gather(gen)
        self._assert_open()
        if gen is not gens.negotiated and gens.negotiated is not None and not gen.local_candidates:
            # Nothing gathered with the new configuration: offering it could only fail.
            # Keep the running generation and report why (without credentials).
            # Not retried: the same configuration would gather nothing again.
            self._runner.discard(gen)
            self._policy.abandon(gen, no_candidates_reason(gen))
            gen = gens.negotiated
            gens.offered = None

        if self.mid is None:
            self.mid = "0"
        codecs, extensions = self._media.offer_codecs(self.current_remote is not None)
        audio = self._media.local_audio(
            gen,
            mid=self.mid,
            codecs=codecs,
            extensions=extensions,
            dtls_role=self._dtls_role,
            direction=self._media.direction,
        )
        sdp = sdpbuild.build("offer", audio, rejected=self._rejected, audio_index=self._audio_index)
        return Description(type="offer", sdp=sdp)

    async def create_answer(self) -> Description:
        if self._states.signaling != "have-remote-offer":
            raise InvalidStateError(f"cannot create an answer in state {self._states.signaling}")
        remote = self._pending_remote_audio
        assert remote is not None and self.mid is not None
        gen = self._gens.answering or self._gens.negotiated
        assert gen is not None
        await self._runner.gather(gen)
        self._assert_open()
        role = self._dtls_role
        if role == "auto":
            role = _opposite_role(remote.dtls_role)
        audio = self._media.local_audio(
            gen,
            mid=self.mid,
            codecs=self._media.codecs,
            extensions=self._media.header_extensions,
            dtls_role=role,
            direction=sdpbuild.answer_direction(self._media.direction, remote.direction),
        )
        sdp = sdpbuild.build(
            "answer", audio, rejected=self._rejected, audio_index=self._audio_index
        )
        return Description(type="answer", sdp=sdp)

    # --- setting descriptions ---------------------------------------------------------------

    def set_local(self, description: Description) -> None:
        states = self._states
        if description.type == "rollback":
            self._rollback_local()
        elif description.type == "offer":
            if states.signaling not in ("stable", "have-local-offer"):
                raise InvalidStateError(f"cannot set a local offer in state {states.signaling}")
            gen = self._gens.of_local_description(description)
            self._gens.offered = gen
            if not self._role_set:
                gen.connection.ice_controlling = True
                self._transport.set_controlling(True)
            self.pending_local = description
            states.set_signaling("have-local-offer")
        elif description.type == "answer":
            if states.signaling != "have-remote-offer":
                raise InvalidStateError(f"cannot set a local answer in state {states.signaling}")
            gen = self._gens.of_local_description(description)
            remote = self._pending_remote_audio
            assert remote is not None
            _, mine = sdpbuild.parse(description.sdp, "answer")
            if self._dtls_role == "auto":
                internals.set_dtls_role(self._media.dtls, mine.dtls_role)
            self._role_set = True
            self._complete(description, self.pending_remote, remote)
            self._negotiated(gen)
        else:
            raise InvalidStateError(f"unsupported local description type {description.type!r}")

    async def set_remote(self, description: Description) -> None:
        signaling = self._states.signaling
        if description.type == "rollback":
            self._rollback_remote()
        elif description.type == "offer":
            if signaling not in ("stable", "have-remote-offer", "have-local-offer"):
                raise InvalidStateError(f"cannot set a remote offer in state {signaling}")
            parsed, remote = sdpbuild.parse(description.sdp, "offer")
            codecs = self._media.common_codecs(remote, "offer")
            if signaling == "have-local-offer":
                self._rollback_local()  # implicit rollback (perfect negotiation, polite side)
            elif signaling == "have-remote-offer":
                self._rollback_remote()
            await self._apply_remote_offer(description, parsed, remote, codecs)
        elif description.type == "answer":
            if signaling != "have-local-offer":
                raise InvalidStateError(f"cannot set a remote answer in state {signaling}")
            _, remote = sdpbuild.parse(description.sdp, "answer")
            if remote.mid != self.mid:
                raise ValueError(
                    f"invalid SDP answer: audio mid {remote.mid!r} does not match "
                    f"offer {self.mid!r}"
                )
            codecs = self._media.common_codecs(remote, "answer")
            await self._apply_remote_answer(description, remote, codecs)
        else:
            raise InvalidStateError(f"unsupported remote description type {description.type!r}")

    async def _apply_remote_offer(
        self,
        description: Description,
        parsed: aiosdp.SessionDescription,
        remote: sdpbuild.RemoteAudio,
        codecs: list[RTCRtpCodecParameters],
    ) -> None:
        gens = self._gens
        if self.mid is not None and remote.mid != self.mid and gens.negotiated is not None:
            raise ValueError(
                f"invalid SDP offer: audio mid changed from {self.mid!r} to {remote.mid!r}"
            )
        current = self.remote
        restart = current is not None and (
            remote.ufrag != current.ufrag or remote.pwd != current.pwd
        )
        if gens.negotiated is None:
            gen = gens.answering or gens.new()
            if not self._role_set:
                gen.connection.ice_controlling = remote.ice_lite
                self._transport.set_controlling(remote.ice_lite)
        elif restart:
            self._on_restart_offer()  # may fail over first, so gathering uses the fallback
            gen = self._runner.restart_generation()
            self._policy.begin(gen, "remote")
        else:
            gen = gens.negotiated
        gens.answering = gen if gen is not gens.negotiated else None
        await self._apply_remote_ice(gen, remote)
        self.mid = remote.mid
        self._audio_index = remote.index
        self._rejected = [m for i, m in enumerate(parsed.media) if i != remote.index]
        self._media.adopt_codecs(codecs, remote)
        self.pending_remote = description
        self._pending_remote_audio = remote
        self._states.set_signaling("have-remote-offer")
        self._media.expect_track(remote)

    async def _apply_remote_answer(
        self,
        description: Description,
        remote: sdpbuild.RemoteAudio,
        codecs: list[RTCRtpCodecParameters],
    ) -> None:
        gens = self._gens
        gen = gens.offered
        assert gen is not None
        if (
            gen is not gens.negotiated
            and gens.negotiated is not None
            and self.remote is not None
            and (remote.ufrag, remote.pwd) == (self.remote.ufrag, self.remote.pwd)
        ):
            # The peer answered our restart with its old credentials: it does not
            # support ICE restart (plain aiortc). Keep the running generation; asking
            # again would get the same answer, so the request ends here.
            self._runner.discard(gen)
            self._policy.abandon(
                gen,
                "the peer answered without new ICE credentials (it does not support ICE restart)",
            )
            gen = gens.negotiated
        await self._apply_remote_ice(gen, remote)
        if self._dtls_role == "auto":
            internals.set_dtls_role(self._media.dtls, _opposite_role(remote.dtls_role))
        self._role_set = True
        self._media.adopt_codecs(codecs, remote)
        self._complete(self.pending_local, description, remote)
        self._media.expect_track(remote)
        self._negotiated(gen)

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

    def _complete(
        self, local: Description | None, remote: Description | None, audio: sdpbuild.RemoteAudio
    ) -> None:
        """An answer was applied: the pending descriptions become current, signaling stable."""
        self.current_local, self.current_remote = local, remote
        self.pending_local = self.pending_remote = None
        self.remote = audio
        self._pending_remote_audio = None
        self._gens.answering = None
        if local is not None and remote is not None:
            self._media.negotiated(
                local.type, sdpbuild.audio_direction(local.sdp), remote.type, audio.direction
            )
        self._states.set_signaling("stable")

    def _negotiated(self, gen: IceGeneration) -> None:
        """An offer/answer exchange completed with ``gen`` as our generation."""
        gens = self._gens
        previous = gens.negotiated
        gens.negotiated = gen
        gens.offered = None
        gens.answering = None
        self._policy.negotiated(gen, previous)
        if gen.state in ("gathered", "new", "gathering"):
            answerer = self.current_local is not None and self.current_local.type == "answer"
            self._runner.spawn_run(gen, restart=previous is not None, answerer=answerer)
        self._policy.settled()

    # --- rollback ---------------------------------------------------------------------------

    def _rollback_local(self) -> None:
        if self._states.signaling != "have-local-offer":
            raise InvalidStateError(
                f"cannot roll back a local offer in state {self._states.signaling}"
            )
        gen = self._gens.offered
        self.pending_local = None
        self._gens.offered = None
        if gen is not None and gen is not self._gens.negotiated:
            self._runner.discard(gen)
            self._policy.rolled_back(gen)
        self._back_to_stable()

    def _rollback_remote(self) -> None:
        if self._states.signaling != "have-remote-offer":
            raise InvalidStateError(
                f"cannot roll back a remote offer in state {self._states.signaling}"
            )
        gen = self._gens.answering
        self.pending_remote = None
        self._pending_remote_audio = None
        self._gens.answering = None
        if gen is not None and gen is not self._gens.negotiated:
            self._runner.discard(gen)
        self._back_to_stable()

    def _back_to_stable(self) -> None:
        """After a rollback: stable again, and a remembered restart asks to be negotiated."""
        self._states.set_signaling("stable")
        self._policy.settled()

    # --- trickled candidates ----------------------------------------------------------------

    async def add_ice_candidate(self, candidate: Candidate | None) -> None:
        gens = self._gens
        if candidate is None:
            gen = gens.newest_with_remote()
            restarting = gen is not None and self._policy.is_restarting(gen)
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
            gen = gens.newest_with_remote(candidate.username_fragment)
            if gen is not None:
                await gen.add_remote_candidate(None)
            return
        parsed = sdpbuild.parse_candidate(candidate.candidate)
        if candidate.sdp_mid is None and candidate.sdp_mline_index is None:
            raise ValueError("an ICE candidate needs sdpMid or sdpMLineIndex")
        if self.pending_remote is None and self.current_remote is None:
            raise InvalidStateError("addIceCandidate before setRemoteDescription")
        if candidate.sdp_mid is not None:
            if candidate.sdp_mid != self.mid:
                return  # a rejected m-line (bundled away)
        elif candidate.sdp_mline_index != self._audio_index:
            return
        gen = gens.newest_with_remote(candidate.username_fragment)
        if gen is None:
            logger.debug("ignoring a candidate of an old ICE generation")
            return
        await gen.add_remote_candidate(parsed)

    def _assert_open(self) -> None:
        if self._states.closed:
            raise InvalidStateError("the RTCPeerConnection is closed")


def _opposite_role(remote: str) -> str:
    """Our DTLS role facing the peer's (aiortc's names); ``client`` when it lets us choose."""
    return "server" if remote == "client" else "client"
