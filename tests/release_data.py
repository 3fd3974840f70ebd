"""AWS answers for release-diff tests, shaped like the captured ones in tests/fixtures/api/.

list_pipeline_executions summaries follow `list-pipeline-executions-docs.json` (and the model
in `list-pipeline-executions-reconstructed.json`); CodeCommit commits follow botocore's
`Commit` shape (commitId, treeId, parents, message, author/committer {name, email, date}).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.commits import build_commit
from bot.domain.model import Deployment, Scope, Source, Status
from tests.aws_data import CONNECTION, PIPELINE, REGION, REPO, codestar_summary

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CODECOMMIT_REPO = "status-web"


def execution_id(n: int) -> str:
    """A pipeline execution id (a UUID) for the n-th run."""
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def summary(
    n: int,
    sha: str,
    *,
    status: str = "Succeeded",
    trigger: tuple[str, str] = ("WebhookV2", CONNECTION),
    message: str = "A commit",
    execution_type: str = "STANDARD",
) -> dict[str, Any]:
    """One list_pipeline_executions entry of run n (a later n started later)."""
    started = T0 + timedelta(minutes=10 * n)
    return {
        "pipelineExecutionId": execution_id(n),
        "status": status,
        "startTime": started,
        "lastUpdateTime": started + timedelta(minutes=4),
        "sourceRevisions": [
            {
                "actionName": "AppSource",
                "revisionId": sha,
                "revisionSummary": codestar_summary(message),
                "revisionUrl": f"https://{REGION}.console.aws.amazon.com/codesuite/settings/"
                f"connections/redirect?connectionArn={CONNECTION}&referenceType=COMMIT"
                f"&FullRepositoryId={REPO}&Commit={sha}",
            }
        ],
        "trigger": {"triggerType": trigger[0], "triggerDetail": trigger[1]},
        "executionMode": "SUPERSEDED",
        "executionType": execution_type,
    }


def history(*summaries: dict[str, Any]) -> dict[str, Any]:
    """A list_pipeline_executions answer, newest first as AWS lists them."""
    ordered = sorted(summaries, key=lambda s: s["startTime"], reverse=True)
    return {"pipelineExecutionSummaries": ordered}


def execution_event(
    n: int, sha: str, *, status: Status = Status.SUCCEEDED, provider: str = "GitHub"
) -> Deployment:
    """A pipeline execution notification of run n that names its commit (a V2 Git trigger)."""
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=status,
        region=REGION,
        pipeline=PIPELINE,
        execution_id=execution_id(n),
        started_at=T0 + timedelta(minutes=10 * n),
        commit=build_commit(
            sha=sha, message="Ship it", repository=REPO, provider=provider, region=REGION
        ),
    )


def commit_id(n: int) -> str:
    """A 40-hex CodeCommit commit id."""
    return hashlib.sha1(f"codecommit#{n}".encode()).hexdigest()


def codecommit_commit(
    n: int, parents: list[int], *, author: str = "Mary Major", email: str = "mary@example.com"
) -> dict[str, Any]:
    """One BatchGetCommits commit: commit n, made at minute n, with the given parents."""
    when = f"{int((T0 + timedelta(minutes=n)).timestamp())} +0000"
    person = {"name": author, "email": email, "date": when}
    return {
        "commitId": commit_id(n),
        "treeId": commit_id(n + 10_000),
        "parents": [commit_id(p) for p in parents],
        "message": f"Change {n}\n\nBody of change {n}.",
        "author": person,
        "committer": person,
        "additionalData": "",
    }
