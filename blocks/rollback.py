"""The Roll back button and its confirm dialog; the messages a rollback click produces. Pure."""

from __future__ import annotations

from blocks import ids
from blocks.actions import (
    CONFIRM_TEXT_MAX,
    Block,
    Message,
    audit,
    button,
    confirm,
    mark_done,
    mention,
    with_aws_words,
)
from blocks.freeze import freeze_button, unfreeze_button
from blocks.links import deployment_url, group_url, pipeline_url
from blocks.release import undo_text
from blocks.text import code_span, inline, link, plain
from bot.domain.claims import Claim
from bot.domain.freeze import Stage
from bot.domain.model import AwsProblem, Deployment
from bot.domain.rollback import CODEDEPLOY, STAGE, Target, encode


def _estimate(target: Target) -> str:
    return f", ~{target.minutes} min like that run" if target.minutes else ""


def _stage(target: Target, stage: str = "") -> str:
    return stage or target.stage or "the deploy stage"


def what_it_runs(target: Target) -> str:
    """What pressing the button runs, in words (untrusted names included, not escaped)."""
    if target.strategy == CODEDEPLOY:
        return (
            f"CodeDeploy deploys the revision of {target.deployment_id} again to "
            f"{target.application}/{target.deployment_group}{_estimate(target)}."
        )
    if target.strategy == STAGE:
        then = (
            f" Then freezes {_stage(target)}: nothing newer deploys until someone unfreezes it."
            if target.freeze
            else ""
        )
        return (
            f"Rolls {_stage(target)} of {target.pipeline} back to the already-built artifacts "
            f"of execution {target.execution_id[:8]}: no build, no tests.{then}"
        )
    return (
        f"Runs {target.pipeline} again from Source with every source pinned to execution "
        f"{target.execution_id[:8]}: build, tests and approvals{_estimate(target)}."
    )


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
        f"Redeploy {_commit_words(target)} to {target.environment}. {undo} {what_it_runs(target)}",
        CONFIRM_TEXT_MAX,
    )
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": plain(label, 75)},
        "action_id": ids.ROLLBACK,
        "value": encode(target),
        "style": "danger",
        "confirm": confirm(f"Roll back {target.environment}?", text, "Roll back"),
    }


def clear_button(environment: str, request: str) -> Block:
    """Clears a claim whose outcome AWS cannot tell, after a confirm saying what to check first."""
    words = (
        "Only when the AWS console shows that no rollback of this environment is running: the "
        "next Roll back click then starts one."
    )
    asked = confirm("Clear the rollback claim?", words, "Clear")
    value = {"w": environment, "r": request}
    return button("Clear the claim", ids.ROLLBACK_CLEAR, value, confirm_with=asked)


def _sha(target: Target) -> str:
    return code_span(target.sha[:7] or target.target_id, 40)


def _env(target: Target) -> str:
    return f"*{inline(target.environment, 100)}*"


def run_url(target: Target, region: str, new_id: str) -> str:
    """The console page of the run a rollback started ("" when the region is unknown)."""
    if target.strategy == CODEDEPLOY:
        return deployment_url(region, new_id)
    return pipeline_url(region, target.pipeline, new_id)


def console_url(target: Target, region: str) -> str:
    """The console page of the pipeline or deployment group a rollback is about."""
    if target.strategy == CODEDEPLOY:
        return group_url(region, target.application, target.deployment_group)
    return pipeline_url(region, target.pipeline)


def started_text(user: str, target: Target, new_id: str, url: str) -> str:
    """The audit line: who started a rollback of what, to which commit, and where it runs."""
    run = link(url, code_span(new_id, 80)) if new_id else "(AWS gave no id)"
    return (
        f":rewind: {mention(user)} started a rollback of {_env(target)} to {_sha(target)} — {run}"
    )


def build_started(
    user: str, target: Target, new_id: str, url: str, *, found: bool = False
) -> Message:
    """The thread reply that records a rollback (`found`: AWS's answer was lost, and reading
    AWS showed what it started)."""
    text = started_text(user, target, new_id, url)
    if found:
        text += "\n_AWS's answer was lost; deploybot read AWS and found the run it started._"
    return {**audit(text), "text": started_text(user, target, new_id, url)}


def next_push_warning(target: Target, stage: str) -> Message:
    """Without a freeze: what will undo the rollback, what to do about it (and the Freeze
    button of the deploy stage, when it is known)."""
    if target.strategy == CODEDEPLOY:
        text = (
            f":warning: The next deployment to {_env(target)} replaces this one: revert the bad "
            "change where it comes from before anything deploys again."
        )
        return audit(text)
    text = (
        f":warning: The next push to {inline(target.pipeline, 100)} (or any newer execution) "
        f"deploys its head again: revert the bad commit, or freeze "
        f"{inline(_stage(target, stage), 100)} once this rollback is past its transition."
    )
    if not stage:
        return audit(text)
    where = Stage(target.pipeline, stage, target.account, target.region)
    return audit(text, freeze_button(where, after_rollback=True))


def build_frozen(target: Target, stage: str) -> Message:
    """The thread reply once the deploy stage is frozen, with its Unfreeze button."""
    text = (
        f":lock: {inline(stage, 100)} of {inline(target.pipeline, 100)} is frozen (its inbound "
        "transition is disabled): nothing newer deploys until someone unfreezes it."
    )
    where = Stage(target.pipeline, stage, target.account, target.region)
    return audit(text, unfreeze_button(where, ids.ROLLBACK_UNFREEZE))


def build_freeze_failed(target: Target, stage: str, problem: AwsProblem) -> Message:
    """The thread reply when the freeze after a rollback failed or its answer was lost."""
    if problem.maybe_done:
        head = (
            f":warning: AWS did not say whether {inline(stage, 100)} is frozen "
            f"({inline(problem.reason, 200)}): check the transition in the console."
        )
    else:
        head = (
            f":warning: Freezing {inline(stage, 100)} failed: {inline(problem.reason, 200)}. "
            "The next push deploys its head again: revert it, or disable the transition in "
            "the console."
        )
    return with_aws_words(head, problem)


def build_failed(user: str, target: Target, problem: AwsProblem) -> Message:
    """The thread reply when AWS refused to start a rollback: its reason, in full."""
    head = (
        f":x: The rollback of {_env(target)} to {_sha(target)} that {mention(user)} asked for "
        f"did not start: {inline(problem.reason, 200)}"
    )
    return with_aws_words(head, problem)


def build_unknown(
    user: str, target: Target, problem: AwsProblem, url: str, clear: Block
) -> Message:
    """The thread reply when AWS's answer was lost and reading AWS did not show it started."""
    console = link(url, "the console") if url else "the AWS console"
    head = (
        f":warning: The rollback of {_env(target)} to {_sha(target)} that {mention(user)} asked "
        f"for *may have started*: {inline(problem.reason, 200)}, and AWS does not show it yet. "
        f"Check {console}. The next Roll back click reads AWS again before anything else; "
        "nothing is sent twice."
    )
    return with_aws_words(head, problem, clear)


def build_cleared(user: str, claim: Claim) -> Message:
    """The thread reply when a person cleared a claim AWS could not resolve."""
    text = (
        f":broom: {mention(user)} cleared the claim of {mention(claim.user)}'s rollback "
        f"({code_span(claim.subject or claim.outcome, 80)}): the next Roll back click starts one."
    )
    return audit(text)


def mark_started(
    blocks: list[Block], user: str, target: Target, new_id: str, url: str
) -> list[Block]:
    """The clicked message's blocks without its Roll back button, saying who started what."""
    return mark_done(blocks, (ids.ROLLBACK,), started_text(user, target, new_id, url))


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
