"""The Roll back button and its confirm dialog; the messages a rollback click produces. Pure."""

from __future__ import annotations

import re
from typing import Any

from blocks import ids
from blocks.links import deployment_url, pipeline_url
from blocks.release import undo_text
from blocks.text import code_span, inline, link, mrkdwn, plain
from bot.domain.model import AwsProblem, Deployment
from bot.domain.rollback import CODEDEPLOY, STAGE, Target, encode

Block = dict[str, Any]
Message = dict[str, Any]

# Slack's confirm dialog: title ≤ 100, text ≤ 300, confirm/deny ≤ 30 characters.
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
AWS_MESSAGE_MAX = 1500
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _what(target: Target) -> str:
    """What pressing the button does, in words (untrusted names included, not escaped)."""
    if target.strategy == CODEDEPLOY:
        return (
            f"CodeDeploy deploys the revision of {target.deployment_id} again to "
            f"{target.application}/{target.deployment_group}."
        )
    if target.strategy == STAGE:
        return (
            f"Stage {target.stage} of {target.pipeline} is rolled back to execution "
            f"{target.execution_id[:8]}."
        )
    return f"{target.pipeline} runs again, every stage, with its source pinned to this commit."


def _commit_words(target: Target) -> str:
    if not target.sha:
        return f"deployment {target.deployment_id}"
    return f"{target.sha[:7]} {target.title}".strip()


def rollback_button(target: Target, event: Deployment) -> Block:
    """The danger button of a message, asking for confirmation with everything at stake."""
    own = target.target_id in (event.execution_id, event.deployment_id)
    label = "Roll back to this" if own else f"Roll back to {target.sha[:7] or target.target_id}"
    undo = undo_text(event.diff, target.sha)  # "This undoes 12 commits by @a, @b."
    text = plain(
        f"Redeploy {_commit_words(target)} to {target.environment}. {undo} {_what(target)}",
        CONFIRM_TEXT_MAX,
    )
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": plain(label, 75)},
        "action_id": ids.ROLLBACK,
        "value": encode(target),
        "style": "danger",
        "confirm": {
            "title": {
                "type": "plain_text",
                "text": plain(f"Roll back {target.environment}?", CONFIRM_TITLE_MAX),
            },
            "text": {"type": "plain_text", "text": text},
            "confirm": {"type": "plain_text", "text": "Roll back"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        },
    }


def mention(user: str) -> str:
    """A user mention for an id Slack sent; anything else is shown, escaped, not mentioned."""
    return f"<@{user}>" if _USER_ID.match(user) else inline(user, 30)


def _sha(target: Target) -> str:
    return code_span(target.sha[:7] or target.target_id, 40)


def run_url(target: Target, region: str, new_id: str) -> str:
    """The console page of the run a rollback started ("" when the region is unknown)."""
    if target.strategy == CODEDEPLOY:
        return deployment_url(region, new_id)
    return pipeline_url(region, target.pipeline, new_id)


def started_text(user: str, target: Target, new_id: str, url: str) -> str:
    """The audit line: who started a rollback of what, to which commit, and where it runs."""
    run = link(url, code_span(new_id, 80)) if new_id else "(AWS gave no id)"
    return (
        f":rewind: {mention(user)} started a rollback of *{inline(target.environment, 100)}* "
        f"to {_sha(target)} — {run}"
    )


def build_started(user: str, target: Target, new_id: str, url: str) -> Message:
    """The thread reply that records a rollback."""
    text = started_text(user, target, new_id, url)
    return {"text": text, "blocks": [_section(text)]}


def build_failed(user: str, target: Target, problem: AwsProblem) -> Message:
    """The thread reply when AWS refused to start a rollback: its reason, in full."""
    head = (
        f":x: The rollback of *{inline(target.environment, 100)}* to {_sha(target)} that "
        f"{mention(user)} asked for did not start: {inline(problem.reason, 200)}"
    )
    lines = [head]
    if problem.message:
        lines.append("> " + mrkdwn(" ".join(problem.message.split()), AWS_MESSAGE_MAX))
    text = "\n".join(lines)
    return {"text": head, "blocks": [_section(text)]}


def build_refusal(reason: str) -> Message:
    """The private answer to a click that cannot roll back, saying why."""
    text = f":no_entry: No rollback: {mrkdwn(reason, 2000)}"
    return {
        "text": text,
        "blocks": [_section(text)],
        "response_type": "ephemeral",
        "replace_original": False,
    }


def mark_started(
    blocks: list[Block], user: str, target: Target, new_id: str, url: str
) -> list[Block]:
    """The clicked message's blocks without its Roll back button, saying who started what."""
    kept: list[Block] = []
    for block in blocks:
        if block.get("type") == "actions":
            elements = [e for e in block.get("elements", []) if e.get("action_id") != ids.ROLLBACK]
            if not elements:
                continue
            kept.append({**block, "elements": elements})
        else:
            kept.append(block)
    note = {"type": "mrkdwn", "text": started_text(user, target, new_id, url)}
    return [*kept, {"type": "context", "elements": [note]}]


def requested_section(event: Deployment) -> str:
    """On a run deploybot started as a rollback: by whom, of what, to which commit."""
    asked = event.requested
    if asked is None:
        return ""
    to = code_span(asked.sha[:7] or asked.target_id, 80)
    return (
        f":rewind: *Rollback* of {inline(asked.environment, 100)} to {to}, "
        f"started from Slack by {mention(asked.user)}"
    )


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
