"""What every button that changes production needs, whatever it does.

Rollback uses these pieces today; approval, traffic and freeze buttons can use the same ones:
- `Click`: who clicked where, and the two ways to answer: privately to the clicker (through the
  interaction's response_url, else chat.postEphemeral once that has expired) and for everyone in
  the clicked message's thread (chat.postMessage with the bot token, which does not expire, so a
  late lazy run still reports what happened).
- `authorization`: the config's policy, with user-group membership read from Slack.
- `Claims`: the claim on an environment in the store (bot/domain/claims.py), taken and updated
  with compare-and-swap, so two clicks can never both hold it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.claims import Claim, claim_key, dump_claim, load_claim
from bot.domain.policy import Policy, authorization_refusal, needs_group_lookup
from bot.slack import DeliveryError, make_responder
from bot.store import Record, Store

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 5


class Click:
    """One click on an action button: who, where, and the ways to answer."""

    def __init__(self, body: dict[str, Any], client: WebClient) -> None:
        container = body.get("container") or {}
        message = body.get("message") or {}
        user = body.get("user") or {}
        action = (body.get("actions") or [{}])[0]
        self.body = body
        self.client = client
        self.user = str(user.get("id") or "")
        self.user_name = str(user.get("username") or user.get("name") or "")
        self.channel = str(
            (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        )
        self.message_ts = str(container.get("message_ts") or "")
        # Replies go to the thread the clicked message is in, or start one under it.
        self.thread_ts = str(message.get("thread_ts") or self.message_ts)
        self.message = message
        self.response_url = str(body.get("response_url") or "")
        self.value = str(action.get("value") or "")
        self.action_ts = str(action.get("action_ts") or "")
        self.request = f"{self.user}:{self.action_ts}"

    def private(self, message: dict[str, Any]) -> None:
        """Answer the clicker alone; once the response_url has expired, with chat.postEphemeral."""
        try:
            make_responder(self.response_url).post(message)
        except DeliveryError:
            logger.warning("the response_url failed; answering with chat.postEphemeral")
        else:
            return
        try:
            self.client.chat_postEphemeral(
                channel=self.channel,
                user=self.user,
                text=str(message.get("text") or ""),
                blocks=message.get("blocks"),
            )
        except SlackApiError:
            logger.exception("could not answer %s privately", self.user)

    def thread(self, message: dict[str, Any]) -> bool:
        """Reply in the clicked message's thread for everyone; privately if that fails."""
        try:
            self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **message,
            )
        except SlackApiError:
            logger.exception("could not reply in the thread of %s", self.thread_ts)
            self.private({**message, "response_type": "ephemeral", "replace_original": False})
            return False
        return True

    def update(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the clicked message's blocks (a failure is logged: the thread has the story)."""
        try:
            self.client.chat_update(
                channel=self.channel, ts=self.message_ts, text=text, blocks=blocks
            )
        except SlackApiError:
            logger.exception("could not update the message %s", self.message_ts)


def _groups(client: WebClient, policy: Policy, user: str) -> tuple[list[str], str]:
    """The configured user groups `user` is in (stopping at the first), and what was unreadable."""
    unreadable = []
    for group in policy.usergroups:
        try:
            users = client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            unreadable.append(f"{group}: {exc.response.get('error', 'error')}")
            continue
        if user in users:
            return [group], ""
    return [], "; ".join(unreadable)


def authorization(client: WebClient, policy: Policy, click: Click, section: str) -> str:
    """Why the clicker may not act here under `policy` (config table `section`), or ""."""
    groups: list[str] = []
    unreadable = ""
    if needs_group_lookup(policy, click.user, click.channel):
        groups, unreadable = _groups(client, policy, click.user)
    reason = authorization_refusal(policy, click.user, click.channel, groups, section)
    if reason and unreadable:
        reason += f" (could not read user group {unreadable})"
    return reason


class Claims:
    """The claim on one environment in the store."""

    def __init__(self, store: Store, environment: str) -> None:
        self.store = store
        self.key = claim_key(environment)

    def read(self) -> tuple[Record, Claim | None]:
        """The record (to write back with compare-and-swap) and the claim it holds."""
        record = self.store.get(self.key) or Record(self.key)
        return record, load_claim(record.body)

    def take(self, record: Record, claim: Claim) -> bool:
        """Write `claim` if the record is still the one read; False when another click won."""
        return self.store.put(replace(record, body=dump_claim(claim)))

    def change(self, request: str, change: Callable[[Claim], Claim]) -> Claim | None:
        """Apply `change` to the claim if it is still `request`'s; the claim written, or None.

        A lost race costs only the record, never a second write to AWS.
        """
        for _ in range(CAS_ATTEMPTS):
            record, claim = self.read()
            if claim is None or claim.request != request:
                return None
            changed = change(claim)
            if self.take(record, changed):
                return changed
        logger.warning("could not record the outcome in %s", self.key)
        return None


def now() -> float:
    """The time claims are stamped with (a function, so tests can move it)."""
    return time.time()
