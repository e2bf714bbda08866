"""What each key does: the ``action_*`` methods that :mod:`softphone.ui.keymap` binds.

An action either does its work or refuses with a "Not now" notice that says
why (:meth:`~softphone.ui.base.SoftphoneBase.refuse`); it never raises. The
modal screens are imported in the action that pushes them: none of them is
on the first frame, so the app does not pay for them at start.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from softphone.ui.base import SoftphoneBase
from softphone.ui.themes import next_theme

if TYPE_CHECKING:
    from softphone.device_list import AudioDevice
    from softphone.ui.screens.device_picker import Choice


def no_regions_hint() -> str:
    """The one line that says how to get regions to switch to."""
    import shutil

    if shutil.which("turnserver") is None:
        return (
            "no regions: install coturn (apt-get install coturn) and start again for two "
            "local demo regions, or add [[regions]] to the config file"
        )
    return "no regions configured: add [[regions]] to the config file"


class Actions(SoftphoneBase):
    """The key actions; each names a command or a screen, the session decides the rest."""

    def action_dial(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        if len(view.calls) >= view.max_calls:
            with_whom = ", ".join(call.remote for call in view.calls)
            self.refuse(f"already in a call with {with_whom}")
            return
        from softphone.ui.screens.dial import DialScreen

        online = sorted(view.online - {view.user or ""})
        self.push_screen(DialScreen(online, cursor_blink=self.cursor_blink), self._dial_chosen)

    def _dial_chosen(self, name: str | None) -> None:
        if name:
            self.dial(name)

    def dial(self, name: str) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import Dial

        self.send(Dial(name))

    def action_answer(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import Answer

        self.send(Answer())

    def action_decline(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import DeclineCall

        self.send(DeclineCall())

    def action_hangup(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import Hangup

        self.send(Hangup())

    def action_mute(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import Mute

        view = self._view_or_refuse()
        if view is not None:
            self.send(Mute(not view.muted))

    def action_hold(self) -> None:
        """Hold, or resume when we hold (the session refuses with no call)."""
        view = self._view_or_refuse()
        if view is not None:
            from softphone.commands import Hold

            held = view.call is not None and view.call.held
            self.send(Hold(not held))

    def action_dtmf(self, digit: str) -> None:
        """A keypad key: its DTMF digit, during a call only (silently nothing otherwise)."""
        view = self._view_or_refuse()
        if view is not None and view.call is not None and view.call.state == "active":
            from softphone.commands import Dtmf

            self.send(Dtmf(digit))

    def action_switch_call(self) -> None:
        from softphone.commands import SwitchCall

        self.send(SwitchCall())

    def action_toggle_dnd(self) -> None:
        from softphone.commands import DoNotDisturb

        view = self._view_or_refuse()
        if view is not None:
            self.send(DoNotDisturb(not view.dnd))

    def action_contacts(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        from softphone.ui.screens.contacts import ContactsScreen

        online = view.online - {view.user or ""}
        screen = ContactsScreen(view.contacts, online, view.contact_labels)
        self.push_screen(screen, self._dial_chosen)

    def action_history(self) -> None:
        if self._view_or_refuse() is None or self.session is None:
            return
        from softphone.ui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen(self.session.call_history()), self._dial_chosen)

    def action_pick_region(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        regions = self.regions()
        from softphone.ui.screens.region_picker import RegionPickerScreen

        choices = [(r.name, len(r.servers)) for r in regions]
        probing = any(count for _, count in choices)
        if probing:
            from softphone.commands import ProbeRegions

            self.send(ProbeRegions())  # figures fill in as regions answer; never waited for
        picker = RegionPickerScreen(
            choices, view.region, self.region_probes, probing=probing, hint=no_regions_hint()
        )
        self.push_screen(picker, self._region_chosen)

    def _region_chosen(self, name: str | None) -> None:
        if name:
            self.switch_region(name)

    def action_next_region(self) -> None:
        view = self._view_or_refuse()
        if view is None:
            return
        names = self.region_names()
        if not names:
            self.refuse(no_regions_hint())
            return
        if len(names) < 2:
            self.refuse("there is no other region to switch to")
            return
        index = names.index(view.region) if view.region in names else -1
        self.switch_region(names[(index + 1) % len(names)])

    def switch_region(self, name: str) -> None:
        """Start a region switch and show its progress step by step."""
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import SwitchRegion

        view = self._view_or_refuse()
        if view is None:
            return
        in_call = view.call is not None and view.call.has_media
        progress = self.ice_panel.progress
        progress.begin_region(name, self.clock(), in_call=in_call)
        before = view.region

        def refused(message: str) -> None:
            where = f"; still on region {before}" if before else ""
            progress.fail(message + where, self.clock())

        self.send(SwitchRegion(name), refused)

    def action_restart_ice(self) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.commands import RestartIce

        view = self._view_or_refuse()
        if view is None:
            return
        if view.call is None or not view.call.has_media:
            self.refuse("there is no call whose ICE could restart")
            return
        progress = self.ice_panel.progress
        progress.begin_restart(self.clock())
        self.send(RestartIce(), lambda message: progress.fail(message, self.clock()))

    def action_pick_device(self) -> None:
        if self._view_or_refuse() is not None:
            self._open_device_picker()

    @work(group="devices", exclusive=True, exit_on_error=False)
    async def _open_device_picker(self) -> None:
        """List the devices on a thread (loading PortAudio may take a moment), then ask."""
        session = self.session
        if session is None:
            return
        devices: list[AudioDevice] = []
        problem = None
        try:
            devices = await asyncio.to_thread(session.audio_devices)
        except Exception as exc:  # DeviceUnavailable: no PortAudio; the built-ins still work
            problem = f"no devices listed: {exc}"
        from softphone.ui.screens.device_picker import DevicePickerScreen

        audio_in, audio_out = session.audio_choice()
        self.push_screen(
            DevicePickerScreen(devices, {"input": audio_in, "output": audio_out}, problem),
            self._device_chosen,
        )

    def _device_chosen(self, choice: Choice | None) -> None:
        if choice is not None:
            from softphone.commands import SwitchDevice

            kind, spec = choice
            self.send(SwitchDevice(kind, spec))

    def action_copy(self) -> None:
        text = self.connection_panel.copy_text()
        if text is None:
            self.refuse("nothing to copy yet: no selected pair or stats")
            return
        self.last_copied = text
        self.copy_to_clipboard(text)
        self.notify("selected pair and stats copied", timeout=2)

    def action_toggle_log(self) -> None:
        log = self.event_log
        log.display = not log.display

    def action_filter_log(self) -> None:
        log = self.event_log
        log.display = True
        log.open_filter()

    def action_cycle_theme(self) -> None:
        self.set_theme(next_theme(self.theme))

    def set_theme(self, name: str) -> None:
        self.theme = name
        self.notify(f"theme: {name}", timeout=2)

    def action_help(self) -> None:
        from softphone.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        call = None if self.session is None else self.session.view.call
        if call is not None:
            from softphone.ui.screens.confirm import ConfirmScreen

            question = f"A call with {call.remote} is in progress.\nHang up and quit?"
            self.push_screen(ConfirmScreen(question, "Quit"), self._quit_confirmed)
            return
        await self._quit()

    async def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            await self._quit()

    async def _quit(self) -> None:
        await self._close_session()
        self.exit(0)
