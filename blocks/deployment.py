"""Build the Slack message for one deployment notification. Pure: model in, Block Kit out."""

from __future__ import annotations

import json
import re
from typing import Any

from blocks import ids
from blocks.approvals import approval_text
from blocks.links import console_url, host_label
from blocks.looks import APPROVAL_LOOK, LOOKS, Look
from blocks.people import started_text
from blocks.release import COMMITS_SHOWN, release_section
from blocks.rollback import requested_section, rollback_button
from blocks.text import (
    code_block,
    code_span,
    date_token,
    duration,
    inline,
    link,
    mrkdwn,
    plain,
    safe_url,
    units,
)
from blocks.traffic import waiting_text
from bot.domain.model import Commit, Deployment, Scope, Status
from bot.domain.people import SLACK_USER_ID, expand_mentions
from bot.domain.rollback import Target

_USERGROUP_ID = re.compile(r"S[A-Z0-9]{2,}")

Block = dict[str, Any]
Message = dict[str, Any]

# Limits from Slack (../shared/slack/blockkit-limits.json), with room so that the whole
# message stays far below the ~13k characters where Slack answers msg_blocks_too_long.
HEADER_MAX = 150
FIELD_MAX = 160
COMMIT_MAX = 2500
ERROR_MAX = 1500
LIST_MAX = 1500
SUMMARY_MAX = 2000
FAILURE_MAX = 2900  # a section's text holds 3000
LOG_TAIL_MAX = 1800
BUTTON_TEXT_MAX = 75
BODY_LINES = 10
BUTTON_URL_MAX = 1000
# Slack answers msg_blocks_too_long somewhere near 13k characters of blocks (undocumented).
BLOCKS_BUDGET = 11000


def look_of(event: Deployment) -> Look:
    """The emoji and words for the event's status."""
    if event.scope is Scope.APPROVAL and not event.status.is_final:
        return APPROVAL_LOOK
    return LOOKS[event.status]


def title_of(event: Deployment) -> str:
    """What happened, in words, untrusted names included (not yet escaped)."""
    look = look_of(event)
    words = look.words
    if event.status is Status.UNKNOWN and event.raw_status:
        words = f"reported status {event.raw_status}"
    match event.scope:
        case Scope.DEPLOYMENT:
            target = " → ".join(n for n in (event.application, event.deployment_group) if n)
            what = "Rollback" if event.rollback else "Deployment"
            return f"{what} {words}: {target or event.deployment_id}"
        case Scope.INSTANCE:
            return f"Instance {event.instance_id or '?'} {words} in {event.deployment_id}"
        case Scope.PIPELINE:
            return f"Pipeline {event.pipeline} {words}"
        case Scope.STAGE:
            return f"Stage {event.stage} {words} in {event.pipeline}"
        case Scope.ACTION:
            return f"Action {event.action} {words} in {event.pipeline}"
        case Scope.APPROVAL:
            return f"{event.pipeline}: {event.action or 'approval'} {words}"
    return event.subject or "AWS notification"


def build_message(
    event: Deployment,
    *,
    site_url: str = "",
    mentions: tuple[str, ...] = (),
    progress: str = "",
    rollback: Target | None = None,
    commits_shown: int = COMMITS_SHOWN,
    panels: tuple[str, ...] = (),
    controls: tuple[Block, ...] = (),
) -> Message:
    """The `text` fallback and `blocks` for one event; every untrusted string escaped and cut.

    `progress` is ready mrkdwn (a pipeline execution's stages), shown after the commit;
    `rollback` is the target of its Roll back button (bot.domain.rollback.target_for), if any;
    `commits_shown` is how many titles of the release diff are listed.
    `panels` are ready mrkdwn sections that must stay (an approval, a waiting blue/green
    deployment) and `controls` their buttons. A lone event shows its own (`_own_panels`).
    """
    panels = panels or _own_panels(event)
    look = look_of(event)
    title = title_of(event)
    head = _head(event, f"{look.emoji} {title}")
    # In the order shown; each is dropped, least useful first, if the whole would be too big.
    sections = [
        (0, requested_section(event)),
        (2, _commit_section(event.commit, rolled_back=event.rollback is not None)),
        (4, release_section(event.diff, commits_shown)),
        (2, progress),
        *((0, panel) for panel in panels),
        (4, rollback_section(event)),
        (1, error_section(event)),
        (3, failure_detail_section(event)),
        (5, failed_actions_section(event)),
        (6, lifecycle_section(event)),
        (7, _summary_section(event)),
        (0, mention_section(event, mentions)),
    ]
    tail = _tail(event, site_url, rollback, controls)
    kept = [(rank, text) for rank, text in sections if text]
    while kept and blocks_size([*head, *_sections(kept), *tail]) > BLOCKS_BUDGET:
        kept.remove(max(kept))  # the least useful section goes first
    return {
        "text": _fallback_text(event, look, title, mentions),
        "blocks": [*head, *_sections(kept), *tail],
    }


def _own_panels(event: Deployment) -> tuple[str, ...]:
    """What a lone event shows of what waits for a person: its approval, its blue/green wait."""
    if event.scope is Scope.APPROVAL:
        return (approval_text(event),)
    if event.waiting:
        return (waiting_text(event),)
    return ()


def _head(event: Deployment, heading: str) -> list[Block]:
    """The header and the fields: what, where, how it went, how long."""
    head: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": plain(heading, HEADER_MAX)}}
    ]
    fields = _fields(event)
    if fields:
        head.append({"type": "section", "fields": fields})
    return head


def _tail(
    event: Deployment, site_url: str, rollback: Target | None, controls: tuple[Block, ...]
) -> list[Block]:
    """The buttons, then the context line (region, account, ids, trigger, notes)."""
    tail: list[Block] = []
    buttons = [*controls, *_buttons(event, site_url)]
    if rollback is not None:
        buttons.append(rollback_button(rollback, event))
    if buttons:
        tail.append({"type": "actions", "elements": buttons})
    context = _context(event)
    if context:
        tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return tail


def _sections(ranked: list[tuple[int, str]]) -> list[Block]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for _, text in ranked]


def blocks_size(blocks: list[Block]) -> int:
    """The size of `blocks` as Slack may count it, for the msg_blocks_too_long budget."""
    return units(json.dumps(blocks, ensure_ascii=False))


def _field(label: str, value_mrkdwn: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value_mrkdwn}"}


def _fields(event: Deployment) -> list[dict[str, str]]:
    names = (
        ("Application", event.application),
        ("Deployment group", event.deployment_group),
        ("Pipeline", event.pipeline),
        ("Stage", event.stage),
        ("Action", event.action),
        ("Instance", event.instance_id),
    )
    fields = [_field(label, inline(value, FIELD_MAX)) for label, value in names if value]
    if event.scope is not Scope.GENERIC:
        status = look_of(event).words
        if event.status is Status.UNKNOWN and event.raw_status:
            status = f"{status} ({event.raw_status})"
        fields.append(_field("Status", inline(status, FIELD_MAX)))
    seconds = event.duration_seconds
    if seconds is not None:
        fields.append(_field("Duration", duration(seconds)))
    if event.instances is not None and event.instances.total:
        fields.append(_field("Instances", _instances(event)))
    started = event.started_at or event.occurred_at
    if started is not None:
        fields.append(_field("Started" if event.started_at else "At", date_token(started)))
    return fields[:10]


def _instances(event: Deployment) -> str:
    counts = event.instances
    assert counts is not None
    parts = [
        (counts.succeeded, "succeeded"),
        (counts.failed, "failed"),
        (counts.in_progress, "in progress"),
        (counts.pending, "pending"),
        (counts.ready, "ready"),
        (counts.skipped, "skipped"),
    ]
    shown = ", ".join(f"{n} {word}" for n, word in parts if n)
    return f"{shown} of {counts.total}"


def body_excerpt(body: str) -> str:
    """At most BODY_LINES lines of a commit body, then … when there was more."""
    lines = body.strip("\n").split("\n")
    if len(lines) <= BODY_LINES:
        return "\n".join(lines)
    return "\n".join(lines[:BODY_LINES]) + "\n" + "…"


def _commit_section(commit: Commit | None, *, rolled_back: bool) -> str:
    if commit is None:
        return ""
    sha = link(commit.commit_url, code_span(commit.short_sha, 20))
    if not commit.confirmed:
        label = "*Latest source revision (not confirmed)*"
    elif rolled_back:  # the commit of the deployment this one rolls back
        label = "*Rolled back commit*"
    else:
        label = "*Commit*"
    head = f"{label} {sha}"
    if commit.title:
        head += " " + inline(commit.title, 300)
    meta = []
    if commit.author:
        meta.append("by " + inline(commit.author, 100))
    if commit.branch:
        meta.append("on " + link(commit.branch_url, code_span(commit.branch, 120)))
    if commit.repository:
        meta.append("in " + inline(commit.repository, 150))
    lines = [head]
    if meta:
        lines.append(" ".join(meta))
    if commit.body:
        room = COMMIT_MAX - sum(units(x) + 1 for x in lines) - 2 * (BODY_LINES + 1)
        lines.extend("> " + line for line in mrkdwn(body_excerpt(commit.body), room).split("\n"))
    return "\n".join(lines)


def rollback_section(event: Deployment) -> str:
    """What this deployment rolls back, and why, as mrkdwn; "" if it rolls nothing back."""
    if event.rollback is None:
        return ""
    text = ":rewind: This deployment rolls back"
    if event.rollback.triggering_deployment_id:
        text += " " + code_span(event.rollback.triggering_deployment_id, 60)
    if event.rollback.message:
        text += "\n" + mrkdwn(event.rollback.message, ERROR_MAX)
    return text


def error_section(event: Deployment) -> str:
    """The error AWS reported, as mrkdwn; "" if none."""
    if event.error is None:
        return ""
    text = ":rotating_light: *Error*"
    if event.error.code:
        text += " " + code_span(event.error.code, 100)
    if event.error.message:
        text += "\n" + mrkdwn(event.error.message, ERROR_MAX)
    return text


def failure_detail_section(event: Deployment) -> str:
    """The first failed lifecycle event: where, which script, why, and the end of its log."""
    if not event.failure_details:
        return ""
    detail = event.failure_details[0]
    head = ":mag: *Failed at* " + code_span(detail.lifecycle_event or "?", 60)
    if detail.target:
        head += " on " + code_span(detail.target, 120)
    lines = [head]
    facts = []
    if detail.script:
        facts.append("script " + code_span(detail.script, 200))
    if detail.error_code:
        facts.append(code_span(detail.error_code, 60))
    if facts:
        lines.append(" · ".join(facts))
    if detail.message:
        lines.append(mrkdwn(detail.message, 500))
    text = "\n".join(lines)
    if detail.log_tail.strip():
        room = min(LOG_TAIL_MAX, FAILURE_MAX - units(text) - 1)
        text += "\n" + code_block(detail.log_tail, room, tail=True)
    return text


def failed_actions_section(event: Deployment) -> str:
    """The failed stage and actions a notification names, as mrkdwn; "" if none."""
    if not event.failed_actions and not event.failed_stage:
        return ""
    lines = []
    if event.failed_stage:
        lines.append("*Failed stage* " + inline(event.failed_stage, 100))
    for failed in event.failed_actions:
        line = "• " + link(failed.url, "*" + inline(failed.action, 100) + "*")
        if failed.info:
            line += ": " + inline(failed.info, 200)
        lines.append(line)
    return lines_within(lines, LIST_MAX)


def lifecycle_section(event: Deployment) -> str:
    """An instance's lifecycle events and their states, as mrkdwn; "" if none."""
    if not event.lifecycle_events:
        return ""
    lines = ["*Lifecycle events*"]
    lines.extend(f"• {inline(e.name, 60)}: {inline(e.status, 40)}" for e in event.lifecycle_events)
    return lines_within(lines, LIST_MAX)


def lines_within(lines: list[str], limit: int) -> str:
    """Whole lines while they fit in `limit`, then how many were left out."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + units(line) + 1 > limit - 20:
            kept.append(f"…and {len(lines) - index} more")
            break
        kept.append(line)
        used += units(line) + 1
    return "\n".join(kept)


def _summary_section(event: Deployment) -> str:
    if not event.summary:
        return ""
    if event.scope is Scope.GENERIC:
        return code_block(event.summary, SUMMARY_MAX)
    return mrkdwn(event.summary, SUMMARY_MAX)


def mention_section(event: Deployment, mentions: tuple[str, ...]) -> str:
    """Who to ping when the event is a failure, as mrkdwn; "" otherwise."""
    mentions = expand_mentions(mentions, event.diff)  # "authors": who wrote the release diff
    if not mentions or not event.status.is_failure:
        return ""
    shown = [m for m in (_mention(m) for m in mentions) if m]
    return "cc " + " ".join(shown) if shown else ""


def _mention(mention: str) -> str:
    """A user, a user group or a special mention, each checked for its shape here too (the
    config checks them, but authors' ids come from lookups): anything else renders nothing."""
    if mention in ("here", "channel"):
        return f"<!{mention}>"
    if _USERGROUP_ID.fullmatch(mention):
        return f"<!subteam^{mention}>"
    return f"<@{mention}>" if SLACK_USER_ID.fullmatch(mention) else ""


def link_button(text: str, url: str, action_id: str) -> Block | None:
    """A button that opens `url` (None when the URL is unsafe or too long)."""
    safe = safe_url(url, BUTTON_URL_MAX)
    if not safe:
        return None
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": plain(text, BUTTON_TEXT_MAX)},
        "url": safe,
        "action_id": action_id,
    }


def _buttons(event: Deployment, site_url: str) -> list[Block]:
    commit = event.commit
    candidates = [
        link_button("View commit", commit.commit_url, ids.LINK_COMMIT) if commit else None,
        link_button("Branch", commit.branch_url, ids.LINK_BRANCH) if commit else None,
        link_button("Open site", site_url, ids.LINK_SITE),
        link_button("AWS console", console_url(event), ids.LINK_CONSOLE),
        link_button(
            details_label(
                event, "Approve or reject" if event.scope is Scope.APPROVAL else "Details"
            ),
            event.external_url,
            ids.LINK_DETAILS,
        ),
    ]
    return [button for button in candidates if button is not None]


def details_label(event: Deployment, words: str) -> str:
    """A label for the link a notification carries whole: it says which host the link opens."""
    host = host_label(event.external_url)
    return f"{words} ({host})" if host else words


def _context(event: Deployment) -> str:
    parts = [
        inline(event.region, 40) if event.region else "",
        _account(event),
        "deployment " + code_span(event.deployment_id, 60) if event.deployment_id else "",
        "execution " + code_span(event.execution_id, 60) if event.execution_id else "",
        started_text(event),
    ]
    parts.extend(":information_source: " + inline(note, 300) for note in event.notes[:3])
    return " · ".join(p for p in parts if p)


def _account(event: Deployment) -> str:
    """The account, by its configured name where [[accounts]] gives one: "account prod
    (222233334444)"."""
    if not event.account:
        return ""
    if event.account_name:
        return f"account *{inline(event.account_name, 40)}* ({inline(event.account, 20)})"
    return "account " + inline(event.account, 40)


def _fallback_text(event: Deployment, look: Look, title: str, mentions: tuple[str, ...]) -> str:
    """What a notification banner shows: the title, the commit and how long it took."""
    text = f"{look.emoji} {inline(title, 300)}"
    if event.commit:
        text += f" ({inline(event.commit.short_sha, 20)}"
        if event.commit.title:
            text += " " + inline(event.commit.title, 200)
        text += ")"
    seconds = event.duration_seconds
    if seconds is not None:
        text += f" in {duration(seconds)}"
    mention = mention_section(event, mentions)
    if mention:
        text += " " + mention
    return text
