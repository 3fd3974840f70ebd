"""Rolling back from Slack: which target a message offers, who may press, is it still valid. Pure.

The button's value names the target (`encode`/`decode`), but nothing in it is trusted: at click
time the config decides whether rollback is enabled there and who may press, and AWS's answers
(read in bot/aws/rollback.py, judged here) decide whether the target is still worth going to.

"Live" is what actually runs, per strategy (README "Rolling back"):
- a pipeline: the revisions of the newest execution whose Deploy actions in the deploy stage
  finished. If they failed, something may be half deployed: nothing counts as live, and going
  back to a good execution is exactly what is needed. The last successful *pipeline run* is not
  what runs: a later run may have deployed and then failed its tests.
- a deployment group: the revision of `lastSuccessfulDeployment`, when it is also the group's
  last attempt. A newer attempt that failed or stopped may have left its revision on some
  targets (no automatic rollback), so again nothing counts as live.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.domain.claims import Claim
from bot.domain.codepipeline import DeployRun, PipelineInfo, parse_execution
from bot.domain.coerce import as_map, as_str, mappings, parse_time, string_fields
from bot.domain.config import RollbackSettings
from bot.domain.model import Deployment, Execution, RollbackRequest, Scope, Status
from bot.domain.places import environment, read_value, value_fields

PIPELINE = "pipeline"  # start_pipeline_execution with every source pinned
STAGE = "stage"  # rollback_stage of the deploy stage to the target execution
CODEDEPLOY = "codedeploy"  # create_deployment with the target deployment's revision
ACTION = "rollback"  # the claims' name for this action (bot/domain/claims.py)
VALUE_MAX = 2000  # Slack's limit on a button's value

# AWS's own shapes (API references): a value that does not fit them names nothing real.
_PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_EXECUTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CODEDEPLOY_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,100}")
_DEPLOYMENT_ID = re.compile(r"d-[A-Z0-9]{1,40}")
_REVISION = re.compile(r"[0-9A-Za-z:._-]{1,80}")  # a commit or an image digest, shown only

_ROLLBACK_TRIGGERS = frozenset({"ManualRollback", "AutomatedRollback"})
_BUSY = frozenset({"InProgress", "Stopping"})
_DEPLOYING = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
# StartPipelineExecution's revisionType per source provider ("Start a pipeline with a source
# revision override", CodePipeline User Guide).
REVISION_TYPES = {
    "CodeCommit": "COMMIT_ID",
    "CodeStarSourceConnection": "COMMIT_ID",
    "GitHub": "COMMIT_ID",
    "ECR": "IMAGE_DIGEST",
    "S3": "S3_OBJECT_VERSION_ID",
}
# Clock skew allowed when matching what AWS started against the time of a claim.
MATCH_MARGIN_SECONDS = 30.0
# DisableStageTransition's reason: 1-300 characters of [a-zA-Z0-9!@ ()*.?-].
REASON_MAX = 300
_NOT_IN_REASON = re.compile(r"[^a-zA-Z0-9!@ ().*?-]+")


@dataclass(frozen=True, slots=True)
class Target:
    """What a Roll back button redeploys and how.

    The fields after `deployment_id` come from the commit and the config, for the confirm
    dialog; they are not in the button's value, and the config's are read again at click time.
    """

    strategy: str  # PIPELINE, STAGE or CODEDEPLOY
    sha: str = ""  # the commit ("" when unknown)
    pipeline: str = ""
    execution_id: str = ""
    application: str = ""
    deployment_group: str = ""
    deployment_id: str = ""
    title: str = ""  # the commit's title
    environment: str = ""
    stage: str = ""  # the deploy stage named in the config ("" = found in the pipeline)
    freeze: bool = False  # freeze the deploy stage once rolled back
    minutes: int = 0  # how long the target's own run took: what the rollback may take
    account: str = ""  # where it lives ("" in a message posted before [[accounts]])
    region: str = ""

    @property
    def target_id(self) -> str:
        """The execution or deployment rolled back to."""
        return self.execution_id or self.deployment_id

    @property
    def where(self) -> str:
        """The environment a claim holds: one rollback at a time, whatever the target, in its
        own account and region (web-prod of one account does not hold another's)."""
        if self.pipeline:
            return environment("pipeline", self.pipeline, self.account, self.region)
        name = f"{self.application}/{self.deployment_group}"
        return environment("group", name, self.account, self.region)


def encode(target: Target) -> str:
    """The button value: compact JSON of what is needed to act.

    Every field fits AWS's maximum lengths, so the value stays under a few hundred characters;
    `target_for` offers no target whose value would not fit VALUE_MAX.
    """
    data = {"s": target.strategy, **value_fields(target.account, target.region)}
    if _REVISION.fullmatch(target.sha):
        data["c"] = target.sha
    if target.pipeline:
        data.update(p=target.pipeline, e=target.execution_id)
    else:
        data.update(a=target.application, g=target.deployment_group, d=target.deployment_id)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode(value: str) -> Target | None:
    """The target a button value names, or None when it is not one of ours."""
    data = string_fields(value)
    place = read_value(data) if data is not None else None
    if data is None or place is None:
        return None
    target = Target(
        account=place[0],
        region=place[1],
        strategy=data.get("s", ""),
        sha=data.get("c", ""),
        pipeline=data.get("p", ""),
        execution_id=data.get("e", ""),
        application=data.get("a", ""),
        deployment_group=data.get("g", ""),
        deployment_id=data.get("d", ""),
    )
    return target if _well_formed(target) else None


def _well_formed(target: Target) -> bool:
    if target.sha and not _REVISION.fullmatch(target.sha):
        return False
    if target.strategy in (PIPELINE, STAGE):
        return bool(
            _PIPELINE_NAME.fullmatch(target.pipeline)
            and _EXECUTION_ID.fullmatch(target.execution_id)
        )
    return bool(
        target.strategy == CODEDEPLOY
        and _CODEDEPLOY_NAME.fullmatch(target.application)
        and _CODEDEPLOY_NAME.fullmatch(target.deployment_group)
        and _DEPLOYMENT_ID.fullmatch(target.deployment_id)
    )


# --- where the button appears ----------------------------------------------------------------


def target_for(event: Deployment, settings: RollbackSettings) -> Target | None:
    """The target a message offers to roll back to, or None when there is no valid one.

    A successful execution or deployment offers itself ("Roll back to this": it becomes useful
    once newer deploys went bad; whether it is live is checked at click time). A failure offers
    `event.last_good`, which enrichment sets only when the failure may have changed what runs
    (it reached the deploy stage, or CodeDeploy did not roll it back itself): a failure that
    stopped before deploying leaves nothing to roll back, and offers no button.
    """
    if event.scope is Scope.PIPELINE and event.pipeline and event.execution_id:
        target = _pipeline_target(event, settings)
    elif event.scope is Scope.DEPLOYMENT and not event.execution_id:
        target = _group_target(event, settings)  # a pipeline's deployment goes with its pipeline
    else:
        return None
    if target is None or not _well_formed(target) or len(encode(target)) > VALUE_MAX:
        return None
    return target


def _offered(event: Deployment) -> Execution | None:
    """Itself when it succeeded; after a failure, the last good run enrichment found."""
    if event.status is Status.SUCCEEDED:
        seconds = (
            (event.finished_at - event.started_at).total_seconds()
            if event.started_at and event.finished_at
            else None
        )
        return Execution(
            event.execution_id or event.deployment_id,
            event.status,
            started_at=event.started_at,
            updated_at=event.finished_at if seconds is not None else None,
            commit=event.commit,
        )
    good = event.last_good
    if not event.status.is_failure or good is None:
        return None
    if good.commit and event.commit and good.commit.sha == event.commit.sha:
        return None  # the last good run shipped the very commit that just failed
    return good


def _minutes(execution: Execution) -> int:
    seconds = execution.duration_seconds
    return max(1, round(seconds / 60)) if seconds is not None else 0


def _pipeline_target(event: Deployment, settings: RollbackSettings) -> Target | None:
    entry = settings.pipeline(event.pipeline)
    offered = _offered(event) if entry is not None else None
    if entry is None or offered is None:
        return None
    source = offered.commit
    if source is None or not source.confirmed:
        return None  # what it shipped must be known to pin it
    return Target(
        account=event.account,
        region=event.region,
        strategy=entry.strategy,
        sha=source.sha,
        pipeline=event.pipeline,
        execution_id=offered.execution_id,
        title=source.title,
        environment=_named(entry.environment or event.pipeline, event.account_name),
        stage=entry.stage,
        freeze=entry.freeze_after_rollback,
        minutes=_minutes(offered),
    )


def _group_target(event: Deployment, settings: RollbackSettings) -> Target | None:
    group = settings.group(event.application, event.deployment_group)
    offered = _offered(event) if group is not None else None
    if group is None or offered is None or not offered.execution_id:
        return None
    commit = offered.commit if offered.commit and offered.commit.confirmed else None
    return Target(
        account=event.account,
        region=event.region,
        strategy=CODEDEPLOY,
        sha=commit.sha if commit else "",
        application=event.application,
        deployment_group=event.deployment_group,
        deployment_id=offered.execution_id,
        title=commit.title if commit else "",
        environment=_named(
            group.environment or f"{event.application}/{event.deployment_group}",
            event.account_name,
        ),
        minutes=_minutes(offered),
    )


def _named(environment: str, account_name: str) -> str:
    """An environment as the confirm dialog and the thread say it, with its account's name
    when [[accounts]] gives one: "production (prod)"."""
    return f"{environment} ({account_name})" if account_name else environment


def with_config(target: Target, settings: RollbackSettings, account_name: str = "") -> Target:
    """A clicked target with its environment, stage and freeze from the config, not the button
    (`account_name`: what [[accounts]] calls its account)."""
    if target.pipeline:
        entry = settings.pipeline(target.pipeline)
        return replace(
            target,
            environment=_named(
                (entry.environment if entry else "") or target.pipeline, account_name
            ),
            stage=entry.stage if entry else "",
            freeze=entry.freeze_after_rollback if entry else False,
        )
    group = settings.group(target.application, target.deployment_group)
    name = f"{target.application}/{target.deployment_group}"
    environment = (group.environment if group else "") or name
    return replace(target, environment=_named(environment, account_name))


def last_good(
    summaries: Iterable[Mapping[str, Any]],
    failed_id: str,
    region: str = "",
    *,
    before: datetime | None = None,
    stage_rollback: bool = False,
) -> Execution | None:
    """The newest successful execution of list_pipeline_executions older than the failed one.

    `rollback_stage` cannot go back to an execution that was itself a rollback.
    """
    listed = list(summaries)
    failed = next((s for s in listed if s.get("pipelineExecutionId") == failed_id), None)
    before = parse_time(failed.get("startTime")) if failed else before
    for summary in listed:
        started = parse_time(summary.get("startTime"))
        if (
            summary.get("status") != "Succeeded"
            or summary.get("pipelineExecutionId") == failed_id
            or (before and started and started > before)
            or (stage_rollback and summary.get("executionType") == "ROLLBACK")
        ):
            continue
        return parse_execution(summary, region)
    return None


def deployed(runs: Iterable[DeployRun], execution_id: str) -> bool:
    """True when the execution's Deploy actions ran in the deploy stage (they may have failed)."""
    return any(r.execution_id == execution_id for r in runs)


def group_good(group: Mapping[str, Any], failed_id: str) -> str:
    """The deployment to go back to after `failed_id` failed (get_deployment_group), or "".

    "" when CodeDeploy rolls failed deployments back itself, or nothing succeeded before.
    """
    info = as_map(group.get("deploymentGroupInfo"))
    automatic = as_map(info.get("autoRollbackConfiguration"))
    if automatic.get("enabled") and "DEPLOYMENT_FAILURE" in (automatic.get("events") or []):
        return ""
    good = as_str(as_map(info.get("lastSuccessfulDeployment")).get("deploymentId"))
    return "" if good == failed_id else good


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


# --- is the target still worth going to (AWS answers in, reasons out) ------------------------


@dataclass(frozen=True, slots=True)
class Pin:
    """One source action of StartPipelineExecution pinned to the target execution's revision."""

    action: str
    revision_type: str
    value: str

    def request(self) -> dict[str, str]:
        """The `sourceRevisions` entry."""
        return {
            "actionName": self.action,
            "revisionType": self.revision_type,
            "revisionValue": self.value,
        }


@dataclass(frozen=True, slots=True)
class PipelineCheck:
    """The re-check of a pipeline target: why not, or what to send."""

    refusal: str = ""
    stage: str = ""  # the deploy stage
    live: str = ""  # the execution whose deploy runs now ("" when unknown or half deployed)
    pins: tuple[Pin, ...] = ()


def check_pipeline(
    target: Target,
    info: PipelineInfo,
    summaries: Iterable[Mapping[str, Any]],
    runs: list[DeployRun],
) -> PipelineCheck:
    """Re-check `target` against get_pipeline, list_pipeline_executions (newest first) and the
    deploy stage's runs (`deploy_runs` of list_action_executions)."""
    stage = target.stage or info.deploy_stage
    if not stage:
        return PipelineCheck(
            f"{target.pipeline} has no stage with a Deploy action: name the stage that deploys "
            "in rollback.pipelines[].stage"
        )
    listed = list(summaries)
    found = next((s for s in listed if s.get("pipelineExecutionId") == target.execution_id), None)
    if found is None:
        return PipelineCheck(
            f"execution {target.execution_id} is not among the {len(listed)} latest "
            f"executions of {target.pipeline}"
        )
    live = next((r for r in runs if r.status is not Status.IN_PROGRESS), None)
    refusal = (
        _status_refusal(target, found)
        or _busy_refusal(target, listed)
        or _stage_refusal(target, found, info)
        or _commit_refusal(target, found)
        or _live_refusal(target, found, listed, live, stage)
    )
    live_id = live.execution_id if live and live.status is Status.SUCCEEDED else ""
    if refusal:
        return PipelineCheck(refusal, stage, live_id)
    if target.strategy != PIPELINE:
        return PipelineCheck(stage=stage, live=live_id)
    pins = pins_for(info, found)
    if isinstance(pins, str):
        return PipelineCheck(pins, stage, live_id)
    return PipelineCheck(stage=stage, live=live_id, pins=pins)


def _revisions(summary: Mapping[str, Any]) -> dict[str, str]:
    """{source action: revision} of a list_pipeline_executions entry."""
    return {
        as_str(r.get("actionName")): as_str(r.get("revisionId"))
        for r in mappings(summary.get("sourceRevisions"))
    }


def pins_for(info: PipelineInfo, found: Mapping[str, Any]) -> tuple[Pin, ...] | str:
    """Every source action of the pipeline pinned to `found`'s revision, or why that fails.

    An unpinned source would fetch its newest revision: the very head being rolled back.
    """
    revisions = _revisions(found)
    if not info.sources:
        return f"the definition of {info.name} shows no source action to pin"
    pins = []
    for source in info.sources:
        kind = REVISION_TYPES.get(source.provider)
        value = revisions.get(source.name, "")
        if kind is None:
            return f"source action {source.name} ({source.provider}) cannot be pinned to a revision"
        if not value:
            return (
                f"execution {as_str(found.get('pipelineExecutionId'))} names no revision of "
                f"source action {source.name}, so it cannot be pinned"
            )
        pins.append(Pin(source.name, kind, value))
    return tuple(pins)


def _status_refusal(target: Target, found: Mapping[str, Any]) -> str:
    status = as_str(found.get("status"))
    if status != "Succeeded":
        return f"execution {target.execution_id} is {status or 'unknown'}, not Succeeded"
    return ""


def is_rollback(summary: Mapping[str, Any]) -> bool:
    """True for an execution that rolls a stage back (RollbackStage, console or automatic)."""
    trigger = as_str(as_map(summary.get("trigger")).get("triggerType"))
    return summary.get("executionType") == "ROLLBACK" or trigger in _ROLLBACK_TRIGGERS


def _busy_refusal(target: Target, listed: Iterable[Mapping[str, Any]]) -> str:
    """Why not: a rollback of this pipeline runs (one started outside deploybot included)."""
    for summary in listed:
        if as_str(summary.get("status")) in _BUSY and is_rollback(summary):
            return (
                f"{target.pipeline} is already rolling back "
                f"(execution {as_str(summary.get('pipelineExecutionId'))})"
            )
    return ""


def _stage_refusal(target: Target, found: Mapping[str, Any], info: PipelineInfo) -> str:
    """Why rollback_stage cannot go back to `found` (CodePipeline User Guide, stage rollback)."""
    if target.strategy != STAGE:
        return ""
    if found.get("executionType") == "ROLLBACK":
        return "rollback_stage cannot target an execution that was itself a rollback"
    if "PARALLEL" in (found.get("executionMode"), info.execution_mode):
        return "rollback_stage is not available in PARALLEL execution mode"
    return ""


def _commit_refusal(target: Target, found: Mapping[str, Any]) -> str:
    if target.sha and target.sha not in _revisions(found).values():
        return f"execution {target.execution_id} did not ship commit {target.sha[:7]}"
    return ""


def _live_refusal(
    target: Target,
    found: Mapping[str, Any],
    listed: Iterable[Mapping[str, Any]],
    live: DeployRun | None,
    stage: str,
) -> str:
    """Why not: the target's revisions are what runs already."""
    if live is None or live.status is not Status.SUCCEEDED:
        return ""  # unknown, or the newest deploy failed: something bad may be half deployed
    if live.execution_id == target.execution_id:
        return f"execution {target.execution_id} is what stage {stage} runs already"
    running = next((s for s in listed if s.get("pipelineExecutionId") == live.execution_id), None)
    if running is not None and _revisions(running) == _revisions(found):
        what = f"commit {target.sha[:7]}" if target.sha else "its revision"
        return f"{what} is what stage {stage} runs already (execution {live.execution_id})"
    return ""


def revision_key(revision: Mapping[str, Any]) -> tuple[str, ...]:
    """What identifies a CodeDeploy revision, whichever way it is stored."""
    kind = as_str(revision.get("revisionType"))
    s3 = as_map(revision.get("s3Location"))
    github = as_map(revision.get("gitHubLocation"))
    content = as_map(revision.get("appSpecContent")) or as_map(revision.get("string"))
    return (
        kind,
        as_str(s3.get("bucket")),
        as_str(s3.get("key")),
        as_str(s3.get("version")),
        as_str(s3.get("eTag")),
        as_str(github.get("repository")),
        as_str(github.get("commitId")),
        as_str(content.get("sha256")),
    )


def check_deployment(
    target: Target,
    deployment: Mapping[str, Any],
    group: Mapping[str, Any],
    live: Mapping[str, Any] | None = None,
) -> str:
    """Re-check a CodeDeploy target against get_deployment of it and get_deployment_group; "" if
    valid. `live` is get_deployment of the group's lastSuccessfulDeployment, when read."""
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
    live_id = as_str(as_map(group_info.get("lastSuccessfulDeployment")).get("deploymentId"))
    if not live_id or as_str(attempted.get("deploymentId")) not in ("", live_id):
        return ""  # the newest attempt failed or stopped: its revision may be half deployed
    if live_id == target.deployment_id:
        return f"deployment {target.deployment_id} is what runs already"
    live_revision = as_map(as_map((live or {}).get("deploymentInfo")).get("revision"))
    if live_revision and revision_key(live_revision) == revision_key(as_map(info.get("revision"))):
        return f"the revision of {target.deployment_id} is what runs already (deployment {live_id})"
    return ""


# --- what the rollback started, when its answer was lost -------------------------------------


def _since(item: Mapping[str, Any], key: str, since: float) -> bool:
    started = parse_time(item.get(key))
    return started is not None and started.timestamp() >= since - MATCH_MARGIN_SECONDS


def started_execution(
    summaries: Iterable[Mapping[str, Any]], target: Target, since: float, pins: Mapping[str, str]
) -> str:
    """The execution a lost start_pipeline_execution or rollback_stage started, or "".

    A re-run: started by StartPipelineExecution since the claim, with every pinned revision.
    A stage rollback: a ROLLBACK execution since the claim whose rollbackMetadata names the
    target. Oldest first: the first one that matches is ours.
    """
    for summary in reversed(list(summaries)):
        if not _since(summary, "startTime", since):
            continue
        if target.strategy == STAGE:
            metadata = as_map(summary.get("rollbackMetadata"))
            if is_rollback(summary) and (
                metadata.get("rollbackTargetPipelineExecutionId") == target.execution_id
            ):
                return as_str(summary.get("pipelineExecutionId"))
            continue
        trigger = as_str(as_map(summary.get("trigger")).get("triggerType"))
        revisions = _revisions(summary)
        if trigger == "StartPipelineExecution" and all(
            revisions.get(action) == value for action, value in pins.items()
        ):
            return as_str(summary.get("pipelineExecutionId"))
    return ""


def unrevised_start(summaries: Iterable[Mapping[str, Any]], since: float) -> bool:
    """Is a run started by StartPipelineExecution since `since` still running without showing
    its source revisions? It may be a lost start's: CodePipeline's reference does not say when
    a summary's `sourceRevisions` appear, so it cannot be told apart yet."""
    return any(
        _since(summary, "startTime", since)
        and as_str(as_map(summary.get("trigger")).get("triggerType")) == "StartPipelineExecution"
        and as_str(summary.get("status")) == "InProgress"
        and not _revisions(summary)
        for summary in summaries
    )


def started_deployment(infos: Iterable[Mapping[str, Any]], marker: str, since: float) -> str:
    """The deployment a lost create_deployment created (batch_get_deployments), or "".

    Ours carries `marker` in its description (`deployment_description`).
    """
    ours = [
        info
        for info in infos
        if marker in as_str(info.get("description")) and _since(info, "createTime", since)
    ]
    latest = datetime.max.replace(tzinfo=UTC)
    ours.sort(key=lambda info: parse_time(info.get("createTime")) or latest)
    return as_str(ours[0].get("deploymentId")) if ours else ""


def still_running(status: str) -> bool:
    """True for a pipeline execution or deployment status that is not over."""
    return status in _BUSY or status in _DEPLOYING


def claim_facts(target: Target, pins: Mapping[str, str]) -> dict[str, str]:
    """What a claim keeps so that any later click can find what this rollback started."""
    return {"strategy": target.strategy, "sha": target.sha} | {
        f"pin:{action}": value for action, value in pins.items()
    }


def claimed(claim: Claim, target: Target) -> tuple[Target, dict[str, str]]:
    """The target (and pinned revisions) of the rollback a claim on `target`'s environment holds."""
    facts = claim.facts
    pins = {key[4:]: value for key, value in facts.items() if key.startswith("pin:")}
    gone = replace(
        target, strategy=facts.get("strategy", target.strategy), sha=facts.get("sha", "")
    )
    if target.pipeline:
        return replace(gone, execution_id=claim.subject), pins
    return replace(gone, deployment_id=claim.subject), pins


# --- what is sent ----------------------------------------------------------------------------


def client_token(environment: str, target_id: str, request: str) -> str:
    """The idempotency token of one click: the same when that click's listener runs again.

    StartPipelineExecution's clientRequestToken: 1-128 characters of [a-zA-Z0-9-].
    """
    return hashlib.sha256(f"{environment}\n{target_id}\n{request}".encode()).hexdigest()[:64]


def marker(token: str) -> str:
    """The part of a claim's token that a CodeDeploy description carries."""
    return f"deploybot:{token[:16]}"


def deployment_description(target: Target, user: str, token: str) -> str:
    """CreateDeployment's description: who rolled back to what, and the claim's marker."""
    what = f"{target.deployment_id} ({target.sha[:12]})" if target.sha else target.deployment_id
    return f"Rollback to {what} from Slack by {user} [{marker(token)}]"


def freeze_reason(user: str, name: str, target: Target, new_id: str) -> str:
    """DisableStageTransition's reason: the Slack user and the rollback, in AWS's alphabet."""
    to = target.sha[:7] or target.target_id
    return transition_reason(
        f"Frozen by deploybot after Slack user {user} {name} rolled back to {to} "
        f"(execution {new_id}). Unfreeze from the Slack thread when the fix is out."
    )


def transition_reason(text: str) -> str:
    """`text` as DisableStageTransition takes a reason: 1-300 of [a-zA-Z0-9!@ ()*.?-]."""
    return " ".join(_NOT_IN_REASON.sub(" ", text).split())[:REASON_MAX].strip()


# --- what the rollback's own notifications say ------------------------------------------------


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
