"""The AWS side of a rollback: re-check the target at click time, then start it.

Reads and the one write go through `bot.aws.call`, so any AWS failure is an `AwsError` naming
the IAM action and AWS's own words; bot/domain/rollback.py decides from the answers. The write
is sent once, through a client that does not retry (`aws.client(service, retry=False)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot import aws
from bot.domain.coerce import as_list, as_map, as_str
from bot.domain.rollback import CODEDEPLOY, STAGE, Target, check_deployment, check_pipeline

HISTORY = 50  # executions read to find the target, the live one and a running rollback


@dataclass(frozen=True, slots=True)
class Plan:
    """A re-checked rollback: the one AWS call that starts it."""

    service: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)


def prepare(
    target: Target, *, token: str, description: str, codepipeline: Any, codedeploy: Any
) -> Plan | str:
    """The call that rolls back to `target` if AWS says it is still valid, else why not.

    Raises `bot.aws.AwsError` when AWS cannot be read.
    """
    if target.strategy == CODEDEPLOY:
        return _prepare_deployment(target, description, codedeploy)
    stage = target.stage
    params: dict[str, Any] = {"pipelineName": target.pipeline, "maxResults": HISTORY}
    if target.strategy == STAGE:
        # Only executions that succeeded in the stage are rollback_stage targets.
        params["filter"] = {"succeededInStage": {"stageName": stage}}
    listed = aws.call(codepipeline, "list_pipeline_executions", **params)
    check = check_pipeline(target, as_list(listed.get("pipelineExecutionSummaries")))
    if check.refusal:
        return check.refusal
    if target.strategy == STAGE:
        return Plan(
            "codepipeline",
            "rollback_stage",
            {
                "pipelineName": target.pipeline,
                "stageName": stage,
                "targetPipelineExecutionId": target.execution_id,
            },
        )
    return Plan(
        "codepipeline",
        "start_pipeline_execution",
        {
            "name": target.pipeline,
            "sourceRevisions": [
                {
                    "actionName": check.source_action,
                    "revisionType": "COMMIT_ID",
                    "revisionValue": target.sha,
                }
            ],
            "clientRequestToken": token,
        },
    )


def _prepare_deployment(target: Target, description: str, codedeploy: Any) -> Plan | str:
    deployment = aws.call(codedeploy, "get_deployment", deploymentId=target.deployment_id)
    group = aws.call(
        codedeploy,
        "get_deployment_group",
        applicationName=target.application,
        deploymentGroupName=target.deployment_group,
    )
    refusal = check_deployment(target, deployment, group)
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
    return Plan(
        "codedeploy",
        "create_deployment",
        {
            "applicationName": target.application,
            "deploymentGroupName": target.deployment_group,
            "revision": dict(revision),
            "description": description,
        },
    )


def start(plan: Plan, writer: Any) -> str:
    """Make the call once, through `writer` (a client of `plan.service` that does not retry).

    The id of the execution or deployment it started.
    """
    response = aws.call(writer, plan.method, retry=False, **plan.params)
    return as_str(response.get("pipelineExecutionId")) or as_str(response.get("deploymentId"))
