"""Build the /deploy-status answers. Pure: a lookup result in, Block Kit out.

Every name, commit title and AWS message is untrusted: escaped and cut to fit. The whole answer
stays within a budget well under Slack's ~13k-character `msg_blocks_too_long` ceiling; what
does not fit is counted, not silently dropped.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from blocks import ids
from blocks.deployment import HEADER_MAX, Block, Message, link_button
from blocks.freeze import frozen_line
from blocks.links import deployment_url, group_url, pipeline_url
from blocks.looks import LOOKS, Look
from blocks.text import code_span, date_token, duration, link, mrkdwn, plain, units
from bot.domain.model import (
    AwsProblem,
    Commit,
    Deployment,
    Execution,
    GroupStatus,
    Lookup,
    NotFound,
    PipelineStatus,
    StageState,
    Status,
    StatusReport,
)

COMMAND = "/deploy-status"
SECTION_MAX = 3000
ANSWER_BUDGET = 9000  # section text in all, leaving room for links' JSON and the other blocks
NAME_MAX = 100
TITLE_MAX = 120
DETAIL_MAX = 300
QUERY_MAX = 200  # longer than any AWS name: not worth a Share button
NOT_RUN = Look(":white_circle:", "not run yet")
NOT_READ = Look(":grey_question:", "not read yet: ask again in a minute")
# One line for a pipeline AWS would not let us read just now.
PROBLEM_LINES = {
    "denied": ":no_entry: AWS denied {action}",
    "throttled": ":hourglass: AWS is throttling {action}",
    "timeout": ":alarm_clock: no answer from AWS in time",
}
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")

# What each kind of AWS failure means for the reader, and what to do about it.
PROBLEMS: dict[str, tuple[str, str]] = {
    "denied": (
        ":no_entry: AWS denied {action}.",
        "Grant {action} to the role deploybot runs as, then try again.",
    ),
    "throttled": (
        ":hourglass: AWS is throttling {action} right now.",
        "Try again in a minute. If it keeps happening, watch fewer pipelines.",
    ),
    "timeout": (
        ":alarm_clock: AWS did not answer {action} in time.",
        "Try again. If it keeps happening, check that deploybot can reach AWS.",
    ),
    "credentials": (
        ":key: deploybot has no AWS credentials for {action}.",
        "Give the function a role, or set the standard AWS environment when running locally.",
    ),
    "error": (
        ":warning: AWS answered {action} with an error.",
        "Check the name and the region deploybot runs in.",
    ),
}

HELP = (
    f"*`{COMMAND}`* shows what is deployed where.\n"
    f"• `{COMMAND}`: every watched pipeline with its latest execution, most recent first "
    "(*Next* shows more), and the deployment groups no pipeline deploys to\n"
    f"• `{COMMAND} NAME`: one pipeline in detail (its stages and last executions), or a "
    "CodeDeploy deployment group or `application/group`\n"
    f"• `{COMMAND} failing`, `{COMMAND} prod`, `{COMMAND} web-`: only what is failing, or "
    "whose pipeline, application or group name (or a word of it) starts so; the name of an "
    "AWS account deploybot reads (`[[accounts]]`) keeps that account's\n"
    f"• `{COMMAND} help`: this message\n"
    "Answers are visible only to you until you press *Share in channel*."
)


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": plain(text, HEADER_MAX)}}


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _look(status: Status | None) -> Look:
    return NOT_RUN if status is None else LOOKS[status]


def _fit(lines: list[str], limit: int, more: str) -> str:
    """Join whole lines within `limit` units; say how many did not fit."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index
        reserve = units(more.format(rest)) + 1 if rest > 1 else 0
        if used + units(line) + 1 + reserve > limit:
            kept.append(more.format(rest))
            break
        kept.append(line)
        used += units(line) + 1
    return "\n".join(kept)


def _commit(commit: Commit | None) -> str:
    if commit is None:
        return ""
    text = link(commit.commit_url, code_span(commit.short_sha, 20))
    if commit.title:
        text += " " + mrkdwn(commit.title, TITLE_MAX)
    return text


def _when(started: datetime | None, seconds: float | None) -> str:
    parts = [date_token(started)] if started is not None else []
    if seconds is not None:
        parts.append("took " + duration(seconds))
    return " · ".join(parts)


def _execution_line(pipeline: PipelineStatus, execution: Execution) -> str:
    look = LOOKS[execution.status]
    url = pipeline_url(pipeline.region, pipeline.name, execution.execution_id)
    parts = [
        f"{look.emoji} {link(url, code_span(execution.execution_id[:8], 12))} {look.words}",
        _when(execution.started_at, execution.duration_seconds),
        _commit(execution.commit),
        mrkdwn(execution.trigger, 100) if execution.trigger else "",
    ]
    return " · ".join(p for p in parts if p)


def _deployment_line(deployment: Deployment) -> str:
    look = LOOKS[deployment.status]
    url = deployment_url(deployment.region, deployment.deployment_id)
    parts = [
        f"{look.emoji} {link(url, code_span(deployment.deployment_id, 40))} {look.words}",
        _when(deployment.started_at, deployment.duration_seconds),
        _commit(deployment.commit),
        "by " + mrkdwn(deployment.trigger, 60) if deployment.trigger else "",
    ]
    line = " · ".join(p for p in parts if p)
    if deployment.error is not None and deployment.error.message:
        line += "\n      " + mrkdwn(deployment.error.message.replace("\n", " "), DETAIL_MAX)
    return line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pipeline_summary(pipeline: PipelineStatus) -> str:
    name = link(
        pipeline_url(pipeline.region, pipeline.name), "*" + mrkdwn(pipeline.name, NAME_MAX) + "*"
    )
    latest = pipeline.latest
    if pipeline.problem is not None:
        return _problem_line(name, pipeline.problem, latest)
    if latest is None and not pipeline.known:
        return f"{NOT_READ.emoji} {name} · {NOT_READ.words}"
    if latest is None:
        return f"{NOT_RUN.emoji} {name} · no executions yet"
    look = LOOKS[latest.status]
    lines = [f"{look.emoji} {name} · {look.words}"]
    commit = _commit(latest.commit)
    if commit:
        lines.append(commit)
    meta = [
        _when(latest.started_at, latest.duration_seconds),
        mrkdwn(latest.trigger, 100) if latest.trigger else "",
    ]
    if any(meta):
        lines.append(" · ".join(m for m in meta if m))
    return "\n".join(lines)


def _group_summary(group: GroupStatus) -> str:
    target = mrkdwn(group.application, NAME_MAX) + " → " + mrkdwn(group.group, NAME_MAX)
    name = link(group_url(group.region, group.application, group.group), target)
    if group.account_name:
        name = f"{name} ({mrkdwn(group.account_name, 40)})"
    if not group.deployments:
        return f"{NOT_RUN.emoji} {name} · no deployments yet"
    last = group.deployments[0]
    look = LOOKS[last.status]
    parts = [
        f"{look.emoji} {name} · {look.words}",
        _when(last.started_at, last.duration_seconds),
        link(deployment_url(last.region, last.deployment_id), code_span(last.deployment_id, 40)),
    ]
    return " · ".join(p for p in parts if p)


def _problem_line(name: str, problem: AwsProblem, latest: Execution | None) -> str:
    """A pipeline that could not be read: one line saying so, with what was last known."""
    template = PROBLEM_LINES.get(problem.kind, ":warning: AWS answered {action} with an error")
    line = f"{name} · " + template.format(action=code_span(problem.action, 100))
    if latest is not None:
        look = LOOKS[latest.status]
        line += f" · last known: {look.emoji} {look.words}"
        if latest.started_at is not None:
            line += " " + date_token(latest.started_at)
    return line


def _problem_text(problem: AwsProblem) -> str:
    what, todo = PROBLEMS.get(problem.kind, PROBLEMS["error"])
    action = code_span(problem.action, 100)
    text = what.format(action=action) + "\n" + todo.format(action=action)
    if problem.message:
        text += "\n> " + mrkdwn(problem.message.replace("\n", " "), 500)
    return text


def _share(query: str, share: bool, shared_by: str, next_page: int = 0) -> list[Block]:
    if shared_by:
        who = f"<@{shared_by}>" if _USER_ID.fullmatch(shared_by) else "someone"
        return [_context(f"Shared by {who} with `{COMMAND}`")]
    if not share or units(query) > QUERY_MAX:
        return []
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Share in channel"},
        "action_id": ids.SHARE_STATUS,
    }
    if query:  # an empty value is invalid; no value means the overview
        button["value"] = query
    elements = [button]
    if next_page:
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Next"},
                "action_id": ids.STATUS_NEXT,
                "value": page_value(query, next_page),
            }
        )
    return [{"type": "actions", "elements": elements}]


def page_value(query: str, page: int) -> str:
    """The Next button's value: which query and page it shows (read by `read_page_value`)."""
    return json.dumps({"q": query, "p": page}, separators=(",", ":"), ensure_ascii=False)


def read_page_value(value: str) -> tuple[str, int]:
    """(query, page) from a Next button's value; the first page of the overview if garbled."""
    try:
        data = json.loads(value)
        query, page = str(data["q"]), int(data["p"])
    except (ValueError, TypeError, KeyError):
        return "", 0
    return query[:QUERY_MAX], max(page, 0)


def _paging(report: StatusReport) -> list[Block]:
    """Where this page is in the list, and what is still being read."""
    notes = []
    if report.page or report.has_more:
        first = report.offset + 1
        shown = f"{first}–{report.offset + len(report.pipelines)}" if report.pipelines else "none"
        notes.append(f"Pipelines {shown} of {report.total}, most recent activity first")
    if report.unseen:
        unseen = _count(report.unseen, "more pipeline")
        notes.append(f"{unseen} not read yet: deploybot is reading them now; ask again in a minute")
    return [_context(" · ".join(notes))] if notes else []


def account_label(account: str, name: str, region: str = "") -> str:
    """An account as messages name it: "*prod* (222233334444) · us-east-1"."""
    who = f"*{mrkdwn(name, 40)}* ({mrkdwn(account, 20)})" if name else mrkdwn(account, 20)
    return " · ".join(p for p in (who if account or name else "", mrkdwn(region, 30)) if p)


def _by_account(report: StatusReport) -> list[tuple[str, list[PipelineStatus]]]:
    """The page's pipelines grouped by account (the most active account first), each with its
    heading; one group without a heading when every pipeline is of one unnamed account."""
    grouped: dict[tuple[str, str], list[PipelineStatus]] = {}
    for pipeline in report.pipelines:
        grouped.setdefault((pipeline.account, pipeline.account_name), []).append(pipeline)
    if len(grouped) == 1 and not any(name for _, name in grouped):
        return [("", list(report.pipelines))]
    return [
        (":office: " + account_label(account, name), pipelines)
        for (account, name), pipelines in grouped.items()
    ]


def _pipeline_sections(report: StatusReport, blocks: list[Block]) -> int:
    """Add a section per pipeline (and a heading per account) within the answer's budget;
    the budget left."""
    budget = ANSWER_BUDGET
    shown, total = 0, len(report.pipelines)
    for heading, pipelines in _by_account(report):
        if heading:
            blocks.append(_context(heading))
        for pipeline in pipelines:
            summary = _pipeline_summary(pipeline)
            if units(summary) > budget or len(blocks) >= 30:
                break
            blocks.append(_section(summary))
            budget -= units(summary)
            shown += 1
        else:
            continue
        break  # the answer is full: the rest is counted, not shown
    if shown < total:
        more = _count(total - shown, "more pipeline")
        blocks.append(_context(f"…and {more}: ask `{COMMAND} NAME` for one of them"))
    return budget


def build_overview(report: StatusReport) -> Message:
    """Every pipeline's latest execution (grouped by account when there are several), then the
    deployment groups no pipeline deploys to."""
    blocks: list[Block] = [_header(f":rocket: {report.title}")]
    budget = _pipeline_sections(report, blocks)
    blocks.extend(_paging(report))
    if report.groups:
        lines = [_group_summary(g) for g in report.groups]
        heading = "*Deployment groups without a pipeline*\n"
        limit = max(min(SECTION_MAX, budget) - units(heading), 200)
        blocks.append(_section(heading + _fit(lines, limit, "…and {} more groups")))
    if not report.pipelines and not report.groups and not report.problems:
        blocks.append(_section("No pipelines or deployment groups found."))
    blocks.extend(_section(_problem_text(p)) for p in report.problems[:3])
    failed = sum(1 for p in report.pipelines if p.latest and p.latest.status.is_failure)
    text = f"{report.title}: {_count(len(report.pipelines), 'pipeline')}"
    if report.total > len(report.pipelines):
        text = f"{report.title}: {len(report.pipelines)} of {report.total} pipelines"
    if report.groups:
        text += f", {_count(len(report.groups), 'deployment group')} without a pipeline"
    if failed:
        text += f", {failed} failed"
    return {"text": mrkdwn(text, 300), "blocks": blocks}


def _stage_line(pipeline: PipelineStatus, stage: StageState) -> str:
    look = _look(stage.status)
    line = f"{look.emoji} *{mrkdwn(stage.name, NAME_MAX)}* {look.words}"
    if stage.execution_id:
        url = pipeline_url(pipeline.region, pipeline.name, stage.execution_id)
        line += " · holds " + link(url, code_span(stage.execution_id[:8], 12))
        held = next((e for e in pipeline.executions if e.execution_id == stage.execution_id), None)
        if held is not None and held.commit is not None:
            # No link here: the same long commit URL on every stage would crowd the message.
            line += " " + code_span(held.commit.short_sha, 20)
    if stage.action:
        line += f"\n      {mrkdwn(stage.action, NAME_MAX)}"
        if stage.detail:
            line += ": " + mrkdwn(stage.detail.replace("\n", " "), DETAIL_MAX)
    if stage.frozen:
        line += "\n      " + frozen_line(stage.frozen_by, stage.frozen_reason)
    return line


def build_pipeline(pipeline: PipelineStatus, controls: tuple[Block, ...] = ()) -> Message:
    """One pipeline: its latest execution, each stage and the execution it holds, its history;
    `controls` are buttons that act on it (Freeze or Unfreeze its deploy stage)."""
    latest = pipeline.latest
    look = LOOKS[latest.status] if latest else NOT_RUN
    blocks: list[Block] = [_header(f"{look.emoji} {pipeline.name}: {look.words}")]
    if pipeline.account_name:
        where = account_label(pipeline.account, pipeline.account_name, pipeline.region)
        blocks.append(_context("Account " + where))
    if latest is not None and latest.commit is not None:
        blocks.append(_section("*Latest* " + _commit(latest.commit)))
    if pipeline.stages:
        lines = [_stage_line(pipeline, s) for s in pipeline.stages]
        blocks.append(_section("*Stages*\n" + _fit(lines, SECTION_MAX - 20, "…and {} more stages")))
    if pipeline.executions:
        lines = [_execution_line(pipeline, e) for e in pipeline.executions]
        heading = f"*Last {len(lines)} executions*\n"
        blocks.append(_section(heading + _fit(lines, SECTION_MAX - 40, "…and {} more")))
    else:
        blocks.append(_section("No executions yet."))
    buttons = [
        link_button("AWS console", pipeline_url(pipeline.region, pipeline.name), ids.LINK_CONSOLE),
        link_button("View commit", latest.commit.commit_url, ids.LINK_COMMIT)
        if latest is not None and latest.commit is not None
        else None,
    ]
    elements = [*controls, *(b for b in buttons if b is not None)]
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    text = f"{look.emoji} {mrkdwn(pipeline.name, NAME_MAX)}: {look.words}"
    if latest is not None and latest.commit is not None:
        text += f" ({mrkdwn(latest.commit.short_sha, 20)} {mrkdwn(latest.commit.title, TITLE_MAX)})"
    return {"text": text, "blocks": blocks}


def build_group(group: GroupStatus) -> Message:
    """One deployment group and its last deployments."""
    last = group.deployments[0] if group.deployments else None
    look = LOOKS[last.status] if last else NOT_RUN
    target = f"{group.application} → {group.group}"
    blocks: list[Block] = [_header(f"{look.emoji} {target}: {look.words}")]
    if group.account_name:
        where = account_label(group.account, group.account_name, group.region)
        blocks.append(_context("Account " + where))
    if group.deployments:
        lines = [_deployment_line(d) for d in group.deployments]
        heading = f"*Last {len(lines)} deployments*\n"
        blocks.append(_section(heading + _fit(lines, SECTION_MAX - 40, "…and {} more")))
    else:
        blocks.append(_section("No deployments yet."))
    console = link_button(
        "AWS console", group_url(group.region, group.application, group.group), ids.LINK_CONSOLE
    )
    if console is not None:
        blocks.append({"type": "actions", "elements": [console]})
    return {
        "text": f"{look.emoji} {mrkdwn(target, 2 * NAME_MAX + 3)}: {look.words}",
        "blocks": blocks,
    }


def build_not_found(missing: NotFound) -> Message:
    """An unknown name, with the closest names that exist."""
    text = f":mag: Nothing called {code_span(missing.name, NAME_MAX + 2)} here."
    if missing.suggestions:
        text += (
            " Did you mean "
            + ", ".join(code_span(s, 2 * NAME_MAX + 3) for s in missing.suggestions)
            + "?"
        )
    hint = f"`{COMMAND}` lists everything; `{COMMAND} help` explains."
    return {"text": text, "blocks": [_section(text), _context(hint)]}


def build_problem(problem: AwsProblem) -> Message:
    """What went wrong reading AWS, and what to grant or try."""
    text = _problem_text(problem)
    return {"text": text.split("\n", 1)[0], "blocks": [_section(text)]}


def build_help() -> Message:
    """How to use /deploy-status."""
    return {"text": f"How to use {COMMAND}", "blocks": [_section(HELP)]}


def build_answer(
    lookup: Lookup,
    *,
    query: str,
    share: bool,
    shared_by: str = "",
    controls: tuple[Block, ...] = (),
) -> Message:
    """The answer to `/deploy-status query`; with a Share button, or marked as shared."""
    match lookup:
        case StatusReport():
            message = build_overview(lookup)
        case PipelineStatus():
            message = build_pipeline(lookup, controls)
        case GroupStatus():
            message = build_group(lookup)
        case NotFound():
            return build_not_found(lookup)
        case AwsProblem():
            return build_problem(lookup)
    next_page = lookup.page + 1 if isinstance(lookup, StatusReport) and lookup.has_more else 0
    message["blocks"].extend(_share(query, share, shared_by, next_page))
    return message
