"""The AWS side of a rollback: re-check the target at click time, then start it.

Reads and the one write go through `bot.status.call`, so any AWS failure is an `Unavailable`
naming the IAM action and AWS's own words; bot/rollback.py decides from the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.coerce import as_list, as_map, as_str
from bot.rollback import CODEDEPLOY, STAGE, Target, check_deployment, check_pipeline
from bot.status import call

HISTORY = 50  # executions read to find the target, the live one and a running rollback


@dataclass(frozen=True, slots=True)
class Plan:
    """A re-checked rollback: the one AWS call that starts it."""

    service: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def operation(self) -> str:
        """The IAM action name of the call, e.g. StartPipelineExecution."""
        return "".join(part.title() for part in self.method.split("_"))


def prepare(target: Target, *, stage: str, token: str, description: str) -> Plan | str:
    """The call that rolls back to `target` if AWS says it is still valid, else why not.

    Raises `bot.status.Unavailable` when AWS cannot be read.
    """
    if target.strategy == CODEDEPLOY:
        return _prepare_deployment(target, description)
    params: dict[str, Any] = {"pipelineName": target.pipeline, "maxResults": HISTORY}
    if target.strategy == STAGE:
        # Only executions that succeeded in the stage are rollback_stage targets.
        params["filter"] = {"succeededInStage": {"stageName": stage}}
    listed = call("codepipeline", "list_pipeline_executions", **params)
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


def _prepare_deployment(target: Target, description: str) -> Plan | str:
    deployment = call("codedeploy", "get_deployment", deploymentId=target.deployment_id)
    group = call(
        "codedeploy",
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
        registered = call(
            "codedeploy",
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


def start(plan: Plan) -> str:
    """Make the call; the id of the execution or deployment it started."""
    response = call(plan.service, plan.method, **plan.params)
    return as_str(response.get("pipelineExecutionId")) or as_str(response.get("deploymentId"))
