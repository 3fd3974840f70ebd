"""Structured JSON logs on Lambda (Powertools' formatter on the root logger), one level switch,
and nothing in them that grants access.

Every module logs through the standard `logging` module; on Lambda each line becomes one JSON
object with the service name, the Lambda request id and, where known, the deployment id, the
pipeline execution id or the Slack request's ids as keys. Outside Lambda nothing changes.

No secret at any level: botocore's wire logs (request and response bodies, which hold the SSM
and Secrets Manager values, and signed headers with the session token) stay at WARNING even
when deploybot's level is DEBUG, and the loggers handed to slack_sdk's webhook client and to
Bolt hide URL paths (an incoming webhook, a response_url) and Slack tokens.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_formatter: Any = None
# What logs AWS traffic itself; DEBUG there is the wire.
WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
_URL_PATH = re.compile(r"""(https?://[^/\s'"<>|]+)/[^\s'"<>|]*""")
_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")
_FORM_TOKEN = re.compile(r"""(\btoken['"]?\s*[=:]\s*['"]?)[^&\s'",}]+""")


def configure_json_logs(level: int = logging.INFO, service: str = "deploybot") -> None:
    """Make the root logger's handlers write JSON lines at `level` (no I/O; safe at import)."""
    global _formatter  # noqa: PLW0603 - one formatter per process, shared by every handler
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    _formatter = LambdaPowertoolsFormatter(service=service)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(_formatter)
    root.setLevel(level)
    quiet_wire_logs(level)


def quiet_wire_logs(level: int = logging.WARNING) -> None:
    """Keep AWS's wire loggers at WARNING or less verbose, whatever `level` the rest logs at."""
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def hide_secrets(text: str) -> str:
    """`text` with URL paths, Slack tokens and form `token` values replaced by "…"."""
    text = _URL_PATH.sub(r"\1/…", text)
    text = _TOKEN.sub(r"\1-…", text)
    return _FORM_TOKEN.sub(r"\1…", text)


class HideSecrets(logging.Filter):
    """Rewrites a record's message with `hide_secrets` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only its text changes."""
        message = record.getMessage()
        hidden = hide_secrets(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def secret_safe_logger(name: str) -> logging.Logger:
    """The logger `name`, filtered by HideSecrets: give it to a library that logs its URLs."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, HideSecrets) for f in logger.filters):
        logger.addFilter(HideSecrets())
    return logger


def start_invocation(**keys: str) -> None:
    """Forget the previous invocation's keys and set this one's."""
    if _formatter is not None:
        _formatter.clear_state()
        append_keys(**keys)


def append_keys(**keys: str) -> None:
    """Add keys to every following log line of this invocation (no-op outside Lambda)."""
    if _formatter is not None:
        _formatter.append_keys(**{k: v for k, v in keys.items() if v})
