"""The Roll back button end to end: signed block_actions requests through the Lambda handler,
the lazy invocation replayed from the local Lambda stand-in, AWS checked with Stubber (exact
parameters), and the audit trail arriving at the fake Slack."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from blocks import ids
from blocks.deployment import build_message
from bot.config import load_config
from bot.domain.model import Commit, Deployment, Scope, Source, Status
from bot.domain.rollback import client_token, target_for
from bot.lambda_function import handler
from bot.slack import WebApiPoster, make_web_client
from bot.store import make_store
from handlers.notifications import deliver_events
from tests.aws_responses import Aws, as_boto
from tests.blockkit import violations
from tests.fake_lambda import FakeLambda
from tests.fake_slack import TOKEN, FakeSlack
from tests.slack_requests import LambdaContext, block_actions, function_url_event

PIPELINE = "web-prod"
GOOD = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
BAD = "60303ae22b998861bce3b28f33eec1be758a213c"
TARGET = "eb7ebd36-353a-4551-90dc-18ca5EXAMPLE"
LIVE = "fcd61d8b-4532-4384-9da1-2aca1EXAMPLE"
NEW = "3137f7cb-7cf7-4a9f-9e3a-d7e8f3EXAMPLE"
CHANNEL = "C0DEPLOYS"
TS = "1700000000.000001"
CONFIG = """
[rollback]
users = ["U0ALLOWED"]
usergroups = ["S0ONCALL"]
channels = ["C0DEPLOYS"]

[[rollback.pipelines]]
pipeline = "web-prod"
environment = "production"

[[rollback.pipelines]]
pipeline = "api-prod"
strategy = "stage"
stage = "Deploy"

[[rollback.deployment_groups]]
application = "legacy-app"
deployment_group = "prod"
"""


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def calls(stubs: Aws) -> list[str]:
    """Every AWS operation called, stubbed or not (Stubber answers before `before-call`)."""
    seen: list[str] = []
    for stub in stubs.all:
        stub.client.meta.events.register(
            "before-parameter-build", lambda model, **_: seen.append(model.name)
        )
    return seen


@dataclass
class Door:
    """The Lambda's surroundings: AWS stubs and the calls made, Lambda and Slack fakes."""

    stubs: Aws
    calls: list[str]
    lam: FakeLambda
    slack: FakeSlack
    config: Path


@pytest.fixture
def door(
    config_file: Path, stubs: Aws, calls: list[str], aws_env: FakeLambda, slack_env: FakeSlack
) -> Door:
    return Door(stubs, calls, aws_env, slack_env, config_file)


@pytest.fixture
def config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "deploybot.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(path))
    return path


def _success(pipeline: str = PIPELINE, execution_id: str = TARGET) -> Deployment:
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=Status.SUCCEEDED,
        region="eu-west-1",
        pipeline=pipeline,
        execution_id=execution_id,
        commit=Commit(sha=GOOD, title="Fix checkout <!channel>", author="Ada"),
    )


def _posted(fake: FakeSlack, event: Deployment) -> dict[str, Any]:
    """The deployment message as it sits in the channel (what Slack sends back on a click)."""
    target = target_for(event, load_config().rollback)
    message = {**build_message(event, rollback=target), "ts": TS}
    fake.messages.setdefault(CHANNEL, []).append(dict(message))
    return message


def _button(message: dict[str, Any]) -> dict[str, Any]:
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    return next(e for e in actions["elements"] if e["action_id"] == ids.ROLLBACK)


def _click(
    fake_lambda: FakeLambda,
    fake: FakeSlack,
    message: dict[str, Any],
    *,
    user: str = "U0ALLOWED",
    channel: str = CHANNEL,
    action_ts: str = "1700000100.000100",
) -> None:
    """Click the message's Roll back button, then let AWS run the lazy invocation."""
    before = len(fake_lambda.invocations)
    body = block_actions(
        ids.ROLLBACK,
        f"{fake.url}/actions/1",
        value=_button(message)["value"],
        user_id=user,
        channel_id=channel,
        message=message,
        action_ts=action_ts,
    )
    ack = handler(function_url_event(body), LambdaContext())
    assert ack["statusCode"] == 200
    for invocation in fake_lambda.invocations[before:]:
        assert handler(invocation.payload, LambdaContext())["statusCode"] == 200


def _summary(execution_id: str, sha: str, status: str = "Succeeded", **extra: Any) -> Any:
    return {
        "pipelineExecutionId": execution_id,
        "status": status,
        "startTime": "2026-09-06T10:00:00+00:00",
        "lastUpdateTime": "2026-09-06T10:05:00+00:00",
        "sourceRevisions": [
            {"actionName": "Source", "revisionId": sha, "revisionSummary": "commit"},
        ],
        "trigger": {"triggerType": "Webhook", "triggerDetail": "github"},
        "executionMode": "SUPERSEDED",
        "executionType": "STANDARD",
        **extra,
    }


def _history(*summaries: Any, stage: str = "", pipeline: str = PIPELINE) -> tuple[Any, Any]:
    params: dict[str, Any] = {"pipelineName": pipeline, "maxResults": 50}
    if stage:
        params["filter"] = {"succeededInStage": {"stageName": stage}}
    return as_boto({"pipelineExecutionSummaries": list(summaries)}), params


def _expect_rerun(stubs: Aws, user: str = "U0ALLOWED", ts: str = "1700000100.000100") -> None:
    stubs.pipeline_writes.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": NEW},
        {
            "name": PIPELINE,
            "sourceRevisions": [
                {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": GOOD}
            ],
            "clientRequestToken": client_token(f"rollback#{PIPELINE}#{TARGET}", f"{user}:{ts}"),
        },
    )


def _refusals(fake: FakeSlack) -> list[str]:
    answers = fake.calls_to("response_url")
    assert all(a["response_type"] == "ephemeral" for a in answers)
    return [a["text"] for a in answers]


def _thread(fake: FakeSlack) -> list[dict[str, Any]]:
    return [p for p in fake.posts if p.get("thread_ts") == TS]


def test_an_authorized_click_reruns_the_pipeline_pinned_to_the_commit(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN the success message of an older execution, and a newer live one with another commit
    message = _posted(door.slack, _success())
    door.stubs.pipeline.add_response(
        "list_pipeline_executions", *_history(_summary(LIVE, BAD), _summary(TARGET, GOOD))
    )
    _expect_rerun(door.stubs)
    # WHEN an allowed user confirms the Roll back button
    _click(door.lam, door.slack, message)
    # THEN exactly the stubbed AWS door.calls were made
    door.stubs.done()
    assert door.calls == ["ListPipelineExecutions", "StartPipelineExecution"]
    # AND the thread says who started what, with a link to the new execution
    [reply] = _thread(door.slack)
    assert reply["channel"] == CHANNEL
    assert f"<@U0ALLOWED> started a rollback of *production* to `{GOOD[:7]}`" in reply["text"]
    assert NEW in reply["text"]
    assert violations(reply) == []
    # AND the message itself now says so, without its Roll back button
    shown = door.slack.message(CHANNEL, TS)
    assert violations(shown) == []
    assert all(
        e["action_id"] != ids.ROLLBACK
        for b in shown["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )
    assert {"reply": reply["blocks"], "message": shown["blocks"][-1]} == snapshot_json
    assert _refusals(door.slack) == []


def test_a_member_of_an_allowed_user_group_may_roll_back(door: Door) -> None:
    door.slack.usergroups["S0ONCALL"] = ["U0ONCALL"]
    message = _posted(door.slack, _success())
    door.stubs.pipeline.add_response(
        "list_pipeline_executions", *_history(_summary(LIVE, BAD), _summary(TARGET, GOOD))
    )
    _expect_rerun(door.stubs, user="U0ONCALL")
    _click(door.lam, door.slack, message, user="U0ONCALL")
    door.stubs.done()
    assert door.slack.calls_to("usergroups.users.list")[0]["usergroup"] == "S0ONCALL"
    assert len(_thread(door.slack)) == 1


@pytest.mark.parametrize(
    ("user", "channel", "reason"),
    [
        pytest.param("U0STRANGER", CHANNEL, "you are not in rollback.users", id="unauthorized"),
        pytest.param("U0OUTSIDE", CHANNEL, "you are not in rollback.users", id="outside-group"),
        pytest.param("U0ALLOWED", "C0RANDOM", "not allowed from this channel", id="channel"),
    ],
)
def test_a_click_that_is_not_allowed_is_refused_privately_without_aws(
    user: str, channel: str, reason: str, door: Door, caplog: pytest.LogCaptureFixture
) -> None:
    door.slack.usergroups["S0ONCALL"] = ["U0ONCALL"]
    message = _posted(door.slack, _success())
    _click(door.lam, door.slack, message, user=user, channel=channel)
    assert door.calls == []
    [refusal] = _refusals(door.slack)
    assert reason in refusal
    assert _thread(door.slack) == []
    assert any(r.getMessage().startswith("rollback refused") for r in caplog.records)


def test_nothing_configured_denies_everyone(door: Door) -> None:
    # GIVEN a button posted while rollback was enabled, and a config that no longer allows it
    message = _posted(door.slack, _success())
    door.config.write_text("")
    _click(door.lam, door.slack, message)
    assert door.calls == []
    [refusal] = _refusals(door.slack)
    assert "rollback is not enabled for pipeline web-prod" in refusal


def test_a_double_click_and_a_replayed_invocation_start_one_rollback(door: Door) -> None:
    message = _posted(door.slack, _success())
    door.stubs.pipeline.add_response(
        "list_pipeline_executions", *_history(_summary(LIVE, BAD), _summary(TARGET, GOOD))
    )
    _expect_rerun(door.stubs)
    _click(door.lam, door.slack, message)
    # WHEN Lambda runs the same lazy invocation again (an async retry)
    for invocation in list(door.lam.invocations):
        assert handler(invocation.payload, LambdaContext())["statusCode"] == 200
    # AND someone clicks again a second later
    _click(door.lam, door.slack, message, user="U0ALLOWED", action_ts="1700000101.000100")
    # THEN AWS saw one rollback and the thread one audit line
    door.stubs.done()
    assert door.calls.count("StartPipelineExecution") == 1
    assert len(_thread(door.slack)) == 1
    [refusal] = _refusals(door.slack)
    assert "already started by U0ALLOWED" in refusal


def test_a_target_that_is_already_live_is_refused_with_the_reason(door: Door) -> None:
    message = _posted(door.slack, _success())
    door.stubs.pipeline.add_response(
        "list_pipeline_executions", *_history(_summary(TARGET, GOOD), _summary(LIVE, BAD))
    )
    _click(door.lam, door.slack, message)
    door.stubs.done()
    assert door.calls == ["ListPipelineExecutions"]
    [refusal] = _refusals(door.slack)
    assert f"execution {TARGET} is already the live one" in refusal


def test_a_pipeline_already_rolling_back_is_refused(door: Door) -> None:
    message = _posted(door.slack, _success())
    rolling = _summary(NEW, GOOD, "InProgress", executionType="ROLLBACK")
    door.stubs.pipeline.add_response(
        "list_pipeline_executions",
        *_history(rolling, _summary(LIVE, BAD), _summary(TARGET, GOOD)),
    )
    _click(door.lam, door.slack, message)
    [refusal] = _refusals(door.slack)
    assert f"web-prod is already rolling back (execution {NEW})" in refusal


def test_rollback_stage_refused_by_aws_says_why_in_the_thread(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    message = _posted(door.slack, _success(pipeline="api-prod"))
    door.stubs.pipeline.add_response(
        "list_pipeline_executions",
        *_history(_summary(LIVE, BAD), _summary(TARGET, GOOD), stage="Deploy", pipeline="api-prod"),
    )
    door.stubs.pipeline_writes.add_client_error(
        "rollback_stage",
        service_error_code="UnableToRollbackStageException",
        service_message="Rollback is not allowed: the target was started in an older pipeline "
        "structure <version 3>",
        http_status_code=400,
        expected_params={
            "pipelineName": "api-prod",
            "stageName": "Deploy",
            "targetPipelineExecutionId": TARGET,
        },
    )
    _click(door.lam, door.slack, message)
    door.stubs.done()
    [reply] = _thread(door.slack)
    text = reply["blocks"][0]["text"]["text"]
    assert "UnableToRollbackStageException from codepipeline:RollbackStage" in text
    assert "older pipeline structure &lt;version 3&gt;" in text
    assert reply == snapshot_json(exclude=lambda prop, path: prop in ("_ok", "channel"))
    # AND the target is free again: a later click may retry
    from bot.domain.rollback import load_claim

    store = make_store(load_config())
    assert store is not None
    record = store.get(f"rollback#api-prod#{TARGET}")
    assert record is not None
    claim = load_claim(record.body)
    assert claim is not None
    assert claim.state == "failed"


def test_access_denied_on_start_is_told_in_the_thread(door: Door) -> None:
    message = _posted(door.slack, _success())
    door.stubs.pipeline.add_response(
        "list_pipeline_executions", *_history(_summary(LIVE, BAD), _summary(TARGET, GOOD))
    )
    door.stubs.pipeline_writes.add_client_error(
        "start_pipeline_execution",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: codepipeline:StartPipelineExecution",
        http_status_code=400,
    )
    _click(door.lam, door.slack, message)
    [reply] = _thread(door.slack)
    assert "access denied to codepipeline:StartPipelineExecution" in reply["text"]
    assert "not authorized to perform" in reply["blocks"][0]["text"]["text"]


def test_a_codedeploy_appspec_revision_is_fetched_then_redeployed(door: Door) -> None:
    deployment = Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=Status.SUCCEEDED,
        region="eu-west-1",
        application="legacy-app",
        deployment_group="prod",
        deployment_id="d-A1B2C3123",
    )
    message = _posted(door.slack, deployment)
    assert _button(message)["text"]["text"] == "Roll back to this"
    appspec = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "ab" * 32}}
    door.stubs.deploy.add_response(
        "get_deployment",
        {
            "deploymentInfo": {
                "applicationName": "legacy-app",
                "deploymentGroupName": "prod",
                "deploymentId": "d-A1B2C3123",
                "status": "Succeeded",
                "revision": appspec,
            }
        },
        {"deploymentId": "d-A1B2C3123"},
    )
    door.stubs.deploy.add_response(
        "get_deployment_group",
        {
            "deploymentGroupInfo": {
                "applicationName": "legacy-app",
                "deploymentGroupName": "prod",
                "lastSuccessfulDeployment": {"deploymentId": "d-NEWERBAD", "status": "Succeeded"},
                "lastAttemptedDeployment": {"deploymentId": "d-NEWERBAD", "status": "Succeeded"},
            }
        },
        {"applicationName": "legacy-app", "deploymentGroupName": "prod"},
    )
    full = {
        "revisionType": "AppSpecContent",
        "appSpecContent": {"content": "version: 0.0\nResources: []\n", "sha256": "ab" * 32},
    }
    door.stubs.deploy.add_response(
        "get_application_revision",
        {"applicationName": "legacy-app", "revision": full},
        {"applicationName": "legacy-app", "revision": appspec},
    )
    door.stubs.deploy_writes.add_response(
        "create_deployment",
        {"deploymentId": "d-ROLLBACK1"},
        {
            "applicationName": "legacy-app",
            "deploymentGroupName": "prod",
            "revision": full,
            "description": "Rollback to d-A1B2C3123 () from Slack by U0ALLOWED",
        },
    )
    _click(door.lam, door.slack, message)
    door.stubs.done()
    [reply] = _thread(door.slack)
    assert "started a rollback of *legacy-app/prod* to `d-A1B2C3123`" in reply["text"]
    assert "d-ROLLBACK1" in reply["text"]


def test_the_rollbacks_own_notification_says_whose_rollback_it_is(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN a rollback started from Slack
    message = _posted(door.slack, _success())
    door.stubs.pipeline.add_response(
        "list_pipeline_executions", *_history(_summary(LIVE, BAD), _summary(TARGET, GOOD))
    )
    _expect_rerun(door.stubs)
    _click(door.lam, door.slack, message)
    # WHEN the execution it started is notified
    config = load_config()
    store = make_store(config)
    assert store is not None
    finished = Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=Status.SUCCEEDED,
        region="eu-west-1",
        pipeline=PIPELINE,
        execution_id=NEW,
        started_at=datetime(2026, 9, 6, 11, 0, tzinfo=UTC),
        commit=Commit(sha=GOOD, title="Fix checkout"),
    )
    from dataclasses import replace

    config = replace(config, slack_bot_token=TOKEN, default_channel=CHANNEL)
    deliver_events([finished], config, WebApiPoster(make_web_client(config)), store)
    # THEN its message says it was a rollback, by whom, to which commit
    post = door.slack.posts[-1]
    assert post["metadata"]["event_payload"]["execution_id"] == NEW
    rollback = post["blocks"][2]["text"]["text"]
    assert rollback == (
        f":rewind: *Rollback* of production to `{GOOD[:7]}`, started from Slack by <@U0ALLOWED>"
    )
    assert rollback == snapshot_json
