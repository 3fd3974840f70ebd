"""Manual approvals answered from Slack: which approval a button names, who may not answer it,
what AWS must still show, what the answer tells AWS, and when to remind. Pure.

A button names an approval by the store key of its living message and a short id of its
stage and action (`approval_id`): never by its token. At click time the approval is found
again in the stored state (`find_approval`), the token comes from there (the legacy SNS
message carried it) or from a fresh GetPipelineState (`check_pending`), and AWS must still
show that very request waiting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.codepipeline import ApprovalAction
from bot.domain.coerce import as_map, as_str, mappings, parse_time, string_fields
from bot.domain.model import Approval, Deployment, Person, Scope, Status, View
from bot.domain.people import mapped_id
from bot.domain.rollback import VALUE_MAX
from bot.domain.urls import is_execution_id, is_pipeline_name

APPROVE = "approve"  # the claims' name for an answer to an approval (bot/domain/claims.py)
APPROVED = "Approved"  # PutApprovalResult's result.status values
REJECTED = "Rejected"
SUMMARY_MAX = 512  # PutApprovalResult's result.summary
REASON_MAX = 400  # what the modal lets a person type: the summary adds who and from where
EXPIRING_SECONDS = 3600.0  # remind once more this long before the request expires
DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60  # an approval's default timeout (CodePipeline quotas)
_ID_LENGTH = 12


def approval_id(stage: str, action: str) -> str:
    """The short id of an approval within its living message (its stage and action)."""
    digest = hashlib.sha256(json.dumps([stage, action]).encode()).hexdigest()
    return digest[:_ID_LENGTH]


def encode(key: str, approval: Deployment) -> str:
    """The value of an approval's buttons: where its message's state is, which approval, and
    its names for the modal's words (checked against the stored state at click time).

    Only for an approval that is `answerable`: Slack refuses a message whose value is longer.
    """
    value = _value(key, approval)
    assert len(value) <= VALUE_MAX, "an approval's button value must fit Slack's limit"
    return value


def _value(key: str, approval: Deployment) -> str:
    value = {
        "k": key,
        "i": approval_id(approval.stage, approval.action),
        "p": approval.pipeline,
        "s": approval.stage,
        "a": approval.action,
    }
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def answerable(key: str, approval: Deployment) -> bool:
    """True when a button can name `approval`: its pipeline, stage, action and execution id are
    names and ids AWS allows, and its value fits Slack's 2,000 characters. Otherwise it is
    answered in the console (an event may carry anything; AWS would not know such names)."""
    names = (approval.pipeline, approval.stage, approval.action)
    if not all(is_pipeline_name(name) for name in names):
        return False
    if approval.execution_id and not is_execution_id(approval.execution_id):
        return False
    return len(_value(key, approval)) <= VALUE_MAX


@dataclass(frozen=True, slots=True)
class Named:
    """What an approval button names: its message's key, its id, and names for the modal."""

    key: str
    ident: str
    pipeline: str = ""
    stage: str = ""
    action: str = ""


def decode(value: str) -> Named | None:
    """What a button value names, or None when it is not one of ours."""
    data = string_fields(value)
    if data is None:
        return None
    key, ident = data.get("k", ""), data.get("i", "")
    if not key.startswith(("execution#", "approval#")) or len(ident) != _ID_LENGTH:
        return None
    if approval_id(data.get("s", ""), data.get("a", "")) != ident:
        return None
    return Named(key, ident, data.get("p", ""), data.get("s", ""), data.get("a", ""))


def find_approval(view: View, ident: str) -> Deployment | None:
    """The approval of a living message's view that `ident` names."""
    return next((a for a in view.approvals if approval_id(a.stage, a.action) == ident), None)


def pending(approval: Deployment) -> bool:
    """True while nobody answered the approval (as far as its message knows)."""
    return not approval.status.is_final and not (approval.approval and approval.approval.decision)


def waiting(approval: Deployment, now: datetime) -> bool:
    """True while the approval waits for an answer that can still be given: nobody answered it
    and it has not expired (at its expiry, else 7 days, CodePipeline's default, after it was
    asked)."""
    asked = approval.approval or Approval()
    since = approval.started_at or approval.occurred_at
    expires = asked.expires_at or (
        since + timedelta(minutes=DEFAULT_TIMEOUT_MINUTES) if since is not None else None
    )
    return pending(approval) and expires is not None and now < expires


def answered(approval: Deployment) -> str:
    """ "Approved" or "Rejected" once answered (from Slack, or as AWS's events tell), else ""."""
    asked = approval.approval
    if asked is not None and asked.decision:
        return asked.decision
    if approval.status is Status.SUCCEEDED:
        return APPROVED
    if approval.status.is_failure:
        return REJECTED
    return ""


# --- what enrichment adds ---------------------------------------------------------------------


def with_definition(event: Deployment, action: ApprovalAction | None) -> Deployment:
    """An approval event with what its pipeline's definition says: the custom data, the link to
    review and, for a request just started, when it expires (its timeout, else 7 days)."""
    if action is None:
        return event
    asked = event.approval or Approval()
    expires = asked.expires_at
    if expires is None and event.status is Status.STARTED and event.occurred_at is not None:
        minutes = action.timeout_minutes or DEFAULT_TIMEOUT_MINUTES
        expires = event.occurred_at + timedelta(minutes=minutes)
    merged = replace(
        asked,
        custom_data=asked.custom_data or action.custom_data,
        external_link=asked.external_link or action.external_link,
        expires_at=expires,
    )
    return replace(event, approval=merged)


def execution_of(state: Mapping[str, object], event: Deployment) -> str:
    """The execution a legacy approval message (which names none) belongs to: the one whose
    stage holds the action with this very token now (GetPipelineState); "" when none does."""
    token = event.approval.token if event.approval else ""
    latest = action_state(state, event.stage, event.action)
    if not token or as_str(latest.get("token")) != token:
        return ""
    return stage_execution(state, event.stage)


# --- who may not answer -----------------------------------------------------------------------


def self_approval_refusal(
    user: str, change: Deployment, people: Mapping[str, str], *, allowed: bool
) -> str:
    """Why `user` may not answer an approval of `change` (the execution): they started it, or
    wrote one of its commits. A person is `user` when their Slack id (enrichment resolves it)
    or `[people]` (git e-mail or login -> Slack user id) says so."""
    if allowed:
        return ""
    for why, person in _people_of(change):
        if user in (person.slack_id, mapped_id(person, people)):
            who = person.login or person.email or person.name or user
            return (
                f"you {why} this change ({who}), and nobody approves their own change "
                "(approvals.allow_self_approval is false)"
            )
    return ""


def _people_of(change: Deployment) -> Iterator[tuple[str, Person]]:
    """Who started the change, and who wrote it (the release diff's authors, the commit's)."""
    started = change.started_by
    if started is not None and started.who is not None:
        yield "started", started.who
    if change.diff is not None:
        yield from (("wrote", person) for person in change.diff.authors)
        yield from (("wrote", c.author) for c in change.diff.changes)
    if change.commit is not None and change.commit.author:
        yield "wrote", Person(name=change.commit.author)


# --- is it still waiting (GetPipelineState) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """What GetPipelineState says of an approval action: still waiting, with which token."""

    refusal: str = ""  # why it cannot be answered now ("" when it can)
    token: str = ""  # the current request's token
    status: str = ""  # the action's latest status ("InProgress", "Succeeded", ...)
    summary: str = ""  # what its answer said, once answered
    by: str = ""  # who answered it in AWS (an ARN), once answered


def action_state(state: Mapping[str, object], stage: str, action: str) -> Mapping[str, object]:
    """The `latestExecution` of `stage`/`action` in a GetPipelineState answer ({} if none)."""
    for item in mappings(state.get("stageStates")):
        if item.get("stageName") != stage:
            continue
        for candidate in mappings(item.get("actionStates")):
            if candidate.get("actionName") == action:
                return as_map(candidate.get("latestExecution"))
    return {}


def stage_execution(state: Mapping[str, object], stage: str) -> str:
    """The execution `stage` last ran, in a GetPipelineState answer."""
    for item in mappings(state.get("stageStates")):
        if item.get("stageName") == stage:
            return as_str(as_map(item.get("latestExecution")).get("pipelineExecutionId"))
    return ""


def check_pending(
    approval: Deployment, state: Mapping[str, object], known_token: str = ""
) -> Pending:
    """Is `approval` still waiting, as the request the message shows (GetPipelineState)?"""
    latest = action_state(state, approval.stage, approval.action)
    status, token = as_str(latest.get("status")), as_str(latest.get("token"))
    done = Pending(
        status=status,
        summary=as_str(latest.get("summary")),
        by=as_str(latest.get("lastUpdatedBy")),
    )
    if not latest:
        return Pending(f"AWS shows no approval {approval.action} in {approval.stage} any more")
    if status != "InProgress":
        return Pending(f"it is no longer waiting: AWS shows it {status or 'unknown'}", **_as(done))
    running = stage_execution(state, approval.stage)
    if approval.execution_id and running and running != approval.execution_id:
        return Pending(
            f"the approval now waiting in {approval.stage} belongs to execution {running}, "
            f"not to {approval.execution_id}: answer it from its own message"
        )
    if not token or (known_token and token != known_token):
        return Pending("this approval request was replaced by a newer one (its token changed)")
    return Pending(token=token, status=status)


def _as(done: Pending) -> dict[str, str]:
    return {"status": done.status, "summary": done.summary, "by": done.by}


def summary(decision: str, user: str, name: str, reason: str) -> str:
    """PutApprovalResult's summary: who answered from Slack, and what they wrote."""
    text = f"{decision} from Slack by {name or 'Slack user'} ({user})"
    if reason.strip():
        text += ": " + " ".join(reason.split())
    return text[:SUMMARY_MAX]


def request_id(approval: Deployment) -> str:
    """Which request of an approval its message shows: when it was first seen (a retried stage
    asks again, in the same execution, with a new token). Stable and not secret, unlike the
    token; "" when no event of it had a time."""
    return approval.started_at.isoformat() if approval.started_at else ""


def answers_shown(approval: Deployment, request: str, at: datetime) -> bool:
    """Does an answer to `request` (its `request_id` when answered; "" for an answer recorded
    without one: then the time it was given, `at`) answer the request `approval` shows now?

    Not once a newer request began: that one is first seen after the answer. A slower
    notification of the same request can only move its first-seen time earlier."""
    began = approval.started_at
    return began is None or began <= (parse_time(request) or at)


def decision_event(
    approval: Deployment, decision: str, user: str, reason: str, at: datetime
) -> Deployment:
    """The answer given from Slack (at `at`), as an event of the approval's living message.

    Its time says which request it answered: every request first seen before it (the living
    message shows a request first seen later as waiting again)."""
    # Without an execution, the request's token names its message (living.message_key).
    token = approval.approval.token if approval.approval and not approval.execution_id else ""
    asked = Approval(token=token, decision=decision, decided_by=user, reason=reason[:REASON_MAX])
    return Deployment(
        source=approval.source,
        scope=Scope.APPROVAL,
        status=Status.SUCCEEDED if decision == APPROVED else Status.FAILED,
        raw_status=decision.upper(),
        region=approval.region,
        account=approval.account,
        pipeline=approval.pipeline,
        execution_id=approval.execution_id,
        stage=approval.stage,
        action=approval.action,
        occurred_at=at,
        approval=asked,
    )


# --- reminders --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reminder:
    """A thread reply due for a waiting approval; `slots` record it once it is posted."""

    slots: tuple[str, ...]
    approval: Deployment
    kind: str  # "waiting" (it has waited remind_after) or "expiring" (within the last hour)


def reminder_slot(approval: Deployment, kind: str) -> str:
    """The slot of a living message's state that records one reminder of one approval."""
    return f"remind:{approval_id(approval.stage, approval.action)}:{kind}"


def due_reminders(
    approvals: Iterable[Deployment], sent: Iterable[str], now: datetime, remind_after: float
) -> list[Reminder]:
    """The reminders due now for a message's approvals, leaving out those already `sent` (the
    state's slots). Nothing for an approval once answered or expired; none is due twice."""
    done = set(sent)
    due = []
    for approval in approvals:
        asked = approval.approval or Approval()
        expires = asked.expires_at
        if not pending(approval) or (expires is not None and now >= expires):
            continue
        waiting, expiring = reminder_slot(approval, "waiting"), reminder_slot(approval, "expiring")
        since = approval.started_at or approval.occurred_at
        expiring_soon = expires is not None and expires - now <= timedelta(seconds=EXPIRING_SECONDS)
        waited = bool(remind_after and since and now - since >= timedelta(seconds=remind_after))
        if expiring_soon and expiring not in done:
            # It says how long it has waited, too: no second reply for that.
            due.append(Reminder((expiring, waiting), approval, "expiring"))
        elif waited and not expiring_soon and waiting not in done:
            due.append(Reminder((waiting,), approval, "waiting"))
    return due
