"""Approve and Reject: a manual approval answered from its execution's message.

A click opens a modal at once (the trigger_id lasts 3 seconds): it is the confirmation, and it
asks for a comment (Approve, optional) or a reason (Reject, required; an empty one is refused
in the modal with `response_action: errors`). A click that the config refuses outright (wrong
channel, a user not listed where no user group can help) gets its answer instead of the modal.

The submission is acked at once and answered in a lazy listener, through the shared flow
(handlers/actions.py): the approval is found again in its message's stored state; the config
must allow this user here ([approvals], its pipeline's entry), and nobody answers a change they
started or wrote unless `allow_self_approval`; the first click claims the approval (a second
click, or a re-run of this one, is told who answered it and when, and calls nothing);
GetPipelineState must still show that very request waiting, with the token the store kept (the
legacy SNS message's) or its current one; PutApprovalResult is sent once, its summary naming
the Slack user. Then the answer folds into the living message (its buttons become "Approved by
@x") and the thread gets an audit reply. ApprovalAlreadyCompletedException and
InvalidApprovalTokenException are told as what they mean; any other AWS error reaches the thread.

`send_reminders` reminds a message's thread of approvals still waiting; the scheduled sweep
calls it (README "Approvals and actions").
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import ids
from blocks.actions import build_refusal, mention
from blocks.approvals import (
    REASON_BLOCK,
    REASON_INPUT,
    answered_at,
    approvers,
    build_answer_failed,
    build_answer_unknown,
    build_decided,
    build_modal,
    build_reminder,
    reason_error,
)
from bot import aws
from bot.aws import AwsError
from bot.aws.accounts import Place
from bot.domain import approvals
from bot.domain.approvals import APPROVE, APPROVED, REJECTED, Named
from bot.domain.claims import Claim
from bot.domain.config import ApprovalPolicy, Config
from bot.domain.living import MAIN, Slot, build_view, dump_state, load_state
from bot.domain.model import AwsProblem, Deployment, Scope, Source, Status, View
from bot.domain.policy import authorization_refusal, needs_group_lookup
from bot.slack import WebApiPoster
from bot.store import Record, Store, make_store
from handlers.actions import (
    CAS_ATTEMPTS,
    Call,
    Click,
    Flow,
    authorization,
    drive,
    place_of,
    refuse_click,
)
from handlers.common import config_of, respond
from handlers.notifications import deliver_events

logger = logging.getLogger(__name__)

SECTION = "approvals"
_MEANINGS = {
    "ApprovalAlreadyCompletedException": "it was already approved or rejected (in AWS)",
    "InvalidApprovalTokenException": (
        "this approval request is no longer current: it was answered, expired, or replaced"
    ),
}


def register(app: App) -> None:
    """Wire the buttons (they open the modal) and the modal's submission (acked, then lazy)."""
    app.action(ids.APPROVE)(handle_approve)
    app.action(ids.REJECT)(handle_reject)
    app.view(ids.APPROVAL_MODAL)(ack=ack_answer, lazy=[run_answer])


# --- the click: open the modal ------------------------------------------------------------------


def handle_approve(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Approve: a modal that confirms and takes an optional comment."""
    _open(ack, body, client, context, APPROVED)


def handle_reject(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Reject: a modal that asks why (required)."""
    _open(ack, body, client, context, REJECTED)


def _quick_refusal(policy: ApprovalPolicy, user: str, channel: str) -> str:
    """Why the config refuses this click whoever's user groups ("" when only a lookup can tell:
    that is done when the modal is submitted)."""
    if needs_group_lookup(policy, user, channel):
        return ""
    reason = authorization_refusal(policy, user, channel, (), SECTION)
    return reason + (_override_note(policy) if reason else "")


def _override_note(policy: ApprovalPolicy) -> str:
    return " (this pipeline's approvals.pipelines entry names who may)" if policy.overridden else ""


def _open(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, decision: str
) -> None:
    ack()
    click = Click(body, client)
    named = approvals.decode(click.value)
    if named is None:
        click.private(build_refusal("Not answered: this button names no approval"))
        return
    config = config_of(context)
    reason = _quick_refusal(config.approvals.policy_for(named.pipeline), click.user, click.channel)
    if reason:
        logger.warning("approval refused: %s", reason, extra=_keys(click, named, "refused"))
        respond(click.response_url, build_refusal(f"Not answered: {reason}"))
        return
    where = {"c": click.channel, "m": click.message_ts, "t": click.thread_ts}
    metadata = json.dumps({"v": click.value, "d": decision, **where}, separators=(",", ":"))
    shown = Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.APPROVAL,
        status=Status.STARTED,
        pipeline=named.pipeline,
        stage=named.stage,
        action=named.action,
    )
    view = build_modal(decision, shown, metadata)
    try:
        client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SlackApiError:
        logger.exception("could not open the approval modal")
        click.private(build_refusal("Not answered: Slack did not open the form; click again"))


def _keys(click: Click, named: Named, what: str) -> dict[str, str]:
    return {
        "approval": what,
        "slack_user": click.user,
        "slack_channel": click.channel,
        "pipeline": named.pipeline,
        "approval_stage": named.stage,
        "approval_action": named.action,
    }


# --- the submission: answer once ---------------------------------------------------------------


def _answer_of(view: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(the modal's private metadata, the comment or reason typed)."""
    try:
        meta = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        meta = {}
    values = (view.get("state") or {}).get("values") or {}
    typed = ((values.get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}).get("value")
    meta = meta if isinstance(meta, dict) else {}
    return {str(k): str(v) for k, v in meta.items()}, str(typed or "")


def ack_answer(ack: Ack, view: dict[str, Any]) -> None:
    """A rejection without a reason cannot be sent: the modal shows why and stays open."""
    meta, reason = _answer_of(view)
    errors = reason_error(meta.get("d", ""), reason)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()


def _submission_click(body: dict[str, Any], client: WebClient) -> tuple[Click, str, str]:
    """The submission as a click on the message the modal came from: (click, decision, reason).

    The modal's id is the request: a re-run of this submission's listener has the same.
    """
    view = body.get("view") or {}
    meta, reason = _answer_of(view)
    clicked = {
        "user": body.get("user") or {},
        "channel": {"id": meta.get("c", "")},
        "container": {"message_ts": meta.get("m", "")},
        "message": {"thread_ts": meta.get("t", "")},
        "actions": [{"value": meta.get("v", ""), "action_ts": str(view.get("id") or "")}],
    }
    return Click(clicked, client), meta.get("d", ""), reason


def run_answer(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Check everything again, then answer the approval once."""
    _answer(body, client, config_of(context), late=False)


def report_late(body: dict[str, Any], client: WebClient, config: Config) -> None:
    """The lazy run came after Slack's window (handlers/late.py): answer nothing; say what
    became of the submission, reading AWS when an earlier run of it left no outcome."""
    _answer(body, client, config, late=True)


def _answer(body: dict[str, Any], client: WebClient, config: Config, *, late: bool) -> None:
    click, decision, reason = _submission_click(body, client)
    named = approvals.decode(click.value)
    if named is None or decision not in (APPROVED, REJECTED) or reason_error(decision, reason):
        return  # not ours, or the modal already showed the error
    store = make_store(config)
    if store is None:
        _refuse(click, "approvals need the store, to answer each one once (store.backend)")
        return

    def flow() -> _Answer | None:
        found = _find(store, named)
        if isinstance(found, str):
            _refuse(click, found)
            return None
        view, approval = found
        if not late and not _allowed(click, config, named, (view, approval)):
            return None
        # The approval waits in its pipeline's account and region, as its events said.
        place = place_of(config, approval.account, approval.region)
        return _Answer(click, store, config, _Asked(named, approval, decision, reason), place)

    drive(flow, click, APPROVE, late=late)


def _refuse(click: Click, reason: str) -> None:
    refuse_click(click, APPROVE, reason, "Not answered")


def _find(store: Store, named: Named) -> tuple[View, Deployment] | str:
    """The approval a button names, from its message's stored state; or why it cannot be."""
    record = store.get(named.key)
    state = load_state(record.body) if record else None
    if state is None or not state.events:
        return "deploybot no longer knows this approval: answer it in the AWS console"
    view = build_view(named.key, state.events.values())
    approval = approvals.find_approval(view, named.ident)
    if approval is None:
        return "this message shows no such approval any more"
    return view, approval


def _allowed(click: Click, config: Config, named: Named, found: tuple[View, Deployment]) -> bool:
    """Does the config let this user answer here (and is it not their own change)?"""
    view, approval = found
    policy = config.approvals.policy_for(approval.pipeline)
    reason = authorization(click.client, policy, click, SECTION)
    if reason:
        reason += _override_note(policy)
    reason = reason or approvals.self_approval_refusal(
        click.user, view.head, config.release.people, allowed=config.approvals.allow_self_approval
    )
    if reason:
        _refuse(click, reason)
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Asked:
    """What a submission asks: which approval, answered how, and why."""

    named: Named
    approval: Deployment
    decision: str
    reason: str


class _Answer(Flow[Call]):
    """One answer to one approval, from the claim to the audit reply (the shared flow: Flow)."""

    name = APPROVE
    head = "Not answered"
    raced = "someone else answered this approval at the same moment"
    too_late = (
        "your answer reached deploybot after Slack's 5-minute window, so nothing was sent. "
        "Answer again if the approval still waits."
    )

    def __init__(
        self, click: Click, store: Store, config: Config, asked: _Asked, place: Place
    ) -> None:
        super().__init__(click, store, f"approval:{asked.named.key}:{asked.named.ident}", place)
        self.config = config
        self.named = asked.named
        self.approval = asked.approval
        self.decision = asked.decision
        self.reason = asked.reason
        self.codepipeline = place.codepipeline

    @property
    def subject(self) -> str:
        return self.decision

    def log(self, what: str, **extra: str) -> dict[str, str]:
        return {**_keys(self.click, self.named, what), "decision": self.decision, **extra}

    def busy(self, claim: Claim) -> str:
        return f"{mention(claim.user)} is answering this approval right now"

    def facts(self, write: Call) -> dict[str, str]:
        """Which request this answers (not its token): a retried stage asks again."""
        return {"request": approvals.request_id(self.approval)}

    def done_already(self, claim: Claim) -> str:
        if claim.outcome not in (APPROVED, REJECTED):
            return ""
        answered = datetime.fromtimestamp(claim.at, UTC)
        if not approvals.answers_shown(self.approval, claim.facts.get("request", ""), answered):
            return ""  # it answered an earlier request: this one is new
        return (
            f"already {claim.outcome.lower()} by {mention(claim.user)} at {answered_at(claim.at)}"
        )

    def _state(self) -> Mapping[str, Any]:
        state: Mapping[str, Any] = aws.call(
            self.codepipeline, "get_pipeline_state", name=self.approval.pipeline
        )
        return state

    def prepare(self, token: str) -> Call | None:
        known = self.approval.approval.token if self.approval.approval else ""
        try:
            waiting = approvals.check_pending(self.approval, self._state(), known)
        except AwsError as exc:
            self.failed(exc.problem)
            return None
        if waiting.refusal:
            self.refuse(waiting.refusal)
            return None
        summary = approvals.summary(
            self.decision, self.click.user, self.click.user_name, self.reason
        )
        params = {
            "pipelineName": self.approval.pipeline,
            "stageName": self.approval.stage,
            "actionName": self.approval.action,
            "result": {"status": self.decision, "summary": summary},
            "token": waiting.token,
        }
        return Call("codepipeline", "put_approval_result", params)

    def write(self, write: Call) -> str:
        super().write(write)
        return self.decision

    def find(self, claim: Claim) -> str:
        """The answer AWS recorded for this claim: its summary names the claim's user."""
        latest = approvals.action_state(self._state(), self.approval.stage, self.approval.action)
        status, said = latest.get("status"), str(latest.get("summary") or "")
        if status not in ("Succeeded", "Failed") or f"({claim.user})" not in said:
            return ""
        return APPROVED if status == "Succeeded" else REJECTED

    # --- what the message and the thread are told ---------------------------------------------

    def started(
        self, claim: Claim, outcome: str, write: Call | None, *, found: bool = False
    ) -> None:
        self.record(claim, outcome, note=self.reason)
        logger.info("approval answered", extra=self.log("answered", outcome=outcome))
        answered = datetime.fromtimestamp(claim.at, UTC)
        answer = approvals.decision_event(self.approval, outcome, claim.user, self.reason, answered)
        _, failures = deliver_events(
            [answer], self.config, WebApiPoster(self.click.client), self.store
        )
        if failures:
            logger.error("the approval's message was not updated: %s", failures[0])
        self.click.thread(
            build_decided(claim.user, self.approval, outcome, self.reason, found=found)
        )

    def failed(self, problem: AwsProblem) -> None:
        logger.warning(
            "approval failed: %s",
            problem.reason,
            extra=self.log("failed", aws_error=problem.code, aws_message=problem.message),
        )
        meaning = _MEANINGS.get(problem.code)
        if meaning:
            self.refuse(meaning)
            return
        self.click.thread(
            build_answer_failed(self.click.user, self.approval, self.decision, problem)
        )

    def unknown(self, claim: Claim, problem: AwsProblem) -> None:
        self.click.thread(build_answer_unknown(claim.user, self.approval, problem))


# --- reminders ---------------------------------------------------------------------------------


def send_reminders(
    key: str, config: Config, store: Store, client: WebClient, now: datetime | None = None
) -> int:
    """Remind the thread of `key`'s message of approvals still waiting; how many were posted.

    The scheduled sweep calls this for each living message it visits. Each reminder is claimed
    in the message's state (a slot, compare-and-swap) before it is posted, so two sweeps never
    post it twice; a post that fails gives the claim back for the next sweep.
    """
    moment = now or datetime.now(UTC)
    record = store.get(key)
    state = load_state(record.body) if record else None
    if state is None or not state.events or not state.slots.get(MAIN, Slot()).ts:
        return 0
    view = build_view(key, state.events.values())
    due = approvals.due_reminders(
        view.approvals, state.slots, moment, config.approvals.remind_after_seconds
    )
    posted = 0
    for reminder in due:
        posted += _remind(key, reminder, store=store, client=client, config=config, now=moment)
    return posted


def _remind(
    key: str,
    reminder: approvals.Reminder,
    *,
    store: Store,
    client: WebClient,
    config: Config,
    now: datetime,
) -> int:
    owner = uuid.uuid4().hex
    main = _claim_slots(store, key, reminder.slots, Slot(owner=owner, claimed_at=now.timestamp()))
    if main is None:
        return 0  # another sweep took it
    policy = config.approvals.policy_for(reminder.approval.pipeline)
    message = build_reminder(reminder, now, approvers(policy.users, policy.usergroups))
    try:
        answer = client.chat_postMessage(
            channel=main.channel, thread_ts=main.ts, unfurl_links=False, **message
        )
    except SlackApiError:
        logger.exception("could not post the approval reminder of %s", key)
        _claim_slots(store, key, reminder.slots, None)  # the next sweep tries again
        return 0
    done = Slot(channel=main.channel, ts=str(answer.get("ts") or ""), owner=owner)
    _claim_slots(store, key, reminder.slots, done)
    return 1


def _claim_slots(store: Store, key: str, names: tuple[str, ...], slot: Slot | None) -> Slot | None:
    """Claim (a slot without ts), record (with ts) or give back (None) a reminder's slots; the
    first is its own, the others are replies it makes unneeded. The main message's slot, or
    None when another sweep holds the reminder."""
    own = names[0]
    for _ in range(CAS_ATTEMPTS):
        record = store.get(key) or Record(key)
        state = load_state(record.body)
        held = state.slots.get(own)
        if slot is not None and held is not None and held.owner != slot.owner:
            return None
        slots = dict(state.slots)
        if slot is None:
            slots.pop(own, None)
        else:
            slots.update(dict.fromkeys(names, slot))
        if store.put(replace(record, body=dump_state(replace(state, slots=slots)))):
            return state.slots.get(MAIN, Slot())
    return None
