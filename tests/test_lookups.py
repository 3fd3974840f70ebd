"""The pure readers on AWS's own captured responses (tests/fixtures/api/)."""

from __future__ import annotations

from bot.lookups import (
    ActionRun,
    commit_from_revision,
    find_deployment_action,
    parse_deployment,
    parse_pipeline,
    pick_revision,
    revisions_from_action_executions,
    revisions_from_execution,
    revisions_from_state,
)
from bot.model import ErrorInfo
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
    facts = parse_deployment(load_fixture("api/codedeploy-get-deployment.json"))
    # THEN no error, no rollback, creator "user"
    assert (facts.creator, facts.error, facts.rollback) == ("user", None, None)
    # GIVEN error information in the API's lower-case shape, THEN it becomes ErrorInfo
    failed = parse_deployment(
        {"deploymentInfo": {"errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "m"}}}
    )
    assert failed.error == ErrorInfo("HEALTH_CONSTRAINTS", "m")


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
