"""The Bolt app factory: one `App` per container, built from a `Config`, with no network call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot import logs
from bot.domain.config import Config, ConfigError
from bot.slack import Workspaces, make_web_client, make_workspaces
from handlers import approvals, deploy_status, freeze, links, retries, rollback, traffic
from handlers.common import CONFIG_KEY
from handlers.slack_door import only_from


def _not_our_choice(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN itself and warns that the client given wins over it; giving the
    # client (and authorizing from config) is deliberate here, so the warning says nothing.
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


logging.getLogger("slack_bolt.App").addFilter(_not_our_choice)
# Bolt's loggers copy this one's filters: its DEBUG lines show whole requests (secret_safe hides
# response_urls and tokens), and it is the App's own logger once given (so the filter above too).
_BOLT_LOG = logs.secret_safe_logger("bot.app.bolt")
_BOLT_LOG.addFilter(_not_our_choice)


def create_app(
    config: Config,
    client: WebClient | None = None,
    *,
    socket_mode: bool = False,
    workspaces: Workspaces | None = None,
) -> App:
    """The Slack app with every handler registered.

    `client` is the Web API client listeners use (default: the configured token and API URL).
    In Socket Mode no HTTP request reaches the app, so no signing secret is needed; otherwise
    an empty secret would accept requests signed with an empty key, so it is refused.
    `workspaces`: the ones served (default: bot.slack.make_workspaces, learning at once).
    """
    if not socket_mode and not config.slack_signing_secret:
        raise ConfigError("set SLACK_SIGNING_SECRET: Slack's requests cannot be checked without it")
    workspaces = workspaces or make_workspaces(config, learn=True)
    web = client if client is not None else make_web_client(config)
    bot_token = web.token or config.slack_bot_token or None

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        # With a token on the app's client, Bolt calls auth.test on the first request: a Slack
        # round trip on every cold start. The workspace is known, so authorize from config.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=bot_token
        )

    app = App(
        name="deploybot",  # without a name, Bolt inspects the call stack: slow on a cold start
        signing_secret=config.slack_signing_secret,
        client=WebClient(
            base_url=web.base_url,
            timeout=web.timeout,
            retry_handlers=web.retry_handlers,
            logger=web.logger,
        ),
        authorize=authorize,
        process_before_response=True,  # on Lambda nothing runs after the response is sent
        token_verification_enabled=False,
        logger=_BOLT_LOG,
    )
    app.middleware(only_from(workspaces))  # first: nothing runs for a workspace not served
    app.middleware(_with_config(config))
    app.middleware(_log_request_ids)
    for module in (retries, links, deploy_status, rollback, approvals, traffic, freeze):
        module.register(app)
    return app


def _with_config(config: Config) -> Callable[[BoltContext, Callable[[], None]], None]:
    """Middleware that hands listeners the config (lazy listeners get a fresh context)."""

    def attach_config(context: BoltContext, next_: Callable[[], None]) -> None:
        context[CONFIG_KEY] = config
        next_()

    return attach_config


def _log_request_ids(body: dict[str, Any], next_: Callable[[], None]) -> None:
    """Name the Slack request (workspace, user, trigger, command or action) in every log line."""

    def nested(key: str) -> str:
        value = body.get(key)
        return str(value.get("id", "")) if isinstance(value, dict) else ""

    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else {}
    action_id = str(first.get("action_id", "")) if isinstance(first, dict) else ""
    logs.append_keys(
        slack_team=str(body.get("team_id") or nested("team")),
        slack_user=str(body.get("user_id") or nested("user")),
        slack_trigger_id=str(body.get("trigger_id", "")),
        slack_command=str(body.get("command", "")),
        slack_action=action_id,
    )
    next_()
