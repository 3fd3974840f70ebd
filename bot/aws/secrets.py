"""Slack secrets from SSM Parameter Store or Secrets Manager, read once per container.

On AWS the bot token and signing secret never sit in plain environment variables: the
environment names an SSM SecureString (or a Secrets Manager secret) and this module reads it
through Powertools' parameters utility, which caches what it read. Values never reach a log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from functools import cache
from typing import Any

from bot import aws
from bot.domain.config import Config, ConfigError

logger = logging.getLogger(__name__)
# A container lives for hours at most; a rotated token is picked up by the next cold start,
# or within this many seconds by a caller that reads again.
MAX_AGE_SECONDS = 3600
SECRET_KEYS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


@cache
def _ssm() -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=aws.client("ssm"))


@cache
def _secrets_manager() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def _read(what: str, fetch: Any) -> Any:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return fetch()
    except (GetParameterError, aws.AwsError) as exc:
        # The message names the parameter and AWS's reason (or the missing region), never a value.
        raise ConfigError(f"cannot read {what}: {exc}") from None


def with_secrets(config: Config) -> Config:
    """`config` with the Slack secrets its parameter names point to (no I/O when none do)."""
    token, signing_secret = config.slack_bot_token, config.slack_signing_secret
    if config.slack_secrets_id:
        name = config.slack_secrets_id
        secret = _read(
            f"Secrets Manager secret {name}",
            lambda: _secrets_manager().get(name, max_age=MAX_AGE_SECONDS, transform="json"),
        )
        if not isinstance(secret, dict) or not any(k in secret for k in SECRET_KEYS):
            raise ConfigError(
                f"Secrets Manager secret {name}: expected a JSON object with "
                f"{' and/or '.join(SECRET_KEYS)}"
            )
        token = str(secret.get("SLACK_BOT_TOKEN", token))
        signing_secret = str(secret.get("SLACK_SIGNING_SECRET", signing_secret))
    if config.slack_bot_token_parameter:
        token = _parameter(config.slack_bot_token_parameter)
    if config.slack_signing_secret_parameter:
        signing_secret = _parameter(config.slack_signing_secret_parameter)
    if (token, signing_secret) == (config.slack_bot_token, config.slack_signing_secret):
        return config
    return replace(config, slack_bot_token=token, slack_signing_secret=signing_secret)


def _parameter(name: str) -> str:
    return str(
        _read(
            f"SSM parameter {name}",
            lambda: _ssm().get(name, max_age=MAX_AGE_SECONDS, decrypt=True),
        )
    )


def github_token(config: Config) -> str | None:
    """The GitHub token for the release diff: GITHUB_TOKEN, else the SSM SecureString that
    GITHUB_TOKEN_PARAMETER names, else (no such parameter) a GITHUB_TOKEN key in the
    SLACK_SECRETS_ID secret.

    "" when there is none: public repositories are compared without a token, private ones show
    their compare link only. None when one is configured but could not be read now (denied,
    throttled, KMS, no answer): the caller asks again later. Logged with AWS's reason, never a
    value; never raised.
    """
    release = config.release
    if release.github_token:
        return release.github_token
    name = release.github_token_parameter
    if name:
        try:
            answer = aws.call(aws.client("ssm"), "get_parameter", Name=name, WithDecryption=True)
            return str(answer.get("Parameter", {}).get("Value", "")).strip()
        except aws.AwsError as exc:
            if exc.problem.code != "ParameterNotFound":
                logger.warning("could not read the GitHub token (SSM parameter %s): %s", name, exc)
                return None
            logger.info("SSM parameter %s does not exist: no GitHub token there", name)
    if config.slack_secrets_id:
        return _github_token_in_secret(config.slack_secrets_id)
    return ""


def _github_token_in_secret(name: str) -> str | None:
    """The GITHUB_TOKEN key of a Secrets Manager secret: "" when there is none, None when the
    secret cannot be read now."""
    try:
        answer = aws.call(aws.client("secretsmanager"), "get_secret_value", SecretId=name)
    except aws.AwsError as exc:
        if exc.problem.code == "ResourceNotFoundException":
            logger.info("Secrets Manager secret %s does not exist: no GitHub token there", name)
            return ""
        logger.warning("could not read the GitHub token (Secrets Manager secret %s): %s", name, exc)
        return None
    try:
        secret = json.loads(str(answer.get("SecretString") or "{}"))
    except ValueError:
        logger.warning("Secrets Manager secret %s is not a JSON object: no GitHub token", name)
        return ""
    token = secret.get("GITHUB_TOKEN", "") if isinstance(secret, dict) else ""
    return str(token).strip()
