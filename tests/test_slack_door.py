"""End to end through `bot.lambda_function.handler`: signed Function URL requests from Slack,
the lazy re-invocation replayed from the local Lambda stand-in, AWS checked with Stubber, and
answers arriving at the fake Slack's response_url."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from blocks import ids
from bot.lambda_function import handler
from tests import aws_responses as r
from tests.aws_responses import Aws
from tests.blockkit import violations
from tests.conftest import load_sample
from tests.fake_aws import FakeAws
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack
from tests.slack_requests import (
    FUNCTION_ARN,
    LambdaContext,
    block_actions,
    function_url_event,
    slash_command,
)


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, LambdaContext())


def _replay_lazy(fake_lambda: FakeLambda) -> None:
    """Do what AWS does with Bolt's asynchronous invoke: run the function on its payload."""
    for invocation in fake_lambda.invocations:
        assert _invoke(invocation.payload)["statusCode"] == 200


def _work(fake_slack: FakeSlack) -> list[str]:
    """The Slack calls made, besides learning the workspace (auth.test, once per container)."""
    return [call.method for call in fake_slack.calls if call.method != "auth.test"]


def _answers(fake_slack: FakeSlack) -> list[dict[str, Any]]:
    answers = [dict(a) for a in fake_slack.calls_to("response_url")]
    for answer in answers:
        assert answer.pop("_ok") is True
    return answers


def _overview_answers() -> dict[str, Any]:
    """Two pipelines (one deploys a CodeDeploy group), and a group no pipeline deploys to."""
    source_only = copy.deepcopy(r.demo_pipeline())
    source_only["pipeline"].update(name=r.PIPELINE, stages=source_only["pipeline"]["stages"][:1])
    summaries = r.as_wire(r.executions())["pipelineExecutionSummaries"]
    latest = {r.PIPELINE: summaries[:1], r.DEMO_PIPELINE: summaries[1:2]}
    definitions = {r.PIPELINE: source_only, r.DEMO_PIPELINE: r.demo_pipeline()}
    groups = {"CodePipelineDemoApplication": ["CodePipelineDemoFleet"], "legacy-app": ["prod"]}
    infos = {
        "legacy-app": r.as_wire(r.group_infos()),
        "CodePipelineDemoApplication": {
            "deploymentGroupsInfo": [
                {
                    "applicationName": "CodePipelineDemoApplication",
                    "deploymentGroupName": "CodePipelineDemoFleet",
                }
            ]
        },
    }
    return {
        "ListPipelines": {"pipelines": [{"name": r.PIPELINE}, {"name": r.DEMO_PIPELINE}]},
        "ListPipelineExecutions": lambda p: {
            "pipelineExecutionSummaries": latest[p["pipelineName"]]
        },
        "GetPipeline": lambda p: definitions[p["name"]],
        "ListApplications": {"applications": list(groups)},
        "ListDeploymentGroups": lambda p: {"deploymentGroups": groups[p["applicationName"]]},
        "BatchGetDeploymentGroups": lambda p: infos[p["applicationName"]],
    }


@pytest.fixture
def fake_aws(aws_env: FakeLambda, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """CodePipeline and CodeDeploy over HTTP on loopback: answers in any order, like AWS."""
    fake = FakeAws.start(_overview_answers())
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", fake.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", fake.url)
    yield fake
    fake.close()


def test_overview_is_acked_at_once_then_answered_privately(
    fake_aws: FakeAws, aws_env: FakeLambda, slack_env: FakeSlack, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN two pipelines, one CodeDeploy group that a pipeline covers and one that none does,
    # and a ledger that has seen none of them
    response_url = f"{slack_env.url}/commands/T000/1/secret"
    # WHEN Slack sends a signed `/deploy-status`
    ack = _invoke(function_url_event(slash_command("", response_url)))
    # THEN the ack says it is looking, and no AWS call or Slack post happened yet: only the
    # workspace was learned (auth.test, once per container, no [slack] team_id configured)
    assert ack["statusCode"] == 200
    assert json.loads(ack["body"]) == {
        "text": ":mag: Looking up every pipeline…",
        "response_type": "ephemeral",
    }
    assert fake_aws.calls == []
    assert [call.method for call in slack_env.calls] == ["auth.test"]
    # AND the slow part was handed to an asynchronous invocation of this same function
    [invocation] = aws_env.invocations
    assert invocation.function == FUNCTION_ARN
    assert invocation.invocation_type == "Event"
    assert invocation.payload["headers"]["x-slack-bolt-lazy-only"] == "1"
    # WHEN AWS runs that invocation
    _replay_lazy(aws_env)
    # THEN the private answer shows both pipelines, read from AWS (nothing was in the ledger)
    [first] = _answers(slack_env)
    assert first["response_type"] == "ephemeral"
    assert violations(first) == []
    assert "MyFirstPipeline" in json.dumps(first) and "SentinelAwsMonitorCI" in json.dumps(first)
    # AND after answering, the same invocation read what the ledger lacked: definitions, groups
    assert sorted(fake_aws.operations()) == [
        "BatchGetDeploymentGroups",
        "BatchGetDeploymentGroups",
        "GetPipeline",
        "GetPipeline",
        "ListApplications",
        "ListDeploymentGroups",
        "ListDeploymentGroups",
        "ListPipelineExecutions",
        "ListPipelineExecutions",
        "ListPipelines",
    ]
    # WHEN someone asks again a moment later
    fake_aws.calls.clear()
    aws_env.invocations.clear()
    slack_env.calls.clear()
    _invoke(function_url_event(slash_command("", response_url)))
    _replay_lazy(aws_env)
    # THEN the answer comes from the ledger alone, with the group no pipeline deploys to
    assert fake_aws.calls == []
    [answer] = _answers(slack_env)
    assert violations(answer) == []
    assert answer == snapshot_json
    # AND the lazy invocations (the same warm container) did not ask auth.test again
    assert slack_env.calls_to("auth.test") == []


def test_a_pipeline_name_answers_its_stages_and_history(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN a pipeline whose stages hold a failed execution
    stubs.pipeline.add_response(
        "list_pipelines", {"pipelines": [{"name": r.PIPELINE}]}, {"maxResults": 1000}
    )
    stubs.pipeline.add_response("get_pipeline_state", r.pipeline_state(), {"name": r.PIPELINE})
    stubs.pipeline.add_response(
        "list_pipeline_executions", r.executions(), {"pipelineName": r.PIPELINE, "maxResults": 5}
    )
    # WHEN someone asks for it by name, in lower case
    event = function_url_event(slash_command("sentinelawsmonitorci", f"{slack_env.url}/r/1"))
    assert _invoke(event)["statusCode"] == 200
    _replay_lazy(aws_env)
    # THEN the answer details it, with the Share button carrying the query
    stubs.done()
    [answer] = _answers(slack_env)
    assert violations(answer) == []
    assert answer["blocks"][-1]["elements"][0]["value"] == "sentinelawsmonitorci"
    assert answer == snapshot_json


def test_an_unknown_name_answers_with_the_closest_ones(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN one pipeline and one CodeDeploy application
    stubs.pipeline.add_response(
        "list_pipelines", {"pipelines": [{"name": r.PIPELINE}]}, {"maxResults": 1000}
    )
    stubs.deploy.add_response("list_applications", {"applications": ["legacy-app"]}, {})
    stubs.deploy.add_response(
        "list_deployment_groups", {"deploymentGroups": ["prod"]}, {"applicationName": "legacy-app"}
    )
    # WHEN someone mistypes the pipeline's name
    _invoke(function_url_event(slash_command("SentinelAwsMonitorCl", f"{slack_env.url}/r/1")))
    _replay_lazy(aws_env)
    # THEN the answer offers the real name and no Share button
    stubs.done()
    [answer] = _answers(slack_env)
    assert "Did you mean `SentinelAwsMonitorCI`?" in answer["text"]
    assert all(b["type"] != "actions" for b in answer["blocks"])


def test_access_denied_says_which_iam_action_to_grant(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN a role without codepipeline:ListPipelines
    stubs.pipeline.add_client_error(
        "list_pipelines",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:sts::123456789012:assumed-role/deploybot/x is not "
        "authorized to perform: codepipeline:ListPipelines",
        http_status_code=400,
    )
    # WHEN someone asks for the overview
    _invoke(function_url_event(slash_command("", f"{slack_env.url}/r/1")))
    _replay_lazy(aws_env)
    # THEN the answer says AWS denied it and what to grant, instead of staying silent
    stubs.done()
    [answer] = _answers(slack_env)
    text = answer["blocks"][0]["text"]["text"]
    assert "AWS denied `codepipeline:ListPipelines`" in text
    assert "Grant `codepipeline:ListPipelines`" in text


def test_help_is_answered_in_the_ack_without_aws(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # WHEN someone asks for help
    ack = _invoke(function_url_event(slash_command("help", f"{slack_env.url}/r/1")))
    # THEN the usage comes back in the HTTP response, with nothing run lazily
    body = json.loads(ack["body"])
    assert body["response_type"] == "ephemeral"
    assert "`/deploy-status NAME`" in body["blocks"][0]["text"]["text"]
    assert aws_env.invocations == []
    assert stubs.calls == []


def test_log_lines_name_the_slack_request(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    from bot import logs

    # WHEN a slash command arrives
    _invoke(function_url_event(slash_command("help", f"{slack_env.url}/r/1")))
    # THEN every log line of this invocation carries the Slack request's ids
    keys = logs._formatter.get_current_keys()
    assert keys["slack_team"] == "T000"
    assert keys["slack_user"] == "U0DEVELOP"
    assert keys["slack_trigger_id"] == "1.2.3"
    assert keys["slack_command"] == "/deploy-status"


def test_the_bolt_app_is_built_once_per_container(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    from bot import lambda_function

    # WHEN two requests reach the same warm container
    for _ in range(2):
        _invoke(function_url_event(slash_command("help", f"{slack_env.url}/r/1")))
    # THEN the app and its handler were built for the first one only
    assert lambda_function._slack_handler.cache_info().misses == 1
    assert lambda_function._slack_handler.cache_info().hits == 1


def test_share_posts_a_fresh_answer_for_everyone_and_drops_the_private_one(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN the private answer's Share button, for one pipeline
    stubs.pipeline.add_response(
        "list_pipelines", {"pipelines": [{"name": r.PIPELINE}]}, {"maxResults": 1000}
    )
    stubs.pipeline.add_response("get_pipeline_state", r.pipeline_state(), {"name": r.PIPELINE})
    stubs.pipeline.add_response(
        "list_pipeline_executions", r.executions(), {"pipelineName": r.PIPELINE, "maxResults": 5}
    )
    body = block_actions(
        ids.SHARE_STATUS, f"{slack_env.url}/actions/1", value=r.PIPELINE, user_id="U0SHARER"
    )
    # WHEN it is clicked
    ack = _invoke(function_url_event(body))
    # THEN the click is acked at once and the lookup runs in the lazy invocation
    assert ack["statusCode"] == 200
    assert stubs.calls == []
    _replay_lazy(aws_env)
    stubs.done()
    # AND the answer is posted in the channel, marked as shared, then the private copy deleted
    shared, deleted = _answers(slack_env)
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    assert (
        shared["blocks"][-1]["elements"][0]["text"] == "Shared by <@U0SHARER> with `/deploy-status`"
    )
    assert violations(shared) == []
    assert deleted["delete_original"] is True


@pytest.mark.parametrize(
    "action_id",
    [ids.LINK_COMMIT, ids.LINK_BRANCH, ids.LINK_SITE, ids.LINK_CONSOLE, ids.LINK_DETAILS],
)
def test_link_buttons_are_acknowledged(
    action_id: str, stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # WHEN a link button is clicked
    ack = _invoke(function_url_event(block_actions(action_id, f"{slack_env.url}/r/1")))
    # THEN Slack gets a 200 (no warning icon) and nothing else happens
    assert ack["statusCode"] == 200
    assert aws_env.invocations == []
    assert _work(slack_env) == []


def _tampered() -> dict[str, Any]:
    event = function_url_event(slash_command("", "http://127.0.0.1:1/r"), encode=False)
    event["body"] = event["body"].replace("text=", "text=prod")
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            lambda: function_url_event(slash_command("", "http://x/r"), secret=None), id="unsigned"
        ),
        pytest.param(
            lambda: function_url_event(slash_command("", "http://x/r"), secret="wrong"),
            id="wrong-secret",
        ),
        pytest.param(
            lambda: function_url_event(
                slash_command("", "http://x/r"), timestamp=int(time.time()) - 301
            ),
            id="stale",
        ),
        pytest.param(_tampered, id="tampered"),
    ],
)
def test_requests_not_signed_by_slack_get_401(
    event: Any, stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN a request that Slack did not sign, signed too long ago, or changed after signing
    # WHEN it reaches the function
    response = _invoke(event())
    # THEN it is refused, with no AWS call, no lazy invocation and no Slack post
    assert response["statusCode"] == 401
    assert stubs.calls == []
    assert aws_env.invocations == []
    assert _work(slack_env) == []


def test_a_retried_events_api_request_is_acked_without_work(
    stubs: Aws, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN an Events API delivery that Slack retries after a timeout
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T000",
            "api_app_id": "A0DEPLOYBOT",
            "event": {"type": "app_mention", "user": "U0DEVELOP", "text": "hi", "ts": "1.2"},
            "event_id": "Ev000001",
            "event_time": 1700000000,
        }
    )
    retry = {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    event = function_url_event(body, content_type="application/json", headers=retry)
    # WHEN it arrives
    response = _invoke(event)
    # THEN it gets a 200 and runs nothing
    assert response["statusCode"] == 200
    assert aws_env.invocations == []
    assert _work(slack_env) == []
    # AND a retry that is not signed is still refused
    event["headers"]["x-slack-signature"] = "v0=" + "0" * 64
    assert _invoke(event)["statusCode"] == 401


def test_aws_notifications_still_take_the_notification_door(
    aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN a CodeDeploy trigger delivered by SNS
    event = load_sample("codedeploy-trigger-failure.json")
    # WHEN the function receives it
    result = _invoke(event)
    # THEN it is posted with chat.postMessage (its failure reply in the thread), Bolt never saw it
    assert result == {"posted": 1, "skipped": 0}
    assert [p.get("thread_ts") is None for p in slack_env.posts] == [True, False]
    assert aws_env.invocations == []


def test_without_a_signing_secret_the_slack_door_stays_shut(
    monkeypatch: pytest.MonkeyPatch, aws_env: FakeLambda, slack_env: FakeSlack
) -> None:
    # GIVEN a deployment that forgot SLACK_SIGNING_SECRET
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    # WHEN a signed request arrives
    response = _invoke(function_url_event(slash_command("", f"{slack_env.url}/r")))
    # THEN the function says the door is not configured and does nothing
    assert response == {"statusCode": 500, "body": "deploybot: the Slack door is not configured"}
    assert aws_env.invocations == []
    assert _work(slack_env) == []


def test_next_replaces_the_private_answer_with_the_following_page(
    fake_aws: FakeAws,
    aws_env: FakeLambda,
    slack_env: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # GIVEN an overview one pipeline a page long (config), so the first answer has a Next button
    path = tmp_path / "deploybot.toml"
    path.write_text("[status]\npage_size = 1\n")
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(path))
    response_url = f"{slack_env.url}/commands/T000/1/secret"
    _invoke(function_url_event(slash_command("", response_url)))
    _replay_lazy(aws_env)
    [first] = _answers(slack_env)
    [actions] = [b for b in first["blocks"] if b["type"] == "actions"]
    next_button = actions["elements"][-1]
    assert next_button["action_id"] == ids.STATUS_NEXT
    # WHEN it is clicked
    aws_env.invocations.clear()
    slack_env.calls.clear()
    click = block_actions(ids.STATUS_NEXT, f"{slack_env.url}/actions/2", value=next_button["value"])
    ack = _invoke(function_url_event(click))
    assert ack["statusCode"] == 200
    _replay_lazy(aws_env)
    # THEN the private answer is replaced by the second page, which is the last
    [second] = _answers(slack_env)
    assert second["replace_original"] is True and second["response_type"] == "ephemeral"
    assert violations(second) == []
    text = json.dumps(second, ensure_ascii=False)
    assert "Pipelines 2–2 of 2" in text
    assert second["text"] == "Deployments: 1 of 2 pipelines"
    assert ids.STATUS_NEXT not in text
