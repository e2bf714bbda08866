"""The contacts screen (``k``): the configured contacts and who is online; Enter calls."""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content

from softphone.ui.screens.pick_to_call import PickToCallScreen

ONLINE = "[$success]● online [/] $name"
OFFLINE = "[$text-muted]○ offline[/] $name"


class ContactsScreen(PickToCallScreen):
    """Online people first, then offline contacts, each by name."""

    TITLE_TEXT = "Contacts"
    EMPTY_TEXT = "no contacts: add contacts = [...] to the config file; nobody is online"

    def __init__(self, contacts: Iterable[str], online: Iterable[str]) -> None:
        here = set(online)
        names = sorted(set(contacts) | here, key=lambda name: (name not in here, name))
        super().__init__(
            [
                (
                    Content.from_markup(ONLINE if name in here else OFFLINE, name=name),
                    name,
                )
                for name in names
            ]
        )
