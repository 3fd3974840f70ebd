"""The Lambda entry point: `bot.lambda_function.handler`.

One routing decision: the sweep's schedule ("Scheduled Event" from aws.events / aws.scheduler)
runs the sweep; AWS notifications (SNS records, EventBridge events) go to the notification
handler; everything else (Function URL requests from Slack, and Bolt's lazy-listener
re-invocations of this same function) goes to Bolt. At import (Lambda's init) the config file
is read and validated, which is cheap and needs no network, so a broken config fails the
first invocation; the secrets, the app and the clients are made on first use and kept for the
life of the container.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

from bot import aws
from bot.aws.secrets import with_secrets
from bot.config import load_config, log_level
from bot.domain.config import Config, ConfigError
from bot.domain.events import is_aws_notification, is_scheduled_event
from bot.domain.model import Enrich
from bot.logs import configure_json_logs, start_invocation
from bot.slack import Poster, make_poster, make_workspaces
from bot.store import Store, make_store
from handlers import notifications

if TYPE_CHECKING:
    from handlers.slack_door import SlackDoor

configure_json_logs(log_level())
logger = logging.getLogger(__name__)


@cache
def _file_config() -> Config:
    """The config file and environment, read and validated once per container (no network)."""
    try:
        return load_config()
    except ConfigError as exc:
        logger.error("deploybot cannot start: %s", exc)  # noqa: TRY400 - raised at once, below
        raise


_file_config()  # at init: a broken config fails the first invocation, not each notification


@cache
def _config() -> Config:
    return with_secrets(_file_config())


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
    from bot.directory import make_directory

    return enricher_from_environment(config, _store(), people=make_directory(config, _store()))


@cache
def _slack_handler() -> SlackDoor:
    config = _config()
    # Asked first, in the background: auth.test overlaps with loading Bolt (cold start).
    # Without a signing secret the door stays shut (create_app refuses): nothing to learn.
    workspaces = make_workspaces(config, learn=bool(config.slack_signing_secret))
    # Imported here: the notification door does not pay for Bolt.
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    from bot.app import create_app
    from handlers.slack_door import SlackDoor

    class LazyInvoker(LambdaLazyListenerRunner):
        """Bolt's re-invocation, through the shared client with short timeouts and retries."""

        def start(self, *args: Any, **kwargs: Any) -> None:
            if self.lambda_client is None:
                self.lambda_client = aws.client("lambda")
            super().start(*args, **kwargs)

    slack = SlackRequestHandler(create_app(config, workspaces=workspaces))
    slack.app.listener_runner.lazy_listener_runner = LazyInvoker(slack.logger)
    return SlackDoor(slack, config.slack_signing_secret)


@cache
def _store() -> Store | None:
    # The configured store, whatever it is: bot.config already refuses SQLite on Lambda (its
    # disk is the container's own), so off Lambda `backend = "sqlite"` is honoured.
    store = make_store(_config())
    if store is None:
        logger.warning('store.backend = "none": posting each notification on its own')
    return store


def _sweep() -> dict[str, Any]:
    """The scheduled sweep (handlers/sweep.py), with this container's poster, store, clients."""
    store = _store()
    if store is None:
        logger.warning('the sweep needs the store (store.backend = "none"): nothing swept')
        return {"swept": 0}
    # Imported here: only the schedule's invocations load the sweep.
    from dataclasses import asdict

    from bot.aws.accounts import accounts_of
    from handlers.sweep import run_sweep

    config = _config()
    return asdict(run_sweep(config, _poster(), store, accounts_of(config)))


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Route one Lambda invocation."""
    start_invocation(lambda_request_id=str(getattr(context, "aws_request_id", "")))
    if is_scheduled_event(event):
        return _sweep()
    # Slack requests are objects; anything else is a notification or nothing (it fails there).
    if not isinstance(event, dict) or is_aws_notification(event):
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
    return slack.handle(event, context)
