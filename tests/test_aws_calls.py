"""The one way to call AWS (bot/aws/__init__.py): errors that say what to grant, writes sent once.

Real botocore clients talk to a local fake over HTTP, so botocore's own retry logic runs: a read
is repeated after a 500, a write client sends its request exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from bot import aws
from tests.fake_aws import FakeAws, Fault, Hangup


def _server_error(params: dict[str, object]) -> dict[str, object]:
    raise Fault(500, "InternalFailure", "try again")


@pytest.fixture
def failing(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """A CodePipeline endpoint whose every answer is a 500 (AWS took it, or not: unknown)."""
    fake = FakeAws.start({"ListPipelines": _server_error, "StartPipelineExecution": _server_error})
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", fake.url)
    yield fake
    fake.close()


def test_a_failed_read_names_the_iam_action_the_code_and_what_aws_said(
    aws_credentials: None,
) -> None:
    # GIVEN a client whose next answer is AccessDenied
    client = aws.client("codepipeline")
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_pipeline_state", "AccessDeniedException", "not authorized", 400, {"name": "p"}
        )
        # WHEN it is called through the one call path
        with pytest.raises(aws.AwsError) as raised:
            aws.call(client, "get_pipeline_state", name="p")
    # THEN the failure carries the IAM action, AWS's code and a readable reason
    problem = raised.value.problem
    assert (problem.kind, problem.action, problem.code) == (
        "denied",
        "codepipeline:GetPipelineState",
        "AccessDeniedException",
    )
    assert raised.value.reason == "access denied to codepipeline:GetPipelineState"


def test_a_read_is_retried_by_botocore(failing: FakeAws) -> None:
    # GIVEN an endpoint answering 500; WHEN a read is called
    with pytest.raises(aws.AwsError) as raised:
        aws.call(aws.client("codepipeline"), "list_pipelines")
    # THEN botocore tried it TOTAL_ATTEMPTS times before giving up
    assert failing.operations() == ["ListPipelines"] * aws.TOTAL_ATTEMPTS
    assert raised.value.problem.code == "InternalFailure"


def test_a_write_reaches_aws_exactly_once(failing: FakeAws) -> None:
    # GIVEN an endpoint answering 500 (the write may or may not have happened)
    writer = aws.client("codepipeline", retry=False)
    # WHEN a write is sent through a client that does not retry
    with pytest.raises(aws.AwsError):
        aws.call(writer, "start_pipeline_execution", retry=False, name="p")
    # THEN it went out once: the outcome is for the caller to read, not to guess by resending
    assert failing.operations() == ["StartPipelineExecution"]


def _hang_up(params: dict[str, object]) -> dict[str, object]:
    raise Hangup


def _refuse(params: dict[str, object]) -> dict[str, object]:
    raise Fault(400, "ConflictException", "the pipeline is busy")


@pytest.mark.parametrize(
    ("answer", "maybe_done"),
    [
        pytest.param(_server_error, True, id="5xx"),
        pytest.param(_hang_up, True, id="connection-dropped"),
        pytest.param(_refuse, False, id="refused"),
    ],
)
def test_a_failed_write_says_whether_it_may_have_been_done(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, answer: Any, maybe_done: bool
) -> None:
    # GIVEN an endpoint that answers the write with a 5xx, drops it, or refuses it
    fake = FakeAws.start({"StartPipelineExecution": answer})
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", fake.url)
    writer = aws.client("codepipeline", retry=False)
    try:
        with pytest.raises(aws.AwsError) as raised:
            aws.call(writer, "start_pipeline_execution", retry=False, name="p")
    finally:
        fake.close()
    # THEN only an answer that refused the write proves it was not done
    assert raised.value.problem.maybe_done is maybe_done


def test_nothing_sent_is_nothing_done(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an endpoint nobody listens on: the connection is refused before anything is sent
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", "http://127.0.0.1:9")
    writer = aws.client("codepipeline", retry=False)
    with pytest.raises(aws.AwsError) as raised:
        aws.call(writer, "start_pipeline_execution", retry=False, name="p")
    assert raised.value.problem.kind == "timeout"
    assert raised.value.problem.maybe_done is False


def test_a_write_through_a_retrying_client_is_refused_before_anything_is_sent(
    failing: FakeAws,
) -> None:
    # GIVEN the shared client, which retries; WHEN a write marked retry=False goes through it
    with pytest.raises(ValueError, match="must be sent once"):
        aws.call(aws.client("codepipeline"), "start_pipeline_execution", retry=False, name="p")
    # THEN nothing reached AWS
    assert failing.operations() == []


def test_pages_follow_next_token(aws_credentials: None) -> None:
    # GIVEN two pages of pipelines
    client = aws.client("codepipeline")
    with Stubber(client) as stub:
        stub.add_response("list_pipelines", {"pipelines": [{"name": "a"}], "nextToken": "t"}, {})
        stub.add_response("list_pipelines", {"pipelines": [{"name": "b"}]}, {"nextToken": "t"})
        # WHEN read through pages, THEN both pages' items come back in order
        names = [p["name"] for p in aws.pages(client, "list_pipelines", "pipelines")]
        stub.assert_no_pending_responses()
    assert names == ["a", "b"]


def test_no_region_is_an_aws_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no region anywhere
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    # WHEN a client is asked for, THEN the failure says what is missing
    with pytest.raises(aws.AwsError) as raised:
        aws.client("codepipeline")
    assert "region" in raised.value.problem.message
