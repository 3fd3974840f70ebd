"""AWS API responses for enrichment tests, shaped like the real ones in tests/fixtures/api/.

Builders start from the captured fixtures where one exists and change only the ids, so that a
test reads as a story (commit A deployed by d-X) while the shapes stay AWS's own.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any

import boto3

from bot.domain.events import parse_payload
from bot.domain.model import Deployment
from tests.conftest import load_fixture, load_sample

REGION = "us-east-1"
APP = "status-web"
GROUP = "status-web-prod"
PIPELINE = "status-pipeline"
REPO = "acme/status-web"
SHA_A = "3f2c1e9d8b7a6f5e4d3c2b1a09f8e7d6c5b4a392"
SHA_B = "9b8a7c6d5e4f30211f0e9d8c7b6a5f4e3d2c1b0a"
EXEC_A = "a1a1a1a1-0000-4000-8000-00000000000a"
EXEC_B = "b2b2b2b2-0000-4000-8000-00000000000b"
DEPLOYMENT = "d-X1234567"
CONNECTION = "arn:aws:codestar-connections:us-east-1:111111111111:connection/abc"


class InlineExecutor(Executor):
    """Runs each submitted call at once, in submission order: Stubber's queue stays ordered."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the Future carries it, as a pool's would
            future.set_exception(exc)
        return future


def codestar_summary(message: str) -> str:
    """A CodeStar-connection revision summary: a JSON string, as AWS gives it."""
    return json.dumps({"ProviderType": "GitHub", "CommitMessage": message}, separators=(",", ":"))


def clients() -> tuple[Any, Any]:
    """Real botocore clients with dummy credentials (only ever used under Stubber)."""
    keys = {"region_name": REGION, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("codepipeline", **keys), boto3.client("codedeploy", **keys)


def event(sample: str, **changes: Any) -> Deployment:
    """The first event of a sample payload, moved to this test's region and names."""
    parsed = parse_payload(load_sample(sample))[0]
    return replace(parsed, region=REGION, **changes)


def deploy_success() -> Deployment:
    """A CodeDeploy trigger: deployment DEPLOYMENT of APP/GROUP succeeded."""
    return event(
        "codedeploy-trigger-success.json",
        application=APP,
        deployment_group=GROUP,
        deployment_id=DEPLOYMENT,
    )


def deploy_failure() -> Deployment:
    """A CodeDeploy trigger: deployment DEPLOYMENT of APP/GROUP failed."""
    return event(
        "codedeploy-trigger-failure.json",
        application=APP,
        deployment_group=GROUP,
        deployment_id=DEPLOYMENT,
    )


def pipeline_definition(
    name: str = PIPELINE, app: str = APP, group: str = GROUP, provider: str = "CodeDeploy"
) -> dict[str, Any]:
    """get_pipeline: a CodeStar-connection source and a CodeDeploy (or ECS) deploy action."""
    response = copy.deepcopy(load_fixture("api/get-pipeline-codedeploy.json"))
    pipeline = response["pipeline"]
    pipeline["name"] = name
    source = pipeline["stages"][0]["actions"][0]
    source["actionTypeId"] = {
        "category": "Source",
        "owner": "AWS",
        "version": "1",
        "provider": "CodeStarSourceConnection",
    }
    source["name"] = "AppSource"
    source["outputArtifacts"] = [{"name": "SourceArtifact"}]
    source["configuration"] = {
        "ConnectionArn": CONNECTION,
        "FullRepositoryId": REPO,
        "BranchName": "main",
    }
    deploy = pipeline["stages"][1]["actions"][0]
    deploy["actionTypeId"]["provider"] = provider
    deploy["inputArtifacts"] = [{"name": "SourceArtifact"}]
    deploy["configuration"] = {"ApplicationName": app, "DeploymentGroupName": group}
    return response


def deploy_execution(execution_id: str, deployment_id: str) -> dict[str, Any]:
    """One list_action_executions entry: the Deploy action that ran `deployment_id`."""
    detail = copy.deepcopy(load_fixture("api/list-action-executions-codedeploy.json"))
    entry = detail["actionExecutionDetails"][0]
    entry["pipelineExecutionId"] = execution_id
    entry["input"]["configuration"] = {"ApplicationName": APP, "DeploymentGroupName": GROUP}
    entry["input"]["resolvedConfiguration"] = entry["input"]["configuration"]
    entry["output"]["executionResult"]["externalExecutionId"] = deployment_id
    return entry


def source_execution(execution_id: str, sha: str, message: str) -> dict[str, Any]:
    """One list_action_executions entry: the CodeStar-connection source action of an execution."""
    detail = copy.deepcopy(load_fixture("api/list-action-executions-codedeploy.json"))
    entry = detail["actionExecutionDetails"][1]
    entry["pipelineExecutionId"] = execution_id
    entry["actionName"] = "AppSource"
    entry["input"]["actionTypeId"]["provider"] = "CodeStarSourceConnection"
    entry["input"]["configuration"] = {
        "ConnectionArn": CONNECTION,
        "FullRepositoryId": REPO,
        "BranchName": "main",
    }
    entry["input"]["resolvedConfiguration"] = entry["input"]["configuration"]
    entry["output"]["executionResult"] = {
        "externalExecutionId": sha,
        "externalExecutionSummary": codestar_summary(message),
        "externalExecutionUrl": f"https://{REGION}.console.aws.amazon.com/codesuite/settings/"
        f"connections/redirect?connectionArn={CONNECTION}&referenceType=COMMIT"
        f"&FullRepositoryId={REPO}&Commit={sha}",
    }
    entry["output"]["outputVariables"] = {
        "AuthorDate": "2024-05-02T10:00:00Z",
        "BranchName": "main",
        "CommitId": sha,
        "CommitMessage": message,
        "ConnectionArn": CONNECTION,
        "FullRepositoryName": REPO,
    }
    return entry


def other_execution(execution_id: str, name: str = "Build") -> dict[str, Any]:
    """One list_action_executions entry of some other action (a build)."""
    entry = deploy_execution(execution_id, "")
    entry["actionName"] = name
    entry["stageName"] = name
    entry["input"]["actionTypeId"] = {
        "category": "Build",
        "owner": "AWS",
        "provider": "CodeBuild",
        "version": "1",
    }
    entry["output"]["executionResult"] = {
        "externalExecutionId": f"{name}:1234",
        "externalExecutionSummary": "Build succeeded",
        "externalExecutionUrl": "https://console.aws.amazon.com/codebuild/home#/builds/1234",
    }
    return entry


def actions_page(*entries: dict[str, Any], next_token: str | None = None) -> dict[str, Any]:
    """A list_action_executions page."""
    page: dict[str, Any] = {"actionExecutionDetails": list(entries)}
    if next_token:
        page["nextToken"] = next_token
    return page


def execution(execution_id: str, sha: str, summary: str) -> dict[str, Any]:
    """get_pipeline_execution with one CodeStar-connection artifact revision."""
    return {
        "pipelineExecution": {
            "pipelineName": PIPELINE,
            "pipelineVersion": 3,
            "pipelineExecutionId": execution_id,
            "status": "Succeeded",
            "artifactRevisions": [
                {
                    "name": "SourceArtifact",
                    "revisionId": sha,
                    "revisionSummary": summary,
                    "revisionUrl": f"https://{REGION}.console.aws.amazon.com/codesuite/settings/"
                    f"connections/redirect?connectionArn={CONNECTION}&referenceType=COMMIT"
                    f"&FullRepositoryId={REPO}&Commit={sha}",
                }
            ],
            "executionMode": "SUPERSEDED",
            "executionType": "STANDARD",
        }
    }


def state(source_execution_id: str, sha: str, message: str) -> dict[str, Any]:
    """get_pipeline_state whose Source stage last ran `source_execution_id` with `sha`."""
    response = copy.deepcopy(load_fixture("api/get-pipeline-state-codestar.json"))
    response["pipelineName"] = PIPELINE
    source = response["stageStates"][0]
    source["latestExecution"]["pipelineExecutionId"] = source_execution_id
    action = source["actionStates"][0]
    action["actionName"] = "AppSource"
    # The captured CLI output omits two members the model marks required; Stubber insists.
    action["currentRevision"] = {"revisionId": sha, "revisionChangeId": sha, "created": 1714644000}
    action["latestExecution"]["externalExecutionId"] = sha
    action["latestExecution"]["summary"] = codestar_summary(message)
    action["revisionUrl"] = action["revisionUrl"].split("FullRepositoryId=")[0] + (
        f"FullRepositoryId={REPO}&Commit={sha}"
    )
    return response


def deployment_info(deployment_id: str, **info: Any) -> dict[str, Any]:
    """get_deployment, from the captured response, with `info` merged into deploymentInfo."""
    response = copy.deepcopy(load_fixture("api/codedeploy-get-deployment.json"))
    response["deploymentInfo"].update(
        {"deploymentId": deployment_id, "applicationName": APP, "deploymentGroupName": GROUP},
        **info,
    )
    return response
