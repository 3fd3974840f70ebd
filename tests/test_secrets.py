"""Slack secrets from SSM Parameter Store and Secrets Manager (moto), read once and cached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bot import aws
from bot.aws import secrets
from bot.domain.config import Config, ConfigError
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
