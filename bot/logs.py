"""Structured JSON logs on Lambda: Powertools' formatter on the root logger.

Every module logs through the standard `logging` module; on Lambda each line becomes one JSON
object with the service name, the Lambda request id and, where known, the deployment id, the
pipeline execution id or the Slack request's ids as keys. Outside Lambda nothing changes.
"""

from __future__ import annotations

import logging
from typing import Any

_formatter: Any = None


def configure_json_logs(service: str = "deploybot") -> None:
    """Make the root logger's handlers write JSON lines (no I/O; safe at import)."""
    global _formatter  # noqa: PLW0603 - one formatter per process, shared by every handler
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    _formatter = LambdaPowertoolsFormatter(service=service)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(_formatter)
    root.setLevel(logging.INFO)


def start_invocation(**keys: str) -> None:
    """Forget the previous invocation's keys and set this one's."""
    if _formatter is not None:
        _formatter.clear_state()
        append_keys(**keys)


def append_keys(**keys: str) -> None:
    """Add keys to every following log line of this invocation (no-op outside Lambda)."""
    if _formatter is not None:
        _formatter.append_keys(**{k: v for k, v in keys.items() if v})
