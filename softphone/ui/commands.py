"""The command palette (ctrl+p): every keyed action by name, plus themes and regions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from softphone.ui.keymap import ACTIONS
from softphone.ui.themes import CYCLE

if TYPE_CHECKING:
    from softphone.ui.app import SoftphoneApp


class SoftphoneCommands(Provider):
    def _entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """(name, help, callback) for every command, in the order they are listed."""
        app: SoftphoneApp = self.app  # type: ignore[assignment]
        entries: list[tuple[str, str, Callable[[], Any]]] = [
            (
                f"{action.label} ({action.key_display})",
                action.help,
                partial(app.run_action, action.action),
            )
            for action in ACTIONS
        ]
        for name in app.region_names():
            entries.append(
                (
                    f"Switch region: {name}",
                    "setConfiguration + restartIce",
                    partial(app.switch_region, name),
                )
            )
        for theme in CYCLE:
            entries.append(
                (f"Theme: {theme}", "Use this theme from now on", partial(app.set_theme, theme))
            )
        return entries

    async def discover(self) -> Hits:
        for name, help_text, callback in self._entries():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
