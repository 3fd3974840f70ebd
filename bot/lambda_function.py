"""The Lambda entry point: `bot.lambda_function.handler`.

One routing decision: AWS notifications (SNS records, EventBridge events) go to the notification
handler; everything else (Function URL requests from Slack, and Bolt's lazy-listener
re-invocations of this same function) goes to Bolt. Nothing here runs at import time beyond
imports; the app and clients are built on first use and kept for the life of the container.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

from bot import aws
from bot.aws.secrets import with_secrets
from bot.config import load_config
from bot.domain.config import Config, ConfigError
from bot.domain.events import is_aws_notification
from bot.domain.model import Enrich
from bot.logs import configure_json_logs, start_invocation
from bot.slack import Poster, make_poster
from bot.store import Store, make_store
from handlers import notifications

if TYPE_CHECKING:
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler

configure_json_logs()
logger = logging.getLogger(__name__)


@cache
def _config() -> Config:
    return with_secrets(load_config())


@cache
def _poster() -> Poster:
    return make_poster(_config())


@cache
def _enrich() -> Enrich | None:
    config = _config()
    if not config.enrich.enabled:
        return None
    # Imported here: boto3 loads only when a notification is to be enriched.
    from bot.aws.enrich import enricher_from_environment

    return enricher_from_environment(config)


@cache
def _slack_handler() -> SlackRequestHandler:
    # Imported here: the notification door does not pay for Bolt.
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    from bot.app import create_app

    class LazyInvoker(LambdaLazyListenerRunner):
        """Bolt's re-invocation, through the shared client with short timeouts and retries."""

        def start(self, *args: Any, **kwargs: Any) -> None:
            if self.lambda_client is None:
                self.lambda_client = aws.client("lambda")
            super().start(*args, **kwargs)

    slack = SlackRequestHandler(create_app(_config()))
    slack.app.listener_runner.lazy_listener_runner = LazyInvoker(slack.logger)
    return slack


@cache
def _store() -> Store | None:
    config = _config()
    if config.store_backend != "dynamodb":
        # Only DynamoDB is shared between containers (bot.config refuses SQLite on Lambda).
        logger.warning("no DEPLOYBOT_TABLE: posting each notification on its own, no updates")
        return None
    return make_store(config)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Route one Lambda invocation."""
    start_invocation(lambda_request_id=str(getattr(context, "aws_request_id", "")))
    if is_aws_notification(event):
        return notifications.handle_lambda_event(event, _config(), _poster(), _enrich(), _store())
    try:
        slack = _slack_handler()
    except ConfigError:
        logger.exception("the Slack door is not configured")
        return {"statusCode": 500, "body": "deploybot: the Slack door is not configured"}
    # A lazy run past Slack's signature window would get a 401 from Bolt, unseen: report it.
    from handlers.late import handle_late_lazy_run  # with Bolt: the Slack door's import

    late = handle_late_lazy_run(event, _config())
    if late is not None:
        return late
    response: dict[str, Any] = slack.handle(event, context)  # type: ignore[no-untyped-call]
    return response
