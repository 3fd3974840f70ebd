"""Delivery to Slack: chat.postMessage with a bot token, or an incoming webhook.

The I/O edge of the notification path. A post either succeeds or raises DeliveryError; it is
never reported as sent when it was not.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Protocol, runtime_checkable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from blocks.ids import METADATA_EVENT_TYPE
from bot.domain.coerce import well_formed
from bot.domain.config import Config, ConfigError
from bot.logs import secret_safe_logger

logger = logging.getLogger(__name__)
# slack_sdk's webhook client logs its URL (a secret: whoever has it can post) when it retries.
_WEBHOOK_LOG = "bot.slack.webhook"

# Slack rejects a message whose blocks break a limit; the text alone still gets through.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"})
# The message is not there to edit any more (deleted by someone, or too old to edit).
_GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
# conversations.history cannot look here: a #name instead of an id, or a missing scope.
_UNSEARCHABLE = frozenset(
    {
        "channel_not_found",
        "missing_scope",
        "not_in_channel",
        "invalid_arguments",
        "not_allowed_token_type",
    }
)
TIMEOUT_SECONDS = 10
WEBHOOK_CHANNEL = "(the webhook's channel)"  # an incoming webhook's channel is fixed, unnamed
POST_ATTEMPTS = 3
# Slack's ts comes from Slack's clock and a search starts from ours: allow for the skew.
SEARCH_MARGIN_SECONDS = 60
SEARCH_LIMIT = 200  # Slack's docs advise at most 200 per page (999 is the hard maximum)
SEARCH_PAGES = 10  # pages searched at most: 2,000 messages since the lost post


# What DeliveryError.code says when Slack gave no error code of its own.
UNREACHABLE = "unreachable"  # no answer: DNS, connection refused or reset, timeout


class DeliveryError(RuntimeError):
    """Slack did not accept a message after retries; the caller must not drop it silently.

    `code` is Slack's error code (`channel_not_found`, `token_revoked`, ...; `http_503`, or
    UNREACHABLE when no answer came) and `channel` the channel it was for, so that a person can
    be told what to fix.
    """

    def __init__(self, message: str, *, code: str = "", channel: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.channel = channel


class MessageGone(DeliveryError):
    """The message to update no longer exists; a new one must be posted instead."""


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a posted message is: what chat.update needs."""

    channel: str
    ts: str


class Poster(Protocol):
    """Something that delivers one chat.postMessage argument object."""

    def post(self, message: dict[str, Any]) -> MessageRef | None:
        """Deliver `message`; return where it is (None when it cannot be edited) or raise."""


@runtime_checkable
class Editor(Poster, Protocol):
    """A poster whose messages can be updated and found again (the Web API, not webhooks)."""

    def update(self, ref: MessageRef, message: dict[str, Any]) -> None:
        """Replace the text, blocks and metadata of the message at `ref`."""

    def find(self, channel: str, key: str, slot: str, oldest: float) -> MessageRef | None:
        """The message posted since `oldest` whose metadata names `key` and `slot`, if any."""


@runtime_checkable
class Linker(Protocol):
    """Something that can name a message's permalink (the Web API)."""

    def permalink(self, ref: MessageRef) -> str:
        """The message's permalink; DeliveryError when Slack gives none."""


def retry_handlers(backoff_factor: float = 0.5) -> list[RetryHandler]:
    """Retry connection errors, rate limits (honouring Retry-After) and server errors."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_factor)
    return [
        ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
    ]


def make_web_client(config: Config) -> WebClient:
    """A WebClient for the configured bot token and API base URL, with retries enabled."""
    return WebClient(
        token=config.slack_bot_token or None,
        base_url=config.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )


class _NotPosted(Exception):
    """This attempt failed; `maybe` when Slack may have posted it all the same."""

    def __init__(self, reason: str, *, maybe: bool, code: str) -> None:
        super().__init__(reason)
        self.maybe = maybe
        self.code = code


def _error_code(exc: SlackApiError) -> str:
    """Slack's error code; "" when the body was not JSON (a proxy's 5xx page)."""
    data = exc.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _post_key(message: dict[str, Any]) -> tuple[str, str]:
    payload = message.get("metadata", {}).get("event_payload", {})
    return str(payload.get("key", "")), str(payload.get("slot", ""))


class WebApiPoster:
    """Posts through chat.postMessage, updates through chat.update; never posts a message twice.

    A 5xx, a dropped connection or a timeout may come after Slack posted the message, so after
    one of those a post is not retried blindly: conversations.history is searched first for a
    message whose metadata names the same key and slot. Only a 429 proves nothing was posted.
    """

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._post_client = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=[
                h for h in client.retry_handlers if isinstance(h, RateLimitErrorRetryHandler)
            ],
        )

    def post(self, message: dict[str, Any]) -> MessageRef:
        """Post once; after an unclear failure, look for the message before trying again."""
        message = well_formed(message)  # the last guard: Slack cannot take a lone surrogate
        key, slot = _post_key(message)
        started = time.time()
        maybe_posted = False
        last: _NotPosted | None = None
        for _ in range(POST_ATTEMPTS):
            if maybe_posted and key:
                found = self.find(
                    str(message["channel"]), key, slot, started - SEARCH_MARGIN_SECONDS
                )
                if found is not None:
                    return found
            try:
                return self._post_once(message)
            except _NotPosted as exc:
                logger.warning("chat.postMessage failed (%s); trying again", exc)
                maybe_posted = maybe_posted or exc.maybe
                last = exc
        raise DeliveryError(
            f"chat.postMessage failed: {last}",
            code=last.code if last else "",
            channel=str(message.get("channel", "")),
        ) from last

    def _post_once(self, message: dict[str, Any]) -> MessageRef:
        try:
            response = self._post_client.chat_postMessage(**message)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = _error_code(exc)
            if status == 429 or status >= 500:  # a 429 proves that nothing was posted
                code = "ratelimited" if status == 429 else f"http_{status}"
                raise _NotPosted(f"HTTP {status}", maybe=status != 429, code=code) from exc
            if error not in _BLOCK_ERRORS or "blocks" not in message:
                raise DeliveryError(
                    f"chat.postMessage failed: {error or exc}",
                    code=error or f"http_{status}",
                    channel=str(message.get("channel", "")),
                ) from exc
            logger.warning("Slack rejected the blocks (%s); posting the text alone", error)
            return self._post_once({k: v for k, v in message.items() if k != "blocks"})
        except (SlackClientError, OSError, HTTPException) as exc:
            raise _NotPosted(type(exc).__name__, maybe=True, code=UNREACHABLE) from exc
        return MessageRef(str(response["channel"]), str(response["ts"]))

    def update(self, ref: MessageRef, message: dict[str, Any]) -> None:
        """chat.update (idempotent, so retried freely); the text alone if the blocks are refused."""
        fields: dict[str, Any] = {
            k: well_formed(message[k]) for k in ("text", "blocks", "metadata") if k in message
        }
        try:
            self._client.chat_update(channel=ref.channel, ts=ref.ts, **fields)
        except SlackApiError as exc:
            error = _error_code(exc)
            if error in _GONE_ERRORS:
                raise MessageGone(f"chat.update: {error}") from exc
            if error not in _BLOCK_ERRORS or not fields.get("blocks"):
                raise DeliveryError(
                    f"chat.update failed: {error or exc}", code=error, channel=ref.channel
                ) from exc
            logger.warning("Slack rejected the blocks (%s); updating the text alone", error)
            self.update(ref, {**fields, "blocks": []})
        except (SlackClientError, OSError, HTTPException) as exc:
            raise DeliveryError(
                f"chat.update failed: {exc}", code=UNREACHABLE, channel=ref.channel
            ) from exc

    def find(self, channel: str, key: str, slot: str, oldest: float) -> MessageRef | None:
        """Search history since `oldest` by metadata, page after page (a busy channel has more
        than one page since a post whose answer was lost); None also when Slack cannot search.
        """
        cursor = ""
        for _ in range(SEARCH_PAGES):
            page = self._history(channel, oldest, cursor)
            if page is None:
                return None
            for item in page.get("messages") or []:
                if _names(item, key, slot):
                    return MessageRef(channel, str(item["ts"]))
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        logger.warning("no earlier post of %s in %s within %d pages", key, channel, SEARCH_PAGES)
        return None

    def _history(self, channel: str, oldest: float, cursor: str) -> dict[str, Any] | None:
        """One page of conversations.history, newest first; None when Slack cannot look here."""
        try:
            response = self._client.conversations_history(
                channel=channel,
                oldest=f"{oldest:.6f}",
                include_all_metadata=True,
                limit=SEARCH_LIMIT,
                cursor=cursor or None,
            )
        except SlackApiError as exc:
            error = _error_code(exc)
            if error in _UNSEARCHABLE:
                logger.warning(
                    "cannot search %s for an earlier post (%s): posting again may duplicate it",
                    channel,
                    error,
                )
                return None
            raise DeliveryError(
                f"conversations.history failed: {error or exc}", code=error, channel=channel
            ) from exc
        except (SlackClientError, OSError, HTTPException) as exc:
            raise DeliveryError(
                f"conversations.history failed: {exc}", code=UNREACHABLE, channel=channel
            ) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    def permalink(self, ref: MessageRef) -> str:
        """chat.getPermalink (no scope needed, Slack's docs say)."""
        try:
            response = self._client.chat_getPermalink(channel=ref.channel, message_ts=ref.ts)
        except SlackApiError as exc:
            error = _error_code(exc)
            raise DeliveryError(
                f"chat.getPermalink failed: {error or exc}", code=error, channel=ref.channel
            ) from exc
        except (SlackClientError, OSError, HTTPException) as exc:
            raise DeliveryError(
                f"chat.getPermalink failed: {exc}", code=UNREACHABLE, channel=ref.channel
            ) from exc
        return str(response.get("permalink") or "")


def _names(item: dict[str, Any], key: str, slot: str) -> bool:
    """True when a history item is deploybot's post of `key`/`slot` (by its metadata)."""
    metadata = item.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == METADATA_EVENT_TYPE
        and payload.get("key") == key
        and payload.get("slot") == slot
    )


class WebhookPoster:
    """Posts through an incoming webhook or an interaction's `response_url`.

    An incoming webhook's channel is fixed when the webhook is made; a `response_url` also
    takes `response_type`, `replace_original` and `delete_original` from the message.
    """

    def __init__(self, client: WebhookClient, what: str = "incoming webhook") -> None:
        self._client = client
        self._what = what

    def post(self, message: dict[str, Any]) -> None:
        """Send text and blocks; if the blocks are rejected, the text alone; else raise.

        A webhook answers without a ts, so its messages can be neither found nor edited.
        """
        message = well_formed(message)  # the last guard: Slack cannot take a lone surrogate
        status, body = self._send(message, message.get("blocks"))
        if status != 200 and body.strip() in _BLOCK_ERRORS:
            logger.warning("Slack rejected the blocks (%s); posting the text alone", body)
            status, body = self._send(message, None)
        if status != 200:
            raise DeliveryError(
                f"{self._what} answered {status}: {body[:200]}",
                code=body.strip()[:100] or f"http_{status}",
                channel=WEBHOOK_CHANNEL,
            )

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
            raise DeliveryError(
                f"{self._what} failed: {exc}", code=UNREACHABLE, channel=WEBHOOK_CHANNEL
            ) from exc
        return response.status_code, str(response.body)


def make_poster(config: Config) -> Poster:
    """The poster the configuration implies: bot token first, else the incoming webhook."""
    if config.slack_bot_token:
        return WebApiPoster(make_web_client(config))
    if config.slack_webhook_url:
        return WebhookPoster(
            WebhookClient(
                config.slack_webhook_url,
                timeout=TIMEOUT_SECONDS,
                retry_handlers=retry_handlers(),
                logger=secret_safe_logger(_WEBHOOK_LOG),
            )
        )
    raise ConfigError("set SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL to post to Slack")


def make_responder(response_url: str) -> Poster:
    """A poster for an interaction's `response_url`, with the same retries as every post."""
    return WebhookPoster(
        WebhookClient(
            response_url,
            timeout=TIMEOUT_SECONDS,
            retry_handlers=retry_handlers(),
            logger=secret_safe_logger(_WEBHOOK_LOG),
        ),
        "response_url",
    )


# auth.test answers in well under a second; the Slack door's ack must leave within 3 s.
AUTH_TEST_TIMEOUT_SECONDS = 2


class Workspaces:
    """The workspaces whose requests the Slack door serves.

    The configured ones (`[slack] team_id`), else the bot token's own: auth.test, asked once
    per container in a background thread (`learn`), so that on a cold start it overlaps with
    building the Bolt app instead of adding a Slack round trip to the 3-second ack.
    """

    def __init__(self, teams: tuple[str, ...], client: WebClient | None = None) -> None:
        self._teams = frozenset(teams)
        self._enterprise: str | None = None  # learned: "" when the workspace is in no Grid
        self._client = client if not teams else None
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._asking = False

    def learn(self) -> None:
        """Start asking Slack which workspace the bot token is in, unless that is known."""
        with self._lock:
            if self._teams or self._client is None or self._asking:
                return
            self._asking = True
            self._answered.clear()
        threading.Thread(target=self._auth_test, name="auth.test", daemon=True).start()

    def _auth_test(self) -> None:
        assert self._client is not None
        failure = ""
        try:
            answer = self._client.auth_test()
        except (SlackClientError, OSError, HTTPException) as exc:
            failure = _reason(exc)  # Slack's error code or the exception's name, never the token
        if failure:
            logger.error("auth.test failed, so no workspace is served yet: %s", failure)
        with self._lock:
            if not failure:
                team = str(answer.get("team_id") or "")
                self._teams = frozenset({team} if team else ())
                self._enterprise = str(answer.get("enterprise_id") or "")
            self._asking = False
        self._answered.set()

    def allows(self, team_id: object, enterprise_id: object) -> bool | None:
        """True when the request comes from a served workspace; None when that is unknown."""
        if not self._teams and self._client is not None:
            self.learn()
            self._answered.wait(AUTH_TEST_TIMEOUT_SECONDS + 0.5)
        with self._lock:
            teams, enterprise = self._teams, self._enterprise
        if not teams:
            return None
        if not isinstance(team_id, str) or team_id not in teams:
            return False
        # A learned workspace also names its Enterprise Grid org ("" for none).
        return enterprise is None or not enterprise_id or enterprise_id == enterprise


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return _error_code(exc) or f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def make_workspaces(config: Config, *, learn: bool = False) -> Workspaces:
    """The configured workspaces, else the bot token's (auth.test; asked at once if `learn`)."""
    if config.slack_team_ids or not config.slack_bot_token:
        return Workspaces(config.slack_team_ids)
    client = WebClient(
        token=config.slack_bot_token,
        base_url=config.slack_api_url,
        timeout=AUTH_TEST_TIMEOUT_SECONDS,
        retry_handlers=[],
    )
    workspaces = Workspaces((), client)
    if learn:
        workspaces.learn()
    return workspaces
