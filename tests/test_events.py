"""Parsing real payloads into the domain model."""

from __future__ import annotations

import json
import locale
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.coerce import parse_time
from bot.domain.events import ParseError, is_aws_notification, parse_payload, parse_text
from bot.domain.model import Scope, Source, Status
from tests.conftest import SAMPLE_FILES, load_sample


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_parses(path: Any) -> None:
    events = parse_text(path.read_text(encoding="utf-8"))
    assert events
    for event in events:
        assert event.scope is Scope.GENERIC or event.pipeline or event.deployment_id


def test_codedeploy_trigger_double_encoded_fields() -> None:
    # GIVEN a real trigger whose overview and error are JSON strings inside a JSON string
    [event] = parse_payload(load_sample("codedeploy-trigger-failure.json"))
    # THEN both layers are decoded
    assert event.source is Source.CODEDEPLOY
    assert event.scope is Scope.DEPLOYMENT
    assert event.status is Status.FAILED
    assert event.application == "temporary-status"
    assert event.deployment_group == "temporary-status-deployment"
    assert event.deployment_id == "d-MainDeployment"
    assert event.instances is not None and event.instances.succeeded == 1
    assert event.error is not None and event.error.code == "ECS_UPDATE_ERROR"
    assert event.rollback is None  # "{}" means no rollback
    assert event.event_id == "d29fdec1-9819-5ac0-b9c2-8502bc0284e5"
    assert event.started_at == datetime(2022, 10, 14, 8, 38, 46, tzinfo=UTC)
    assert event.duration_seconds == 452


def test_codedeploy_docs_trigger_with_objects_and_epoch_strings() -> None:
    [event] = parse_payload(load_sample("codedeploy-trigger-docs-deployment.json"))
    assert event.status is Status.FAILED  # "Failed" in the docs
    assert event.instances is not None and event.instances.failed == 10  # "10" as a string
    assert event.error is not None and event.error.code == "IAM_ROLE_MISSING"
    assert event.started_at == datetime.fromtimestamp(1446744188.595, tz=UTC)


def test_complete_time_null_means_no_duration() -> None:
    [event] = parse_payload(load_sample("codedeploy-trigger-succeeded-lyssna.json"))
    assert event.finished_at is None
    assert event.duration_seconds is None


def test_instance_trigger() -> None:
    [event] = parse_payload(load_sample("codedeploy-trigger-docs-instance.json"))
    assert event.scope is Scope.INSTANCE
    assert event.instance_id == "i-496589f7"
    assert [e.name for e in event.lifecycle_events] == ["ApplicationStop", "BeforeInstall"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("CREATED", Status.CREATED),
        ("in_progress", Status.IN_PROGRESS),
        ("InProgress", Status.IN_PROGRESS),
        ("Succeeded", Status.SUCCEEDED),
        ("STOPPED", Status.STOPPED),
        ("READY", Status.READY),
        ("unknown", Status.UNKNOWN),
        ("SomethingNew", Status.UNKNOWN),
    ],
)
def test_trigger_status_any_case(raw: str, status: Status) -> None:
    message = {"deploymentId": "d-1", "applicationName": "app", "status": raw}
    [event] = parse_payload(message)
    assert event.status is status
    assert event.raw_status == raw


def test_all_lambda_records_are_parsed() -> None:
    # GIVEN a Lambda event with two SNS records
    first = load_sample("codedeploy-trigger-failure.json")["Records"][0]
    second = load_sample("codedeploy-trigger-succeeded-lyssna.json")["Records"][0]
    events = parse_payload({"Records": [first, second]})
    # THEN both become events, in order
    assert [e.deployment_id for e in events] == ["d-MainDeployment", "d-KMJOV59NE"]


def test_sns_http_body_and_bare_message_agree() -> None:
    record = load_sample("codedeploy-trigger-failure.json")["Records"][0]["Sns"]
    http_body = {**record, "SigningCertURL": "https://sns", "UnsubscribeURL": "https://sns"}
    [from_http] = parse_payload(http_body)
    [from_message] = parse_payload(json.loads(record["Message"]))
    assert from_http.deployment_id == from_message.deployment_id == "d-MainDeployment"
    assert from_http.event_id == record["MessageId"]


def test_codepipeline_execution_trigger_commit() -> None:
    [event] = parse_payload(load_sample("codepipeline-notification-execution-failed-github.json"))
    assert event.scope is Scope.PIPELINE
    assert event.commit is not None
    assert event.commit.sha == "abcdefg"
    assert event.commit.title == "Commit notes"
    assert event.commit.author == "Github User"
    assert event.commit.branch == "main"
    assert event.commit.commit_url == "https://github.com/my-org/my-repo/commit/abcdefg"
    assert event.commit.branch_url == "https://github.com/my-org/my-repo/tree/main"


def test_codestar_source_action_summary_is_json() -> None:
    name = "codepipeline-notification-action-source-succeeded-github.json"
    [event] = parse_payload(load_sample(name))
    assert event.commit is not None
    assert event.commit.title == (
        "The example pipeline now also creates the notification rules expected by"
    )
    assert event.commit.body == "the pipeline monitor."
    assert event.commit.repository == "quicken/aws-code-pipeline-monitor"


def test_codedeploy_action_links_to_deployment() -> None:
    [event] = parse_payload(load_sample("codepipeline-notification-action-codedeploy-failed.json"))
    assert event.scope is Scope.ACTION
    assert event.deployment_id == "d-C3XYEM1QF"
    assert event.error is not None and event.error.code == "JobFailed"


def test_failed_actions_from_additional_attributes() -> None:
    [event] = parse_payload(load_sample("codepipeline-notification-docs-execution-failed.json"))
    assert event.failed_stage == "Deploy"
    assert [a.action for a in event.failed_actions] == ["Deploy"]


def test_stage_source_actions_give_commit() -> None:
    name = "codepipeline-notification-docs-stage-started-sourceactions.json"
    [event] = parse_payload(load_sample(name))
    assert event.commit is not None
    assert event.commit.branch == "main"
    assert event.commit.repository == "my-repo"


def test_eventbridge_codedeploy() -> None:
    [event] = parse_payload(load_sample("eventbridge-codedeploy-deployment-state-change.json"))
    assert event.source is Source.CODEDEPLOY
    assert event.status is Status.SUCCEEDED  # "SUCCESS"
    assert event.event_id == "c071bfbf-83c4-49ca-a6ff-3df053957145"
    assert event.deployment_group == "myDeploymentGroup"


def test_eventbridge_wrapped_in_sns_is_recognised() -> None:
    inner = load_sample("eventbridge-codepipeline-execution-failed.json")
    sns = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t"}
    [event] = parse_payload({**sns, "Message": json.dumps(inner)})
    assert event.scope is Scope.PIPELINE
    assert event.status is Status.FAILED
    assert event.event_id == "m-1"


def test_unknown_sns_message_becomes_generic_not_dropped() -> None:
    [event] = parse_payload(load_sample("sns-lambda-event-lambda-go.json"))
    assert event.scope is Scope.GENERIC
    assert event.subject == "TestInvoke"
    assert event.summary == "Hello from SNS!"


def test_flow_array_keeps_order() -> None:
    events = parse_payload(load_sample("codepipeline-notification-flow-success.json"))
    assert events[0].scope is Scope.PIPELINE and events[0].status is Status.STARTED
    assert events[-1].scope is Scope.STAGE and events[-1].status is Status.SUCCEEDED


def test_manual_approval_legacy() -> None:
    [event] = parse_payload(load_sample("codepipeline-manual-approval-sns-legacy.json"))
    assert event.scope is Scope.APPROVAL
    assert event.pipeline == "MyFirstPipeline"
    # THEN the token is kept for PutApprovalResult, and the review link that carries it is not
    assert event.approval is not None
    assert event.approval.token == "1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN"
    assert event.external_url == ""
    assert event.approval.external_link == "http://example.com"
    assert event.approval.expires_at == datetime(2016, 7, 7, 20, 22, tzinfo=UTC)
    assert event.approval.custom_data.startswith("Review the latest changes")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not json", "not valid JSON"),
        ("[]", "empty JSON array"),
        ("42", "expected a JSON object"),
        ('{"hello": "world"}', "not a recognised AWS notification"),
        ('{"Records": [{"foo": 1}]}', "no 'Sns' object"),
    ],
)
def test_bad_input_raises_parse_error_naming_the_problem(text: str, error: str) -> None:
    with pytest.raises(ParseError, match=error):
        parse_text(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Thu Oct 13 15:50:45 UTC 2022", datetime(2022, 10, 13, 15, 50, 45, tzinfo=UTC)),
        ("1446744188.595", datetime.fromtimestamp(1446744188.595, tz=UTC)),
        ("2023-12-20T11:13:23.742Z", datetime(2023, 12, 20, 11, 13, 23, 742000, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("Thu Foo 13 15:50:45 UTC 2022", None),
        ("yesterday", None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_parse_time_ignores_the_locale() -> None:
    # GIVEN a machine whose locale names months in another language
    try:
        previous = locale.setlocale(locale.LC_TIME)
        locale.setlocale(locale.LC_TIME, "de_DE.UTF-8")
    except locale.Error:
        previous = None  # locale not installed: the fixed month table is still what is tested
    try:
        # THEN the English month names of CodeDeploy still parse
        assert parse_time("Wed Mar 16 02:30:50 UTC 2016") == datetime(
            2016, 3, 16, 2, 30, 50, tzinfo=UTC
        )
    finally:
        if previous is not None:
            locale.setlocale(locale.LC_TIME, previous)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"Records": []}, True),
        ({"detail-type": "x", "source": "aws.codepipeline"}, True),
        ({"requestContext": {"http": {"method": "POST"}}, "body": ""}, False),
        ([], False),
    ],
)
def test_is_aws_notification(event: object, expected: bool) -> None:
    assert is_aws_notification(event) is expected
