"""The Roll back button: acked at once; checked, claimed and started in a lazy listener.

Nothing in the button is trusted. In order: the config must still enable rollback there and
allow this user in this channel (user ids, user groups, channels; default deny); the store must
not hold a recent rollback to the same target (a double click, or a re-run of this listener by
a Lambda retry); AWS must still show the target as valid. Only then is the target claimed in the
store (compare-and-swap: one click wins) and the one AWS call made, with a clientRequestToken
where the API takes one, so a re-run of the same click cannot start a second pipeline execution.
Refusals are private; what happened to a rollback goes in the message's thread for everyone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import ids
from blocks.rollback import build_failed, build_refusal, build_started, mark_started, run_url
from blocks.rollback import started_text as audit_line
from bot import aws
from bot.aws import AwsError
from bot.aws.rollback import prepare, start
from bot.domain.config import Config, RollbackSettings
from bot.domain.model import AwsProblem, RollbackRequest
from bot.domain.rollback import (
    PIPELINE,
    Claim,
    Target,
    authorization_refusal,
    client_token,
    config_refusal,
    decode,
    dump_claim,
    dump_request,
    load_claim,
    needs_group_lookup,
    run_key,
    verdict,
    with_config,
)
from bot.store import Record, Store, StoreError, make_store
from handlers.common import config_of, respond

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    """Wire the button: an empty ack, then the work in a lazy listener."""
    app.action(ids.ROLLBACK)(ack=ack_rollback, lazy=[run_rollback])


def ack_rollback(ack: Ack) -> None:
    """Slack waits 3 seconds; the checks and AWS calls take longer."""
    ack()


def _groups(client: WebClient, settings: RollbackSettings, user: str) -> tuple[list[str], str]:
    """The configured user groups `user` is in (stopping at the first), and what was unreadable."""
    unreadable = []
    for group in settings.usergroups:
        try:
            users = client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            unreadable.append(f"{group}: {exc.response.get('error', 'error')}")
            continue
        if user in users:
            return [group], ""
    return [], "; ".join(unreadable)


def _authorization(client: WebClient, settings: RollbackSettings, user: str, channel: str) -> str:
    groups: list[str] = []
    unreadable = ""
    if needs_group_lookup(settings, user, channel):
        groups, unreadable = _groups(client, settings, user)
    reason = authorization_refusal(settings, user, channel, groups)
    if reason and unreadable:
        reason += f" (could not read user group {unreadable})"
    return reason


class _Click:
    """One click on a Roll back button: who, where, and the ways to answer."""

    def __init__(self, body: dict[str, Any], client: WebClient, config: Config) -> None:
        container = body.get("container") or {}
        self.body = body
        self.client = client
        self.config = config
        self.user = str((body.get("user") or {}).get("id") or "")
        self.channel = str(
            (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        )
        self.message_ts = str(container.get("message_ts") or "")
        self.response_url = str(body.get("response_url") or "")
        action = (body.get("actions") or [{}])[0]
        self.value = str(action.get("value") or "")
        self.request = f"{self.user}:{action.get('action_ts', '')}"

    def log(self, what: str, target: Target | None, **extra: str) -> dict[str, str]:
        """The structured keys of a log line about this click."""
        return {
            "rollback": what,
            "slack_user": self.user,
            "slack_channel": self.channel,
            "rollback_strategy": target.strategy if target else "",
            "rollback_target": target.target_id if target else "",
            "rollback_commit": target.sha if target else "",
            "pipeline": target.pipeline if target else "",
            **extra,
        }

    def refuse(self, reason: str, target: Target | None) -> None:
        """Tell the clicker privately why not, and log it."""
        logger.warning("rollback refused: %s", reason, extra=self.log("refused", target))
        respond(self.response_url, build_refusal(reason))

    def thread(self, message: dict[str, Any]) -> None:
        """Reply in the clicked message's thread for everyone; privately if that fails."""
        try:
            self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=self.message_ts,
                unfurl_links=False,
                unfurl_media=False,
                **message,
            )
        except SlackApiError:
            logger.exception("could not reply in the thread of %s", self.message_ts)
            respond(self.response_url, {**message, "response_type": "ephemeral"})


def run_rollback(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Check everything again, then start the rollback once."""
    config = config_of(context)
    click = _Click(body, client, config)
    decoded = decode(click.value)
    if decoded is None:
        click.refuse("this button does not name a rollback target", None)
        return
    target = with_config(decoded, config.rollback)
    reason = config_refusal(target, config.rollback) or _authorization(
        client, config.rollback, click.user, click.channel
    )
    if reason:
        click.refuse(reason, target)
        return
    store = make_store(config)
    if store is None:
        click.refuse("rollbacks need the store, to start each one once (store.backend)", target)
        return
    try:
        _claim_and_start(click, target, store)
    except StoreError as exc:
        logger.exception("rollback store failed", extra=click.log("store-failed", target))
        click.refuse(f"the store is unavailable, so nothing was started: {exc}", target)


def _claim_and_start(click: _Click, target: Target, store: Store) -> None:
    record = store.get(target.key) or Record(target.key)
    claim = load_claim(record.body)
    now = time.time()
    decided = verdict(claim, click.request, now)
    if decided == "done":
        logger.info("rollback click ran again: already done", extra=click.log("rerun", target))
        return
    refusal = _verdict_refusal(decided, claim, target)
    if refusal:
        click.refuse(refusal, target)
        return
    token = (
        claim.token if claim and decided == "resume" else client_token(target.key, click.request)
    )
    description = f"Rollback to {target.target_id} ({target.sha[:12]}) from Slack by {click.user}"
    try:
        plan = prepare(
            target,
            token=token,
            description=description,
            codepipeline=aws.client("codepipeline"),
            codedeploy=aws.client("codedeploy"),
        )
    except AwsError as exc:
        _failed(click, target, exc.problem)
        return
    if isinstance(plan, str):
        click.refuse(plan, target)
        return
    if decided == "claim":
        mine = Claim(user=click.user, request=click.request, token=token, at=now)
        if not store.put(replace(record, body=dump_claim(mine))):
            latest = load_claim((store.get(target.key) or record).body)
            click.refuse(_already(latest, target) if latest else "someone else was faster", target)
            return
    try:
        new_id = start(plan, aws.client(plan.service, retry=False))
    except AwsError as exc:
        _record(store, target.key, lambda c: replace(c, state="failed"))
        _failed(click, target, exc.problem)
        return
    _started(click, target, store, new_id)


def _verdict_refusal(decided: str, claim: Claim | None, target: Target) -> str:
    """Why the store's record of this target forbids the click, or ""."""
    if decided == "duplicate" and claim is not None:
        return _already(claim, target)
    if decided == "resume" and target.strategy != PIPELINE:
        # Only start_pipeline_execution takes a token: calling again could start twice.
        return (
            "an earlier attempt of this click may have started it; check AWS before trying "
            "again (in an hour, or once it is marked failed)"
        )
    return ""


def _already(claim: Claim, target: Target) -> str:
    return (
        f"a rollback to {target.sha[:7] or target.target_id} was already started by "
        f"{claim.user} {max(0, int(time.time() - claim.at)) // 60} min ago "
        f"({claim.new_id or 'starting'})"
    )


def _record(store: Store, key: str, change: Callable[[Claim], Claim]) -> None:
    """Update this click's claim; a lost race only costs the record, never a second rollback."""
    for _ in range(5):
        record = store.get(key)
        claim = load_claim(record.body) if record else None
        if record is None or claim is None:
            return
        if store.put(replace(record, body=dump_claim(change(claim)))):
            return
    logger.warning("could not record the outcome of the rollback in %s", key)


def _failed(click: _Click, target: Target, problem: AwsProblem) -> None:
    logger.warning(
        "rollback failed: %s",
        problem.reason,
        extra=click.log("failed", target, aws_error=problem.code, aws_message=problem.message),
    )
    click.thread(build_failed(click.user, target, problem))


def _started(click: _Click, target: Target, store: Store, new_id: str) -> None:
    url = run_url(target, aws.region_of(aws.client("codepipeline")), new_id)
    _record(store, target.key, lambda c: replace(c, state="started", new_id=new_id, link=url))
    asked = RollbackRequest(click.user, target.environment, target.sha, target.target_id)
    # The rollback's own notifications look this up to say whose rollback they are.
    store.put(Record(run_key(new_id), body=dump_request(asked)))
    logger.info("rollback started", extra=click.log("started", target, new_id=new_id))
    click.thread(build_started(click.user, target, new_id, url))
    message = click.body.get("message") or {}
    if not message.get("blocks"):
        return
    try:
        click.client.chat_update(
            channel=click.channel,
            ts=click.message_ts,
            text=str(message.get("text") or audit_line(click.user, target, new_id, url)),
            blocks=mark_started(message["blocks"], click.user, target, new_id, url),
        )
    except SlackApiError:
        logger.exception("could not mark the message %s as rolled back", click.message_ts)
