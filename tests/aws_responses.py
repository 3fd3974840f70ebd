"""AWS API responses for /deploy-status tests, built from the captured fixtures in fixtures/api/.

boto3 hands timestamps over as datetimes; the captures hold ISO strings, so they are converted.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from botocore.stub import Stubber

from bot import aws
from tests.conftest import load_fixture

_TIME_KEYS = {"startTime", "lastUpdateTime", "lastStatusChange", "created", "updated"}
PIPELINE = "SentinelAwsMonitorCI"
DEMO_PIPELINE = "MyFirstPipeline"


def as_boto(value: Any) -> Any:
    """A fixture as boto3 returns it: ISO timestamps become datetimes."""
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if k in _TIME_KEYS and isinstance(v, str) else as_boto(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [as_boto(v) for v in value]
    return value


def as_wire(value: Any) -> Any:
    """A boto3-shaped answer as AWS's JSON protocol sends it: datetimes as epoch seconds."""
    if isinstance(value, dict):
        return {k: as_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_wire(v) for v in value]
    return value.timestamp() if isinstance(value, datetime) else value


def pipeline_state() -> dict[str, Any]:
    """A real get_pipeline_state: a CodeStar-connection source, a failed self-mutation.

    The capture's currentRevision lacks `revisionChangeId` and `created`, which botocore's
    model marks required and Stubber insists on; they are filled in from the same action.
    """
    state = load_fixture("api/get-pipeline-state-codestar.json")
    for stage in state["stageStates"]:
        for action in stage["actionStates"]:
            revision = action.get("currentRevision")
            if revision is not None:
                revision.setdefault("revisionChangeId", revision["revisionId"])
                revision.setdefault("created", action["latestExecution"]["lastStatusChange"])
    return as_boto(state)


def executions() -> dict[str, Any]:
    """list_pipeline_executions for the same pipeline: the failed run the stages hold, then
    older ones. The newest carries the source revision the captured state shows."""
    state = load_fixture("api/get-pipeline-state-codestar.json")
    source = state["stageStates"][0]["actionStates"][0]
    summaries = copy.deepcopy(load_fixture("api/list-pipeline-executions-docs.json"))[
        "pipelineExecutionSummaries"
    ]
    newest = {
        "pipelineExecutionId": state["stageStates"][0]["latestExecution"]["pipelineExecutionId"],
        "status": "Failed",
        "startTime": "2026-09-06T19:53:20.000000+05:30",
        "lastUpdateTime": "2026-09-06T19:56:13.040000+05:30",
        "sourceRevisions": [
            {
                "actionName": source["actionName"],
                "revisionId": source["currentRevision"]["revisionId"],
                "revisionSummary": source["latestExecution"]["summary"],
                "revisionUrl": source["revisionUrl"],
            }
        ],
        "trigger": {
            "triggerType": "StartPipelineExecution",
            "triggerDetail": "arn:aws:sts::863857863783:assumed-role/Admin/samrat",
        },
        "executionMode": "SUPERSEDED",
    }
    return as_boto({"pipelineExecutionSummaries": [newest, *summaries]})


def demo_pipeline() -> dict[str, Any]:
    """A real get_pipeline: S3 source, one CodeDeploy action."""
    return load_fixture("api/get-pipeline-codedeploy.json")


def group_infos() -> dict[str, Any]:
    """batch_get_deployment_groups for a group no pipeline deploys to."""
    return {
        "deploymentGroupsInfo": [
            {
                "applicationName": "legacy-app",
                "deploymentGroupName": "prod",
                "lastAttemptedDeployment": {
                    "deploymentId": "d-C3XYEM1QF",
                    "status": "Failed",
                    "createTime": datetime.fromisoformat("2026-09-05T10:00:00+00:00"),
                    "endTime": datetime.fromisoformat("2026-09-05T10:04:12+00:00"),
                },
            }
        ]
    }


class Aws:
    """Stubbed CodePipeline and CodeDeploy clients, counting every call that reaches them.

    `pipeline`/`deploy` stub the shared clients that read; `pipeline_writes`/`deploy_writes`
    stub the ones that send a write once (`aws.client(service, retry=False)`), so a write
    stubbed on a reading client is never answered.
    """

    def __init__(self) -> None:
        self.pipeline = Stubber(aws.client("codepipeline"))
        self.deploy = Stubber(aws.client("codedeploy"))
        self.pipeline_writes = Stubber(aws.client("codepipeline", retry=False))
        self.deploy_writes = Stubber(aws.client("codedeploy", retry=False))
        self.calls: list[str] = []
        for stub in self.all:
            # Not before-call: Stubber answers there first and later handlers never run.
            stub.client.meta.events.register("before-parameter-build", self._count)

    @property
    def all(self) -> tuple[Stubber, ...]:
        return (self.pipeline, self.deploy, self.pipeline_writes, self.deploy_writes)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def done(self) -> None:
        for stub in self.all:
            stub.assert_no_pending_responses()
