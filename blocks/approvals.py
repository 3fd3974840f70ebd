"""A manual approval in its execution's message: the request, Approve and Reject, the modal
that asks for a comment or a reason, the answer, the audit reply and the reminders. Pure.

Approve and Reject both open a modal (one flow): it is the confirmation, and it carries the
comment (optional) or the reason (required). Nothing in a button names the token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from blocks import ids
from blocks.actions import Block, Message, audit, button, mention, with_aws_words
from blocks.links import host_label
from blocks.looks import LOOKS
from blocks.text import date_token, duration, inline, link, mrkdwn, plain, safe_url
from bot.domain.approvals import (
    APPROVED,
    REASON_MAX,
    Reminder,
    answerable,
    answered,
    encode,
    pending,
)
from bot.domain.model import Approval, AwsProblem, Deployment

CUSTOM_DATA_MAX = 800
NAME_MAX = 100
MODAL_TITLE_MAX = 24  # Slack's modal title and button texts
REASON_BLOCK = "reason"  # the input block of the modal, where errors are shown
REASON_INPUT = "text"
# Under an approval whose names or execution id no button can carry (not AWS's, or too long).
CONSOLE_NOTE = "_Answer it in the CodePipeline console: its names cannot go into a Slack button._"


def _where(approval: Deployment) -> str:
    return f"*{inline(approval.action, NAME_MAX)}* in {inline(approval.stage, NAME_MAX)}"


def _request_lines(asked: Approval, release: str) -> list[str]:
    lines: list[str] = []
    if asked.custom_data.strip():
        quoted = mrkdwn(asked.custom_data.strip(), CUSTOM_DATA_MAX).split("\n")
        lines.extend("> " + line for line in quoted)
    url = safe_url(asked.external_link)
    if url:
        lines.append("*Review* " + link(url, inline(host_label(url) or url, 200)))
    if release:
        lines.append(release)
    if asked.expires_at is not None:
        lines.append("Expires " + date_token(asked.expires_at))
    return lines


def approval_text(approval: Deployment, release: str = "", *, in_console: bool = False) -> str:
    """The approval as mrkdwn: what waits and what to look at (`release`: the release diff's
    line, ready mrkdwn), or how it was answered; `in_console`: its buttons cannot be offered."""
    asked = approval.approval or Approval()
    if pending(approval):
        head = f":raised_hand: *Approval needed*: {_where(approval)}"
        note = [CONSOLE_NOTE] if in_console else []
        return "\n".join([head, *_request_lines(asked, release), *note])
    decision = answered(approval)
    emoji = ":white_check_mark:" if decision == APPROVED else ":no_entry:"
    if asked.decision:
        said = f"{emoji} {_where(approval)} *{decision.lower()}* by {mention(asked.decided_by)}"
        if asked.reason.strip():
            said += ("\n> " if decision == APPROVED else "\n*Reason* ") + mrkdwn(
                " ".join(asked.reason.split()), REASON_MAX + 100
            )
        return said
    if decision:
        return f"{emoji} {_where(approval)} *{decision.lower()}* in AWS"
    look = LOOKS[approval.status]
    return f"{look.emoji} {_where(approval)}: approval {look.words}"


def approval_buttons(key: str, approval: Deployment) -> list[Block]:
    """Approve (primary) and Reject (danger) for a waiting approval; each opens a modal. None
    when no button can name it (`answerable`): then it is answered in the console."""
    if not pending(approval) or not answerable(key, approval):
        return []
    value = json.loads(encode(key, approval))
    return [
        button("Approve", ids.APPROVE, value, style="primary"),
        button("Reject", ids.REJECT, value, style="danger"),
    ]


def build_modal(decision: str, approval: Deployment, metadata: str) -> Block:
    """The modal an Approve or Reject click opens: it confirms, and asks for a comment (optional)
    or a reason (required)."""
    approve = decision == APPROVED
    verb = "Approve" if approve else "Reject"
    element: Block = {
        "type": "plain_text_input",
        "action_id": REASON_INPUT,
        "multiline": True,
        "max_length": REASON_MAX,
    }
    text = (
        f"{verb} {_where(approval)} of *{inline(approval.pipeline, NAME_MAX)}*? deploybot answers "
        "CodePipeline once, naming you; the thread records it."
    )
    return {
        "type": "modal",
        "callback_id": ids.APPROVAL_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": plain(f"{verb} the approval", MODAL_TITLE_MAX)},
        "submit": {"type": "plain_text", "text": verb},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": approve,
                "label": {
                    "type": "plain_text",
                    "text": "Comment (optional)" if approve else "Why reject it? (required)",
                },
                "element": element,
            },
        ],
    }


def reason_error(decision: str, reason: str) -> dict[str, str]:
    """The modal's field errors: a rejection needs a reason (response_action "errors")."""
    if decision != APPROVED and not reason.strip():
        return {REASON_BLOCK: "Say why: the reason goes to CodePipeline and the thread."}
    return {}


def decided_text(user: str, approval: Deployment, decision: str, reason: str) -> str:
    """The audit line: who answered which approval, how, and why."""
    verb = "approved" if decision == APPROVED else "rejected"
    emoji = ":white_check_mark:" if decision == APPROVED else ":no_entry:"
    text = (
        f"{emoji} {mention(user)} {verb} {_where(approval)} of "
        f"*{inline(approval.pipeline, NAME_MAX)}* from Slack"
    )
    if reason.strip():
        text += ": " + mrkdwn(" ".join(reason.split()), REASON_MAX + 100)
    return text


def build_decided(
    user: str, approval: Deployment, decision: str, reason: str, *, found: bool = False
) -> Message:
    """The thread reply that records an answer (`found`: read back after a lost answer)."""
    text = decided_text(user, approval, decision, reason)
    if found:
        text += "\n_AWS's answer was lost; deploybot read AWS and found it recorded._"
    return audit(text)


def build_answer_failed(
    user: str, approval: Deployment, decision: str, problem: AwsProblem
) -> Message:
    """The thread reply when AWS refused an answer, in AWS's words."""
    verb = "approve" if decision == APPROVED else "reject"
    head = (
        f":x: {mention(user)} could not {verb} {_where(approval)} of "
        f"*{inline(approval.pipeline, NAME_MAX)}*: {inline(problem.reason, 200)}"
    )
    return with_aws_words(head, problem)


def build_answer_unknown(user: str, approval: Deployment, problem: AwsProblem) -> Message:
    """The thread reply when AWS's answer was lost and reading AWS did not show it recorded."""
    head = (
        f":warning: {mention(user)}'s answer to {_where(approval)} *may have reached* "
        f"CodePipeline: {inline(problem.reason, 200)}, and AWS does not show it yet. Check the "
        "console; answering again reads AWS first and sends nothing twice."
    )
    return with_aws_words(head, problem)


def build_reminder(reminder: Reminder, now: datetime, approvers: tuple[str, ...] = ()) -> Message:
    """The thread reply that reminds of a waiting approval, pinging who may answer it."""
    approval = reminder.approval
    asked = approval.approval or Approval()
    since = approval.started_at or approval.occurred_at or now
    waited = duration((now - since).total_seconds())
    if reminder.kind == "expiring" and asked.expires_at is not None:
        text = (
            f":alarm_clock: {_where(approval)} of *{inline(approval.pipeline, NAME_MAX)}* has "
            f"waited {waited} and expires {date_token(asked.expires_at)}: approve or reject it "
            "before it times out."
        )
    else:
        text = (
            f":hourglass: {_where(approval)} of *{inline(approval.pipeline, NAME_MAX)}* has "
            f"waited {waited} for approval."
        )
    if approvers:
        text += " " + " ".join(approvers)
    return audit(text)


def answered_at(moment: float) -> str:
    """A claim's time in words a private refusal can hold (no date token: it is escaped)."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def approvers(users: tuple[str, ...], usergroups: tuple[str, ...]) -> tuple[str, ...]:
    """Mentions of who may answer (config-validated ids), for a reminder."""
    return (*(f"<!subteam^{g}>" for g in usergroups), *(f"<@{u}>" for u in users))
