"""AWS clients for the lookups: built once per container, on first use, never at import.

Short timeouts and boto3's standard retry mode keep a slow or throttled API from eating the
Lambda's time; `AWS_ENDPOINT_URL_<SERVICE>` and the rest of the standard boto3 environment apply.
"""

from __future__ import annotations

from functools import cache
from typing import Any

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
