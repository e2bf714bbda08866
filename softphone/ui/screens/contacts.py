"""The contacts screen (``k``): the configured contacts and who is online; Enter calls.

Each line: presence, the user name, and the contact's label from the config.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content

from softphone.ui.screens.pick_to_call import PickToCallScreen

ONLINE = "[$success]● online [/] $name"
OFFLINE = "[$text-muted]○ offline[/] $name"
LABEL = "  [$text-muted]$label[/]"


class ContactsScreen(PickToCallScreen):
    """Online people first, then offline contacts, each by name."""

    TITLE_TEXT = "Contacts"
    EMPTY_TEXT = "no contacts: add contacts = [...] to the config file; nobody is online"

    def __init__(
        self,
        contacts: Iterable[str],
        online: Iterable[str],
        labels: Iterable[tuple[str, str]] = (),
    ) -> None:
        here = set(online)
        label_of = dict(labels)
        names = sorted(set(contacts) | here, key=lambda name: (name not in here, name))
        super().__init__(
            [
                (
                    Content.from_markup(
                        (ONLINE if name in here else OFFLINE) + (LABEL if name in label_of else ""),
                        name=name,
                        label=label_of.get(name, ""),
                    ),
                    name,
                )
                for name in names
            ]
        )
