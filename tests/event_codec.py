"""Typed session events back from the JSON objects headless prints (test helper).

The session only ever turns events into JSON; tests go the other way to
script a screen with the shapes of docs/protocol.md section 2 and to check
that every event survives the round trip unchanged.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from softphone import events as ev


def event_classes() -> list[type[ev.Event]]:
    """Every concrete event class (those with a ``NAME``), in definition order."""
    found: list[type[ev.Event]] = []
    pending = list(ev.Event.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if "NAME" in vars(cls):
            found.append(cls)
    return found


def _key(cls: type[ev.Event]) -> tuple[str, str | None]:
    phase = next((f.default for f in dataclasses.fields(cls) if f.name == "phase"), None)
    return (cls.NAME, phase if isinstance(phase, str) else None)


_CLASSES = {_key(cls): cls for cls in event_classes()}


def event_from_json(obj: dict[str, Any]) -> ev.Event:
    """The event ``obj`` (with or without ``t``) describes; KeyError for an unknown name."""
    cls = _CLASSES.get((obj["event"], obj.get("phase"))) or _CLASSES[(obj["event"], None)]
    return _decode(cls, obj)


def _decode(cls: Any, obj: dict[str, Any]) -> Any:
    hints = get_type_hints(cls, vars(ev))
    values = {}
    for f in dataclasses.fields(cls):
        key = f.name.removesuffix("_")
        if key in obj:
            values[f.name] = _convert(hints[f.name], obj[key])
    return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        real = [arg for arg in get_args(hint) if arg is not type(None)]
        return _convert(real[0], value) if len(real) == 1 else value
    if origin is tuple:
        return tuple(_convert(get_args(hint)[0], item) for item in value)
    if dataclasses.is_dataclass(hint):
        return _decode(hint, value)
    return value
