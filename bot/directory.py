"""Who is who in Slack: a git e-mail to a workspace user id, through users.lookupByEmail.

The I/O edge of "people, not strings" (bot/domain/people.py decides who needs a lookup). Slack's
method (scope `users:read.email`, Tier 3) answers a user object, or `users_not_found`, or
`missing_scope` when the app was installed without the scope. Answers are kept per container
(found, and Slack's `users_not_found` for an hour) and, when found, in the store, so a cold
container asks Slack only about e-mails it has never seen. A failure that is no answer (rate
limited, 5xx, a timeout) is not kept: the next event asks again. Nothing here raises: an
unknown author stays plain text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.config import Config
from bot.store import Record, Store, StoreError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3
NOT_FOUND_SECONDS = 3600.0  # someone who joins the workspace is found within the hour
_GIVE_UP = frozenset({"missing_scope", "not_allowed_token_type", "invalid_auth", "not_authed"})


def store_key(email: str) -> str:
    """The store key of an e-mail's Slack user (hashed: the key is not where e-mails belong)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]
    return f"slack-user#{digest}"


class SlackDirectory:
    """users.lookupByEmail with a per-container cache and the store behind it."""

    def __init__(
        self,
        client: WebClient,
        store: Store | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, str]] = {}  # e-mail -> (until, user id or "")
        self._off = ""  # why lookups stopped for this container (a missing scope, a bad token)

    def user_for_email(self, email: str) -> str:
        """The Slack user id of `email`, or "" when Slack knows no such (active) user."""
        key = email.strip().lower()
        if not key or self._off:
            return ""
        with self._lock:
            cached = self._known.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        user = self._stored(key) or self._ask(key)
        if user is None:
            return ""  # no answer: not kept, so the next event asks again
        until = float("inf") if user else self._clock() + NOT_FOUND_SECONDS
        with self._lock:
            self._known[key] = (until, user)
        return user

    def _stored(self, email: str) -> str:
        if self._store is None:
            return ""
        try:
            record = self._store.get(store_key(email))
        except StoreError:
            logger.warning("could not read a Slack user from the store", exc_info=True)
            return ""
        if record is None:
            return ""
        user = json.loads(record.body).get("user", "")
        return user if isinstance(user, str) else ""

    def _ask(self, email: str) -> str | None:
        """The user id, "" when Slack says there is no such (active) user, None when Slack
        gave no answer (rate limited, 5xx, a timeout, lookups off)."""
        try:
            answer = self._client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            error = exc.response.get("error", "") if isinstance(exc.response.data, dict) else ""
            if error in _GIVE_UP:
                self._off = error
                logger.warning(
                    "users.lookupByEmail answered %s: authors stay plain text (add the "
                    "users:read.email scope and reinstall the app)",
                    error,
                )
            elif error == "users_not_found":
                return ""
            else:
                logger.warning("users.lookupByEmail failed: %s", error or exc.response.status_code)
            return None
        except (SlackClientError, OSError) as exc:
            logger.warning("users.lookupByEmail failed: %s", type(exc).__name__)
            return None
        user = answer.get("user") or {}
        if not isinstance(user, dict) or user.get("deleted") or not user.get("id"):
            return ""
        self._keep(email, str(user["id"]))
        return str(user["id"])

    def _keep(self, email: str, user: str) -> None:
        if self._store is None:
            return
        try:
            self._store.put(Record(store_key(email), 0, json.dumps({"user": user})))
        except StoreError:
            logger.warning("could not keep a Slack user in the store", exc_info=True)


def make_directory(config: Config, store: Store | None) -> SlackDirectory | None:
    """The directory for this configuration; None without a bot token or with lookups off."""
    if not config.slack_bot_token or not config.release.lookup_emails:
        return None
    client = WebClient(
        token=config.slack_bot_token, base_url=config.slack_api_url, timeout=TIMEOUT_SECONDS
    )
    return SlackDirectory(client, store)
