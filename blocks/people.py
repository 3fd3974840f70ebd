"""People in messages: a Slack mention when the person maps to a workspace user, else their git
or AWS name, escaped. And who or what started a run, in words. Pure."""

from __future__ import annotations

import re

from blocks.text import inline, plain
from bot.domain.model import Deployment, Person, StartedBy
from bot.domain.people import started_by

NAME_MAX = 80
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")

# AWS's words for what started a run (CodePipeline TriggerType, CodeDeploy DeploymentCreator,
# botocore's models), in the words a reader expects. Unknown values are shown as AWS sent them.
_HOW = {
    "Webhook": "webhook push",
    "WebhookV2": "webhook push",
    "PollForSourceChanges": "source change (polling)",
    "StartPipelineExecution": "StartPipelineExecution",
    "ManualRollback": "manual rollback",
    "AutomatedRollback": "automatic rollback",
    "CloudWatchEvent": "EventBridge rule",
    "CreatePipeline": "pipeline creation",
    "PutActionRevision": "PutActionRevision",
    "user": "CreateDeployment",
    "autoscaling": "Auto Scaling scale-out",
    "autoscalingTermination": "Auto Scaling termination",
    "codeDeployRollback": "CodeDeploy automatic rollback",
    "CodeDeploy": "CodeDeploy",
    "CodeDeployAutoUpdate": "CodeDeploy auto-update",
    "CloudFormation": "CloudFormation",
    "CloudFormationRollback": "CloudFormation rollback",
    "deploybot": "deploybot rollback",
}


def _shown_name(person: Person) -> str:
    """How a person without a Slack id is named: @login, else their name, else their e-mail."""
    if person.login:
        return "@" + person.login.removeprefix("@")
    return person.name or person.email


def person_mrkdwn(person: Person) -> str:
    """A mention for a mapped person, else the escaped name (never a mention it did not mean)."""
    if _USER_ID.fullmatch(person.slack_id):
        return f"<@{person.slack_id}>"
    return name_mrkdwn(person)


def name_mrkdwn(person: Person) -> str:
    """The person's git or AWS name as mrkdwn, escaped; no mention even when one is known."""
    return inline(_shown_name(person) or "someone", NAME_MAX)


def person_plain(person: Person) -> str:
    """The person in plain text (a confirm dialog): @login or name; never markup."""
    return plain(_shown_name(person) or "someone", NAME_MAX)


def started_by_mrkdwn(started: StartedBy) -> str:
    """ "webhook push by <@U1>", "StartPipelineExecution by alice (role Admin)", "autoscaling"."""
    text = inline(_HOW.get(started.how, started.how), NAME_MAX)
    if started.who is not None:
        text += " by " + person_mrkdwn(started.who)
    if started.detail:
        detail = inline(started.detail, NAME_MAX)
        # A rule's name completes "EventBridge rule"; for a caller it is the role they assumed.
        text += f" {detail}" if started.how == "CloudWatchEvent" else f" (role {detail})"
    return text


def started_text(event: Deployment) -> str:
    """Who or what started the event's run, as mrkdwn; AWS's trigger text if nothing better."""
    started = started_by(event)
    if started is not None:
        return started_by_mrkdwn(started)
    return inline(event.trigger, 200) if event.trigger else ""
