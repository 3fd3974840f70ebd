"""AWS clients for the lookups: built once per container, on first use, never at import.

Short timeouts and boto3's standard retry mode keep a slow or throttled API from eating the
Lambda's time; `AWS_ENDPOINT_URL_<SERVICE>` and the rest of the standard boto3 environment apply.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from bot.model import AwsProblem

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 3


@cache
def _session() -> Any:
    # Imported here: the Slack door's cold start does not pay for boto3.
    import boto3

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    """The shared boto3 client for `service` ("codepipeline", "codedeploy", ...)."""
    from botocore.config import Config as BotoConfig

    return _session().client(
        service,
        config=BotoConfig(
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        ),
    )


@cache
def unavailable_reason() -> str:
    """Why this environment cannot call AWS at all (no region, no credentials), else "".

    Checked once per process, so a laptop without an AWS account renders at once instead of
    failing every lookup one by one.
    """
    session = _session()
    if not session.region_name:
        return "no AWS region is configured (AWS_DEFAULT_REGION or a profile)"
    if session.get_credentials() is None:
        return "no AWS credentials were found"
    return ""


_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)


def describe_failure(exc: BaseException, service: str, operation: str) -> AwsProblem:
    """Turn a botocore exception into what went wrong and which IAM action it needed."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    action = f"{service}:{operation}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
        if code in _DENIED:
            return AwsProblem("denied", action, message, code)
        if code in _THROTTLED:
            return AwsProblem("throttled", action, message, code)
        return AwsProblem("error", action, f"{code}: {message}" if code else message, code)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError | ConnectionError):
        return AwsProblem("timeout", action, str(exc))
    if isinstance(exc, NoCredentialsError):
        return AwsProblem("credentials", action, str(exc))
    return AwsProblem("error", action, str(exc))
