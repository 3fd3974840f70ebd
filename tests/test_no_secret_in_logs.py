"""No secret at any level: the notification door, the Slack door and the CLI run at DEBUG with
every secret set (from the environment, SSM and Secrets Manager via moto), through retries and
refusals, and all log output (every record reaching the root logger, formatted as on Lambda,
and the process's stderr) is searched for each secret's value."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bot import cli, lambda_function, logs
from bot.aws import secrets
from bot.config import log_level
from tests.conftest import SAMPLES, load_sample
from tests.fake_github import TOKEN as GITHUB_TOKEN
from tests.fake_lambda import FakeLambda
from tests.fake_slack import TOKEN, FakeSlack
from tests.slack_requests import SECRET, LambdaContext, function_url_event, slash_command
from tests.test_release_door import _notification, world  # noqa: F401 - the fixture, used below

APP_TOKEN = "xapp-1-A0DEPLOYBOT-1234567890-0123456789abcdef"
SESSION_TOKEN = "FwoGZXIvYXdzEBYaDSESSIONSECRETfromSTS0123456789"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
SAMPLE = "codedeploy-trigger-failure.json"


class Captured:
    """Every log record as the Lambda's handlers format it, plus stdout and stderr."""

    def __init__(self, stream: io.StringIO, capfd: pytest.CaptureFixture[str]) -> None:
        self._stream = stream
        self._capfd = capfd
        self.out = ""
        self.err = ""

    def text(self) -> str:
        printed = self._capfd.readouterr()
        self.out += printed.out
        self.err += printed.err
        return self._stream.getvalue() + self.err


@pytest.fixture
def captured(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> Iterator[Captured]:
    # GIVEN the one switch at DEBUG, as an operator would set it
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    logs.configure_json_logs(log_level())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs._formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    yield Captured(stream, capfd)
    root.removeHandler(handler)
    logs.configure_json_logs(logging.INFO)


def _secrets(*extra: str) -> list[str]:
    return [TOKEN, SECRET, APP_TOKEN, SESSION_TOKEN, SECRET_KEY, *extra]


def _assert_clean(captured: Captured, secret_values: list[str]) -> str:
    text = captured.text()
    # the run logged at DEBUG at all (otherwise this test could not fail)
    assert '"level":"DEBUG"' in text
    leaked = [value for value in secret_values if value in text]
    assert leaked == []
    return text


@pytest.fixture
def every_secret(
    monkeypatch: pytest.MonkeyPatch, aws_env: FakeLambda, fake_slack: FakeSlack
) -> Iterator[FakeSlack]:
    """Every secret deploybot knows, set; the ones AWS holds in moto's SSM and Secrets Manager."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    secrets._ssm.cache_clear()
    secrets._secrets_manager.cache_clear()
    with mock_aws():
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/deploybot/token", Value=TOKEN, Type="SecureString")
        ssm.put_parameter(Name="/deploybot/signing", Value=SECRET, Type="SecureString")
        boto3.client("secretsmanager").create_secret(
            Name="deploybot/slack",
            SecretString=json.dumps({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}),
        )
        yield fake_slack
    secrets._ssm.cache_clear()
    secrets._secrets_manager.cache_clear()


def test_the_webhook_url_stays_out_of_the_logs_through_connection_resets(
    every_secret: FakeSlack, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN webhook-only mode, and two dropped connections (slack_sdk logs each retry)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", every_secret.webhook_url)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    every_secret.fail_next(("reset", None), ("reset", None))
    # WHEN a notification is handled
    assert lambda_function.handler(load_sample(SAMPLE), LambdaContext())["posted"] == 1
    # THEN it was posted after the retries, and neither the webhook URL nor its path is logged
    text = _assert_clean(captured, _secrets(every_secret.webhook_url, "/B000/secret"))
    assert "retry" in text.lower()


def test_ssm_secrets_stay_out_of_the_logs_of_the_notification_door(
    every_secret: FakeSlack, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the token and signing secret in SSM SecureStrings, and Slack failing once
    monkeypatch.setenv("SLACK_BOT_TOKEN_PARAMETER", "/deploybot/token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_PARAMETER", "/deploybot/signing")
    every_secret.fail_next(("500", None), ("error", "invalid_auth"))
    # WHEN two notifications are handled (one fails for good: its error is logged)
    with pytest.raises(Exception, match="not posted"):
        lambda_function.handler(load_sample(SAMPLE), LambdaContext())
    lambda_function.handler(load_sample(SAMPLE), LambdaContext())
    # THEN botocore read SSM (its wire logs would hold the values) and nothing leaked
    _assert_clean(captured, _secrets())


def test_secrets_manager_values_stay_out_of_the_logs_of_the_slack_door(
    every_secret: FakeSlack, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN both Slack secrets in one Secrets Manager secret
    monkeypatch.setenv("SLACK_SECRETS_ID", "deploybot/slack")
    response_url = f"{every_secret.url}/commands/T000/1/response-secret"
    # WHEN Slack sends a signed /deploy-status help, a forged request and an unreadable one
    signed = function_url_event(slash_command("help", response_url))
    forged = function_url_event(slash_command("help", response_url), secret="not-the-secret")
    unreadable = function_url_event("payload=x")
    answers = [lambda_function.handler(e, LambdaContext()) for e in (signed, forged, unreadable)]
    # THEN the real one is answered and the others refused, and no secret (nor the
    # response_url, which lets anyone answer in the channel) is logged
    assert [a["statusCode"] for a in answers] == [200, 401, 400]
    _assert_clean(captured, _secrets("/response-secret"))


def test_the_cli_logs_no_secret(
    every_secret: FakeSlack, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the CLI with the webhook in the environment and the token in SSM
    monkeypatch.setenv("SLACK_WEBHOOK_URL", every_secret.webhook_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN_PARAMETER", "/deploybot/token")
    every_secret.fail_next(("reset", None))
    sample = str(Path(SAMPLES) / SAMPLE)
    # WHEN it sends, renders and checks
    assert cli.main(["send", sample]) == 0
    assert cli.main(["render", sample, "--offline"]) == 0
    cli.main(["check"])
    # THEN nothing it logged or printed holds a secret
    _assert_clean(captured, _secrets(every_secret.webhook_url))
    assert not [s for s in _secrets(every_secret.webhook_url) if s in captured.out]


def test_log_level_is_the_one_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain.config import ConfigError

    # Powertools' names, its order: POWERTOOLS_LOG_LEVEL, then LOG_LEVEL, then INFO
    assert log_level() == logging.INFO
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert log_level() == logging.DEBUG
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
    assert log_level() == logging.ERROR
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError, match=r"^LOG_LEVEL: 'verbose' is not one of DEBUG"):
        log_level()


def test_aws_wire_logs_stay_quiet_at_debug_and_follow_a_quieter_level() -> None:
    try:
        logs.configure_json_logs(logging.DEBUG)
        assert logging.getLogger().level == logging.DEBUG
        assert {logging.getLogger(n).level for n in logs.WIRE_LOGGERS} == {logging.WARNING}
        logs.configure_json_logs(logging.ERROR)
        assert {logging.getLogger(n).level for n in logs.WIRE_LOGGERS} == {logging.ERROR}
    finally:
        logs.configure_json_logs(logging.INFO)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            "retry POST https://hooks.slack.com/services/T0/B0/abc",
            "retry POST https://hooks.slack.com/…",
        ),
        ("token xoxb-123-456-abc in a message", "token xoxb-… in a message"),
        ("xapp-1-A0-123-abc", "xapp-…"),
        ("body: token=legacy123&team_id=T0", "body: token=…&team_id=T0"),
        ("{'token': 'legacy123'}", "{'token': '…'}"),
    ],
)
def test_what_bolt_and_the_webhook_client_log_is_hidden(line: str, shown: str) -> None:
    assert logs.hide_secrets(line) == shown


def test_the_github_token_stays_out_of_the_logs_of_the_release_diff(
    world: tuple[Any, Any, FakeSlack, list[str]],  # noqa: F811 - the imported fixture
    captured: Captured,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the release diff (issue 15) reading GitHub with a token, at DEBUG
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    _, github, _, shas = world
    # WHEN a success is posted with its diff
    assert lambda_function.handler(_notification(shas[3]), None)["posted"] == 1
    # THEN GitHub got the token, and no log line holds it (nor the Slack token)
    assert github.requests()[0]["authorization"] == f"Bearer {GITHUB_TOKEN}"
    _assert_clean(captured, [GITHUB_TOKEN, TOKEN])
