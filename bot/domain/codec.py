"""Deployment events (and other model dataclasses) to JSON-ready dicts and back, so the store
can keep them. Pure."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from bot.domain.model import Deployment

T = TypeVar("T")


def dump_event(event: Deployment) -> dict[str, Any]:
    """A JSON-ready dict of `event`; fields left at their default are omitted to keep it small."""
    dumped = _dump(event)
    assert isinstance(dumped, dict)
    return dumped


def load_event(data: dict[str, Any]) -> Deployment:
    """The event `dump_event` produced."""
    return _load(Deployment, data)  # type: ignore[no-any-return]


def dump(value: object) -> Any:
    """Any model dataclass (or tuple of them) as JSON-ready data, defaults omitted."""
    return _dump(value)


def load(kind: type[T], data: Any) -> T:
    """The `kind` instance that `dump` produced."""
    return _load(kind, data)  # type: ignore[no-any-return]


def _dump(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for item in dataclasses.fields(value):
            raw = getattr(value, item.name)
            if raw != _default(item):
                out[item.name] = _dump(raw)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_dump(v) for v in value]
    return value


def _default(item: dataclasses.Field[Any]) -> object:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return dataclasses.MISSING


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _load(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [k for k in typing.get_args(kind) if k is not type(None)]
        return _load(inner[0], value)
    if origin is tuple:
        item_kind = typing.get_args(kind)[0]
        return tuple(_load(item_kind, v) for v in value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{name: _load(hints[name], v) for name, v in value.items() if name in hints})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    return value
