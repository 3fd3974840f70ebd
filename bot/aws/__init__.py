"""The AWS edge: shared clients, and the one way to call an operation.

Clients are built once per container, on first use, never at import: boto3 loads only when a
path needs it, so the Slack door's cold start does not pay for it. Short timeouts and botocore's
standard retry mode keep a slow or throttled API from eating the Lambda's time; the standard
boto3 environment applies (credentials, region, `AWS_ENDPOINT_URL_<SERVICE>`).

`call` is how every module calls AWS. Any failure raises `AwsError`, which names the IAM
action, AWS's error code and a sentence a reader can act on. A write that has no idempotency
token (CreateDeployment, RollbackStage, PutApprovalResult, ...) must reach AWS at most once:
it is called with `retry=False` through a client made with `client(service, retry=False)`,
and an unknown outcome is resolved by reading, never by sending it again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from bot.aws import limits
from bot.aws.limits import DeadlinePassed
from bot.domain.coerce import as_list, as_str, well_formed
from bot.domain.model import AwsProblem

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
TOTAL_ATTEMPTS = 3  # the first attempt and two retries, for calls that may be repeated
RATE_LIMITED = frozenset({"codepipeline", "codedeploy"})  # reads paced by bot/aws/limits.py


class AwsError(Exception):
    """An AWS call failed; `problem` says how, which IAM action it needed and what AWS said."""

    def __init__(self, problem: AwsProblem) -> None:
        said = f": {problem.message}" if problem.message else ""
        super().__init__(problem.reason + said)
        self.problem = problem

    @property
    def reason(self) -> str:
        """A few words for a message's note: "access denied to codepipeline:GetPipeline"."""
        return self.problem.reason


@cache
def _session() -> Any:
    # Imported here: the Slack door's cold start does not pay for boto3.
    import boto3

    return boto3.session.Session()


def client(service: str, *, retry: bool = True, region: str = "") -> Any:
    """The shared boto3 client for `service` (in `region`, else the session's); with
    `retry=False`, one that sends each request once.

    AwsError when botocore cannot make one (no region configured, a broken profile).
    """
    if region and region == _session().region_name:
        region = ""  # the same client, whichever way it is asked for
    return _client(service, retry, region)


@cache
def _client(service: str, retry: bool, region: str) -> Any:
    limiter = limits.limiter("", region) if region else limits.SHARED
    return make_client(_session(), service, retry=retry, region=region, limiter=limiter)


def core_session() -> Any:
    """The botocore session under the shared boto3 session (its loaded service models)."""
    return _session()._session


def home_region() -> str:
    """The region of the function's own session ("" when none is configured)."""
    return str(_session().region_name or "")


def make_client(
    session: Any, service: str, *, retry: bool, region: str = "", limiter: Any = None
) -> Any:
    """A boto3 client of `session` with deploybot's timeouts and retries; a read client of a
    rate-limited service goes through `limiter` (bot/aws/limits.py). AwsError when botocore
    cannot make one."""
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError

    try:
        made = session.client(
            service,
            region_name=region or None,
            config=BotoConfig(
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS if retry else 1},
            ),
        )
    except BotoCoreError as exc:
        raise AwsError(AwsProblem("error", service, str(exc))) from exc
    if retry and service in RATE_LIMITED and limiter is not None:
        limiter.attach(made)  # every read and retry of the container shares one pace per API
    return made


def iam_action(aws_client: Any, operation: str) -> str:
    """The IAM action a client method needs: ("get_pipeline") -> "codepipeline:GetPipeline"."""
    meta = aws_client.meta
    api = meta.method_to_api_mapping.get(operation, operation)
    return f"{meta.service_model.signing_name}:{api}"


def sends_once(aws_client: Any) -> bool:
    """True when botocore will not repeat a request of this client on its own."""
    retries = aws_client.meta.config.retries or {}
    return retries.get("total_max_attempts") == 1


def call(aws_client: Any, operation: str, /, *, retry: bool = True, **params: Any) -> Any:
    """Call `operation` ("get_pipeline") with `params`; any failure raises AwsError.

    `retry=False` marks a write that must reach AWS at most once; it is refused (ValueError, a
    programming error) unless the client sends each request once.
    """
    if not retry and not sends_once(aws_client):
        raise ValueError(
            f"{operation} must be sent once: use a client made with aws.client(..., retry=False)"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = getattr(aws_client, operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(describe_failure(exc, iam_action(aws_client, operation))) from exc
    except DeadlinePassed as exc:
        action = iam_action(aws_client, operation)
        problem = AwsProblem("timeout", action, "the rate limit left no time before the deadline")
        raise AwsError(problem) from exc
    return well_formed(answer)  # a lone surrogate in an answer would break its post to Slack


def pages(aws_client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
    """The items under `key` of every page of a `nextToken`-paginated read."""
    request: dict[str, Any] = dict(params)
    while True:
        page: Mapping[str, Any] = call(aws_client, operation, **request)
        yield from as_list(page.get(key))
        request["nextToken"] = as_str(page.get("nextToken"))
        if not request["nextToken"]:
            return


def region_of(aws_client: Any) -> str:
    """The region a client calls ("" when none is configured)."""
    return str(aws_client.meta.region_name or "")


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


def describe_failure(exc: BaseException, action: str) -> AwsProblem:
    """Turn a botocore exception into what went wrong, for the IAM `action` the call needed."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        if code in _DENIED:
            return AwsProblem("denied", action, message, code)
        if code in _THROTTLED:
            return AwsProblem("throttled", action, message, code)
        text = f"{code}: {message}" if code else message
        return AwsProblem("error", action, text, code, maybe_done=status >= 500)
    if isinstance(exc, ConnectionError):
        # Could not connect (ConnectTimeoutError, EndpointConnectionError): nothing was sent.
        return AwsProblem("timeout", action, str(exc))
    if isinstance(exc, HTTPClientError):
        # Sent, then no answer: ReadTimeoutError, ConnectionClosedError.
        return AwsProblem("timeout", action, str(exc), maybe_done=True)
    if isinstance(exc, NoCredentialsError):
        return AwsProblem("credentials", action, str(exc))
    return AwsProblem("error", action, str(exc))
