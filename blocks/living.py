"""The living message of a pipeline execution or deployment, and its failure reply. Pure."""

from __future__ import annotations

from blocks.deployment import (
    BLOCKS_BUDGET,
    Block,
    Message,
    blocks_size,
    build_message,
    details_label,
    error_section,
    failed_actions_section,
    failure_detail_section,
    lifecycle_section,
    lines_within,
    look_of,
    mention_section,
    rollback_section,
    title_of,
)
from blocks.looks import LOOKS
from blocks.release import COMMITS_SHOWN, release_line
from blocks.text import code_span, inline, link, mrkdwn
from bot.domain.model import Deployment, View
from bot.domain.rollback import Target

PROGRESS_MAX = 2000
FAILURE_MAX = 2900  # one section's text: Slack allows 3000
FAILURES_SHOWN = 8
SUMMARY_MAX = 500


def build_living_message(
    view: View,
    *,
    site_url: str = "",
    rollback: Target | None = None,
    commits_shown: int = COMMITS_SHOWN,
    panels: tuple[str, ...] = (),
    controls: tuple[Block, ...] = (),
) -> Message:
    """The one message of an execution or deployment: status, commit and progress so far, and
    what waits for a person (`panels`, with their buttons in `controls`)."""
    return build_message(
        view.head,
        site_url=site_url,
        progress=progress_text(view),
        rollback=rollback,
        commits_shown=commits_shown,
        panels=panels,
        controls=controls,
    )


def progress_text(view: View) -> str:
    """One line per stage with its actions' states, then deployments no action names."""
    lines = []
    for stage in view.stages:
        line = f"{LOOKS[stage.status].emoji} *{inline(stage.name, 100)}*"
        if stage.actions:
            line += "   " + " · ".join(_action(a) for a in stage.actions)
        lines.append(line)
    for deployment in view.deployments:
        target = " → ".join(n for n in (deployment.application, deployment.deployment_group) if n)
        line = (
            f"{LOOKS[deployment.status].emoji} Deployment {code_span(deployment.deployment_id, 40)}"
        )
        if target:
            line += " " + inline(target, 200)
        lines.append(line)
    if not lines:
        return ""
    return lines_within(["*Progress*", *lines], PROGRESS_MAX)


def _action(action: Deployment) -> str:
    text = f"{LOOKS[action.status].emoji} {inline(action.action, 80)}"
    if action.deployment_id:
        text += " " + code_span(action.deployment_id, 30)
    return text


def build_failure_reply(view: View, *, mentions: tuple[str, ...] = ()) -> Message:
    """The thread reply that says what failed and why, pinging who the config names."""
    look = look_of(view.head)
    title = inline(title_of(view.head), 300)
    heading = f"{look.emoji} *{title}*"
    if view.head.diff is not None:  # what changed and who wrote it (pinged only if configured)
        heading += "\n" + release_line(view.head.diff, mention=False)
    head: list[Block] = [_section(heading)]
    mention = mention_section(view.head, mentions)
    tail = [_section(mention)] if mention else []
    failures: list[Block] = []
    shown = 0
    for event in view.failures[:FAILURES_SHOWN]:
        # The failed lifecycle event and its log tail get a section of their own: a code block
        # must not be cut by the line budget of the summary.
        detail = failure_detail_section(event)
        summary = _failure_text(event, heading=heading.split("\n")[0])
        blocks = [_section(s) for s in (summary, detail) if s]
        if blocks_size([*head, *failures, *blocks, *tail]) > BLOCKS_BUDGET:
            break
        failures.extend(blocks)
        shown += 1
    left_out = len(view.failures) - shown
    if left_out:
        failures.append(_section(f"…and {left_out} more failed parts"))
    text = f"{look.emoji} {title}"
    if mention:
        text += " " + mention
    return {"text": text, "blocks": [*head, *failures, *tail]}


def _failure_text(event: Deployment, *, heading: str) -> str:
    """What failed and why; its title unless the reply's heading already says it (a lone
    deployment is both the message's head and its failure)."""
    title = f"{LOOKS[event.status].emoji} *{inline(title_of(event), 300)}*"
    lines = [] if title == heading else [title]
    for section in (
        error_section(event),
        failed_actions_section(event),
        lifecycle_section(event),
        rollback_section(event),
    ):
        lines.extend(section.split("\n") if section else [])
    if event.summary:
        lines.append(mrkdwn(" ".join(event.summary.split()), SUMMARY_MAX))
    if event.external_url:
        lines.append(link(event.external_url, inline(details_label(event, "Details"), 100)))
    return lines_within(lines, FAILURE_MAX)


def build_moved_message(view: View, *, execution_id: str, link_url: str) -> Message:
    """A deployment message whose pipeline execution became known: where it went."""
    head = view.head
    what = f"Deployment {code_span(head.deployment_id, 40)}"
    target = " → ".join(n for n in (head.application, head.deployment_group) if n)
    if target:
        what += f" ({inline(target, 200)})"
    text = f":arrow_right: {what} is part of pipeline execution {code_span(execution_id[:8], 12)}"
    if link_url:
        text += ": " + link(link_url, "its message") + " follows it from now on"
    fallback = f"Deployment {head.deployment_id} moved to its pipeline execution's message"
    return {"text": mrkdwn(fallback, 300), "blocks": [_section(text + ".")]}


def build_stuck_reply(view: View, *, note: str) -> Message:
    """The one thread reply on a run that takes far longer than usual: what it waits on."""
    title = inline(title_of(view.head), 300)
    text = (
        f":hourglass_flowing_sand: *{title}* takes longer than usual.\n{mrkdwn(note, SUMMARY_MAX)}"
    )
    return {
        "text": f":hourglass_flowing_sand: {title} takes longer than usual",
        "blocks": [_section(text)],
    }


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
