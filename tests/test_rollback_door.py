"""The Roll back button end to end: notifications and really signed clicks through the Lambda
handler, Bolt's lazy invocation replayed from the local Lambda stand-in, and a stateful
CodePipeline/CodeDeploy stand-in over HTTP (tests/fake_deploys.py) that can lose answers after
doing the write, answer late, fail with a 5xx, throttle and refuse a repeat."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from blocks import ids
from blocks.deployment import build_message
from bot.config import load_config
from bot.domain.claims import claim_key, load_claim
from bot.domain.model import Commit, Deployment, Scope, Source, Status
from bot.domain.places import environment
from bot.domain.rollback import target_for
from bot.lambda_function import handler
from bot.slack import WebApiPoster, make_web_client
from bot.store import make_store
from handlers.late import handle_late_lazy_run
from handlers.notifications import deliver_events
from tests.blockkit import violations
from tests.doors import Door, later, open_door
from tests.fake_deploys import World, source, standard
from tests.fake_lambda import FakeLambda
from tests.fake_slack import TOKEN, FakeSlack
from tests.slack_requests import LambdaContext, block_actions, function_url_event

PIPELINE = "web-prod"
ACCOUNT = "123456789012"  # the account and region every event here names
GOOD = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
BAD = "60303ae22b998861bce3b28f33eec1be758a213c"
OLDER = "2c26b46b68ffc68ff99b453c1d30413413422d70"
CHANNEL = "C0DEPLOYS"
TS = "1700000000.000001"
HOUR = 3600.0
CONFIG = """
[slack]
channel = "C0DEPLOYS"

[rollback]
users = ["U0ALLOWED", "U0SECOND"]
usergroups = ["S0ONCALL"]
channels = ["C0DEPLOYS"]

[[rollback.pipelines]]
pipeline = "web-prod"
environment = "production"

[[rollback.pipelines]]
pipeline = "api-prod"
strategy = "stage"
stage = "Deploy"
freeze_after_rollback = true

[[rollback.deployment_groups]]
application = "legacy-app"
deployment_group = "prod"

[[pipelines]]
pipeline = "web-prod"
application = "web"
"""
S3_REVISION = {
    "revisionType": "S3",
    "s3Location": {"bucket": "builds", "key": "legacy.zip", "bundleType": "zip", "version": "v1"},
}
BAD_REVISION = {
    "revisionType": "S3",
    "s3Location": {"bucket": "builds", "key": "legacy.zip", "bundleType": "zip", "version": "v2"},
}


@pytest.fixture
def door(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Door]:
    yield from open_door(monkeypatch, tmp_path, aws_env, slack_env, CONFIG)


def _history(world: World, *, bad_fails_at: str = "") -> tuple[str, str]:
    """web-prod: a good execution 3 h ago, then a bad one 1 h ago. (good id, bad id)."""
    world.add(standard(PIPELINE))
    world.run(PIPELINE, OLDER, ago=5 * HOUR)
    good = world.run(PIPELINE, GOOD, ago=3 * HOUR, minutes=12).id
    bad = world.run(PIPELINE, BAD, ago=HOUR, failed_at=bad_fails_at).id
    world.heads["Source"] = BAD
    return good, bad


def _success(execution_id: str, pipeline: str = PIPELINE, sha: str = GOOD) -> Deployment:
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=Status.SUCCEEDED,
        region="eu-west-1",
        account=ACCOUNT,
        pipeline=pipeline,
        execution_id=execution_id,
        started_at=datetime(2026, 9, 6, 10, 0, tzinfo=UTC),
        finished_at=datetime(2026, 9, 6, 10, 12, tzinfo=UTC),
        commit=Commit(sha=sha, title="Fix checkout <!channel>", author="Ada"),
    )


def _posted(fake: FakeSlack, event: Deployment, ts: str = TS) -> dict[str, Any]:
    """The deployment message as it sits in the channel (what Slack sends back on a click)."""
    target = target_for(event, load_config().rollback)
    message = {**build_message(event, rollback=target), "ts": ts}
    fake.messages.setdefault(CHANNEL, []).append(dict(message))
    return message


def _notify(door: Door, detail: dict[str, Any], kind: str) -> dict[str, Any]:
    """Send an EventBridge event through the Lambda handler; the message it posted."""
    event = {
        "version": "0",
        "id": f"event-{len(door.slack.posts)}",
        "detail-type": kind,
        "source": "aws.codepipeline" if "CodePipeline" in kind else "aws.codedeploy",
        "account": "123456789012",
        "time": "2026-09-06T12:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }
    mains = [m for m in door.slack.messages.get(CHANNEL, []) if "thread_ts" not in m]
    handler(event, LambdaContext())
    # One message in the channel (a failure also gets its reply in the thread: the store is on)
    now = [m for m in door.slack.messages[CHANNEL] if "thread_ts" not in m]
    assert len(now) == len(mains) + 1
    return dict(now[-1])


def _failed_execution(door: Door, execution_id: str) -> dict[str, Any]:
    detail = {
        "pipeline": PIPELINE,
        "execution-id": execution_id,
        "state": "FAILED",
        "version": 1,
    }
    return _notify(door, detail, "CodePipeline Pipeline Execution State Change")


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("rollback")
    ]


def _button(message: dict[str, Any], action_id: str = ids.ROLLBACK) -> dict[str, Any]:
    return next(e for e in _buttons(message) if e["action_id"] == action_id)


def _click(
    door: Door,
    message: dict[str, Any],
    *,
    action_id: str = ids.ROLLBACK,
    user: str = "U0ALLOWED",
    channel: str = CHANNEL,
    action_ts: str = "1700000100.000100",
    replay: bool = True,
) -> list[dict[str, Any]]:
    """Click a button of the message; then let AWS run the lazy invocation (unless `replay`).

    The lazy invocations it caused."""
    before = len(door.lam.invocations)
    body = block_actions(
        action_id,
        f"{door.slack.url}/actions/1",
        value=_button(message, action_id)["value"],
        user_id=user,
        channel_id=channel,
        message=message,
        action_ts=action_ts,
    )
    ack = handler(function_url_event(body), LambdaContext())
    assert ack["statusCode"] == 200
    lazy = [i.payload for i in door.lam.invocations[before:]]
    if replay:
        for payload in lazy:
            assert handler(payload, LambdaContext())["statusCode"] == 200
    return lazy


def _refusals(fake: FakeSlack) -> list[str]:
    answers = fake.calls_to("response_url")
    assert all(a["response_type"] == "ephemeral" for a in answers)
    return [a["text"] for a in answers]


def _thread(fake: FakeSlack, ts: str = TS) -> list[dict[str, Any]]:
    return [p for p in fake.posts if p.get("thread_ts") == ts]


def _thread_text(fake: FakeSlack, ts: str = TS) -> str:
    return "\n".join(
        b["text"]["text"] for p in _thread(fake, ts) for b in p["blocks"] if "text" in b
    )


def _where(kind: str, name: str) -> str:
    """A claim's environment: the thing, in its account and region (the events')."""
    return environment(kind, name, ACCOUNT, "eu-west-1")


def _claim(environment: str) -> Any:
    store = make_store(load_config())
    assert store is not None
    record = store.get(claim_key(environment))
    return load_claim(record.body) if record else None


def _age_claim(environment: str, seconds: float) -> None:
    """Move the environment's claim `seconds` into the past (a run that died long ago)."""
    store = make_store(load_config())
    assert store is not None
    record = store.get(claim_key(environment))
    assert record is not None
    body = json.loads(record.body)
    body["at"] -= seconds
    assert store.put(replace(record, body=json.dumps(body)))


# --- the happy path, who may press -------------------------------------------------------------


def test_an_authorized_click_reruns_the_pipeline_with_every_source_pinned(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN a pipeline with two sources, a good execution and a newer bad one that runs now
    world = door.world
    world.add(standard(PIPELINE, source(), source("Config", "S3")))
    good = world.run(PIPELINE, GOOD, ago=3 * HOUR).id
    world.run(PIPELINE, BAD, ago=HOUR)
    message = _posted(door.slack, _success(good))
    # WHEN an allowed user confirms the Roll back button of the good one
    _click(door, message)
    # THEN exactly one execution started, with both sources pinned to the good one's revisions
    [started] = world.started("StartPipelineExecution")
    assert started["sourceRevisions"] == [
        {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": GOOD},
        {"actionName": "Config", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": GOOD},
    ]
    assert len(started["clientRequestToken"]) == 64
    # AND the thread says who started what, and that the next push redeploys the head
    audit, warning = _thread(door.slack)
    assert f"<@U0ALLOWED> started a rollback of *production* to `{GOOD[:7]}`" in audit["text"]
    assert "The next push to web-prod" in warning["text"]
    assert violations(audit) == [] and violations(warning) == []
    # AND the message itself now says so, without its Roll back button
    shown = door.slack.message(CHANNEL, TS)
    assert violations(shown) == []
    assert not any(e["action_id"] == ids.ROLLBACK for e in _buttons(shown))
    assert _refusals(door.slack) == []
    assert {
        "reply": audit["blocks"],
        "warning": warning["blocks"],
        "message": shown["blocks"][-1],
    } == snapshot_json


def test_a_member_of_an_allowed_user_group_may_roll_back(door: Door) -> None:
    door.slack.usergroups["S0ONCALL"] = ["U0ONCALL"]
    good, _ = _history(door.world)
    _click(door, _posted(door.slack, _success(good)), user="U0ONCALL")
    assert door.slack.calls_to("usergroups.users.list")[0]["usergroup"] == "S0ONCALL"
    assert len(door.world.started("StartPipelineExecution")) == 1


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
    good, _ = _history(door.world)
    _click(door, _posted(door.slack, _success(good)), user=user, channel=channel)
    assert door.calls() == []
    [refusal] = _refusals(door.slack)
    assert reason in refusal
    assert _thread(door.slack) == []
    assert any(r.getMessage().startswith("rollback refused") for r in caplog.records)


def test_nothing_configured_denies_everyone(door: Door) -> None:
    # GIVEN a button posted while rollback was enabled, and a config that no longer allows it
    good, _ = _history(door.world)
    message = _posted(door.slack, _success(good))
    door.config.write_text("")
    _click(door, message)
    assert door.calls() == []
    [refusal] = _refusals(door.slack)
    assert "rollback is not enabled for pipeline web-prod" in refusal


def test_a_double_click_and_a_replayed_invocation_start_one_rollback(door: Door) -> None:
    good, _ = _history(door.world)
    message = _posted(door.slack, _success(good))
    lazy = _click(door, message)
    # WHEN Lambda runs the same lazy invocation again (an async retry)
    for payload in lazy:
        assert handler(payload, LambdaContext())["statusCode"] == 200
    # AND someone clicks again a second later
    _click(door, message, action_ts="1700000101.000100")
    # THEN AWS saw one rollback and the thread one audit line
    assert len(door.world.started("StartPipelineExecution")) == 1
    assert len([p for p in _thread(door.slack) if ":rewind:" in p["text"]]) == 1
    [refusal] = _refusals(door.slack)
    assert "a rollback of production is running" in refusal


def test_a_target_that_is_already_live_is_refused_with_the_reason(door: Door) -> None:
    door.world.add(standard(PIPELINE))
    live = door.world.run(PIPELINE, GOOD, ago=HOUR).id
    _click(door, _posted(door.slack, _success(live)))
    assert door.world.writes == []
    [refusal] = _refusals(door.slack)
    assert f"execution {live} is what stage Deploy runs already" in refusal


def test_a_pipeline_rolling_back_outside_deploybot_is_refused(door: Door) -> None:
    good, _bad = _history(door.world)
    door.world.run(
        PIPELINE, GOOD, ago=60, running_at="Deploy", kind="ROLLBACK", rollback_target=good
    )
    _click(door, _posted(door.slack, _success(good)))
    [refusal] = _refusals(door.slack)
    assert "web-prod is already rolling back" in refusal
    assert door.world.writes == []


def test_access_denied_on_start_is_told_in_the_thread_and_frees_the_pipeline(door: Door) -> None:
    good, _ = _history(door.world)
    message = _posted(door.slack, _success(good))
    assert door.world.server is not None
    door.world.server.answers["StartPipelineExecution"] = _denied
    _click(door, message)
    [reply] = _thread(door.slack)
    assert "did not start: access denied to codepipeline:StartPipelineExecution" in reply["text"]
    assert "not authorized to perform" in reply["blocks"][0]["text"]["text"]
    assert _claim(_where("pipeline", PIPELINE)).state == "failed"


def _denied(params: dict[str, Any]) -> dict[str, Any]:
    from tests.fake_aws import Fault

    raise Fault(400, "AccessDeniedException", "not authorized to perform: codepipeline:Start")


def test_a_throttled_start_did_not_start_and_says_so(door: Door) -> None:
    good, _ = _history(door.world)
    door.world.fail("StartPipelineExecution", "throttle")
    _click(door, _posted(door.slack, _success(good)))
    [reply] = _thread(door.slack)
    assert "did not start: throttled by AWS" in reply["text"]
    assert door.world.writes == []
    assert _claim(_where("pipeline", PIPELINE)).state == "failed"


# --- defect 1: "live" is what runs --------------------------------------------------------------


@pytest.mark.parametrize("failed_at", ["Test", "Deploy"], ids=["failed-in-tests", "deploy-failed"])
def test_a_failure_that_deployed_offers_a_button_that_works(door: Door, failed_at: str) -> None:
    # GIVEN a good execution, then one that deployed the bad commit and failed after (its
    # tests), or whose CodeDeploy action failed without rolling back: the bad commit runs
    good, bad = _history(door.world, bad_fails_at=failed_at)
    # WHEN its failure is notified
    message = _failed_execution(door, bad)
    # THEN the message offers to roll back to the good commit
    button = _button(message)
    assert button["text"]["text"] == f"Roll back to {GOOD[:7]}"
    # AND clicking it rolls back to the good execution's revision
    _click(door, message, action_ts="1700000200.000100")
    assert _refusals(door.slack) == []
    [started] = door.world.started("StartPipelineExecution")
    assert started["sourceRevisions"][0]["revisionValue"] == GOOD
    assert f"started a rollback of *production* to `{GOOD[:7]}`" in _thread_text(
        door.slack, message["ts"]
    )
    # AND its confirm dialog said how long the good one took
    assert "~12 min like that run" in button["confirm"]["text"]["text"]
    assert good in button["value"]


def test_a_failure_that_stopped_before_deploying_offers_no_button(door: Door) -> None:
    # GIVEN a bad commit that failed its build: production still runs the good one
    _, bad = _history(door.world, bad_fails_at="Build")
    # WHEN its failure is notified
    message = _failed_execution(door, bad)
    # THEN there is nothing to roll back, and no button says otherwise
    assert not any(e["action_id"] == ids.ROLLBACK for e in _buttons(message))


def test_a_failed_group_deployment_without_automatic_rollback_offers_the_last_good_one(
    door: Door,
) -> None:
    # GIVEN a deployment group no pipeline deploys to: a good deployment, then a failed one
    world = door.world
    world.group("legacy-app", "prod")
    good = world.deployment("legacy-app", "prod", S3_REVISION, ago=3 * HOUR)
    bad = world.deployment("legacy-app", "prod", BAD_REVISION, ago=HOUR, status="Failed")
    # WHEN the failure is notified
    detail = {
        "instanceGroupId": "ig-1",
        "region": "eu-west-1",
        "application": "legacy-app",
        "deploymentId": bad.id,
        "state": "FAILURE",
        "deploymentGroup": "prod",
    }
    message = _notify(door, detail, "CodeDeploy Deployment State-change Notification")
    # THEN its button rolls back to the good deployment, and works
    assert _button(message)["text"]["text"] == f"Roll back to {good.id}"
    _click(door, message)
    [created] = door.world.started("CreateDeployment")
    assert created["revision"] == S3_REVISION
    assert "[deploybot:" in created["description"]
    assert _refusals(door.slack) == []


def test_a_group_that_rolls_back_by_itself_offers_no_button(door: Door) -> None:
    world = door.world
    world.group("legacy-app", "prod", auto_rollback=True)
    world.deployment("legacy-app", "prod", S3_REVISION, ago=3 * HOUR)
    bad = world.deployment("legacy-app", "prod", BAD_REVISION, ago=HOUR, status="Failed")
    detail = {
        "application": "legacy-app",
        "deploymentId": bad.id,
        "state": "FAILURE",
        "deploymentGroup": "prod",
        "region": "eu-west-1",
        "instanceGroupId": "ig-1",
    }
    message = _notify(door, detail, "CodeDeploy Deployment State-change Notification")
    assert _buttons(message) == []


# --- defect 2: one rollback per environment ----------------------------------------------------


def test_one_rollback_per_pipeline_across_targets_and_messages(door: Door) -> None:
    # GIVEN two good executions, each with its own message
    world = door.world
    world.add(standard(PIPELINE))
    older = world.run(PIPELINE, OLDER, ago=5 * HOUR).id
    good = world.run(PIPELINE, GOOD, ago=3 * HOUR).id
    world.run(PIPELINE, BAD, ago=HOUR)
    first = _posted(door.slack, _success(good))
    second = _posted(door.slack, _success(older, sha=OLDER), ts="1700000000.000002")
    # WHEN one user rolls back to one, and another user to the other while it runs
    _click(door, first)
    _click(door, second, user="U0SECOND", action_ts="1700000150.000100")
    # THEN AWS saw one rollback, and the second click is told which one runs
    [_started] = world.started("StartPipelineExecution")
    [refusal] = _refusals(door.slack)
    assert "a rollback of production is running" in refusal
    assert "started by <@U0ALLOWED>" in refusal
    # WHEN that rollback has finished, the other target may be rolled back to
    running = world.executions[-1].id
    world.finish(running)
    _click(door, second, user="U0SECOND", action_ts="1700000300.000100")
    assert len(world.started("StartPipelineExecution")) == 2


# --- defects 3 and 4: unknown is not "did not start" ------------------------------------------


@pytest.mark.parametrize("fault", ["lose", "late"])
def test_a_lost_start_answer_is_resolved_by_reading_and_never_repeated(
    door: Door, fault: str
) -> None:
    # GIVEN AWS starts the execution but its answer never arrives (dropped, or too late)
    good, _ = _history(door.world)
    door.world.fail("StartPipelineExecution", fault)
    message = _posted(door.slack, _success(good))
    # WHEN the rollback is clicked
    _click(door, message)
    # THEN the thread says it started (read back from AWS), never that it did not
    text = _thread_text(door.slack)
    assert "did not start" not in text
    assert "started a rollback of *production*" in text
    assert "AWS's answer was lost" in text
    [started] = door.world.started("StartPipelineExecution")
    # AND the pipeline stays claimed: another click starts nothing
    _click(door, message, user="U0SECOND", action_ts="1700000200.000100")
    assert len(door.world.started("StartPipelineExecution")) == 1
    assert "a rollback of production is running" in _refusals(door.slack)[0]
    assert _claim(_where("pipeline", PIPELINE)).outcome == door.world.executions[-1].id
    assert started["clientRequestToken"]


def test_a_lost_start_whose_run_hides_its_revisions_is_resolved_by_its_token(door: Door) -> None:
    # GIVEN summaries that show no source revisions while the source stage runs (the reference
    # does not say when they appear), and a start whose answer is lost
    good, _ = _history(door.world)
    door.world.revisions_after_source = True
    door.world.fail("StartPipelineExecution", "lose")
    # WHEN the rollback is clicked: reading cannot recognise the run
    _click(door, _posted(door.slack, _success(good)))
    # THEN the same token is sent again, AWS answers with the run it started, and one runs
    sent = door.world.calls("StartPipelineExecution")
    assert len(sent) == 2
    token = sent[0]["clientRequestToken"]
    assert sent[1]["clientRequestToken"] == token
    assert len([e for e in door.world.executions if e.token == token]) == 1
    assert "started a rollback of *production*" in _thread_text(door.slack)


def test_another_click_waits_while_a_run_that_may_be_the_claims_hides_its_revisions(
    door: Door,
) -> None:
    # GIVEN a claim whose run died ten minutes ago, and a re-run AWS shows still in its source
    # stage, without revisions yet
    good, _ = _history(door.world)
    door.world.revisions_after_source = True
    _crashed_claim(good, 600)
    door.world.run(PIPELINE, GOOD, ago=590, running_at="Source", trigger="StartPipelineExecution")
    # WHEN someone else clicks
    _click(door, _posted(door.slack, _success(good)), user="U0SECOND")
    # THEN nothing starts: that run may be the claim's
    assert door.world.calls("StartPipelineExecution") == []
    assert "may still be starting" in _refusals(door.slack)[0]


def test_a_5xx_start_is_retried_with_the_same_token_after_reading(door: Door) -> None:
    # GIVEN AWS answers 500 without starting anything
    good, _ = _history(door.world)
    door.world.fail("StartPipelineExecution", "5xx")
    _click(door, _posted(door.slack, _success(good)))
    # THEN deploybot read AWS, found nothing, and sent it again with the same token
    sent = door.world.calls("StartPipelineExecution")
    assert len(sent) == 2
    assert sent[0]["clientRequestToken"] == sent[1]["clientRequestToken"]
    assert len(door.world.started("StartPipelineExecution")) == 1
    assert "started a rollback" in _thread_text(door.slack)


def test_a_lost_rollback_stage_answer_is_found_by_its_rollback_metadata(door: Door) -> None:
    world = door.world
    world.add(standard("api-prod"))
    good = world.run("api-prod", GOOD, ago=3 * HOUR).id
    world.run("api-prod", BAD, ago=HOUR)
    world.fail("RollbackStage", "late")
    message = _posted(door.slack, _success(good, pipeline="api-prod"))
    _click(door, message)
    text = _thread_text(door.slack)
    assert "started a rollback of *api-prod*" in text
    assert "did not start" not in text
    # AND a second click starts nothing (AWS would refuse: the stage runs)
    _click(door, message, user="U0SECOND", action_ts="1700000200.000100")
    assert len(world.started("RollbackStage")) == 1
    assert len(world.calls("RollbackStage")) == 1


def _legacy(door: Door, fault: str) -> dict[str, Any]:
    """legacy-app/prod: a good deployment, a newer bad one, the next CreateDeployment failing
    with `fault`. The good one's success message."""
    world = door.world
    world.group("legacy-app", "prod")
    good = world.deployment("legacy-app", "prod", S3_REVISION, ago=3 * HOUR)
    world.deployment("legacy-app", "prod", BAD_REVISION, ago=HOUR)
    world.fail("CreateDeployment", fault)
    return _posted(door.slack, _group_success(good.id))


def test_a_create_deployment_whose_answer_came_too_late_is_sent_once(door: Door) -> None:
    # GIVEN a deployment group, and CodeDeploy answering the write after the client gave up
    world = door.world
    message = _legacy(door, "late")
    # WHEN the rollback is clicked, and clicked again
    _click(door, message)
    _click(door, message, user="U0SECOND", action_ts="1700000200.000100")
    # THEN CodeDeploy received exactly one CreateDeployment (botocore did not retry it, and
    # deploybot read what it did instead of sending it again)
    assert len(world.calls("CreateDeployment")) == 1
    text = _thread_text(door.slack)
    assert "started a rollback of *legacy-app/prod*" in text
    assert "did not start" not in text
    assert "a rollback of legacy-app/prod is running" in _refusals(door.slack)[0]


def _group_success(deployment_id: str) -> Deployment:
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=Status.SUCCEEDED,
        region="eu-west-1",
        account=ACCOUNT,
        application="legacy-app",
        deployment_group="prod",
        deployment_id=deployment_id,
    )


def test_an_unknown_outcome_holds_the_group_until_reading_proves_nothing_started(
    door: Door,
) -> None:
    # GIVEN CodeDeploy answering 500 without creating anything
    world = door.world
    message = _legacy(door, "5xx")
    _click(door, message)
    # THEN the thread says it may have started (never "did not start"), with a Clear button
    [reply] = _thread(door.slack)
    assert "*may have started*" in reply["blocks"][0]["text"]["text"]
    assert "did not start" not in reply["text"]
    assert _button(reply, ids.ROLLBACK_CLEAR)
    assert _claim(_where("group", "legacy-app/prod")).state == "unknown"
    # WHEN someone clicks again at once: AWS shows nothing yet, which proves nothing yet
    _click(door, message, user="U0SECOND", action_ts="1700000200.000100")
    assert "may still be starting" in _refusals(door.slack)[-1]
    assert world.started("CreateDeployment") == []
    # WHEN a minute later AWS still shows nothing: it never started, the click goes ahead
    _age_claim(_where("group", "legacy-app/prod"), 90)
    _click(door, message, user="U0SECOND", action_ts="1700000300.000100")
    assert len(world.started("CreateDeployment")) == 1
    assert "started a rollback of *legacy-app/prod*" in _thread_text(door.slack)


# --- claims that outlive their run -------------------------------------------------------------


def _crashed_claim(
    target_id: str, ago: float, request: str = "U0ALLOWED:1699999000.000100"
) -> None:
    """A click's claim on web-prod, "sending" since `ago` seconds: its run died there."""
    from bot.domain.claims import Claim, dump_claim
    from bot.store import Record

    store = make_store(load_config())
    assert store is not None
    claim = Claim(
        action="rollback",
        user="U0ALLOWED",
        request=request,
        at=datetime.now(UTC).timestamp() - ago,
        token="0" * 64,
        subject=target_id,
        facts={"strategy": "pipeline", "sha": GOOD, "pin:Source": GOOD},
    )
    assert store.put(Record(claim_key(_where("pipeline", PIPELINE)), body=dump_claim(claim)))


def test_a_claim_left_by_a_run_that_died_before_sending_expires_and_frees_the_pipeline(
    door: Door,
) -> None:
    # GIVEN a click whose run died ten minutes ago between claiming and sending
    good, _ = _history(door.world)
    _crashed_claim(good, 600)
    # WHEN someone clicks: the claim counts as unknown, and AWS shows nothing it started
    _click(door, _posted(door.slack, _success(good)), user="U0SECOND")
    # THEN the rollback starts
    assert len(door.world.started("StartPipelineExecution")) == 1
    assert _refusals(door.slack) == []


def test_a_claim_left_by_a_run_that_died_after_sending_is_found_running(door: Door) -> None:
    # GIVEN a click whose run died after AWS started its execution (still running)
    good, _ = _history(door.world)
    _crashed_claim(good, 600)
    door.world.run(PIPELINE, GOOD, ago=590, running_at="Build", trigger="StartPipelineExecution")
    # WHEN someone clicks
    _click(door, _posted(door.slack, _success(good)), user="U0SECOND")
    # THEN reading AWS found that rollback, which still runs: nothing is sent
    assert door.world.writes == []
    assert "a rollback of production is running" in _refusals(door.slack)[0]
    assert _claim(_where("pipeline", PIPELINE)).state == "started"


def test_a_second_delivery_of_a_click_while_its_first_run_sends_sends_nothing(
    door: Door,
) -> None:
    # GIVEN the first run of a click claimed the pipeline a second ago and is sending
    good, _ = _history(door.world)
    message = _posted(door.slack, _success(good))
    _crashed_claim(good, 1, request="U0ALLOWED:1700000100.000100")
    # WHEN Lambda delivers the same lazy run again meanwhile (asynchronous invocations are
    # delivered at least once)
    _click(door, message)
    # THEN the second run leaves the click to the first: nothing sent, nothing said
    assert door.world.calls("StartPipelineExecution") == []
    assert _thread(door.slack) == []
    assert _refusals(door.slack) == []


def test_the_store_failing_after_the_start_still_tells_the_thread(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a store that takes the claim, then fails to record what AWS started
    from bot.store import StoreError

    good, _ = _history(door.world)
    message = _posted(door.slack, _success(good))
    store_class = type(make_store(load_config()))
    put = store_class.put

    def failing_put(self: Any, record: Any) -> bool:
        if record.key.startswith("claim#") and '"state":"sending"' not in record.body:
            raise StoreError("the table is gone")
        return put(self, record)

    monkeypatch.setattr(store_class, "put", failing_put)
    # WHEN the rollback is clicked
    _click(door, message)
    # THEN AWS started it once and the thread says so: never "nothing was started"
    assert len(door.world.started("StartPipelineExecution")) == 1
    assert "started a rollback of *production*" in _thread_text(door.slack)
    assert not any("nothing was started" in r for r in _refusals(door.slack))
    # AND the claim still holds the pipeline: the next click reads AWS and finds it running
    monkeypatch.setattr(store_class, "put", put)
    _click(door, message, user="U0SECOND", action_ts="1700000200.000100")
    assert len(door.world.started("StartPipelineExecution")) == 1


def test_clear_never_frees_a_rollback_that_reading_found_running(door: Door) -> None:
    # GIVEN a click whose outcome was unknown, so its reply offered Clear; and its rollback,
    # which AWS shows only now, still running
    from blocks.rollback import clear_button

    good, _ = _history(door.world)
    _crashed_claim(good, 600)
    door.world.run(PIPELINE, GOOD, ago=590, running_at="Build", trigger="StartPipelineExecution")
    clear = clear_button(_where("pipeline", PIPELINE), "U0ALLOWED:1699999000.000100")
    reply = {
        "ts": "1700000050.000001",
        "text": "may have started",
        "blocks": [{"type": "actions", "elements": [clear]}],
    }
    # WHEN another click reads AWS and finds it: the claim now records what started
    _click(door, _posted(door.slack, _success(good)), user="U0SECOND")
    assert _claim(_where("pipeline", PIPELINE)).state == "started"
    # THEN the old reply's Clear button no longer frees the pipeline
    _click(door, reply, action_id=ids.ROLLBACK_CLEAR, user="U0SECOND", action_ts="17.2")
    assert _claim(_where("pipeline", PIPELINE)).state == "started"
    assert "AWS shows what it started" in _refusals(door.slack)[-1]
    assert door.world.writes == []


def test_an_authorized_user_can_clear_a_claim_aws_cannot_resolve(door: Door) -> None:
    world = door.world
    message = _legacy(door, "5xx")
    _click(door, message)
    [reply] = _thread(door.slack)
    reply = {**reply, "ts": door.slack.messages[CHANNEL][-1]["ts"]}
    # WHEN a stranger presses Clear: refused, the claim stays
    _click(door, reply, action_id=ids.ROLLBACK_CLEAR, user="U0STRANGER", action_ts="17.1")
    assert _claim(_where("group", "legacy-app/prod")).state == "unknown"
    # WHEN an allowed user does, having checked the console
    _click(door, reply, action_id=ids.ROLLBACK_CLEAR, user="U0SECOND", action_ts="17.2")
    assert _claim(_where("group", "legacy-app/prod")).state == "released"
    assert "<@U0SECOND> cleared the claim" in _thread_text(door.slack)
    # THEN the next Roll back click starts at once
    _click(door, message, user="U0SECOND", action_ts="1700000300.000100")
    assert len(world.started("CreateDeployment")) == 1


# --- it sticks: freeze and unfreeze -------------------------------------------------------------


def _api_prod(world: World) -> str:
    world.add(standard("api-prod"))
    good = world.run("api-prod", GOOD, ago=3 * HOUR).id
    world.run("api-prod", BAD, ago=HOUR)
    return good


def test_a_stage_rollback_freezes_the_deploy_stage_and_unfreezes_from_the_thread(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    good = _api_prod(door.world)
    message = _posted(door.slack, _success(good, pipeline="api-prod"))
    assert "Then freezes Deploy" in _button(message)["confirm"]["text"]["text"]
    # WHEN the stage is rolled back
    _click(door, message)
    # THEN RollbackStage ran once, then the transition into Deploy was disabled once
    [rolled] = door.world.started("RollbackStage")
    assert rolled == {
        "pipelineName": "api-prod",
        "stageName": "Deploy",
        "targetPipelineExecutionId": good,
    }
    [frozen] = door.world.started("DisableStageTransition")
    assert frozen["transitionType"] == "Inbound"
    assert "U0ALLOWED" in frozen["reason"] and len(frozen["reason"]) <= 300
    _audit, freeze = _thread(door.slack)
    assert ":lock: Deploy of api-prod is frozen" in freeze["text"]
    assert freeze["blocks"] == snapshot_json
    # WHEN a stranger presses Unfreeze: nothing changes
    freeze = {**freeze, "ts": door.slack.messages[CHANNEL][-1]["ts"]}
    _click(door, freeze, action_id=ids.ROLLBACK_UNFREEZE, user="U0STRANGER", action_ts="18.1")
    assert door.world.started("EnableStageTransition") == []
    # WHEN an allowed user does
    _click(door, freeze, action_id=ids.ROLLBACK_UNFREEZE, user="U0SECOND", action_ts="18.2")
    [opened] = door.world.started("EnableStageTransition")
    assert opened == {
        "pipelineName": "api-prod",
        "stageName": "Deploy",
        "transitionType": "Inbound",
    }
    assert door.world.pipelines["api-prod"].transitions["Deploy"]["enabled"] is True
    assert "<@U0SECOND> unfroze Deploy of api-prod" in _thread_text(door.slack)


def test_a_lost_freeze_answer_is_read_back(door: Door) -> None:
    good = _api_prod(door.world)
    door.world.fail("DisableStageTransition", "lose")
    _click(door, _posted(door.slack, _success(good, pipeline="api-prod")))
    assert len(door.world.started("DisableStageTransition")) == 1
    assert ":lock: Deploy of api-prod is frozen" in _thread_text(door.slack)


def test_a_lost_unfreeze_answer_is_read_back_and_a_second_press_sends_nothing(
    door: Door,
) -> None:
    good = _api_prod(door.world)
    _click(door, _posted(door.slack, _success(good, pipeline="api-prod")))
    freeze = {**_thread(door.slack)[-1], "ts": door.slack.messages[CHANNEL][-1]["ts"]}
    door.world.fail("EnableStageTransition", "lose")
    # WHEN Unfreeze is pressed, its answer is lost, and it is pressed again
    _click(door, freeze, action_id=ids.ROLLBACK_UNFREEZE, action_ts="19.1")
    _click(door, freeze, action_id=ids.ROLLBACK_UNFREEZE, user="U0SECOND", action_ts="19.2")
    # THEN the thread says it is open (read back), and the second press sent nothing
    assert len(door.world.calls("EnableStageTransition")) == 1
    assert "<@U0ALLOWED> unfroze Deploy of api-prod" in _thread_text(door.slack)
    assert "is not frozen" in _refusals(door.slack)[-1]


def test_rollback_stage_refused_by_aws_says_why_in_the_thread(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN a stage that runs right now: AWS refuses to roll it back
    good = _api_prod(door.world)
    door.world.run("api-prod", BAD, ago=30, running_at="Deploy")
    message = _posted(door.slack, _success(good, pipeline="api-prod"))
    _click(door, message)
    [reply] = _thread(door.slack)
    text = reply["blocks"][0]["text"]["text"]
    assert "UnableToRollbackStageException from codepipeline:RollbackStage" in text
    assert "the stage is currently running" in text
    assert reply == snapshot_json(exclude=lambda prop, path: prop in ("_ok", "channel"))
    # AND the pipeline is free again: a later click may try again
    assert _claim(_where("pipeline", "api-prod")).state == "failed"


# --- what people see afterwards -----------------------------------------------------------------


def test_a_codedeploy_appspec_revision_is_fetched_then_redeployed(door: Door) -> None:
    world = door.world
    world.group("legacy-app", "prod")
    appspec = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "ab" * 32}}
    good = world.deployment("legacy-app", "prod", appspec, ago=3 * HOUR)
    world.deployment("legacy-app", "prod", BAD_REVISION, ago=HOUR)
    message = _posted(door.slack, _group_success(good.id))
    assert _button(message)["text"]["text"] == "Roll back to this"
    _click(door, message)
    [created] = world.started("CreateDeployment")
    assert created["revision"]["appSpecContent"]["content"] == "version: 0.0\nResources: []\n"
    assert "GetApplicationRevision" in door.calls()
    assert "started a rollback of *legacy-app/prod*" in _thread_text(door.slack)


def test_refusals_reach_the_clicker_after_the_response_url_expired(door: Door) -> None:
    # GIVEN a lazy run late enough that the interaction's response_url no longer works
    door.world.add(standard(PIPELINE))
    live = door.world.run(PIPELINE, GOOD, ago=HOUR).id
    door.slack.response_urls_expired = True
    _click(door, _posted(door.slack, _success(live)))
    # THEN the refusal still reaches the clicker, through chat.postEphemeral
    [ephemeral] = door.slack.calls_to("chat.postEphemeral")
    assert ephemeral["user"] == "U0ALLOWED"
    assert "runs already" in ephemeral["text"]


def test_the_rollbacks_own_notification_says_whose_rollback_it_is(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN a rollback started from Slack
    good, _ = _history(door.world)
    _click(door, _posted(door.slack, _success(good)))
    new = door.world.executions[-1].id
    # WHEN the execution it started is notified
    config = load_config()
    store = make_store(config)
    assert store is not None
    finished = replace(_success(new), started_at=datetime(2026, 9, 6, 11, 0, tzinfo=UTC))
    config = replace(config, slack_bot_token=TOKEN, default_channel=CHANNEL)
    deliver_events([finished], config, WebApiPoster(make_web_client(config)), store)
    # THEN its message says it was a rollback, by whom, to which commit
    post = door.slack.posts[-1]
    assert post["metadata"]["event_payload"]["execution_id"] == new
    rollback = post["blocks"][2]["text"]["text"]
    assert rollback == (
        f":rewind: *Rollback* of production to `{GOOD[:7]}`, started from Slack by <@U0ALLOWED>"
    )
    assert rollback == snapshot_json


# --- lazy runs after Slack's windows -------------------------------------------------------------


def test_a_lazy_run_too_late_to_act_on_starts_nothing_and_says_so(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a click whose lazy run Lambda delivers 400 s later: past Slack's signature window
    good, _ = _history(door.world)
    [lazy] = _click(door, _posted(door.slack, _success(good)), replay=False)
    later(monkeypatch, 400)
    # WHEN it runs
    assert handler(lazy, LambdaContext())["statusCode"] == 200
    # THEN nothing changes in AWS, and the clicker is told (not a silent 401)
    assert door.world.writes == []
    [refusal] = _refusals(door.slack)
    assert "after Slack's 5-minute window, so nothing was started" in refusal


def test_a_late_lazy_run_reports_what_an_earlier_run_of_the_click_started(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a click whose first lazy run sent the start and died before recording it
    good, _ = _history(door.world)
    [lazy] = _click(door, _posted(door.slack, _success(good)), replay=False)
    _crashed_claim(good, 10, request="U0ALLOWED:1700000100.000100")
    door.world.run(PIPELINE, GOOD, ago=5, running_at="Build", trigger="StartPipelineExecution")
    # WHEN Lambda retries it 31 minutes later: the response_url has expired too
    door.slack.response_urls_expired = True
    later(monkeypatch, 31 * 60)
    assert handler(lazy, LambdaContext())["statusCode"] == 200
    # THEN nothing is sent again, and the thread says what the click started
    assert door.world.writes == []
    assert "started a rollback of *production*" in _thread_text(door.slack)
    assert _claim(_where("pipeline", PIPELINE)).state == "started"


def test_a_stale_click_replayed_through_the_function_url_is_refused(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a captured lazy invocation, replayed later through the Function URL (AWS stamps
    # the arrival time)
    good, _ = _history(door.world)
    [lazy] = _click(door, _posted(door.slack, _success(good)), replay=False)
    later(monkeypatch, 400)
    replayed = copy.deepcopy(lazy)
    replayed["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    # THEN Bolt refuses it, and nothing happens
    assert handler(replayed, LambdaContext())["statusCode"] == 401
    assert door.world.writes == []
    assert _refusals(door.slack) == [] and _thread(door.slack) == []


def test_an_undecodable_late_body_is_not_taken_for_a_late_run(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a lazy-looking request past the window whose base64 body is not base64 (or UTF-8)
    good, _ = _history(door.world)
    [lazy] = _click(door, _posted(door.slack, _success(good)), replay=False)
    later(monkeypatch, 400)
    config = load_config(door.config)
    for junk in ("%%%not-base64%%%", base64.b64encode(b"\xff\xfe").decode()):
        forged = {**copy.deepcopy(lazy), "body": junk, "isBase64Encoded": True}
        # WHEN the late-run check sees it, THEN it is left to Bolt (no crash, nothing done)
        assert handle_late_lazy_run(forged, config) is None
    assert door.world.writes == []
