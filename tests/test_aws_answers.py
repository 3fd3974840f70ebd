"""The pure readers (bot/domain/codepipeline.py, codedeploy.py) on AWS's own captured answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.codedeploy import parse_deployment, parse_last_deployment
from bot.domain.codepipeline import (
    ActionRun,
    commit_from_revision,
    find_deployment_action,
    parse_pipeline,
    pick_revision,
    revisions_from_action_executions,
    revisions_from_execution,
    revisions_from_state,
)
from bot.domain.model import ErrorInfo, InstanceCounts, RollbackInfo, Scope, Status
from tests.conftest import load_fixture


def test_deploy_actions_of_a_real_pipeline_definition() -> None:
    # GIVEN the captured get_pipeline of a CodeDeploy pipeline; WHEN read
    info = parse_pipeline(load_fixture("api/get-pipeline-codedeploy.json"))
    # THEN its deploy target and its (S3) source are known
    assert info.name == "MyFirstPipeline"
    assert info.deploys("CodePipelineDemoApplication", "CodePipelineDemoFleet")
    assert not info.deploys("CodePipelineDemoApplication", "other")
    [source] = info.sources
    assert (source.name, source.provider, source.artifacts) == ("Source", "S3", ("MyApp",))


def test_deployment_action_and_codecommit_source_of_real_action_executions() -> None:
    # GIVEN the captured list_action_executions (a CodeDeploy action and a CodeCommit source)
    details = load_fixture("api/list-action-executions-codedeploy.json")["actionExecutionDetails"]
    # WHEN the deployment is looked for, THEN its action execution is found
    found = find_deployment_action(details, "d-EXAMPLEE5")
    assert found == ActionRun("EXAMPLE0-adfc-488e-bf4c-1111111720d3", "Deploy", "Deploy")
    assert find_deployment_action(details, "d-OTHER") is None
    # WHEN the execution's source revision is read, THEN output variables win over the summary
    revision = pick_revision(revisions_from_action_executions(details, found.pipeline_execution_id))
    assert revision is not None
    commit = commit_from_revision(revision, "us-east-1")
    assert commit.sha == "EXAMPLEad99dcd35914c00b7fbea139951111111"
    assert (commit.title, commit.branch, commit.repository) == (
        "Edited template.yml",
        "production",
        "my-repo",
    )
    assert commit.commit_url.startswith(
        "https://us-east-1.console.aws.amazon.com/codesuite/codecommit/repositories/my-repo/commit/"
    )


def test_source_revision_of_a_real_codestar_pipeline_state() -> None:
    # GIVEN the captured get_pipeline_state of a CodeStar-connection pipeline; WHEN read
    execution_id, revisions = revisions_from_state(
        load_fixture("api/get-pipeline-state-codestar.json")
    )
    revision = pick_revision(revisions)
    assert revision is not None
    commit = commit_from_revision(revision, "ap-southeast-1", confirmed=False)
    # THEN the JSON summary gave the provider and message, the URL the repository
    assert execution_id == "896c834b-07aa-468c-9d3a-7fef9934e976"
    assert commit.sha == "acfd7c635f76c9e523438af9f629f543196cfad9"
    assert commit.title.startswith("chore(pipeline): adjust self-mutation defaults")
    assert commit.repository == "TenzingT-Lama2001/sentinel-aws-monitor"
    assert commit.commit_url == (
        "https://github.com/TenzingT-Lama2001/sentinel-aws-monitor/commit/"
        "acfd7c635f76c9e523438af9f629f543196cfad9"
    )
    assert not commit.confirmed


def test_facts_of_a_real_get_deployment() -> None:
    # GIVEN the captured get_deployment of a user-started deployment; WHEN read
    info = load_fixture("api/codedeploy-get-deployment.json")["deploymentInfo"]
    facts = parse_deployment(info, region="us-east-1")
    # THEN no error, no rollback, creator "user", and where it ran
    assert (facts.trigger, facts.error, facts.rollback) == ("user", None, None)
    assert facts.deployment_id == info["deploymentId"]
    assert (facts.application, facts.region) == (info["applicationName"], "us-east-1")
    # GIVEN error information in the API's lower-case shape, THEN it becomes ErrorInfo
    failed = parse_deployment({"errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "m"}})
    assert failed.error == ErrorInfo("HEALTH_CONSTRAINTS", "m")


_CREATED = datetime(2026, 9, 5, 10, 0, tzinfo=UTC)
_ENDED = datetime(2026, 9, 5, 10, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(
            {
                "applicationName": "app",
                "deploymentGroupName": "prod",
                "deploymentId": "d-1",
                "status": "FAILED",
                "createTime": "Sat Sep 05 10:00:00 UTC 2026",
                "completeTime": "Sat Sep 05 10:04:12 UTC 2026",
                "deploymentOverview": '{"Succeeded":1,"Failed":2}',
                "errorInformation": '{"ErrorCode":"E","ErrorMessage":"m"}',
                "rollbackInformation": '{"RollbackTriggeringDeploymentId":"d-0"}',
            },
            id="trigger-message",
        ),
        pytest.param(
            {
                "applicationName": "app",
                "deploymentGroupName": "prod",
                "deploymentId": "d-1",
                "status": "Failed",
                "createTime": _CREATED,
                "completeTime": _ENDED,
                "deploymentOverview": {"Succeeded": 1, "Failed": 2},
                "errorInformation": {"code": "E", "message": "m"},
                "rollbackInfo": {"rollbackTriggeringDeploymentId": "d-0"},
            },
            id="get-deployment",
        ),
    ],
)
def test_one_mapping_reads_every_spelling_of_a_deployment(shape: dict[str, object]) -> None:
    # GIVEN the same deployment as a trigger message (JSON strings, ErrorCode) and as
    # get_deployment answers it (objects, datetimes, code); WHEN read
    deployment = parse_deployment(shape)
    # THEN both give the same facts
    assert (deployment.application, deployment.deployment_group) == ("app", "prod")
    assert (deployment.deployment_id, deployment.status) == ("d-1", Status.FAILED)
    assert (deployment.started_at, deployment.finished_at) == (_CREATED, _ENDED)
    assert deployment.instances == InstanceCounts(succeeded=1, failed=2)
    assert deployment.error == ErrorInfo("E", "m")
    assert deployment.rollback == RollbackInfo("d-0", "")


def test_eventbridge_detail_and_a_groups_last_deployment_read_the_same_way() -> None:
    # GIVEN an EventBridge detail (state, application) and a group's lastAttemptedDeployment
    detail = {"application": "app", "deploymentGroup": "prod", "deploymentId": "d-1"}
    event = parse_deployment({**detail, "state": "SUCCESS"}, scope=Scope.INSTANCE, account="1")
    group = {"applicationName": "app", "deploymentGroupName": "prod"}
    last = parse_last_deployment(
        {**group, "lastAttemptedDeployment": {"deploymentId": "d-1", "status": "Succeeded"}},
        "eu-west-1",
    )
    # THEN both name the same deployment and outcome
    assert last is not None
    for deployment in (event, last):
        assert (deployment.application, deployment.deployment_group) == ("app", "prod")
        assert (deployment.deployment_id, deployment.status) == ("d-1", Status.SUCCEEDED)
    assert (event.scope, event.account, last.region) == (Scope.INSTANCE, "1", "eu-west-1")


def test_a_deployment_that_was_rolled_back_is_not_itself_a_rollback() -> None:
    # GIVEN the original deployment: its rollback information names the rollback, not a trigger
    original = parse_deployment(
        {
            "deploymentId": "d-0",
            "rollbackInfo": {"rollbackDeploymentId": "d-1", "rollbackMessage": "m"},
        }
    )
    # THEN it is not shown as a rollback
    assert original.rollback is None


def test_an_s3_only_pipeline_has_no_commit() -> None:
    # GIVEN a pipeline whose only source is an S3 object
    info = parse_pipeline(load_fixture("api/get-pipeline-codedeploy.json"))
    response = {
        "pipelineExecution": {
            "artifactRevisions": [{"name": "MyApp", "revisionId": "3wzYbG1uDpZKEXAMPLE"}]
        }
    }
    # WHEN a commit is picked, THEN there is none: an object version is not a commit
    assert pick_revision(revisions_from_execution(response, info)) is None
