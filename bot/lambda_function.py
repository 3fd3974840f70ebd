"""The Lambda entry point: `bot.lambda_function.handler`.

One routing decision: AWS notifications (SNS records, EventBridge events) go to the notification
handler. Nothing here runs at import time beyond imports; clients are built on first use and
kept for the life of the container.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from bot.config import Config, load_config
from bot.events import is_aws_notification
from bot.model import Enrich
from bot.slack import Poster, make_poster
from handlers import notifications

logging.getLogger().setLevel(logging.INFO)
logger = logging.getLogger(__name__)


@cache
def _config() -> Config:
    return load_config()


@cache
def _poster() -> Poster:
    return make_poster(_config())


@cache
def _enrich() -> Enrich | None:
    config = _config()
    if not config.enrich.enabled:
        return None
    # Imported here: boto3 loads only when a notification is to be enriched.
    from bot.enrich import enricher_from_environment

    return enricher_from_environment(config)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Route one Lambda invocation."""
    if is_aws_notification(event):
        return notifications.handle_lambda_event(event, _config(), _poster(), _enrich())
    logger.warning("not an AWS notification; keys: %s", sorted(event)[:10])
    return {"statusCode": 400, "body": "deploybot: not an AWS notification"}
