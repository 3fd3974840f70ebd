"""Snapshots of enriched messages (the chat.postMessage arguments), and their limits.

Update with `uv run pytest --snapshot-update` and review the diff.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from syrupy.assertion import SnapshotAssertion

from bot.domain.codedeploy import first_failure
from bot.domain.codepipeline import SourceRevision, commit_from_revision
from bot.domain.config import Config, PipelineMapping
from bot.domain.model import Commit, Deployment, FailedAction, FailureDetail, RollbackInfo
from bot.plan import build_post
from tests.aws_data import (
    APP,
    DEPLOYMENT,
    GROUP,
    PIPELINE,
    REGION,
    REPO,
    SHA_A,
    SHA_B,
    codestar_summary,
    deploy_failure,
    deploy_success,
    event,
)
from tests.blockkit import violations
from tests.conftest import load_fixture

CONFIG = Config(
    pipelines=(PipelineMapping(pipeline=PIPELINE, applications=(APP,), deployment_groups=(GROUP,)),)
)
BODY = "\n".join(f"- change {i}" for i in range(1, 15))


def _commit(sha: str, message: str, *, confirmed: bool = True) -> Commit:
    revision = SourceRevision(
        sha=sha,
        action="AppSource",
        provider="CodeStarSourceConnection",
        summary=codestar_summary(message),
        branch="main",
        repository=REPO,
    )
    return commit_from_revision(revision, REGION, confirmed=confirmed)


COMMIT_A = _commit(SHA_A, f"Fix the login page\n\n{BODY}")
FAILURE = first_failure(
    load_fixture("api/codedeploy-batch-get-deployment-targets-failed-meerkat.json")
)


def _post(enriched: Deployment) -> dict[str, Any]:
    post = build_post(enriched, CONFIG)
    assert violations(post) == []
    return post


def test_success_with_the_exact_commit(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN a successful deployment enriched with its commit (body longer than 10 lines)
    enriched = replace(deploy_success(), commit=COMMIT_A)
    # WHEN rendered, THEN it matches the reviewed snapshot
    post = _post(enriched)
    assert post == snapshot_json
    assert post["blocks"][2]["text"]["text"].endswith("> - change 10\n> …")


def test_failure_with_reason_and_log_tail(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN a failed deployment enriched with its commit and first failed lifecycle event
    assert FAILURE is not None
    enriched = replace(deploy_failure(), commit=COMMIT_A, failure_details=(FAILURE,))
    # WHEN rendered, THEN it matches the reviewed snapshot
    assert _post(enriched) == snapshot_json


def test_rollback_with_unconfirmed_fallback_commit(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN a rollback whose original's commit could only be guessed from the pipeline state
    enriched = replace(
        deploy_success(),
        deployment_id="d-ROLLBACK",
        rollback=RollbackInfo(DEPLOYMENT, "Alarm high-5xx fired"),
        commit=_commit(SHA_B, "Bump the cache size", confirmed=False),
        notes=(
            "Commit not confirmed: could not list the action executions of status-pipeline: "
            "access denied to codepipeline:ListActionExecutions",
        ),
    )
    # WHEN rendered, THEN "not confirmed" wins over "rolled back", and the note is shown
    assert _post(enriched) == snapshot_json


def test_failed_pipeline_with_failed_actions(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN a failed execution enriched with its failed stage and actions
    enriched = replace(
        event("codepipeline-notification-execution-failed-github.json"),
        failed_stage="Build",
        failed_actions=(
            FailedAction(
                "UnitTests",
                "Build terminated with state: FAILED",
                "https://console.aws.amazon.com/codebuild/home#/builds/1234",
            ),
        ),
    )
    # WHEN rendered, THEN it matches the reviewed snapshot
    assert _post(enriched) == snapshot_json


def test_hostile_and_huge_failure_stays_escaped_and_within_limits() -> None:
    # GIVEN diagnostics full of mrkdwn control characters and a 4 KB log tail of long lines
    hostile = FailureDetail(
        lifecycle_event="<!channel> AfterInstall",
        target="i-1 `x`",
        script="```rm -rf```" * 40,
        error_code="ScriptFailed&<b>",
        message="<https://evil.example|click> " * 100,
        log_tail="\n".join("<@U123> " + "x" * 300 for _ in range(14)) + "\nlast line",
    )
    enriched = replace(deploy_failure(), failure_details=(hostile,))
    # WHEN rendered
    post = _post(enriched)
    # THEN nothing can mention or link, and the log's last line survives
    text = str(post["blocks"])
    assert "<!channel>" not in text
    assert "<@U123>" not in text
    assert "<https://evil.example" not in text
    assert "last line" in text
