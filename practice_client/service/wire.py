"""The service's JSON: the project's frozen dataclasses to JSON and back, by their type hints.

The workstations read the same objects the GUI reads locally (records, documents,
patients, pins, pages of views): one codec for all of them keeps the two sides from
drifting. Only what the types allow is built on the way back; anything else is a
:class:`ValueError` (the client reports the service's answer as malformed).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

from practice_client.core.text import Text

T = TypeVar("T")


def to_wire(value: Any) -> Any:
    """JSON-ready: dataclasses as objects of their fields, enums as values, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(to_wire(k)): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_wire(kind: Any, data: Any) -> Any:
    """Build a value of type ``kind`` (a dataclass, enum, container or plain type) from JSON."""
    origin = get_origin(kind)
    if kind is Any:
        return data
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_wire(option, data)
            except (ValueError, TypeError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors) or f"no type of {kind} fits")
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"{kind.__name__}: expected an object")
        hints = _hints(kind)
        values = {f.name: from_wire(hints[f.name], data[f.name]) for f in dataclasses.fields(kind)
                  if f.init and f.name in data}
        return kind(**values)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if origin in (list, tuple, set, frozenset):
        if not isinstance(data, list):
            raise ValueError(f"expected a list for {kind}")
        args = get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(from_wire(a, v) for a, v in zip(args, data, strict=True))
        inner = args[0] if args else Any
        items = [from_wire(inner, v) for v in data]
        return items if origin is list else origin(items)
    if origin is dict:
        key_type, value_type = get_args(kind) or (Any, Any)
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {kind}")
        return {from_wire(key_type, k): from_wire(value_type, v) for k, v in data.items()}
    if kind is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if isinstance(kind, type) and kind in (str, int, float, bool):
        if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
            raise ValueError(f"expected {kind.__name__}, got {type(data).__name__}")
        return data
    raise TypeError(f"cannot read a {kind}")


def answer_text(value: dict[str, Any]) -> Text | None:
    """The service's error in both languages (``text``), or its one line (``error``, from
    a service that sent only that); None when there is none."""
    try:
        text = from_wire(Text, value.get("text"))
    except (ValueError, TypeError):
        text = None
    if isinstance(text, Text) and (text.de or text.en):
        return Text(text.de[:300], text.en[:300])
    error = str(value.get("error", "") or "")[:300]
    return Text.same(error) if error else None
