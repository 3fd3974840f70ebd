"""The notification door end to end: a Lambda event through bot.lambda_function.handler."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import lambda_function
from bot.slack import DeliveryError
from handlers.notifications import UnreadableRecords
from tests.conftest import load_sample
from tests.fake_slack import TOKEN, FakeSlack


@pytest.fixture
def slack_env(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    lambda_function._config.cache_clear()
    lambda_function._poster.cache_clear()
    lambda_function._store.cache_clear()
    yield fake_slack
    lambda_function._config.cache_clear()
    lambda_function._poster.cache_clear()
    lambda_function._store.cache_clear()


def _mains(fake: FakeSlack) -> list[dict[str, object]]:
    """The messages posted to the channel itself (failure replies go to their threads)."""
    return [p for p in fake.posts if "thread_ts" not in p]


def test_sns_event_is_posted(slack_env: FakeSlack) -> None:
    # GIVEN no config: the store is the local SQLite file, so messages are living ones
    result = lambda_function.handler(load_sample("codedeploy-trigger-failure.json"), None)
    assert result == {"posted": 1, "skipped": 0}
    [post] = _mains(slack_env)
    assert str(post["text"]).startswith(":x: Deployment failed")
    [reply] = [p for p in slack_env.posts if "thread_ts" in p]  # why it failed, in the thread
    assert reply["reply_broadcast"] is True


def test_the_configured_store_is_honoured_off_lambda(
    slack_env: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN `[store] backend = "sqlite"` in the config of a function running off Lambda
    config = tmp_path / "deploybot.toml"
    config.write_text(f'[store]\nbackend = "sqlite"\npath = "{tmp_path / "here.db"}"\n')
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(config))
    monkeypatch.delenv("DEPLOYBOT_STORE_PATH")
    sample = load_sample("codepipeline-notification-flow-success.json")
    # WHEN a run's notifications arrive in two invocations
    lambda_function.handler(_sns(sample[:3], "a"), None)
    lambda_function.handler(_sns(sample[3:], "b"), None)
    # THEN they made one message, updated in place, with its state in the configured file
    [main] = slack_env.messages["#deployments"]
    assert str(main["text"]).startswith(":white_check_mark: Pipeline meerkat succeeded")
    assert slack_env.calls_to("chat.update")
    assert (tmp_path / "here.db").exists()


def test_every_record_is_posted(slack_env: FakeSlack) -> None:
    event = load_sample("codedeploy-trigger-failure.json")
    second = copy.deepcopy(load_sample("codedeploy-trigger-succeeded-lyssna.json")["Records"][0])
    event["Records"].append(second)
    assert lambda_function.handler(event, None) == {"posted": 2, "skipped": 0}
    assert len(_mains(slack_env)) == 2


def test_one_bad_record_does_not_stop_the_others(
    slack_env: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an SQS record (not a notification) before a good SNS record
    event = load_sample("codedeploy-trigger-failure.json")
    event["Records"].insert(0, {"EventSource": "aws:sqs", "body": "{}"})
    # WHEN the handler runs THEN the good record is posted, and only then the invocation fails,
    # naming the bad record, so that Lambda's retries and dead-letter queue keep the event
    with caplog.at_level(logging.ERROR), pytest.raises(UnreadableRecords) as raised:
        lambda_function.handler(event, None)
    assert len(_mains(slack_env)) == 1
    assert "Records[0]: the record has no 'Sns' object" in str(raised.value)
    assert "1 notification(s) delivered" in str(raised.value)
    # AND the log says which record and why, without a traceback
    [line] = [r for r in caplog.records if "not a notification" in r.getMessage()]
    assert line.getMessage().startswith("Records[0] is not a notification deploybot reads")
    assert line.exc_info is None


def test_a_malformed_sns_record_among_good_ones_is_named_by_its_message_id(
    slack_env: FakeSlack,
) -> None:
    # GIVEN three SNS records, the middle one's Sns a string instead of an object
    good = load_sample("codedeploy-trigger-failure.json")["Records"][0]
    other = load_sample("codedeploy-trigger-succeeded-lyssna.json")["Records"][0]
    bad = {"EventSource": "aws:sns", "Sns": "garbage"}
    # WHEN handled THEN both good ones are posted, and the error names the bad one
    with pytest.raises(UnreadableRecords, match=r"Records\[1\]"):
        lambda_function.handler({"Records": [good, bad, other]}, None)
    assert len(_mains(slack_env)) == 2


def test_a_redelivered_event_with_a_bad_record_posts_nothing_twice(
    dynamodb_env: FakeSlack,
) -> None:
    # GIVEN an event with a good record and an unreadable one, delivered again by Lambda's retry
    event = load_sample("codedeploy-trigger-failure.json")
    event["Records"].append({"EventSource": "aws:sqs", "body": "{}"})
    for _ in range(3):  # the first attempt and Lambda's two retries
        with pytest.raises(UnreadableRecords):
            lambda_function.handler(copy.deepcopy(event), None)
    # THEN the good record's message and its failure reply were each posted once
    assert sorted(dynamodb_env.posted_by_key().values()) == [1, 1]


def test_without_a_store_each_retry_of_a_mixed_event_posts_the_readable_records_again(
    slack_env: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN `[store] backend = "none"`, and an event with a good record and an unreadable one
    config = tmp_path / "deploybot.toml"
    config.write_text('[store]\nbackend = "none"\n')
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(config))
    event = load_sample("codedeploy-trigger-failure.json")
    event["Records"].append({"EventSource": "aws:sqs", "body": "{}"})
    # WHEN Lambda tries it and retries it twice (asynchronous invocation)
    for _ in range(3):
        with pytest.raises(UnreadableRecords):
            lambda_function.handler(copy.deepcopy(event), None)
    # THEN nothing remembers the good record: it is posted on every attempt (as the README says)
    assert len(_mains(slack_env)) == 3


@pytest.mark.parametrize("event", ["garbage", 42, None, [], ["x"]])
def test_an_event_that_is_not_an_object_fails_with_a_clear_error(
    slack_env: FakeSlack, event: object, caplog: pytest.LogCaptureFixture
) -> None:
    # WHEN Lambda is invoked with a JSON value that is no notification and no Slack request
    with caplog.at_level(logging.ERROR), pytest.raises(UnreadableRecords, match="the event"):
        lambda_function.handler(event, None)
    # THEN nothing is posted and the log says why
    assert slack_env.posts == []
    assert "the event is not a notification deploybot reads" in caplog.text


def test_an_array_of_notifications_is_posted(slack_env: FakeSlack) -> None:
    # GIVEN an invocation whose event is a JSON array of two CodeDeploy messages
    messages = [
        json.loads(load_sample(name)["Records"][0]["Sns"]["Message"])
        for name in ("codedeploy-trigger-failure.json", "codedeploy-trigger-succeeded-lyssna.json")
    ]
    # WHEN handled THEN both are posted, as the CLI would (each its own living message; the
    # same message twice would be one)
    assert lambda_function.handler(messages, None) == {"posted": 2, "skipped": 0}
    assert len(_mains(slack_env)) == 2


def test_eventbridge_event_is_posted(slack_env: FakeSlack) -> None:
    lambda_function.handler(load_sample("eventbridge-codepipeline-execution-failed.json"), None)
    assert slack_env.posts[0]["text"].startswith(":x: Pipeline myPipeline failed")


def test_skipped_event_is_logged(slack_env: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    sample = load_sample("eventbridge-codepipeline-stage-execution-lambda-go.json")
    with caplog.at_level(logging.INFO):
        assert lambda_function.handler(sample, None) == {"posted": 0, "skipped": 1}
    assert "skipped stage STARTED" in caplog.text
    assert slack_env.posts == []


def test_final_slack_failure_raises_so_lambda_retries(slack_env: FakeSlack) -> None:
    # GIVEN Slack failing every attempt for the first record, and fine for the second
    event = load_sample("codedeploy-trigger-failure.json")
    second = copy.deepcopy(load_sample("codedeploy-trigger-succeeded-lyssna.json")["Records"][0])
    event["Records"].append(second)
    slack_env.fail_next(("error", "channel_not_found"))
    # WHEN the handler runs THEN it raises (Lambda retries) after posting what it could
    with pytest.raises(DeliveryError, match="1 of 2 notifications were not posted"):
        lambda_function.handler(event, None)
    assert len(_mains(slack_env)) == 1


def test_secrets_never_reach_the_log(
    slack_env: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack_env.fail_next(("error", "invalid_auth"))
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError):
        lambda_function.handler(load_sample("codedeploy-trigger-failure.json"), None)
    assert TOKEN not in caplog.text


def test_no_network_or_client_at_import() -> None:
    # The module's caches are empty until the first invocation builds them.
    import importlib

    module = importlib.reload(lambda_function)
    assert module._config.cache_info().currsize == 0
    assert module._poster.cache_info().currsize == 0
    assert module._store.cache_info().currsize == 0


def _sns(messages: list[dict[str, object]], prefix: str) -> dict[str, object]:
    """A Lambda SNS event carrying each message as one record with its own MessageId."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"{prefix}-{n}",
                    "TopicArn": "arn:aws:sns:ap-southeast-2:000000000000:deploys",
                    "Message": json.dumps(message),
                    "Timestamp": "2022-03-29T23:00:00.000Z",
                },
            }
            for n, message in enumerate(messages)
        ]
    }


@pytest.fixture
def dynamodb_env(slack_env: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    from moto import mock_aws

    from bot import aws
    from tests.test_store import TABLE, create_table

    monkeypatch.setenv("DEPLOYBOT_TABLE", TABLE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    lambda_function._store.cache_clear()
    aws._client.cache_clear()
    with mock_aws():
        create_table(aws.client("dynamodb"))
        yield slack_env
    lambda_function._store.cache_clear()
    aws._client.cache_clear()


def test_lambda_with_dynamodb_keeps_one_message_across_invocations(
    dynamodb_env: FakeSlack,
) -> None:
    # GIVEN a failed run's notifications arriving in two invocations, the second redelivered
    messages = load_sample("codepipeline-notification-flow-failed-codedeploy.json")
    first, rest = _sns(messages[:5], "a"), _sns(messages[5:], "b")
    # WHEN Lambda runs them, and SNS delivers the second batch again
    lambda_function.handler(first, None)
    lambda_function.handler(rest, None)
    calls = len(dynamodb_env.calls)
    assert lambda_function.handler(rest, None) == {"posted": 0, "skipped": 12}
    # THEN one message and one failure reply; the redelivery called Slack not at all
    assert len(dynamodb_env.calls) == calls
    assert sorted(dynamodb_env.posted_by_key().values()) == [1, 1]
    main = dynamodb_env.messages["#deployments"][0]
    assert main["text"].startswith(":x: Pipeline meerkat failed")


def test_logs_are_json_with_the_deployment_and_request_ids(
    slack_env: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    from types import SimpleNamespace

    from bot import logs

    # WHEN a notification is handled on Lambda
    context = SimpleNamespace(aws_request_id="req-123")
    with caplog.at_level(logging.INFO):
        lambda_function.handler(load_sample("codedeploy-trigger-failure.json"), context)
    # THEN the line about the post, as the Lambda's log handlers format it, is one JSON object
    # carrying the ids as keys
    [record] = [r for r in caplog.records if r.getMessage().startswith("folded")]
    line = json.loads(logs._formatter.format(record))
    assert line["service"] == "deploybot"
    assert line["lambda_request_id"] == "req-123"
    assert line["deployment_id"] == "d-MainDeployment"
    assert line["event_id"] == "d29fdec1-9819-5ac0-b9c2-8502bc0284e5"
