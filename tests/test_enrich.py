"""Enricher against real botocore clients under Stubber: exact requests, documented degradation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.stub import Stubber

from bot.aws.enrich import Enricher, skip_lookups
from bot.domain.config import (
    Config,
    EnrichSettings,
    PipelineMapping,
    RollbackPipeline,
    RollbackSettings,
)
from bot.domain.model import Commit, Deployment, FailedAction, RollbackInfo, Scope, Source, Status
from bot.plan import build_post, plan
from handlers.notifications import enrich_posted
from tests.aws_data import (
    APP,
    DEPLOYMENT,
    EXEC_A,
    EXEC_B,
    GROUP,
    PIPELINE,
    REPO,
    SHA_A,
    SHA_B,
    InlineExecutor,
    actions_page,
    clients,
    codestar_summary,
    deploy_execution,
    deploy_failure,
    deploy_success,
    deployment_info,
    event,
    execution,
    other_execution,
    pipeline_definition,
    source_execution,
    state,
)
from tests.blockkit import violations
from tests.conftest import load_fixture

MAPPED = Config(
    pipelines=(PipelineMapping(pipeline=PIPELINE, applications=(APP,), deployment_groups=(GROUP,)),)
)
MESSAGE_A = "Fix the login page\n\nThe session cookie was not renewed."


@dataclass
class Aws:
    cp: Any
    cd: Any
    pipeline: Stubber
    deploy: Stubber

    def enricher(self, config: Config = MAPPED, **kwargs: Any) -> Enricher:
        kwargs.setdefault("executor", InlineExecutor())
        return Enricher(self.cp, self.cd, config, **kwargs)

    def expect_actions(self, page: dict[str, Any], token: str | None = None) -> None:
        params: dict[str, Any] = {"pipelineName": PIPELINE, "maxResults": 100}
        if token:
            params["nextToken"] = token
        self.pipeline.add_response("list_action_executions", page, params)

    def expect_definition(self, name: str = PIPELINE, **kwargs: Any) -> None:
        self.pipeline.add_response(
            "get_pipeline", pipeline_definition(name, **kwargs), {"name": name}
        )


@pytest.fixture
def aws() -> Iterator[Aws]:
    codepipeline, codedeploy = clients()
    with Stubber(codepipeline) as pipeline, Stubber(codedeploy) as deploy:
        yield Aws(codepipeline, codedeploy, pipeline, deploy)
        # THEN (every test) each stubbed call was made, with exactly the expected parameters
        pipeline.assert_no_pending_responses()
        deploy.assert_no_pending_responses()


def _text(enriched: Deployment) -> str:
    post = build_post(enriched, MAPPED)
    assert violations(post) == []
    return str(post["blocks"]) + post["text"]


# --- the exact commit --------------------------------------------------------------------------


def test_the_race_names_the_deployed_commit_not_the_newest_source(aws: Aws) -> None:
    # GIVEN execution B (commit B) has already passed Source, while d-X was deployed by
    # execution A, whose source action is not on the first page
    aws.expect_actions(
        actions_page(
            source_execution(EXEC_B, SHA_B, "Newer commit"),
            deploy_execution(EXEC_A, DEPLOYMENT),
            next_token="more",
        )
    )
    aws.pipeline.add_response(
        "get_pipeline_execution",
        execution(EXEC_A, SHA_A, codestar_summary(MESSAGE_A)),
        {"pipelineName": PIPELINE, "pipelineExecutionId": EXEC_A},
    )
    aws.expect_definition()
    # WHEN the deployment's success is enriched
    enriched = aws.enricher().enrich(deploy_success())
    # THEN the message names A, the commit d-X shipped, never B
    assert enriched.commit is not None
    assert enriched.commit.sha == SHA_A
    assert enriched.commit.confirmed
    assert enriched.commit.title == "Fix the login page"
    assert enriched.commit.body == "The session cookie was not renewed."
    assert enriched.commit.branch == "main"
    assert enriched.commit.repository == REPO
    assert enriched.commit.commit_url == f"https://github.com/{REPO}/commit/{SHA_A}"
    assert enriched.commit.branch_url == f"https://github.com/{REPO}/tree/main"
    # AND the deployment now names its execution, so it joins that execution's living message
    assert (enriched.pipeline, enriched.execution_id) == (PIPELINE, EXEC_A)
    assert enriched.notes == ()
    text = _text(enriched)
    assert SHA_A[:7] in text
    assert SHA_B[:7] not in text


def test_source_action_on_the_same_page_saves_a_call(aws: Aws) -> None:
    # GIVEN the page that holds d-X's action also holds its execution's source action
    aws.expect_actions(
        actions_page(
            source_execution(EXEC_B, SHA_B, "Newer commit"),
            deploy_execution(EXEC_A, DEPLOYMENT),
            other_execution(EXEC_A),
            source_execution(EXEC_A, SHA_A, MESSAGE_A),
        )
    )
    # WHEN enriched
    enriched = aws.enricher().enrich(deploy_success())
    # THEN one call gave commit A with its branch and repository (no get_pipeline_execution)
    assert enriched.commit is not None
    assert (enriched.commit.sha, enriched.commit.branch) == (SHA_A, "main")
    assert enriched.commit.repository == REPO


def test_configured_source_action_wins_over_the_first_code_source(aws: Aws) -> None:
    # GIVEN an execution with two source actions, and config naming the second
    config = replace(MAPPED, enrich=EnrichSettings(source_action="AppSource"))
    infra = source_execution(EXEC_A, SHA_B, "Infra change")
    infra["actionName"] = "InfraSource"
    aws.expect_actions(
        actions_page(
            deploy_execution(EXEC_A, DEPLOYMENT), infra, source_execution(EXEC_A, SHA_A, "App")
        )
    )
    # WHEN enriched
    enriched = aws.enricher(config).enrich(deploy_success())
    # THEN the configured source action's revision is the commit
    assert enriched.commit is not None
    assert enriched.commit.sha == SHA_A


def test_pages_are_followed_until_the_deployment_is_found(aws: Aws) -> None:
    # GIVEN d-X's action is on the second page of action executions
    aws.expect_actions(
        actions_page(other_execution(EXEC_B), next_token="page-2"),
    )
    aws.expect_actions(
        actions_page(deploy_execution(EXEC_A, DEPLOYMENT), source_execution(EXEC_A, SHA_A, "A")),
        token="page-2",
    )
    # WHEN enriched
    enriched = aws.enricher().enrich(deploy_success())
    # THEN the second page (asked for with the first page's token) named commit A
    assert enriched.commit is not None
    assert enriched.commit.sha == SHA_A


def test_paging_is_bounded_and_says_so(aws: Aws) -> None:
    # GIVEN max_pages = 2, and d-X on neither page
    config = replace(MAPPED, enrich=EnrichSettings(max_pages=2))
    aws.expect_actions(actions_page(other_execution(EXEC_B), next_token="page-2"))
    aws.expect_actions(actions_page(other_execution(EXEC_A), next_token="page-3"), token="page-2")
    # WHEN enriched
    enriched = aws.enricher(config).enrich(deploy_success())
    # THEN no third page was asked for, and the note says why there is no commit
    assert enriched.commit is None
    assert enriched.notes == (
        f"Commit unknown: {DEPLOYMENT} is not among the last 200 action executions of "
        f"{PIPELINE}: it was started outside the pipeline, or long ago",
    )


# --- discovery and its cache -------------------------------------------------------------------


def _expect_discovery(aws: Aws) -> None:
    aws.pipeline.add_response(
        "list_pipelines",
        {"pipelines": [{"name": "unrelated"}], "nextToken": "p2"},
        {"maxResults": 1000},
    )
    aws.pipeline.add_response(
        "list_pipelines",
        {"pipelines": [{"name": PIPELINE}]},
        {"maxResults": 1000, "nextToken": "p2"},
    )
    # The likeliest name (it shares a word with the application) is read first; it deploys
    # the group, so "unrelated" is never read.
    aws.expect_definition(PIPELINE, provider="CodeDeployToECS")


def test_discovery_finds_the_pipeline_and_caches_it_for_its_lifetime(aws: Aws) -> None:
    # GIVEN no mapping in config, a clock we control, and two pipelines (one ECS deploy of ours)
    clock = [1000.0]
    enricher = aws.enricher(Config(enrich=EnrichSettings(cache_seconds=600)), now=lambda: clock[0])
    found = actions_page(deploy_execution(EXEC_A, DEPLOYMENT), source_execution(EXEC_A, SHA_A, "A"))
    _expect_discovery(aws)
    aws.expect_actions(found)
    # WHEN the first event is enriched, THEN discovery found the pipeline
    first = enricher.enrich(deploy_success())
    assert first.commit is not None
    assert first.commit.sha == SHA_A
    aws.pipeline.assert_no_pending_responses()
    # WHEN a second event comes within the lifetime, THEN only the action executions are read
    clock[0] += 599
    aws.expect_actions(found)
    assert enricher.enrich(deploy_success()).commit == first.commit
    aws.pipeline.assert_no_pending_responses()
    # WHEN the lifetime has passed, THEN the pipelines are discovered again
    clock[0] += 2
    _expect_discovery(aws)
    aws.expect_actions(found)
    assert enricher.enrich(deploy_success()).commit == first.commit


def test_a_just_created_deployment_is_looked_for_once_more_a_moment_later(aws: Aws) -> None:
    # GIVEN CodePipeline has not yet recorded the action that created d-X when its CREATED
    # trigger arrives, and has a second later
    aws.expect_actions(actions_page(source_execution(EXEC_B, SHA_B, "Newer commit")))
    aws.expect_actions(
        actions_page(
            deploy_execution(EXEC_A, DEPLOYMENT),
            source_execution(EXEC_A, SHA_A, MESSAGE_A),
        )
    )
    pauses: list[float] = []
    created = replace(deploy_success(), status=Status.CREATED, finished_at=None)
    # WHEN the CREATED notification is enriched
    enriched = aws.enricher(sleep=pauses.append).enrich(created)
    # THEN it waited once, found the execution and names its commit
    assert pauses == [1.0]
    assert enriched.commit is not None
    assert enriched.commit.sha == SHA_A
    assert enriched.execution_id == EXEC_A
    assert enriched.notes == ()


def test_a_finished_deployment_not_found_is_not_searched_again(aws: Aws) -> None:
    # GIVEN a SUCCEEDED deployment that no recent action execution names
    aws.expect_actions(actions_page(source_execution(EXEC_B, SHA_B, "Newer commit")))
    pauses: list[float] = []
    # WHEN enriched, THEN one search only (the Stubber would fail on a second), no pause
    enriched = aws.enricher(sleep=pauses.append).enrich(deploy_success())
    assert pauses == []
    assert enriched.commit is None


def test_a_deployment_outside_any_pipeline_has_no_commit_and_says_why(aws: Aws) -> None:
    # GIVEN no pipeline deploys this application/group
    aws.pipeline.add_response(
        "list_pipelines", {"pipelines": [{"name": "unrelated"}]}, {"maxResults": 1000}
    )
    aws.expect_definition("unrelated", app="other-app", group="other-group")
    # WHEN enriched
    enriched = aws.enricher(Config()).enrich(deploy_success())
    # THEN no commit, and the note says it was started outside CodePipeline
    assert enriched.commit is None
    assert enriched.notes == (
        f"Commit unknown: no pipeline deploys {APP} → {GROUP}, so it was started outside "
        "CodePipeline",
    )
    assert "started outside CodePipeline" in _text(enriched)


def test_discovery_off_and_no_mapping_makes_no_call(aws: Aws) -> None:
    # GIVEN discovery is off and config maps nothing
    config = Config(enrich=EnrichSettings(discover=False))
    # WHEN enriched (no stubbed response: any call would fail the test)
    enriched = aws.enricher(config).enrich(deploy_success())
    # THEN the note points at the config key
    assert enriched.notes == (
        f"Commit unknown: no [[pipelines]] entry maps {APP} → {GROUP} and discovery is off",
    )


# --- rollbacks and deployments no pipeline started ---------------------------------------------


def test_rollback_from_a_trigger_names_the_rolled_back_commit(aws: Aws) -> None:
    # GIVEN the trigger of rollback d-ROLLBACK says it rolls back d-X, which execution A deployed
    rollback = replace(
        deploy_success(),
        deployment_id="d-ROLLBACK",
        rollback=RollbackInfo(DEPLOYMENT, "Rolled back because of alarm high-5xx"),
    )
    aws.expect_actions(
        actions_page(deploy_execution(EXEC_A, DEPLOYMENT), source_execution(EXEC_A, SHA_A, "A"))
    )
    # WHEN enriched
    enriched = aws.enricher().enrich(rollback)
    # THEN the commit is d-X's, and the message says it is rolled back
    assert enriched.commit is not None
    assert enriched.commit.sha == SHA_A
    text = _text(enriched)
    assert "*Rolled back commit*" in text
    assert f"This deployment rolls back `{DEPLOYMENT}`" in text


def test_rollback_known_only_from_get_deployment(aws: Aws) -> None:
    # GIVEN an EventBridge event (no rollback info) for d-ROLLBACK, which no action started,
    # and get_deployment saying it was created by CodeDeploy to roll back d-X
    sparse = event(
        "eventbridge-codedeploy-deployment-state-change.json",
        application=APP,
        deployment_group=GROUP,
        deployment_id="d-ROLLBACK",
    )
    aws.deploy.add_response(
        "get_deployment",
        deployment_info(
            "d-ROLLBACK",
            creator="codeDeployRollback",
            rollbackInfo={
                "rollbackTriggeringDeploymentId": DEPLOYMENT,
                "rollbackMessage": "Deployment d-X failed",
            },
        ),
        {"deploymentId": "d-ROLLBACK"},
    )
    page = actions_page(deploy_execution(EXEC_A, DEPLOYMENT), source_execution(EXEC_A, SHA_A, "A"))
    aws.expect_actions(page)  # looking for d-ROLLBACK: not there
    aws.expect_actions(page)  # looking for d-X: there
    # WHEN enriched
    enriched = aws.enricher().enrich(sparse)
    # THEN it is shown as a rollback of d-X, with d-X's commit and no note
    assert enriched.rollback == RollbackInfo(DEPLOYMENT, "Deployment d-X failed")
    assert enriched.commit is not None
    assert enriched.commit.sha == SHA_A
    assert enriched.notes == ()


def test_auto_update_deployment_says_who_started_it(aws: Aws) -> None:
    # GIVEN an EventBridge event for a deployment Auto Scaling's scale-out started
    sparse = event(
        "eventbridge-codedeploy-deployment-state-change.json",
        application=APP,
        deployment_group=GROUP,
        deployment_id="d-AUTO",
    )
    aws.deploy.add_response(
        "get_deployment",
        deployment_info("d-AUTO", creator="CodeDeployAutoUpdate"),
        {"deploymentId": "d-AUTO"},
    )
    aws.expect_actions(actions_page(deploy_execution(EXEC_A, DEPLOYMENT)))
    # WHEN enriched
    enriched = aws.enricher().enrich(sparse)
    # THEN no commit, and the note names the creator
    assert enriched.commit is None
    assert enriched.notes == (
        "Commit unknown: d-AUTO was started by CodeDeployAutoUpdate, not by a pipeline",
    )


# --- degraded answers ---------------------------------------------------------------------------


def test_access_denied_falls_back_to_the_latest_source_revision(aws: Aws) -> None:
    # GIVEN the role may not list action executions; the Source stage last ran execution B
    aws.pipeline.add_client_error(
        "list_action_executions",
        service_error_code="AccessDeniedException",
        service_message="not authorized",
        http_status_code=400,
        expected_params={"pipelineName": PIPELINE, "maxResults": 100},
    )
    aws.pipeline.add_response(
        "get_pipeline_state", state(EXEC_B, SHA_B, "Newer commit"), {"name": PIPELINE}
    )
    aws.expect_definition()
    # WHEN enriched
    enriched = aws.enricher().enrich(deploy_success())
    # THEN B is shown, labelled as not confirmed, and the note names the missing permission
    assert enriched.commit is not None
    assert (enriched.commit.sha, enriched.commit.confirmed) == (SHA_B, False)
    assert enriched.notes == (
        f"Commit not confirmed: could not list the action executions of {PIPELINE}: access "
        "denied to codepipeline:ListActionExecutions",
    )
    assert "Latest source revision (not confirmed)" in _text(enriched)


def test_access_denied_everywhere_still_gives_a_message(aws: Aws) -> None:
    # GIVEN every CodePipeline call is denied
    for operation, params in (
        ("list_action_executions", {"pipelineName": PIPELINE, "maxResults": 100}),
        ("get_pipeline_state", {"name": PIPELINE}),
        ("get_pipeline", {"name": PIPELINE}),
    ):
        aws.pipeline.add_client_error(
            operation, "AccessDeniedException", "denied", 400, expected_params=params
        )
    # WHEN enriched
    enriched = aws.enricher().enrich(deploy_success())
    # THEN the message has no commit and says what was denied
    assert enriched.commit is None
    assert enriched.notes == (
        f"Commit unknown: could not list the action executions of {PIPELINE}: access denied "
        "to codepipeline:ListActionExecutions; pipeline state: access denied to "
        "codepipeline:GetPipelineState",
    )
    assert enriched.status is Status.SUCCEEDED
    _text(enriched)


def test_expired_execution_falls_back_to_state_confirmed_when_it_is_the_same(aws: Aws) -> None:
    # GIVEN a pipeline event whose execution cannot be read (throttled), while the Source
    # stage still shows that very execution
    pipeline_event = event(
        "eventbridge-codepipeline-execution-succeeded.json",
        pipeline=PIPELINE,
        execution_id=EXEC_A,
    )
    aws.pipeline.add_client_error(
        "get_pipeline_execution",
        "ThrottlingException",
        "Rate exceeded",
        400,
        expected_params={"pipelineName": PIPELINE, "pipelineExecutionId": EXEC_A},
    )
    aws.expect_definition()
    aws.pipeline.add_response("get_pipeline_state", state(EXEC_A, SHA_A, "A"), {"name": PIPELINE})
    # WHEN enriched
    enriched = aws.enricher().enrich(pipeline_event)
    # THEN the state's revision is confirmed: its Source stage ran this execution
    assert enriched.commit is not None
    assert (enriched.commit.sha, enriched.commit.confirmed) == (SHA_A, True)
    assert enriched.notes == ()


def test_throttled_failure_lookup_degrades_to_a_note(aws: Aws) -> None:
    # GIVEN a failed deployment whose targets cannot be listed (throttled)
    aws.deploy.add_client_error(
        "list_deployment_targets",
        "ThrottlingException",
        "Rate exceeded",
        400,
        expected_params={"deploymentId": DEPLOYMENT, "targetFilters": {"TargetStatus": ["Failed"]}},
    )
    aws.expect_actions(
        actions_page(deploy_execution(EXEC_A, DEPLOYMENT), source_execution(EXEC_A, SHA_A, "A"))
    )
    # WHEN enriched
    enriched = aws.enricher().enrich(deploy_failure())
    # THEN the commit is there, the failure reason is not, and the note says why
    assert enriched.commit is not None
    assert enriched.failure_details == ()
    assert enriched.notes == (
        "Failure reason unknown: throttled by AWS (codedeploy:ListDeploymentTargets)",
    )


def test_a_slow_api_is_abandoned_at_the_deadline(aws: Aws) -> None:
    # GIVEN a 0.2 s budget and a list_action_executions that takes 1 s
    pool = ThreadPoolExecutor(4)
    config = replace(MAPPED, enrich=EnrichSettings(timeout_seconds=0.2))
    aws.expect_actions(actions_page(deploy_execution(EXEC_A, DEPLOYMENT)))
    aws.cp.meta.events.register(
        "before-parameter-build.codepipeline.ListActionExecutions",
        lambda **_: time.sleep(1),
    )
    started = time.monotonic()
    # WHEN enriched
    enriched = aws.enricher(config, executor=pool).enrich(deploy_success())
    elapsed = time.monotonic() - started
    # THEN it returned at the deadline with a note, and made no call after it
    assert elapsed < 0.9
    assert enriched.commit is None
    assert enriched.notes == (
        f"Commit unknown: could not list the action executions of {PIPELINE}: no answer within "
        "0.2 s; pipeline state: no answer within 0.2 s",
    )
    pool.shutdown(wait=True)  # the abandoned call finishes in the background


def test_an_event_from_another_region_is_not_looked_up(aws: Aws) -> None:
    # GIVEN an event from eu-west-2 while the clients use us-east-1
    other = replace(deploy_success(), region="eu-west-2")
    # WHEN enriched (no stubbed response: any call would fail the test)
    enriched = aws.enricher().enrich(other)
    # THEN it says so instead of reporting a misleading "not found"
    assert enriched.notes == (
        "AWS lookups skipped: the event is from eu-west-2, the AWS clients use us-east-1",
    )


def test_without_aws_the_events_that_need_it_get_a_note() -> None:
    # GIVEN no credentials; WHEN a deployment and an instance event are handled
    deployment = skip_lookups(deploy_success(), "no AWS credentials were found")
    instance = skip_lookups(
        event("codedeploy-trigger-docs-instance.json"), "no AWS credentials were found"
    )
    # THEN only the deployment (which lookups would enrich) carries the note
    assert deployment.notes == ("AWS lookups skipped: no AWS credentials were found",)
    assert instance.notes == ()


# --- why it failed ------------------------------------------------------------------------------


def _expect_failed_targets(aws: Aws) -> None:
    aws.deploy.add_response(
        "list_deployment_targets",
        load_fixture("api/codedeploy-list-deployment-targets-meerkat.json"),
        {"deploymentId": DEPLOYMENT, "targetFilters": {"TargetStatus": ["Failed"]}},
    )
    aws.deploy.add_response(
        "batch_get_deployment_targets",
        load_fixture("api/codedeploy-batch-get-deployment-targets-failed-meerkat.json"),
        {"deploymentId": DEPLOYMENT, "targetIds": ["i-0076ebeb196703200"]},
    )


def test_failed_deployment_gets_the_first_failed_lifecycle_event(aws: Aws) -> None:
    # GIVEN a failed deployment whose target failed in AfterInstall
    _expect_failed_targets(aws)
    aws.expect_actions(
        actions_page(deploy_execution(EXEC_A, DEPLOYMENT), source_execution(EXEC_A, SHA_A, "A"))
    )
    # WHEN enriched
    enriched = aws.enricher().enrich(deploy_failure())
    # THEN the failure detail names event, target, script, code and keeps the log tail
    [detail] = enriched.failure_details
    assert detail.lifecycle_event == "AfterInstall"
    assert detail.target == "i-03ffb163f3a80ec87"
    assert detail.script == "deploy/scripts/flyway_migrate.sh"
    assert detail.error_code == "ScriptFailed"
    assert detail.log_tail.endswith('"lme.systemlID" could not be bound.\n')
    # THEN the message shows the last lines of the log in a code block, within limits
    text = _text(enriched)
    assert "could not be bound." in text
    assert "```" in text


def test_failed_pipeline_gets_its_failed_actions_and_keeps_the_event_commit(aws: Aws) -> None:
    # GIVEN a FAILED execution notification that names its commit, and no failed actions
    failed = event(
        "codepipeline-notification-execution-failed-github.json",
        pipeline=PIPELINE,
        execution_id=EXEC_A,
    )
    build = other_execution(EXEC_A)
    build["status"] = "Failed"
    build["output"]["executionResult"]["externalExecutionSummary"] = "Build failed: tests"
    build["output"]["executionResult"]["errorDetails"] = {
        "code": "JobFailed",
        "message": "Build terminated with state: FAILED",
    }
    aws.pipeline.add_response(
        "list_action_executions",
        actions_page(build, source_execution(EXEC_A, SHA_A, "A")),
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": EXEC_A}, "maxResults": 100},
    )
    # WHEN enriched
    enriched = aws.enricher().enrich(failed)
    # THEN the commit came from the event (no get_pipeline_execution), the failed action from AWS
    assert enriched.commit is not None
    assert enriched.commit.sha == "abcdefg"
    assert enriched.failed_stage == "Build"
    [action] = enriched.failed_actions
    assert (action.action, action.info) == ("Build", "Build terminated with state: FAILED")
    assert action.url.startswith("https://console.aws.amazon.com/codebuild/")
    assert "<https://console.aws.amazon.com/codebuild/home#/builds/1234|*Build*>" in _text(enriched)


def test_pipeline_event_without_a_commit_reads_the_execution(aws: Aws) -> None:
    # GIVEN an EventBridge execution event, which carries no commit
    succeeded = event(
        "eventbridge-codepipeline-execution-succeeded.json",
        pipeline=PIPELINE,
        execution_id=EXEC_A,
    )
    aws.pipeline.add_response(
        "get_pipeline_execution",
        execution(EXEC_A, SHA_A, codestar_summary(MESSAGE_A)),
        {"pipelineName": PIPELINE, "pipelineExecutionId": EXEC_A},
    )
    aws.expect_definition()
    # WHEN enriched
    enriched = aws.enricher().enrich(succeeded)
    # THEN the execution's revision, with the definition's branch
    assert enriched.commit is not None
    assert (enriched.commit.sha, enriched.commit.branch) == (SHA_A, "main")
    assert enriched.commit.title == "Fix the login page"


def test_only_posted_events_are_enriched() -> None:
    # GIVEN a stage that started (skipped by the default noise policy) and a deployment
    seen: list[str] = []

    def enrich(item: Deployment) -> Deployment:
        seen.append(item.scope.value)
        return item

    events = [
        event("codepipeline-notification-docs-stage-started-sourceactions.json"),
        deploy_success(),
    ]
    # WHEN planned
    planned = plan(enrich_posted(events, Config(), enrich), Config())
    # THEN only the posted deployment went through enrichment
    assert seen == ["deployment"]
    assert [p.message is not None for p in planned] == [False, True]


def test_commit_url_is_not_a_github_api_address() -> None:
    # GIVEN a GitHub (v1) artifact revision whose URL is the API's
    from bot.domain.codepipeline import commit_from_revision, revisions_from_execution

    response = load_fixture("api/get-pipeline-execution-rollback-docs.json")
    [revision] = revisions_from_execution(response)
    # WHEN it becomes a commit
    commit = commit_from_revision(revision, "us-east-1")
    # THEN the repository comes from the URL, and the link is the web page
    assert commit.repository == "anycompany/MyApp"
    assert commit.commit_url == (
        "https://github.com/anycompany/MyApp/commit/7636d59f3c461cEXAMPLE8417dbc6371"
    )
    assert commit.title == "Updating the application for feature 12-4820"


@pytest.mark.parametrize(
    ("ran", "offered"),
    [
        pytest.param(("Source", "Beta"), True, id="the-failure-deployed"),
        pytest.param(("Source",), False, id="the-failure-stopped-before-deploying"),
    ],
)
def test_a_failed_execution_that_deployed_learns_the_last_good_one(
    aws: Aws, ran: tuple[str, ...], offered: bool
) -> None:
    # GIVEN rollback enabled for the pipeline, and a failed execution whose commit is known
    config = replace(
        MAPPED,
        rollback=RollbackSettings(pipelines=(RollbackPipeline(PIPELINE),)),
    )
    failed = Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=Status.FAILED,
        pipeline=PIPELINE,
        execution_id="11111111-1111-4111-8111-111111111111",
        failed_actions=(FailedAction("Deploy"),),
        commit=Commit(sha="b" * 40),
    )
    # AND its actions: the source ran, and the Deploy action of stage Beta (or not)
    actions = [source_execution(failed.execution_id, "b" * 40, "Bad")]
    if "Beta" in ran:
        actions.insert(0, {**deploy_execution(failed.execution_id, "d-1"), "stageName": "Beta"})
    aws.pipeline.add_response(
        "list_action_executions",
        {"actionExecutionDetails": actions},
        {
            "pipelineName": PIPELINE,
            "filter": {"pipelineExecutionId": failed.execution_id},
            "maxResults": 100,
        },
    )
    good = "22222222-2222-4222-8222-222222222222"
    summaries = [
        {"pipelineExecutionId": failed.execution_id, "status": "Failed"},
        {
            "pipelineExecutionId": good,
            "status": "Succeeded",
            "sourceRevisions": [
                {"actionName": "Source", "revisionId": "a" * 40, "revisionSummary": "Stable"}
            ],
        },
    ]
    aws.pipeline.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": summaries},
        {"pipelineName": PIPELINE, "maxResults": 20},
    )
    aws.expect_definition()  # the stage that deploys: the last one with a Deploy action
    # WHEN it is enriched
    enriched = aws.enricher(config).enrich(failed)
    # THEN it knows the newest successful execution before it (the Roll back button's target),
    # unless it stopped before deploying: then production still runs that one
    if not offered:
        assert enriched.last_good is None
        return
    assert enriched.last_good is not None
    assert enriched.last_good.execution_id == good
    assert enriched.last_good.commit is not None
    assert enriched.last_good.commit.sha == "a" * 40
