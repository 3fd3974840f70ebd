"""Read untyped AWS values without trusting their shape. Pure.

API answers come from boto3 (parsed JSON); notifications come as JSON whose nested parts may
themselves be JSON strings (CodeDeploy double-encodes): the `json_*` readers decode those.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.domain.model import Status

# Half of a UTF-16 surrogate pair: a valid JSON escape ("\\ud800"), but no UTF-8 can encode it.
_SURROGATES = re.compile("[\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]{1,15}")  # ASCII only: "²".isdigit() is true, int("²") fails
_INT_MAX = 10**15


def well_formed(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD.

    JSON may carry half of a UTF-16 pair as an escape; Python decodes it to a string that cannot
    be encoded, so a URL, a digest or a post to Slack built from it would fail. Applied where
    untyped data enters: a notification (bot/domain/events.py), each nested JSON string, and
    every AWS answer (bot/aws `call`).
    """
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {well_formed(k): well_formed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [well_formed(item) for item in value]
    return value


def as_str(value: object) -> str:
    """The value if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def as_text(value: object) -> str:
    """A string, or a number or boolean written out; "" for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def as_map(value: object) -> Mapping[str, Any]:
    """The value if it is an object, else {}."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """The value if it is a list, else []."""
    return value if isinstance(value, list) else []


def as_count(value: object) -> int:
    """A non-negative whole number from a number or a string of ASCII digits, else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value) and abs(value) < _INT_MAX:
        return max(int(value), 0)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return 0


def mappings(value: object) -> Iterable[Mapping[str, Any]]:
    """The objects of a list, skipping anything else."""
    return (item for item in as_list(value) if isinstance(item, Mapping))


def maybe_json(value: object) -> object:
    """Decode a nested JSON string (an object or array); leave anything else as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return well_formed(json.loads(value))
        except ValueError:
            return value
    return value


def json_map(value: object) -> Mapping[str, Any]:
    """An object, or a JSON string of one; {} for anything else."""
    return as_map(maybe_json(value))


def json_list(value: object) -> list[Any]:
    """A list, or a JSON string of one; [] for anything else."""
    return as_list(maybe_json(value))


def string_fields(text: str) -> dict[str, str] | None:
    """A JSON object whose every value is a string (a button's value), or None for anything
    else: nothing in a button is trusted."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return {str(k): v for k, v in data.items()}


# --- time ------------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# "Thu Oct 13 15:50:45 UTC 2022": Java's Date.toString(), which CodeDeploy triggers use.
_JAVA_DATE = re.compile(
    r"^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (?:UTC|GMT) (\d{4})$"
)
_EPOCH = re.compile(r"^\d{9,11}(\.\d+)?$")


def parse_time(value: object) -> datetime | None:
    """Parse the time formats AWS uses here into an aware UTC datetime, or None.

    Month names are matched from a fixed table, so the machine's locale does not matter.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime):  # boto3 parses API timestamps itself
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if not isinstance(value, str):
            return None
        text = value.strip()
        if _EPOCH.match(text):
            return datetime.fromtimestamp(float(text), tz=UTC)
        match = _JAVA_DATE.match(text)
        if match:
            month = _MONTHS.get(match.group(1).lower())
            if month is None:
                return None
            day, hour, minute, second, year = (int(g) for g in match.groups()[1:])
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- status ----------------------------------------------------------------------------------

_STATUS_ALIASES = {
    "START": Status.STARTED,
    "STARTED": Status.STARTED,
    "CREATED": Status.CREATED,
    "PENDING": Status.CREATED,
    "QUEUED": Status.CREATED,
    "IN_PROGRESS": Status.IN_PROGRESS,
    "INPROGRESS": Status.IN_PROGRESS,
    "BAKING": Status.IN_PROGRESS,
    "READY": Status.READY,
    "RESUMED": Status.RESUMED,
    "STOPPING": Status.STOPPING,
    "SUCCESS": Status.SUCCEEDED,
    "SUCCEEDED": Status.SUCCEEDED,
    "FAILURE": Status.FAILED,
    "FAILED": Status.FAILED,
    "STOP": Status.STOPPED,
    "STOPPED": Status.STOPPED,
    "SUPERSEDED": Status.SUPERSEDED,
    "CANCELED": Status.CANCELED,
    "CANCELLED": Status.CANCELED,
    "ABANDONED": Status.ABANDONED,
    "SKIPPED": Status.SKIPPED,
}


def parse_status(raw: object) -> Status:
    """Map any spelling AWS uses ("FAILED", "Failed", "FAILURE", "InProgress") to a Status."""
    key = re.sub(r"[^A-Z]+", "_", as_text(raw).upper()).strip("_")
    return _STATUS_ALIASES.get(key, Status.UNKNOWN)
