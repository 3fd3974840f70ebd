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
from bot.slack import Poster, make_poster
from bot.store import Store, make_store
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
def _store() -> Store | None:
    config = _config()
    if config.store_backend != "dynamodb":
        # A Lambda's disk is per container and mostly read-only: only DynamoDB is shared.
        logger.warning("no DEPLOYBOT_TABLE: posting each notification on its own, no updates")
        return None
    return make_store(config)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Route one Lambda invocation."""
    if is_aws_notification(event):
        return notifications.handle_lambda_event(event, _config(), _poster(), _store())
    logger.warning("not an AWS notification; keys: %s", sorted(event)[:10])
    return {"statusCode": 400, "body": "deploybot: not an AWS notification"}
