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
def client(service: str) -> Any:
    """The shared boto3 client for `service` ("codepipeline", "codedeploy", ...)."""
    import boto3  # imported here: the Slack door's cold start does not pay for it
    from botocore.config import Config as BotoConfig

    return boto3.client(
        service,
        config=BotoConfig(
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        ),
    )
