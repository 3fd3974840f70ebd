"""Slack secrets from SSM Parameter Store and Secrets Manager (moto), read once and cached."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from bot import aws
from bot.aws import secrets
from bot.domain.config import Config, ConfigError, ReleaseSettings
from tests.fake_lambda import FakeLambda


@pytest.fixture
def moto(aws_env: FakeLambda) -> Iterator[None]:
    secrets._ssm.cache_clear()
    secrets._secrets_manager.cache_clear()
    with mock_aws():
        yield
    secrets._ssm.cache_clear()
    secrets._secrets_manager.cache_clear()


def _count_calls(service: str, operation: str) -> list[Any]:
    calls: list[Any] = []
    aws.client(service).meta.events.register(
        f"before-call.{service}.{operation}", lambda **kwargs: calls.append(kwargs)
    )
    return calls


def test_ssm_secure_strings_are_read_once(moto: None) -> None:
    # GIVEN both secrets as SecureStrings, and a config that names them
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/deploybot/token", Value="xoxb-from-ssm", Type="SecureString")
    ssm.put_parameter(Name="/deploybot/signing", Value="signing-from-ssm", Type="SecureString")
    config = Config(
        slack_bot_token_parameter="/deploybot/token",
        slack_signing_secret_parameter="/deploybot/signing",
    )
    calls = _count_calls("ssm", "GetParameter")
    # WHEN the secrets are resolved twice (two cold paths in one container)
    first = secrets.with_secrets(config)
    second = secrets.with_secrets(config)
    # THEN the values arrive, and each parameter was fetched once (the cache answered after)
    assert first.slack_bot_token == second.slack_bot_token == "xoxb-from-ssm"
    assert first.slack_signing_secret == "signing-from-ssm"
    assert len(calls) == 2
    assert [json.loads(c["params"]["body"])["WithDecryption"] for c in calls] == [True, True]
    assert "xoxb-from-ssm" not in repr(first)


def test_secrets_manager_json_secret(moto: None) -> None:
    boto3.client("secretsmanager").create_secret(
        Name="deploybot/slack",
        SecretString=json.dumps({"SLACK_BOT_TOKEN": "xoxb-sm", "SLACK_SIGNING_SECRET": "sig-sm"}),
    )
    calls = _count_calls("secretsmanager", "GetSecretValue")
    config = Config(slack_secrets_id="deploybot/slack")
    for _ in range(3):
        resolved = secrets.with_secrets(config)
    assert (resolved.slack_bot_token, resolved.slack_signing_secret) == ("xoxb-sm", "sig-sm")
    assert len(calls) == 1


def test_missing_parameter_is_a_config_error_without_values(moto: None) -> None:
    config = Config(slack_bot_token_parameter="/deploybot/missing")
    with pytest.raises(ConfigError, match="cannot read SSM parameter /deploybot/missing"):
        secrets.with_secrets(config)


def test_secret_without_slack_keys_is_refused(moto: None) -> None:
    boto3.client("secretsmanager").create_secret(Name="other", SecretString='{"password": "x"}')
    with pytest.raises(ConfigError, match="expected a JSON object with SLACK_BOT_TOKEN"):
        secrets.with_secrets(Config(slack_secrets_id="other"))


def test_no_parameter_names_means_no_aws_call() -> None:
    config = Config(slack_bot_token="xoxb-env")
    assert secrets.with_secrets(config) is config
    assert secrets._ssm.cache_info().currsize == 0


def test_no_region_is_a_config_error_naming_the_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an SSM parameter to read but no AWS region anywhere
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    config = Config(slack_bot_token_parameter="/deploybot/token")
    # WHEN the secrets are read, THEN one ConfigError says which parameter and why
    with pytest.raises(ConfigError, match=r"SSM parameter /deploybot/token: .*region"):
        secrets.with_secrets(config)


# --- the GitHub token of the release diff ---------------------------------------------------------
# Error shapes from the API references: SSM GetParameter answers ParameterNotFound (400) for a
# name that does not exist; Secrets Manager GetSecretValue ResourceNotFoundException (400),
# DecryptionFailure (400) when KMS refuses; both AccessDeniedException and ThrottlingException.

GITHUB_SECRET = "ghp_fromthesecret0123456789"
GITHUB_PARAMETER = "ghp_fromtheparameter0123456789"
PARAMETER = "/deploybot/github-token"


@pytest.fixture
def token_stubs(aws_credentials: None) -> Iterator[tuple[Stubber, Stubber]]:
    """Stubbers on the shared SSM and Secrets Manager clients the token is read with."""
    with Stubber(aws.client("ssm")) as ssm, Stubber(aws.client("secretsmanager")) as manager:
        yield ssm, manager
        ssm.assert_no_pending_responses()
        manager.assert_no_pending_responses()


def _token_config(parameter: str = PARAMETER, secret: str = "deploybot/slack") -> Config:
    return Config(
        slack_secrets_id=secret, release=ReleaseSettings(github_token_parameter=parameter)
    )


def _parameter_fails(ssm: Stubber, code: str, message: str, status: int = 400) -> None:
    ssm.add_client_error(
        "get_parameter",
        code,
        message,
        status,
        expected_params={"Name": PARAMETER, "WithDecryption": True},
    )


def _secret_answers(manager: Stubber, body: dict[str, str]) -> None:
    manager.add_response(
        "get_secret_value",
        {
            "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:deploybot/slack-AbC123",
            "Name": "deploybot/slack",
            "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
            "SecretString": json.dumps(body),
            "VersionStages": ["AWSCURRENT"],
        },
        {"SecretId": "deploybot/slack"},
    )


def test_a_missing_token_parameter_falls_through_to_the_secret(
    token_stubs: tuple[Stubber, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the template's default parameter name, which nobody created, and the token in the
    # Slack secret
    ssm, manager = token_stubs
    _parameter_fails(ssm, "ParameterNotFound", "")
    _secret_answers(manager, {"SLACK_BOT_TOKEN": "xoxb-x", "GITHUB_TOKEN": GITHUB_SECRET})
    # WHEN the token is read
    with caplog.at_level(logging.DEBUG, logger="bot"):
        token = secrets.github_token(_token_config())
    # THEN the secret's token is used, and no token reached a log
    assert token == GITHUB_SECRET
    assert GITHUB_SECRET not in caplog.text
    assert "xoxb-x" not in caplog.text


def test_the_token_parameter_comes_first(token_stubs: tuple[Stubber, Stubber]) -> None:
    ssm, _ = token_stubs
    ssm.add_response(
        "get_parameter",
        {
            "Parameter": {
                "Name": PARAMETER,
                "Type": "SecureString",
                "Value": GITHUB_PARAMETER,
                "Version": 1,
                "ARN": f"arn:aws:ssm:eu-west-1:123456789012:parameter{PARAMETER}",
                "DataType": "text",
            }
        },
        {"Name": PARAMETER, "WithDecryption": True},
    )
    assert secrets.github_token(_token_config()) == GITHUB_PARAMETER


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 400), ("ThrottlingException", 400), ("InternalServerError", 500)],
)
def test_a_token_parameter_that_cannot_be_read_is_a_failure_not_none(
    token_stubs: tuple[Stubber, Stubber], caplog: pytest.LogCaptureFixture, code: str, status: int
) -> None:
    # GIVEN the parameter exists but cannot be read now
    ssm, _ = token_stubs
    _parameter_fails(ssm, code, "no", status)
    # WHEN the token is read
    with caplog.at_level(logging.WARNING, logger="bot"):
        token = secrets.github_token(_token_config())
    # THEN it is a failure (None: asked again later, not kept as "no token"), the secret is
    # not asked in its place, and the log names the parameter and the action AWS refused
    assert token is None
    assert PARAMETER in caplog.text
    assert "ssm:GetParameter" in caplog.text


def test_no_token_parameter_reads_the_secret(token_stubs: tuple[Stubber, Stubber]) -> None:
    # GIVEN no parameter name (the template's GitHubTokenParameter left empty)
    _, manager = token_stubs
    _secret_answers(manager, {"SLACK_BOT_TOKEN": "xoxb-x", "GITHUB_TOKEN": GITHUB_SECRET})
    assert secrets.github_token(_token_config(parameter="")) == GITHUB_SECRET


@pytest.mark.parametrize(
    ("code", "token"),
    [
        ("ResourceNotFoundException", ""),
        ("DecryptionFailure", None),
        ("AccessDeniedException", None),
    ],
)
def test_a_secret_that_cannot_be_read(
    token_stubs: tuple[Stubber, Stubber], code: str, token: str | None
) -> None:
    # GIVEN no parameter, and the secret answers with an error: gone is "no token", any other
    # refusal a failure
    _, manager = token_stubs
    manager.add_client_error("get_secret_value", code, "no", 400)
    assert secrets.github_token(_token_config(parameter="")) == token


def test_neither_parameter_nor_secret_is_no_token(token_stubs: tuple[Stubber, Stubber]) -> None:
    ssm, _ = token_stubs
    _parameter_fails(ssm, "ParameterNotFound", "")
    assert secrets.github_token(_token_config(secret="")) == ""
