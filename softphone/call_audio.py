"""The session's audio: what a call sends and plays, switched mid-call, rescued when a device goes.

The session asks this module for a new call's source and sink; both are
wrappers (:class:`~softphone.media.MutableSource`, :class:`SwitchableSink`)
whose inside can be replaced while the call runs, so picking another
microphone or speaker touches neither the peer connection nor SDP. A device
that disappears mid-call (unplugged, its PulseAudio sink unloaded) is replaced
by silence or a null sink, with one notice, and the call goes on.
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
from softphone.media.sinks import ConsumingSink, NullSink, SwitchableSink
from softphone.media.sources import SilenceSource

logger = logging.getLogger("softphone.audio")


@dataclass
class MediaChoice:
    """What to send and where to play what is received (``--audio-in/--audio-out``)."""

    audio_in: str = "default"
    audio_out: str = "default"


class CallAudio:
    """The media choice, and the live call's source and sink while there is one."""

    def __init__(self, media: MediaChoice, emit: Callable[[ev.Event], None]) -> None:
        self.media = media
        self._emit = emit
        self._notices_given: set[str] = set()
        self.source: MutableSource | None = None
        self.sink: SwitchableSink | None = None
        self.input_description = ""
        self.output_description = ""
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self, muted: bool) -> tuple[MutableSource, SwitchableSink]:
        """A new call's source and sink; raises MediaSpecError for a spec that cannot be used."""
        source_result = create_source(self.media.audio_in)
        try:
            sink_result = create_sink(self.media.audio_out)
        except MediaSpecError:
            source_result.track.stop()  # release the microphone the refused call opened
            raise
        for notice in (source_result.notice, sink_result.notice):
            if notice and notice not in self._notices_given:
                self._notices_given.add(notice)
                logger.warning("%s", notice)
                self._emit(ev.Notice(message=notice))
        source = MutableSource(source_result.track)
        source.muted = muted
        inner = sink_result.sink
        assert isinstance(inner, ConsumingSink)
        self.source = source
        self.sink = SwitchableSink(inner)
        self.input_description = source_result.description
        self.output_description = sink_result.description
        self._watch(source_result.track, "input")
        self._watch(inner, "output")
        return source, self.sink

    def closed(self) -> None:
        """The call ended: its media is no longer ours to switch."""
        self.source = None
        self.sink = None

    def devices(self) -> list[AudioDevice]:
        """The devices there are now; DeviceUnavailable when PortAudio cannot be loaded.

        Runs on a thread (the UI's picker): rescanning re-initialises PortAudio.
        """
        rescan_if_idle()
        return list_devices()

    async def switch(self, kind: DeviceKind, spec: str, call: str | None) -> None:
        """Use ``spec`` for ``kind`` from now on: the live call at once, and every next call."""
        try:
            if kind == "input":
                await self._switch_input(spec, call)
            else:
                await self._switch_output(spec, call)
        except (MediaSpecError, DeviceUnavailable) as exc:
            raise CommandRefused("bad-audio", str(exc)) from exc

    async def _switch_input(self, spec: str, call: str | None) -> None:
        # Opening a device can take a PortAudio round trip: not on the loop that draws.
        result = await asyncio.to_thread(create_source, spec)
        if result.notice:
            result.track.stop()
            raise CommandRefused("bad-audio", result.notice)
        self.media.audio_in = spec
        live = self.source
        if live is None or call is None:
            result.track.stop()
        else:
            live.replace(result.track)
            self._watch(result.track, "input")
        self.input_description = result.description
        self._emit(
            ev.AudioDeviceChanged(
                kind="input", device=result.description, reason="switched", call=call
            )
        )

    async def _switch_output(self, spec: str, call: str | None) -> None:
        result = await asyncio.to_thread(create_sink, spec)
        new = result.sink
        assert isinstance(new, ConsumingSink)
        if result.notice:
            await new.stop()
            raise CommandRefused("bad-audio", result.notice)
        self.media.audio_out = spec
        live = self.sink
        if live is None or call is None:
            await new.stop()
        else:
            await live.replace(new)
            self._watch(new, "output")
        self.output_description = result.description
        self._emit(
            ev.AudioDeviceChanged(
                kind="output", device=result.description, reason="switched", call=call
            )
        )

    def _watch(self, device: Any, kind: DeviceKind) -> None:
        if isinstance(device, MicrophoneSource | SpeakerSink):
            device.watch.on_lost = lambda: self._lost(device, kind)

    def _lost(self, device: MicrophoneSource | SpeakerSink, kind: DeviceKind) -> None:
        """A device stopped by itself mid-call: silence or a null sink instead, said once."""
        name = device.device_name
        if kind == "input":
            if self.source is None or self.source.source is not device:
                return
            self.source.replace(SilenceSource())
            self.input_description = "silence (microphone lost)"
            message = f'the microphone "{name}" disappeared: sending silence; the call goes on'
        else:
            sink = self.sink
            if sink is None or sink.output is not device:
                return
            self._spawn(sink.replace(NullSink()))
            self.output_description = "null (speaker lost)"
            message = (
                f'the speaker "{name}" disappeared: discarding received audio; the call goes on'
            )
        logger.warning("%s", message)
        self._emit(ev.Notice(message=message))
        self._emit(
            ev.AudioDeviceChanged(
                kind=kind,
                device=self.input_description if kind == "input" else self.output_description,
                reason="lost",
            )
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
