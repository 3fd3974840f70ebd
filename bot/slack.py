"""Delivery to Slack: chat.postMessage with a bot token, or an incoming webhook.

The I/O edge of the notification path. A post either succeeds or raises DeliveryError; it is
never reported as sent when it was not.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from bot.config import Config, ConfigError

logger = logging.getLogger(__name__)

# Slack rejects a message whose blocks break a limit; the text alone still gets through.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"})
TIMEOUT_SECONDS = 10


class DeliveryError(RuntimeError):
    """Slack did not accept a message after retries; the caller must not drop it silently."""


class Poster(Protocol):
    """Something that delivers one chat.postMessage argument object."""

    def post(self, message: dict[str, Any]) -> None:
        """Deliver `message` or raise DeliveryError."""


def retry_handlers() -> list[RetryHandler]:
    """Retry connection errors, rate limits (honouring Retry-After) and server errors."""
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def make_web_client(config: Config) -> WebClient:
    """A WebClient for the configured bot token and API base URL, with retries enabled."""
    return WebClient(
        token=config.slack_bot_token or None,
        base_url=config.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )


class WebApiPoster:
    """Posts through chat.postMessage."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def post(self, message: dict[str, Any]) -> None:
        """Post; if Slack rejects the blocks, post the text alone rather than lose the news."""
        try:
            self._client.chat_postMessage(**message)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error not in _BLOCK_ERRORS:
                raise DeliveryError(f"chat.postMessage failed: {error or exc}") from exc
            logger.warning("Slack rejected the blocks (%s); posting the text alone", error)
            text_only = {k: v for k, v in message.items() if k != "blocks"}
            self._post_plain(text_only)
        except SlackClientError as exc:
            raise DeliveryError(f"chat.postMessage failed: {exc}") from exc

    def _post_plain(self, message: dict[str, Any]) -> None:
        try:
            self._client.chat_postMessage(**message)
        except SlackClientError as exc:
            raise DeliveryError(f"chat.postMessage failed without blocks too: {exc}") from exc


class WebhookPoster:
    """Posts through an incoming webhook or an interaction's `response_url`.

    An incoming webhook's channel is fixed when the webhook is made; a `response_url` also
    takes `response_type`, `replace_original` and `delete_original` from the message.
    """

    def __init__(self, client: WebhookClient, what: str = "incoming webhook") -> None:
        self._client = client
        self._what = what

    def post(self, message: dict[str, Any]) -> None:
        """Send text and blocks; if the blocks are rejected, the text alone; else raise."""
        status, body = self._send(message, message.get("blocks"))
        if status != 200 and body.strip() in _BLOCK_ERRORS:
            logger.warning("Slack rejected the blocks (%s); posting the text alone", body)
            status, body = self._send(message, None)
        if status != 200:
            raise DeliveryError(f"{self._what} answered {status}: {body[:200]}")

    def _send(self, message: dict[str, Any], blocks: object) -> tuple[int, str]:
        text = message.get("text")
        response_type = message.get("response_type")
        try:
            response = self._client.send(
                text=text if isinstance(text, str) else None,
                blocks=blocks if isinstance(blocks, list) else None,
                response_type=response_type if isinstance(response_type, str) else None,
                replace_original=message.get("replace_original"),
                delete_original=message.get("delete_original"),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"{self._what} failed: {exc}") from exc
        return response.status_code, str(response.body)


def make_poster(config: Config) -> Poster:
    """The poster the configuration implies: bot token first, else the incoming webhook."""
    if config.slack_bot_token:
        return WebApiPoster(make_web_client(config))
    if config.slack_webhook_url:
        return WebhookPoster(
            WebhookClient(
                config.slack_webhook_url, timeout=TIMEOUT_SECONDS, retry_handlers=retry_handlers()
            )
        )
    raise ConfigError("set SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL to post to Slack")


def make_responder(response_url: str) -> Poster:
    """A poster for an interaction's `response_url`, with the same retries as every post."""
    return WebhookPoster(
        WebhookClient(response_url, timeout=TIMEOUT_SECONDS, retry_handlers=retry_handlers()),
        "response_url",
    )
