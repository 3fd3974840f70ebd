"""Freeze and Unfreeze a pipeline's deploy stage (its inbound transition), and what the thread
is told. Pure."""

from __future__ import annotations

from blocks import ids
from blocks.actions import Block, Message, audit, button, confirm, mention, with_aws_words
from blocks.text import inline
from bot.domain.freeze import Stage
from bot.domain.model import AwsProblem

NAME_MAX = 100


def freeze_button(where: Stage, *, after_rollback: bool = False) -> Block:
    """Closes the transition into a stage, after a confirm saying what that holds back."""
    pipeline, stage = where.pipeline, where.stage
    words = (
        f"Closes the transition into {stage} of {pipeline}: nothing newer deploys until "
        "someone unfreezes it."
    )
    if after_rollback:
        words += " A rollback that has not reached it yet waits too."
    asked = confirm(f"Freeze {stage}?", words, "Freeze")
    return button("Freeze", ids.FREEZE, where.value(), confirm_with=asked)


def unfreeze_button(where: Stage, action_id: str = ids.UNFREEZE) -> Block:
    """Opens the transition into a stage again, after a confirm saying what follows (a rollback
    thread's button keeps its own action_id: ids.ROLLBACK_UNFREEZE)."""
    pipeline, stage = where.pipeline, where.stage
    words = (
        f"Opens the transition into {stage} of {pipeline} again. The newest revision waiting "
        "before it then deploys: make sure the fix is in it."
    )
    asked = confirm(f"Unfreeze {stage}?", words, "Unfreeze")
    return button("Unfreeze", action_id, where.value(), confirm_with=asked)


def _where(pipeline: str, stage: str) -> str:
    return f"{inline(stage, NAME_MAX)} of {inline(pipeline, NAME_MAX)}"


def build_frozen_by(user: str, where: Stage, *, found: bool = False) -> Message:
    """The reply once someone froze a stage from Slack, with its Unfreeze button."""
    text = (
        f":lock: {mention(user)} froze {_where(where.pipeline, where.stage)} (its inbound "
        "transition is disabled): nothing newer deploys until someone unfreezes it."
    )
    if found:
        text += "\n_AWS's answer was lost; deploybot read AWS and found it frozen._"
    return audit(text, unfreeze_button(where))


def build_unfrozen(user: str, where: Stage) -> Message:
    """The reply once a deploy stage is open again."""
    return audit(
        f":unlock: {mention(user)} unfroze {_where(where.pipeline, where.stage)}: the newest "
        "revision waiting before it deploys now."
    )


def build_transition_failed(
    user: str, pipeline: str, stage: str, freezing: bool, problem: AwsProblem
) -> Message:
    """The reply when freezing or unfreezing failed, or AWS did not say whether it worked."""
    if freezing:
        what = "may not be frozen" if problem.maybe_done else "is not frozen"
        asked = "Freeze"
    else:
        what = "may not be unfrozen" if problem.maybe_done else "is still frozen"
        asked = "Unfreeze"
    head = (
        f":warning: {_where(pipeline, stage)} {what} after {mention(user)}'s {asked}: "
        f"{inline(problem.reason, 200)}"
    )
    return with_aws_words(head, problem)


def frozen_line(by: str, reason: str) -> str:
    """A frozen stage in a /deploy-status answer: who froze it (an ARN's last part) and why."""
    who = by.rsplit("/", 1)[-1] if by else "someone"
    line = f":lock: frozen by {inline(who, NAME_MAX)}"
    if reason:
        line += f": {inline(reason, 300)}"
    return line
