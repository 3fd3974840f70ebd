"""Slack's retries of Events API requests (`X-Slack-Retry-Num`) are acknowledged, not re-run.

Slack retries when our first answer was late or failed, but with lazy listeners the first
delivery's work has already started; running it again would post twice. Bolt does not dedupe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    """Install the middleware; it runs after Bolt has checked the request's signature."""
    app.middleware(handle_retry)


def handle_retry(request: BoltRequest, next_: Callable[[], None]) -> BoltResponse | None:
    """Answer a retried request with 200 at once; pass everything else on."""
    retry = request.headers.get("x-slack-retry-num")
    if retry:
        reason = request.headers.get("x-slack-retry-reason") or ["?"]
        logger.info("ignored Slack retry %s (%s)", retry[0], reason[0])
        return BoltResponse(status=200, body="")
    next_()
    return None
