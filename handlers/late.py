"""Bolt's lazy re-invocations that arrive after Slack's 5-minute signature window.

For a lazy listener Bolt re-invokes this function asynchronously with a copy of the click's
Function URL event (header `x-slack-bolt-lazy-only`), and checks the Slack signature again,
timestamp included: a copy older than 5 minutes gets a 401 that nobody sees. Lambda runs
asynchronous invocations late when it is throttled or retrying a failed run (minutes later), so
the lazy half of a click could be dropped in silence, possibly after it had claimed the
environment and sent its write.

Such an event is taken here only when it is genuine: the HMAC signature must match (only its
age is past), and the Function URL's `requestContext.timeEpoch`, which AWS sets when the click
arrived, must lie within the window of the Slack timestamp; a stale signed request replayed
now through the Function URL carries a fresh timeEpoch and goes to Bolt, which refuses it. It
is never acted on (changing production on a click minutes old is not what was asked): its
listener's `late` function reports what became of the click. Everything else goes to Bolt.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_sdk import WebClient

from bot.domain.config import Config
from bot.domain.slack_request import MAX_AGE_SECONDS, RawRequest, is_signed, raw_request
from bot.slack import make_web_client
from handlers import approvals, freeze, rollback, traffic

logger = logging.getLogger(__name__)

WINDOW_SECONDS = MAX_AGE_SECONDS  # slack_sdk's SignatureVerifier refuses older requests
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII: "²".isdigit() is true, int("²") raises
LAZY_HEADER = "x-slack-bolt-lazy-only"
FUNCTION_HEADER = "x-slack-bolt-lazy-function-name"

Late = Callable[[dict[str, Any], WebClient, Config], None]
# The lazy listeners whose late runs are reported, by the name Bolt gives them.
LATE: Mapping[str, Late] = {
    "run_rollback": rollback.report_late,
    "run_answer": approvals.report_late,
    "run_traffic": traffic.report_late,
    "run_freeze": freeze.report_late,
}


def _genuine(event: Mapping[str, Any], request: RawRequest, secret: str) -> bool:
    """A correctly signed copy of a request that reached the Function URL in its own window:
    the signature checked as of the moment AWS says the request arrived."""
    context = event.get("requestContext")
    arrived = context.get("timeEpoch") if isinstance(context, Mapping) else None
    if not isinstance(arrived, int) or isinstance(arrived, bool):
        return False
    return is_signed(request, secret, arrived / 1000)


def handle_late_lazy_run(event: Mapping[str, Any], config: Config) -> dict[str, Any] | None:
    """Report a genuine lazy run that came too late for Bolt; None for anything else."""
    request = raw_request(event)
    if request is None:
        return None
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    if not request.headers.get(LAZY_HEADER) or not _TIMESTAMP.fullmatch(timestamp):
        return None
    age = time.time() - int(timestamp)
    if age <= WINDOW_SECONDS or not _genuine(event, request, config.slack_signing_secret):
        return None
    name = request.headers.get(FUNCTION_HEADER, "")
    logger.warning("the lazy run of %s came %d s after the click", name, age)
    late = LATE.get(name)
    try:
        text = (request.body or b"").decode("utf-8")
        body = json.loads(parse_qs(text).get("payload", ["{}"])[0])
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        body = None
    if late is not None and isinstance(body, dict):
        late(body, make_web_client(config), config)
    return {"statusCode": 200, "body": ""}
