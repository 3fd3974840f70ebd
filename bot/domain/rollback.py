"""Rolling back from Slack: which target a message offers, who may press, is it still valid. Pure.

The button's value carries the target (`encode`/`decode`), but nothing in it is trusted: at
click time the config decides whether rollback is enabled there and who may press, and AWS's
answers (parsed here, read in bot/aws/rollback.py) decide whether the target is still valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.domain.codepipeline import parse_execution
from bot.domain.coerce import as_map, as_str, mappings
from bot.domain.config import RollbackSettings
from bot.domain.model import Deployment, Execution, RollbackRequest, Scope, Status

PIPELINE = "pipeline"  # start_pipeline_execution pinned to the commit
STAGE = "stage"  # rollback_stage to the target execution
CODEDEPLOY = "codedeploy"  # create_deployment with the target deployment's revision
VALUE_MAX = 2000  # Slack's limit on a button's value
# A second rollback to the same target within this time is refused as a duplicate click.
DEDUPE_SECONDS = 3600
_ROLLBACK_TRIGGERS = frozenset({"ManualRollback", "AutomatedRollback"})
_BUSY = frozenset({"InProgress", "Stopping"})
_DEPLOYING = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})


@dataclass(frozen=True, slots=True)
class Target:
    """What a Roll back button redeploys and how.

    The last three fields come from the commit and the config for the confirm dialog; they are
    not in the button's value, and are taken from the config again at click time.
    """

    strategy: str  # PIPELINE, STAGE or CODEDEPLOY
    sha: str = ""  # the commit ("" when a CodeDeploy revision names none)
    pipeline: str = ""
    execution_id: str = ""
    application: str = ""
    deployment_group: str = ""
    deployment_id: str = ""
    title: str = ""  # the commit's title
    environment: str = ""
    stage: str = ""  # the stage rollback_stage rolls back (STAGE only)

    @property
    def target_id(self) -> str:
        """The execution or deployment rolled back to."""
        return self.execution_id or self.deployment_id

    @property
    def key(self) -> str:
        """The store key of rollbacks to this target: one at a time, whoever clicks where."""
        where = self.pipeline or f"{self.application}/{self.deployment_group}"
        return f"rollback#{where}#{self.target_id}"


def encode(target: Target) -> str:
    """The button value: compact JSON of what is needed to act (well under VALUE_MAX)."""
    data = {"s": target.strategy, "c": target.sha}
    if target.pipeline:
        data.update(p=target.pipeline, e=target.execution_id)
    else:
        data.update(a=target.application, g=target.deployment_group, d=target.deployment_id)
    return json.dumps(data, separators=(",", ":"))


def decode(value: str) -> Target | None:
    """The target a button value names, or None when it is not one of ours."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    target = Target(
        strategy=data.get("s", ""),
        sha=data.get("c", ""),
        pipeline=data.get("p", ""),
        execution_id=data.get("e", ""),
        application=data.get("a", ""),
        deployment_group=data.get("g", ""),
        deployment_id=data.get("d", ""),
    )
    complete = (
        target.strategy in (PIPELINE, STAGE) and target.pipeline and target.execution_id
    ) or (
        target.strategy == CODEDEPLOY
        and target.application
        and target.deployment_group
        and target.deployment_id
    )
    return target if complete else None


# --- where the button appears ----------------------------------------------------------------


def target_for(event: Deployment, settings: RollbackSettings) -> Target | None:
    """The target a message offers to roll back to, or None when there is no valid one.

    A successful execution or deployment offers itself ("Roll back to this": it becomes useful
    once newer deploys went bad; whether it is live is checked at click time, because a posted
    message cannot know what will be live when it is clicked). A failed execution offers the
    newest successful one before it, unless that is the very commit that just failed.
    """
    if event.scope is Scope.PIPELINE and event.pipeline and event.execution_id:
        return _pipeline_target(event, settings)
    if event.scope is Scope.DEPLOYMENT:
        return _group_target(event, settings)
    return None


def _offered_execution(event: Deployment) -> Execution | None:
    """The execution a pipeline message offers: itself when it succeeded, else the last good."""
    if event.status is Status.SUCCEEDED:
        return Execution(event.execution_id, event.status, commit=event.commit)
    good = event.last_good
    if not event.status.is_failure or good is None:
        return None
    if good.commit and event.commit and good.commit.sha == event.commit.sha:
        return None  # the last good run shipped the very commit that just failed
    return good


def _pipeline_target(event: Deployment, settings: RollbackSettings) -> Target | None:
    entry = settings.pipeline(event.pipeline)
    offered = _offered_execution(event) if entry is not None else None
    if entry is None or offered is None:
        return None
    source = offered.commit
    if source is None or not source.confirmed:
        return None  # pinning needs the commit the execution really shipped
    return Target(
        strategy=entry.strategy,
        sha=source.sha,
        pipeline=event.pipeline,
        execution_id=offered.execution_id,
        title=source.title,
        environment=entry.environment or event.pipeline,
        stage=entry.stage,
    )


def _group_target(event: Deployment, settings: RollbackSettings) -> Target | None:
    group = settings.group(event.application, event.deployment_group)
    if (
        group is None
        or event.status is not Status.SUCCEEDED
        or not event.deployment_id
        or event.execution_id  # a pipeline's deployment is rolled back with its pipeline
    ):
        return None
    commit = event.commit if event.commit and event.commit.confirmed else None
    return Target(
        strategy=CODEDEPLOY,
        sha=commit.sha if commit else "",
        application=event.application,
        deployment_group=event.deployment_group,
        deployment_id=event.deployment_id,
        title=commit.title if commit else "",
        environment=group.environment or f"{event.application}/{event.deployment_group}",
    )


def with_config(target: Target, settings: RollbackSettings) -> Target:
    """A clicked target with its environment and stage from the config, not from the button."""
    if target.pipeline:
        entry = settings.pipeline(target.pipeline)
        return replace(
            target,
            environment=(entry.environment if entry else "") or target.pipeline,
            stage=entry.stage if entry else "",
        )
    group = settings.group(target.application, target.deployment_group)
    name = f"{target.application}/{target.deployment_group}"
    return replace(target, environment=(group.environment if group else "") or name)


def last_good(
    summaries: Iterable[Mapping[str, Any]], failed_id: str, region: str = ""
) -> Execution | None:
    """The newest successful execution of list_pipeline_executions other than `failed_id`."""
    for summary in summaries:
        if summary.get("status") == "Succeeded" and summary.get("pipelineExecutionId") != failed_id:
            return parse_execution(summary, region)
    return None


# --- who may press, and is it still enabled ---------------------------------------------------


def config_refusal(target: Target, settings: RollbackSettings) -> str:
    """Why the config no longer allows this target's rollback, or ""."""
    if target.pipeline:
        entry = settings.pipeline(target.pipeline)
        if entry is None:
            return f"rollback is not enabled for pipeline {target.pipeline} (rollback.pipelines)"
        if entry.strategy != target.strategy:
            return (
                f"the rollback strategy of {target.pipeline} is now {entry.strategy!r}, "
                f"not {target.strategy!r} as when this message was posted"
            )
        return ""
    if settings.group(target.application, target.deployment_group) is None:
        return (
            f"rollback is not enabled for {target.application}/{target.deployment_group} "
            "(rollback.deployment_groups)"
        )
    return ""


def needs_group_lookup(settings: RollbackSettings, user: str, channel: str) -> bool:
    """True when only user-group membership can still authorize `user` here."""
    return channel in settings.channels and user not in settings.users and bool(settings.usergroups)


def authorization_refusal(
    settings: RollbackSettings, user: str, channel: str, groups: Iterable[str] = ()
) -> str:
    """Why `user` may not roll back from `channel`, or "". Default deny.

    `groups` are the configured user groups `user` is a member of (usergroups.users.list).
    """
    if not settings.channels:
        return "no channel allows rollbacks (rollback.channels is empty)"
    if channel not in settings.channels:
        return "rollbacks are not allowed from this channel (rollback.channels)"
    if not settings.users and not settings.usergroups:
        return "nobody is allowed to roll back (rollback.users and rollback.usergroups are empty)"
    if user in settings.users or any(g in settings.usergroups for g in groups):
        return ""
    return "you are not in rollback.users nor in one of rollback.usergroups"


# --- is the target still valid (AWS answers in, reasons out) --------------------------------


@dataclass(frozen=True, slots=True)
class PipelineCheck:
    """The re-check of a pipeline target: why not, or the source action to pin the commit to."""

    refusal: str = ""
    source_action: str = ""


def check_pipeline(target: Target, summaries: Iterable[Mapping[str, Any]]) -> PipelineCheck:
    """Re-check `target` against list_pipeline_executions (newest first).

    For the stage strategy the list is filtered to executions that succeeded in the stage.
    """
    listed = list(summaries)
    found = next((s for s in listed if s.get("pipelineExecutionId") == target.execution_id), None)
    if found is None:
        return PipelineCheck(
            f"execution {target.execution_id} is not among the {len(listed)} latest "
            f"executions of {target.pipeline} that could be rolled back to"
        )
    refusal = (
        _status_refusal(target, found)
        or _busy_refusal(target, listed)
        or _stage_refusal(target, found)
        or _live_refusal(target, found, listed)
    )
    if refusal:
        return PipelineCheck(refusal)
    shas = {as_str(r.get("revisionId")): r for r in mappings(found.get("sourceRevisions"))}
    if target.sha not in shas:
        return PipelineCheck(
            f"execution {target.execution_id} did not ship commit {target.sha[:7]}"
        )
    return PipelineCheck(source_action=as_str(shas[target.sha].get("actionName")))


def _status_refusal(target: Target, found: Mapping[str, Any]) -> str:
    status = as_str(found.get("status"))
    if status != "Succeeded":
        return f"execution {target.execution_id} is {status or 'unknown'}, not Succeeded"
    return ""


def _busy_refusal(target: Target, listed: Iterable[Mapping[str, Any]]) -> str:
    """Why not: a rollback of this pipeline is running."""
    for summary in listed:
        trigger = as_str(as_map(summary.get("trigger")).get("triggerType"))
        rolling = summary.get("executionType") == "ROLLBACK" or trigger in _ROLLBACK_TRIGGERS
        if as_str(summary.get("status")) in _BUSY and rolling:
            return (
                f"{target.pipeline} is already rolling back "
                f"(execution {as_str(summary.get('pipelineExecutionId'))})"
            )
    return ""


def _stage_refusal(target: Target, found: Mapping[str, Any]) -> str:
    """Why rollback_stage cannot go back to `found`."""
    if target.strategy != STAGE:
        return ""
    if found.get("executionType") == "ROLLBACK":
        return "rollback_stage cannot target an execution that was a rollback"
    if found.get("executionMode") == "PARALLEL":
        return "rollback_stage is not available in PARALLEL execution mode"
    return ""


def _live_refusal(
    target: Target, found: Mapping[str, Any], listed: Iterable[Mapping[str, Any]]
) -> str:
    """Why not: the target is what runs already."""
    live = next((s for s in listed if s.get("status") == "Succeeded"), None)
    if live is found:
        return f"execution {target.execution_id} is already the live one"
    live_shas = {as_str(r.get("revisionId")) for r in mappings((live or {}).get("sourceRevisions"))}
    if target.sha and target.sha in live_shas:
        live_id = as_str((live or {}).get("pipelineExecutionId"))
        return f"commit {target.sha[:7]} is already live (execution {live_id})"
    return ""


def check_deployment(
    target: Target, deployment: Mapping[str, Any], group: Mapping[str, Any]
) -> str:
    """Re-check a CodeDeploy target against get_deployment and get_deployment_group; "" if valid."""
    info = as_map(deployment.get("deploymentInfo"))
    where = (as_str(info.get("applicationName")), as_str(info.get("deploymentGroupName")))
    if where != (target.application, target.deployment_group):
        return f"deployment {target.deployment_id} is not a deployment of this group"
    status = as_str(info.get("status"))
    if status != "Succeeded":
        return f"deployment {target.deployment_id} is {status or 'unknown'}, not Succeeded"
    group_info = as_map(group.get("deploymentGroupInfo"))
    attempted = as_map(group_info.get("lastAttemptedDeployment"))
    if as_str(attempted.get("status")) in _DEPLOYING:
        return (
            f"deployment {as_str(attempted.get('deploymentId'))} is still running in "
            f"{target.application}/{target.deployment_group}"
        )
    live = as_str(as_map(group_info.get("lastSuccessfulDeployment")).get("deploymentId"))
    if live == target.deployment_id:
        return f"deployment {target.deployment_id} is already the live one"
    return ""


def client_token(key: str, request: str) -> str:
    """An idempotency token for one click: the same on a re-run of that click's listener."""
    return hashlib.sha256(f"{key}\n{request}".encode()).hexdigest()[:64]


# --- one rollback at a time (the store's record of a target) ----------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """The store's record of the latest rollback to one target: who, when, and how it went."""

    user: str
    request: str  # the click (user and action_ts): a re-run of its lazy listener has the same
    token: str  # the clientRequestToken of this attempt
    at: float
    state: str = "starting"  # then "started" or "failed"
    new_id: str = ""  # the execution or deployment the rollback started
    link: str = ""


def load_claim(body: str) -> Claim | None:
    """The claim a store record holds, or None when it holds none."""
    try:
        data = json.loads(body)
        return Claim(**data) if data else None
    except (ValueError, TypeError):
        return None


def dump_claim(claim: Claim) -> str:
    """The store record body of `claim`."""
    return json.dumps(asdict(claim), separators=(",", ":"))


def verdict(claim: Claim | None, request: str, now: float) -> str:
    """What a click may do given the target's record.

    "claim": start a rollback; "resume": this click's listener runs again (Lambda retry)
    before the outcome was recorded; "done": it runs again after; "duplicate": someone else's
    rollback to this target started less than DEDUPE_SECONDS ago (or is starting).
    """
    if claim is None or claim.state == "failed" or now - claim.at > DEDUPE_SECONDS:
        return "claim"
    if claim.request == request:
        return "resume" if claim.state == "starting" else "done"
    return "duplicate"


def run_key(new_id: str) -> str:
    """Where the store says that deploybot started execution or deployment `new_id`."""
    return f"rollback-run#{new_id}"


def load_request(body: str) -> RollbackRequest | None:
    """The rollback request a `run_key` record holds."""
    try:
        return RollbackRequest(**json.loads(body))
    except (ValueError, TypeError):
        return None


def dump_request(request: RollbackRequest) -> str:
    """The body of a `run_key` record."""
    return json.dumps(asdict(request), separators=(",", ":"))
