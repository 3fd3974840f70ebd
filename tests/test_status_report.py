"""Pure parts of /deploy-status: parsing AWS responses and building answers within limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from blocks.deploy_status import build_answer
from bot import aws
from bot.aws.deploy_status import closest
from bot.domain.codepipeline import parse_execution, parse_pipeline, parse_stages
from bot.domain.commits import build_commit
from bot.domain.model import (
    AwsProblem,
    Execution,
    GroupStatus,
    NotFound,
    PipelineStatus,
    StageState,
    Status,
    StatusReport,
)
from tests import aws_responses as r
from tests.blockkit import violations
from tests.conftest import load_fixture


def _mrkdwn(answer: dict[str, Any]) -> str:
    """Everything Slack parses as mrkdwn: the top-level text and every mrkdwn object."""
    found = [answer["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(answer["blocks"])
    return "\n".join(found)


HOSTILE = "<!channel> *deploy* <http://evil.example|Release notes> & " + "🚀" * 400


def test_stages_name_the_failed_action_and_the_never_run_stage() -> None:
    # GIVEN a captured state whose self-mutation failed and whose last stage never ran
    stages = parse_stages(r.pipeline_state())
    # THEN each stage has its state, and the failed one names its action and error
    assert [(s.name, s.status) for s in stages] == [
        ("Source", Status.SUCCEEDED),
        ("Build", Status.SUCCEEDED),
        ("UpdatePipeline", Status.FAILED),
        ("Alpha", None),
    ]
    assert stages[2].action == "SelfMutate"
    assert stages[2].detail.startswith("Build terminated with state: FAILED")


def test_execution_commit_comes_from_the_codestar_summary() -> None:
    # GIVEN an execution whose source revision summary is a CodeStar JSON string
    execution = parse_execution(r.executions()["pipelineExecutionSummaries"][0])
    # THEN the commit title is the message, not the JSON, and the trigger names the session
    assert execution.commit is not None
    assert execution.commit.sha == "acfd7c635f76c9e523438af9f629f543196cfad9"
    assert execution.commit.title.startswith("chore(pipeline): adjust self-mutation")
    assert execution.trigger == "StartPipelineExecution by samrat"
    assert execution.duration_seconds == 173.04


def test_old_executions_without_sources_parse() -> None:
    # GIVEN an old CLI capture: epoch times, no sourceRevisions, no trigger
    [first, *_] = load_fixture("api/list-pipeline-executions-cli-old.json")[
        "pipelineExecutionSummaries"
    ]
    execution = parse_execution(first)
    assert execution.status is Status.SUCCEEDED
    assert execution.commit is None
    assert execution.started_at == datetime.fromtimestamp(1496380258.243, UTC)


def test_targets_are_the_codedeploy_actions() -> None:
    assert parse_pipeline(r.demo_pipeline()).deploy_targets == (
        ("CodePipelineDemoApplication", "CodePipelineDemoFleet"),
    )


def test_closest_prefers_substrings_then_similar_names() -> None:
    names = ["web-prod", "web-staging", "api-prod", "legacy-app/prod"]
    assert closest("web", names)[:2] == ("web-prod", "web-staging")
    assert closest("api-prd", names)[0] == "api-prod"
    assert closest("zzzz", names) == ()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetPipelineState"
            ),
            "denied",
        ),
        (
            ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "x"),
            "throttled",
        ),
        (ReadTimeoutError(endpoint_url="https://codepipeline.eu-west-1.amazonaws.com"), "timeout"),
        (
            ConnectTimeoutError(endpoint_url="https://codepipeline.eu-west-1.amazonaws.com"),
            "timeout",
        ),
    ],
    ids=["denied", "throttled", "read-timeout", "connect-timeout"],
)
def test_aws_failures_say_what_happened_and_what_to_do(error: Exception, kind: str) -> None:
    # GIVEN an AWS failure on get_pipeline_state
    problem = aws.describe_failure(error, "codepipeline:GetPipelineState")
    # THEN it is classified and names the IAM action
    assert problem.kind == kind
    assert problem.action == "codepipeline:GetPipelineState"
    # AND the answer explains it, never an empty message
    answer = build_answer(problem, query="", share=True)
    text = answer["blocks"][0]["text"]["text"]
    assert "`codepipeline:GetPipelineState`" in text
    assert answer["text"]
    assert violations(answer) == []


def _hostile_execution(n: int) -> Execution:
    commit = build_commit(
        sha="f" * 40,
        message=HOSTILE + "\n\nbody",
        commit_url="https://github.com/o/r/commit/" + "f" * 40 + "?" + "x" * 450,
    )
    return Execution(
        execution_id=f"{n:08d}-0000-4000-8000-000000000000",
        status=Status.FAILED,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
        commit=commit,
        trigger=HOSTILE,
    )


def test_a_huge_overview_stays_within_block_kit_limits_and_says_what_it_left_out() -> None:
    # GIVEN 60 pipelines and 40 groups with hostile names and commit messages
    report = StatusReport(
        pipelines=tuple(
            PipelineStatus(
                name=f"p{n}-" + "x" * 90, region="eu-west-1", latest=_hostile_execution(n)
            )
            for n in range(60)
        ),
        groups=tuple(
            GroupStatus(application=HOSTILE[:100], group=f"g{n}", region="eu-west-1")
            for n in range(40)
        ),
        problems=(AwsProblem("denied", "codedeploy:ListApplications", HOSTILE),),
    )
    # WHEN the answer is built
    answer = build_answer(report, query="", share=True)
    # THEN Slack would accept it, nothing pings anyone, and the cut is announced
    assert violations(answer) == []
    flat = _mrkdwn(answer)
    assert "<!channel>" not in flat
    assert "<http://evil" not in flat
    assert "more pipelines: ask `/deploy-status NAME`" in flat
    assert "more groups" in flat
    assert "AWS denied `codedeploy:ListApplications`" in flat
    assert "more groups" in flat


def test_a_huge_pipeline_detail_stays_within_limits() -> None:
    # GIVEN a pipeline with 30 stages and hostile history
    pipeline = PipelineStatus(
        name=HOSTILE[:100],
        region="eu-west-1",
        latest=_hostile_execution(0),
        stages=tuple(
            StageState(f"s{n}", Status.FAILED, f"{n:08d}-x", action=HOSTILE[:100], detail=HOSTILE)
            for n in range(30)
        ),
        executions=tuple(_hostile_execution(n) for n in range(5)),
    )
    answer = build_answer(pipeline, query="x" * 100, share=True)
    assert violations(answer) == []
    assert "<!channel>" not in _mrkdwn(answer)


def test_not_found_and_shared_answers_carry_no_share_button() -> None:
    missing = build_answer(NotFound("<!here>", ("web",)), query="<!here>", share=True)
    assert all(b["type"] != "actions" for b in missing["blocks"])
    assert "<!here>" not in _mrkdwn(missing)
    shared = build_answer(StatusReport(), query="", share=False, shared_by="U0SHARER")
    assert shared["blocks"][-1]["elements"][0]["text"].startswith("Shared by <@U0SHARER>")
    # A user id that is not one is not turned into a mention.
    forged = build_answer(StatusReport(), query="", share=False, shared_by="!channel")
    assert "<!channel>" not in _mrkdwn(forged)
