"""Read untyped AWS response values without trusting their shape. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def as_str(value: object) -> str:
    """The value if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def as_map(value: object) -> Mapping[str, Any]:
    """The value if it is an object, else {}."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """The value if it is a list, else []."""
    return value if isinstance(value, list) else []


def mappings(value: object) -> Iterable[Mapping[str, Any]]:
    """The objects of a list, skipping anything else."""
    return (item for item in as_list(value) if isinstance(item, Mapping))
