"""What every button that changes production shows, whatever it does. Pure.

The confirm dialog, the button with a JSON value, the private refusal, the thread reply that
carries AWS's own words, a user mention, and marking a clicked message done: rollback,
approvals, traffic and freeze buttons all build their messages from these.
"""

from __future__ import annotations

import json
import re
from typing import Any

from blocks.text import inline, mrkdwn, plain
from bot.domain.coerce import string_fields
from bot.domain.model import AwsProblem

Block = dict[str, Any]
Message = dict[str, Any]

# Slack's confirm dialog: title ≤ 100, text ≤ 300, confirm/deny ≤ 30 characters.
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
BUTTON_TEXT_MAX = 75
AWS_MESSAGE_MAX = 1500
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_MENTIONED = re.compile(r"&lt;@([UW][A-Z0-9]{2,})&gt;")


def confirm(title: str, text: str, yes: str, *, style: str = "danger") -> Block:
    """A confirm dialog: what pressing the button does, in plain words."""
    return {
        "title": {"type": "plain_text", "text": plain(title, CONFIRM_TITLE_MAX)},
        "text": {"type": "plain_text", "text": plain(text, CONFIRM_TEXT_MAX)},
        "confirm": {"type": "plain_text", "text": plain(yes, 30)},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": style,
    }


def button(
    label: str,
    action_id: str,
    value: dict[str, str],
    *,
    confirm_with: Block | None = None,
    style: str = "",
) -> Block:
    """A button whose value is compact JSON (nothing in it is trusted at click time)."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": plain(label, BUTTON_TEXT_MAX)},
        "action_id": action_id,
        "value": json.dumps(value, separators=(",", ":"), ensure_ascii=False),
    }
    if style:
        element["style"] = style
    if confirm_with is not None:
        element["confirm"] = confirm_with
    return element


def decode_value(value: str) -> dict[str, str]:
    """The fields of a JSON button value ({} when it is not one of ours)."""
    return string_fields(value) or {}


def mention(user: str) -> str:
    """A user mention for an id Slack sent; anything else is shown, escaped, not mentioned."""
    return f"<@{user}>" if _USER_ID.fullmatch(user) else inline(user, 30)


def section(text: str) -> Block:
    """A section of mrkdwn text (already escaped)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def actions_block(*elements: Block) -> Block:
    """An actions block holding `elements`."""
    return {"type": "actions", "elements": list(elements)}


def with_aws_words(head: str, problem: AwsProblem, *elements: Block) -> Message:
    """A thread reply: `head` (mrkdwn), then what AWS said, in full (within Slack's limits)."""
    lines = [head]
    if problem.message:
        lines.append("> " + mrkdwn(" ".join(problem.message.split()), AWS_MESSAGE_MAX))
    blocks = [section("\n".join(lines))]
    if elements:
        blocks.append(actions_block(*elements))
    return {"text": head, "blocks": blocks}


def build_refusal(reason: str, *elements: Block) -> Message:
    """The private answer to a click that cannot go on, saying why (and what can be done).

    `reason` is escaped; only the user mentions `mention` wrote into it stay mentions.
    """
    said = _MENTIONED.sub(r"<@\1>", mrkdwn(reason, 2000))
    text = f":no_entry: {said}"
    blocks = [section(text)]
    if elements:
        blocks.append(actions_block(*elements))
    return {"text": text, "blocks": blocks, "response_type": "ephemeral", "replace_original": False}


def audit(text: str, *elements: Block) -> Message:
    """A thread reply of one mrkdwn section (already escaped), with buttons below if any."""
    blocks = [section(text)]
    if elements:
        blocks.append(actions_block(*elements))
    return {"text": text, "blocks": blocks}


def mark_done(blocks: list[Block], ids: tuple[str, ...], note: str) -> list[Block]:
    """The clicked message's blocks without the buttons whose action_id is in `ids`, with `note`
    (mrkdwn) below."""
    kept: list[Block] = []
    for block in blocks:
        if block.get("type") == "actions":
            elements = [e for e in block.get("elements", []) if e.get("action_id") not in ids]
            if not elements:
                continue
            kept.append({**block, "elements": elements})
        else:
            kept.append(block)
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]
