"""What each call sends and plays: the user's audio choice, opened per call, switched mid-call.

Every call of the call table gets its own :class:`CallAudio`: a source (a
:class:`~softphone.media.MutableSource`, so it can be muted or held without
renegotiating) and a sink (a :class:`SwitchableSink`, whose arrival statistics
feed ``stats``). The inside of both can be replaced while the call runs, so
picking another microphone or speaker touches neither the peer connection
nor SDP.

A device switch (:meth:`CallMedia.switch`) changes the choice for every new
call and applies at once to the active call only: a held call keeps what it
had, its received audio discarded (:meth:`CallAudio.hold`) so it never plays
over the active one, and is brought to the choice when it is resumed
(:meth:`CallMedia.follow`). A device that disappears mid-call (unplugged, its
PulseAudio sink unloaded) is replaced by silence or a null sink in each call
that used it, with one notice, and the calls go on. A fallback at open (no
microphone: silence; no speaker: discard) is said once per session, not once
per call.

**(1.2)** Between calls, when asked (:meth:`CallMedia.monitor`), the input is
read by an :class:`~softphone.media.monitor.InputMonitor` so its level can be
shown before dialing; a call releases it before opening its own source, and
it comes back when the last call ends. A missing device found by the monitor
gives the same notice a call would, and the call does not give it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from softphone import events as ev
from softphone.commands import CommandRefused
from softphone.device_list import AudioDevice, DeviceKind, DeviceUnavailable, list_devices
from softphone.media import MediaSpecError, MutableSource, create_sink, create_source
from softphone.media.devices import MicrophoneSource, SpeakerSink, rescan_if_idle
from softphone.media.monitor import InputMonitor
from softphone.media.sinks import ConsumingSink, NullSink, SwitchableSink
from softphone.media.sources import SilenceSource
from softphone.views import MicView

logger = logging.getLogger("softphone.audio")


@dataclass
class MediaChoice:
    """What to send and where to play what is received (``--audio-in/--audio-out``)."""

    audio_in: str = "default"
    audio_out: str = "default"


@dataclass(eq=False)
class CallAudio:
    """One call's source and sink, the specs they were opened from, and what they are."""

    call_id: str
    source: MutableSource
    sink: SwitchableSink
    audio_in: str = "default"
    audio_out: str = "default"
    input_description: str = ""
    output_description: str = ""

    def hold(self, on: bool) -> None:
        """A held call's received audio is counted but not played: the active call's is."""
        self.sink.paused = on


class CallMedia:
    """Opens each call's :class:`CallAudio` from the choice; switches and rescues devices."""

    def __init__(self, choice: MediaChoice, emit: Callable[[ev.Event], None]) -> None:
        self.choice = choice
        self._emit = emit
        self._notices_given: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        #: What the last call's source was (``SourceResult.description``), and whether
        #: it fell back to silence for want of a device: the Call panel's Mic row.
        self.mic: str | None = None
        self.mic_fallback = False
        #: (1.2) The input read between calls while ``monitor_wanted``; each open (or
        #: close) bumps ``_monitor_turn`` so a monitor still opening knows it is late.
        self.monitor_wanted = False
        self._monitor: InputMonitor | None = None
        self._monitor_turn = 0

    def open(self, call_id: str, muted: bool) -> CallAudio | None:
        """A new call's audio; a bad audio spec is an ``error`` event and None."""
        self.close_monitor()  # the call opens the device itself: one stream, not two
        try:
            source_result = create_source(self.choice.audio_in)
            try:
                sink_result = create_sink(self.choice.audio_out)
            except MediaSpecError:
                source_result.track.stop()  # release the microphone the refused call opened
                raise
        except MediaSpecError as exc:
            self._emit(ev.ErrorReported(code="bad-audio", message=str(exc)))
            return None
        for notice in (source_result.notice, sink_result.notice):
            self._say_once(notice)
        self.mic = source_result.description
        self.mic_fallback = source_result.notice is not None
        inner = sink_result.sink
        assert isinstance(inner, ConsumingSink)
        audio = CallAudio(
            call_id=call_id,
            source=MutableSource(source_result.track, muted=muted),
            sink=SwitchableSink(inner),
            audio_in=self.choice.audio_in,
            audio_out=self.choice.audio_out,
            input_description=source_result.description,
            output_description=sink_result.description,
        )
        self._watch(audio, source_result.track, "input")
        self._watch(audio, inner, "output")
        return audio

    def mic_view(self, source: MutableSource | None) -> MicView:
        """The Mic row's view: the last source opened and its fallback; ``source``'s level
        (the active call's), else the monitor's between calls."""
        monitor = self._monitor
        if source is None and monitor is not None:
            level = monitor.level
        else:
            level = None if source is None else source.level
        return MicView(
            spec=self.choice.audio_in,
            source=self.mic,
            fallback=self.mic_fallback,
            level=level,
        )

    # --- the monitor between calls (1.2) ---------------------------------------------

    async def monitor(self, on: bool, idle: bool) -> None:
        """Monitor the input from now on while no call is up (now, if ``idle``), or stop.

        A bad ``--audio-in`` is refused as a call would refuse it.
        """
        self.monitor_wanted = on
        if not on:
            self.close_monitor()
        elif idle:
            try:
                await self._open_monitor()
            except MediaSpecError as exc:
                raise CommandRefused("bad-audio", str(exc)) from exc

    async def resume_monitor(self) -> None:
        """The monitor again after a call, if wanted; a bad spec the calls have reported."""
        try:
            await self._open_monitor()
        except MediaSpecError as exc:
            logger.info("input not monitored: %s", exc)

    async def _open_monitor(self) -> None:
        """Open the monitor if it is wanted and not open; MediaSpecError for a bad spec."""
        if not self.monitor_wanted or self._monitor is not None:
            return
        self._monitor_turn += 1
        turn = self._monitor_turn
        result = await asyncio.to_thread(create_source, self.choice.audio_in)  # a device open
        if turn != self._monitor_turn or not self.monitor_wanted:
            result.track.stop()  # a call (or an off) came first: it owns the device now
            return
        self._say_once(result.notice)
        self.mic, self.mic_fallback = result.description, result.notice is not None
        self._monitor = InputMonitor(result.track)

    def close_monitor(self) -> None:
        """Release the monitored input (a call is opening, the session closes, or off)."""
        self._monitor_turn += 1
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.close()

    @property
    def monitoring(self) -> bool:
        return self._monitor is not None

    def devices(self) -> list[AudioDevice]:
        """The devices there are now; DeviceUnavailable when PortAudio cannot be loaded.

        Runs on a thread (the UI's picker): rescanning re-initialises PortAudio.
        """
        rescan_if_idle()
        return list_devices()

    async def switch(self, kind: DeviceKind, spec: str, active: CallAudio | None) -> None:
        """Use ``spec`` for ``kind`` from now on: in the ``active`` call at once, and every next."""
        try:
            if active is None:
                description = await self._try(kind, spec)
            else:
                description = await self._replace(active, kind, spec)
        except (MediaSpecError, DeviceUnavailable) as exc:
            raise CommandRefused("bad-audio", str(exc)) from exc
        if kind == "input":
            self.choice.audio_in = spec
            self.mic, self.mic_fallback = description, False
            if active is None and self.monitoring:  # the meter follows the new input
                self.close_monitor()
                await self.resume_monitor()  # just opened by _try: it works
        else:
            self.choice.audio_out = spec
        call = None if active is None else active.call_id
        self._emit(
            ev.AudioDeviceChanged(kind=kind, device=description, reason="switched", call=call)
        )

    async def follow(self, audio: CallAudio) -> None:
        """A call that becomes active again uses the devices chosen while it was held."""
        wanted: tuple[tuple[DeviceKind, str, str], ...] = (
            ("input", self.choice.audio_in, audio.audio_in),
            ("output", self.choice.audio_out, audio.audio_out),
        )
        for kind, spec, used in wanted:
            if spec == used:
                continue
            try:
                description = await self._replace(audio, kind, spec)
            except (MediaSpecError, DeviceUnavailable, CommandRefused) as exc:
                message = f"call {audio.call_id} keeps its {kind} device: {exc}"
                logger.warning("%s", message)
                self._emit(ev.Notice(message=message))
                continue
            self._emit(
                ev.AudioDeviceChanged(
                    kind=kind, device=description, reason="switched", call=audio.call_id
                )
            )

    # --- opening and replacing --------------------------------------------------------

    async def _try(self, kind: DeviceKind, spec: str) -> str:
        """Open ``spec`` (refused like a call would be) and release it: no call to use it."""
        opened, description = await self._open(kind, spec)
        if isinstance(opened, ConsumingSink):
            await opened.stop()
        else:
            opened.stop()
        return description

    async def _replace(self, audio: CallAudio, kind: DeviceKind, spec: str) -> str:
        """Put ``spec`` inside ``audio``'s source or sink; returns what it is."""
        opened, description = await self._open(kind, spec)
        if isinstance(opened, ConsumingSink):
            await audio.sink.replace(opened)
            audio.audio_out, audio.output_description = spec, description
        else:
            audio.source.replace(opened)
            audio.audio_in, audio.input_description = spec, description
        self._watch(audio, opened, kind)
        return description

    async def _open(self, kind: DeviceKind, spec: str) -> tuple[Any, str]:
        """A new source track or sink for ``spec`` and what it is; a fallback is refused."""
        # Opening a device can take a PortAudio round trip: not on the loop that draws.
        if kind == "input":
            source = await asyncio.to_thread(create_source, spec)
            if source.notice:
                source.track.stop()
                raise CommandRefused("bad-audio", source.notice)
            return source.track, source.description
        sink = await asyncio.to_thread(create_sink, spec)
        new = sink.sink
        assert isinstance(new, ConsumingSink)
        if sink.notice:
            await new.stop()
            raise CommandRefused("bad-audio", sink.notice)
        return new, sink.description

    # --- a device that disappears -------------------------------------------------------

    def _watch(self, audio: CallAudio, device: Any, kind: DeviceKind) -> None:
        if isinstance(device, MicrophoneSource | SpeakerSink):
            self._notices_given.discard(f"lost:{kind}:{device.device_name}")
            device.watch.on_lost = lambda: self._lost(audio, device, kind)

    def _lost(
        self, audio: CallAudio, device: MicrophoneSource | SpeakerSink, kind: DeviceKind
    ) -> None:
        """A device stopped by itself mid-call: silence or a null sink instead, said once."""
        name = device.device_name
        if kind == "input":
            if audio.source.source is not device:
                return
            audio.source.replace(SilenceSource())
            audio.input_description = description = "silence (microphone lost)"
            message = f'the microphone "{name}" disappeared: sending silence; the call goes on'
        else:
            if audio.sink.output is not device:
                return
            self._spawn(audio.sink.replace(NullSink()))
            audio.output_description = description = "null (speaker lost)"
            message = (
                f'the speaker "{name}" disappeared: discarding received audio; the call goes on'
            )
        key = f"lost:{kind}:{name}"  # every call on that device loses it: one notice for all
        if key not in self._notices_given:
            self._notices_given.add(key)
            logger.warning("%s", message)
            self._emit(ev.Notice(message=message))
        self._emit(
            ev.AudioDeviceChanged(kind=kind, device=description, reason="lost", call=audio.call_id)
        )

    def _say_once(self, notice: str | None) -> None:
        """A fallback notice, once per session however many calls (or monitors) meet it."""
        if notice and notice not in self._notices_given:
            self._notices_given.add(notice)
            logger.warning("%s", notice)
            self._emit(ev.Notice(message=notice))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
