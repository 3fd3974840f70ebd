"""The AWS side of a rollback: re-check the target, start it once, and find out what happened.

Reads and writes go through `bot.aws.call`, so any AWS failure is an `AwsError` naming the IAM
action and AWS's own words; bot/domain/rollback.py decides from the answers. Each write is sent
once, through a client that does not retry (`aws.client(service, retry=False)`): when its answer
is lost, `find_started` reads what AWS did instead of sending it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import aws
from bot.domain.codepipeline import DeployRun, deploy_runs, parse_pipeline
from bot.domain.coerce import as_list, as_map, as_str, mappings
from bot.domain.rollback import (
    CODEDEPLOY,
    MATCH_MARGIN_SECONDS,
    STAGE,
    Target,
    check_deployment,
    check_pipeline,
    marker,
    started_deployment,
    started_execution,
    unrevised_start,
)

HISTORY = 100  # executions read: the target, what runs, a rollback in progress (the API's max)
ACTION_PAGES = 3  # list_action_executions pages of 100 searched for the deploy stage's last run
RECENT = 20  # executions read to find what a lost start started (the newest come first)
DEPLOYMENT_PAGES = 3  # list_deployments pages searched for what a lost create_deployment created
BATCH = 25  # batch_get_deployments' maximum


@dataclass(frozen=True, slots=True)
class Plan:
    """A re-checked rollback: the one AWS call that starts it, and what it goes back from."""

    service: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    stage: str = ""  # the deploy stage of a pipeline
    live: str = ""  # the execution or deployment whose revision runs now ("" when unknown)
    pins: Mapping[str, str] = field(default_factory=dict)  # source action -> pinned revision

    @property
    def idempotent(self) -> bool:
        """True when the call carries an idempotency token: sending it again starts nothing new."""
        return "clientRequestToken" in self.params


def prepare(
    target: Target, *, token: str, description: str, codepipeline: Any, codedeploy: Any
) -> Plan | str:
    """The call that rolls back to `target` if AWS says it is still worth it, else why not.

    Raises `bot.aws.AwsError` when AWS cannot be read.
    """
    if target.strategy == CODEDEPLOY:
        return _prepare_deployment(target, description, codedeploy)
    info = parse_pipeline(aws.call(codepipeline, "get_pipeline", name=target.pipeline))
    listed = aws.call(
        codepipeline, "list_pipeline_executions", pipelineName=target.pipeline, maxResults=HISTORY
    )
    stage = target.stage or info.deploy_stage
    runs = last_deploys(target.pipeline, stage, codepipeline) if stage else []
    check = check_pipeline(target, info, as_list(listed.get("pipelineExecutionSummaries")), runs)
    if check.refusal:
        return check.refusal
    if target.strategy == STAGE:
        rollback = {
            "pipelineName": target.pipeline,
            "stageName": check.stage,
            "targetPipelineExecutionId": target.execution_id,
        }
        return Plan("codepipeline", "rollback_stage", rollback, check.stage, check.live)
    params: dict[str, Any] = {
        "name": target.pipeline,
        "sourceRevisions": [pin.request() for pin in check.pins],
        "clientRequestToken": token,
    }
    pins = {pin.action: pin.value for pin in check.pins}
    return Plan("codepipeline", "start_pipeline_execution", params, check.stage, check.live, pins)


def last_deploys(pipeline: str, stage: str, codepipeline: Any) -> list[DeployRun]:
    """The newest runs of `stage`'s Deploy actions, up to the first that finished."""
    details: list[Any] = []
    request: dict[str, Any] = {"pipelineName": pipeline, "maxResults": 100}
    for _ in range(ACTION_PAGES):
        page = aws.call(codepipeline, "list_action_executions", **request)
        details.extend(as_list(page.get("actionExecutionDetails")))
        runs = deploy_runs(details, stage)
        request["nextToken"] = as_str(page.get("nextToken"))
        if not request["nextToken"] or any(r.status.is_final for r in runs):
            return runs
    return deploy_runs(details, stage)


def _prepare_deployment(target: Target, description: str, codedeploy: Any) -> Plan | str:
    deployment = aws.call(codedeploy, "get_deployment", deploymentId=target.deployment_id)
    group = aws.call(
        codedeploy,
        "get_deployment_group",
        applicationName=target.application,
        deploymentGroupName=target.deployment_group,
    )
    group_info = as_map(group.get("deploymentGroupInfo"))
    live_id = as_str(as_map(group_info.get("lastSuccessfulDeployment")).get("deploymentId"))
    live = None
    if live_id and live_id != target.deployment_id:
        live = aws.call(codedeploy, "get_deployment", deploymentId=live_id)
    refusal = check_deployment(target, deployment, group, live)
    if refusal:
        return refusal
    revision = as_map(as_map(deployment.get("deploymentInfo")).get("revision"))
    if as_str(revision.get("revisionType")) == "AppSpecContent":
        # get_deployment never returns an AppSpec's content, only its sha256.
        registered = aws.call(
            codedeploy,
            "get_application_revision",
            applicationName=target.application,
            revision=dict(revision),
        )
        revision = as_map(registered.get("revision"))
    if not revision:
        return f"deployment {target.deployment_id} names no revision to deploy again"
    params = {
        "applicationName": target.application,
        "deploymentGroupName": target.deployment_group,
        "revision": dict(revision),
        "description": description,
    }
    return Plan("codedeploy", "create_deployment", params, live=live_id)


def start(plan: Plan, writer: Any) -> str:
    """Make the call once, through `writer` (a client of `plan.service` that does not retry).

    The id of the execution or deployment it started.
    """
    response = aws.call(writer, plan.method, retry=False, **plan.params)
    return as_str(response.get("pipelineExecutionId")) or as_str(response.get("deploymentId"))


def find_started(
    target: Target,
    *,
    since: float,
    token: str,
    pins: Mapping[str, str],
    codepipeline: Any,
    codedeploy: Any,
) -> tuple[str, bool]:
    """What a rollback claimed at `since` started, read from AWS ("" when nothing shows yet),
    and whether a re-run started since still hides its revisions, so that it may be the
    claim's (only for strategy "pipeline": CodePipeline's reference does not say when an
    execution summary's `sourceRevisions` appear)."""
    if target.strategy == CODEDEPLOY:
        return _find_deployment(target, since, token, codedeploy), False
    listed = aws.call(
        codepipeline, "list_pipeline_executions", pipelineName=target.pipeline, maxResults=RECENT
    )
    summaries = as_list(listed.get("pipelineExecutionSummaries"))
    if target.strategy == STAGE:
        return started_execution(summaries, target, since, {}), False
    found = started_execution(summaries, target, since, pins)
    return found, not found and unrevised_start(summaries, since)


def _find_deployment(target: Target, since: float, token: str, codedeploy: Any) -> str:
    start_at = datetime.fromtimestamp(since - MATCH_MARGIN_SECONDS, tz=UTC)
    request: dict[str, Any] = {
        "applicationName": target.application,
        "deploymentGroupName": target.deployment_group,
        "createTimeRange": {"start": start_at},
    }
    ids: list[str] = []
    for _ in range(DEPLOYMENT_PAGES):
        page = aws.call(codedeploy, "list_deployments", **request)
        ids.extend(as_str(i) for i in as_list(page.get("deployments")))
        request["nextToken"] = as_str(page.get("nextToken"))
        if not request["nextToken"]:
            break
    infos: list[Mapping[str, Any]] = []
    for first in range(0, len(ids), BATCH):
        batch = aws.call(
            codedeploy, "batch_get_deployments", deploymentIds=ids[first : first + BATCH]
        )
        infos.extend(mappings(batch.get("deploymentsInfo")))
    return started_deployment(infos, marker(token), since)


def status_of(target: Target, run_id: str, *, codepipeline: Any, codedeploy: Any) -> str:
    """The status of the execution or deployment a rollback started ("InProgress", ...)."""
    if target.strategy == CODEDEPLOY:
        found = aws.call(codedeploy, "get_deployment", deploymentId=run_id)
        return as_str(as_map(found.get("deploymentInfo")).get("status"))
    found = aws.call(
        codepipeline,
        "get_pipeline_execution",
        pipelineName=target.pipeline,
        pipelineExecutionId=run_id,
    )
    return as_str(as_map(found.get("pipelineExecution")).get("status"))


# --- the deploy stage's inbound transition: freeze and unfreeze ------------------------------


def freeze(pipeline: str, stage: str, reason: str, writer: Any) -> None:
    """Close the deploy stage's inbound transition, once (`writer` does not retry)."""
    aws.call(
        writer,
        "disable_stage_transition",
        retry=False,
        pipelineName=pipeline,
        stageName=stage,
        transitionType="Inbound",
        reason=reason,
    )


def unfreeze(pipeline: str, stage: str, writer: Any) -> None:
    """Open the deploy stage's inbound transition again, once (`writer` does not retry)."""
    aws.call(
        writer,
        "enable_stage_transition",
        retry=False,
        pipelineName=pipeline,
        stageName=stage,
        transitionType="Inbound",
    )


def inbound(pipeline: str, stage: str, codepipeline: Any) -> Mapping[str, Any]:
    """The stage's `inboundTransitionState` (get_pipeline_state): {enabled, disabledReason, ...}."""
    state = aws.call(codepipeline, "get_pipeline_state", name=pipeline)
    for item in mappings(state.get("stageStates")):
        if item.get("stageName") == stage:
            return as_map(item.get("inboundTransitionState"))
    return {}
