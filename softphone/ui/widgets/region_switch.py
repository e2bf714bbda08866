"""Step-by-step progress of a region switch or an ICE restart.

The steps are the ones the W3C flow goes through (setConfiguration,
restartIce, negotiationneeded, offer, answer, checks, new pair); each is
ticked off when the session's event for it arrives, with the time since the
key was pressed. A step whose event never came but whose successor did is
shown as passed without a time: the flow cannot skip it, the event was just
not reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from textual.content import Content
from textual.markup import escape
from textual.reactive import reactive
from textual.widget import Widget

from softphone.ui.clock import format_elapsed_ms
from softphone.ui.wrapping import wrap_items

if TYPE_CHECKING:
    from softphone.events import (
        Event,
    )

StepState = Literal["pending", "done", "failed"]

SET_CONFIGURATION_ERRORS = {
    "SyntaxError",
    "InvalidAccessError",
    "InvalidModificationError",
    "InvalidStateError",
}


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    state: StepState = "pending"
    at: float | None = None


@dataclass(frozen=True)
class Switch:
    title: str
    started: float
    steps: tuple[Step, ...]
    outcome: str | None = None  # None while running, else "done" or "failed"
    finished: float | None = None
    message: str = ""


def _steps(with_configuration: bool) -> tuple[Step, ...]:
    steps = [
        Step("restart", "restartIce"),
        Step("negotiationneeded", "negotiationneeded"),
        Step("offer", "offer sent"),
        Step("answer", "answer received"),
        Step("checking", "ICE checking"),
        Step("pair", "new pair selected"),
    ]
    if with_configuration:
        steps.insert(0, Step("configuration", "setConfiguration"))
    return tuple(steps)


class SwitchProgress(Widget):
    DEFAULT_CSS = """
    SwitchProgress { height: auto; display: none; }
    SwitchProgress.-shown { display: block; }
    """

    switch: reactive[Switch | None] = reactive(None, layout=True)
    target: str | None = None
    in_call: bool = False

    def watch_switch(self, switch: Switch | None) -> None:
        self.set_class(switch is not None, "-shown")

    # --- starting -------------------------------------------------------------

    def begin_region(self, name: str, at: float, *, in_call: bool) -> None:
        self.target = name
        self.in_call = in_call
        if in_call:
            steps = _steps(with_configuration=True)
        else:
            steps = (Step("configuration", "setConfiguration"),)
        self.switch = Switch(f"Region switch to {name}:", at, steps)

    def begin_restart(self, at: float) -> None:
        self.target = None
        self.in_call = True
        self.switch = Switch("ICE restart:", at, _steps(with_configuration=False))

    def fail(self, message: str, at: float) -> None:
        switch = self.switch
        if switch is None or switch.outcome is not None:
            return
        steps = list(switch.steps)
        for i, step in enumerate(steps):
            if step.state == "pending":
                steps[i] = replace(step, state="failed", at=at)
                break
        self.switch = replace(
            switch, steps=tuple(steps), outcome="failed", finished=at, message=message
        )

    # --- events -------------------------------------------------------------------

    def handle(self, event: Event, at: float) -> None:
        # Loaded after the first frame (tests/test_ui_start.py checks).
        from softphone.events import (
            AnswerReceived,
            CallStateChanged,
            ConfigurationSet,
            ErrorReported,
            IceConnectionStateChanged,
            IceRestartBegun,
            IceRestartChecking,
            IceRestartDone,
            IceRestartFailed,
            NegotiationNeeded,
            OfferSent,
            RegionChanged,
            SelectedPairChanged,
        )

        switch = self.switch
        if switch is None or switch.outcome is not None:
            return
        match event:
            case ConfigurationSet():
                self._tick("configuration", at)
            case RegionChanged(name=name) if not self.in_call and name == self.target:
                self._tick("configuration", at)
                self._finish(at, "no call: the servers are used by the next call")
            case ErrorReported(code=code, message=message):
                if code in SET_CONFIGURATION_ERRORS or "setConfiguration" in message:
                    self.fail(f"{code}: {message}", at)
            case IceRestartBegun():
                self._tick("restart", at)
            case IceRestartChecking() | IceConnectionStateChanged(state="checking"):
                self._tick("checking", at)
            case IceRestartDone():
                self._finish(at)
            case IceRestartFailed(reason=reason, will_retry=will_retry) if not will_retry:
                # a failed attempt that will be retried is not the end of the switch
                self.fail(f"ICE restart failed: {reason}", at)
            case IceConnectionStateChanged(state="failed"):
                self.fail("ICE connection failed", at)
            case NegotiationNeeded():
                self._tick("negotiationneeded", at)
            case OfferSent():
                self._tick("offer", at)
            case AnswerReceived():
                self._tick("answer", at)
            case SelectedPairChanged() if self._is_done("offer") or self._is_done("answer"):
                self._tick("pair", at)
                self._finish(at)
            case CallStateChanged(state="ended"):
                self.fail("the call ended", at)

    def _is_done(self, key: str) -> bool:
        switch = self.switch
        return switch is not None and any(s.key == key and s.state == "done" for s in switch.steps)

    def _tick(self, key: str, at: float) -> None:
        switch = self.switch
        if switch is None:
            return
        steps = list(switch.steps)
        index = next((i for i, s in enumerate(steps) if s.key == key), None)
        if index is None or steps[index].state == "done":
            return
        steps[index] = replace(steps[index], state="done", at=at)
        for i in range(index):
            if steps[i].state == "pending":
                steps[i] = replace(steps[i], state="done")
        self.switch = replace(switch, steps=tuple(steps))

    def _finish(self, at: float, message: str = "") -> None:
        switch = self.switch
        if switch is None:
            return
        self.switch = replace(switch, outcome="done", finished=at, message=message)

    # --- rendering -------------------------------------------------------------

    def render(self) -> Content:
        switch = self.switch
        if switch is None:
            return Content("")
        items: list[tuple[str, str]] = []
        for step in switch.steps:
            label = step.label
            elapsed = ""
            if step.at is not None and step.state != "failed":
                elapsed = format_elapsed_ms(step.at - switch.started)
            plain = f"✓ {label} {elapsed}".rstrip()
            if step.state == "done":
                markup = f"[$success]✓[/] {label}"
                if elapsed:
                    markup += f" [$text-muted]{elapsed}[/]"
            elif step.state == "failed":
                markup = f"[b $error]✗ {label}[/]"
            elif switch.outcome is None:
                markup = f"[$warning]…[/] [$text-muted]{label}[/]"
            else:
                markup = f"[$text-muted]· {label}[/]"
            items.append((plain, markup))
        if switch.outcome == "done" and switch.finished is not None:
            took = f"done in {format_elapsed_ms(switch.finished - switch.started)}"
            items.append((took, f"[b $success]{took}[/]"))
        width = max(20, self.content_size.width)
        lines = wrap_items(items, width, first=len(switch.title) + 1, sep=" → ")
        lines[0] = f"[b]{escape(switch.title)}[/] {lines[0]}"
        if switch.message:
            style = "$error" if switch.outcome == "failed" else "$text-muted"
            lines.append(f"[{style}]{escape(switch.message)}[/]")
        return Content.from_markup("\n".join(lines))
