"""What the release diff adds to a notification's critical path, against slow local fakes.

One loopback server plays CodePipeline/CodeDeploy (AWS JSON 1.1) and Slack's Web API, another
GitHub's compare API; both add DELAY seconds to every call. Each scenario runs the whole
notification path (parse, enrich, post) with the diff off and on, in a warm container whose
diff cache is empty (a new run: a new ReleaseLookup each time; pipeline definitions, clients
and Slack users stay cached), and prints the sequential round trips on the critical path
(the longest chain of calls, each starting after the previous ended, AWS + GitHub + Slack)
and the median wall time. The goal: 0 added round trips when the diff runs beside the commit
lookup, at most 1 otherwise.

    uv run python bench/bench_release.py [--runs 20] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import aws  # noqa: E402
from bot.aws.enrich import Enricher  # noqa: E402
from bot.aws.release import ReleaseLookup  # noqa: E402
from bot.directory import make_directory  # noqa: E402
from bot.domain.config import Config, PipelineMapping, ReleaseSettings  # noqa: E402
from bot.github import GitHub  # noqa: E402
from bot.slack import make_poster  # noqa: E402
from handlers.notifications import handle_lambda_event  # noqa: E402
from tests.aws_data import (  # noqa: E402
    actions_page,
    codestar_summary,
    deploy_execution,
    execution,
    pipeline_definition,
    source_execution,
)
from tests.conftest import load_sample  # noqa: E402
from tests.fake_aws import FakeAws, critical_path  # noqa: E402
from tests.fake_github import Author, FakeGitHub  # noqa: E402

REPO = "acme/status-web"  # tests/aws_data.py's repository
PIPELINE = "status-pipeline"
APP, GROUP, DEPLOYMENT = "temporary-status", "temporary-status-deployment", "d-MainDeployment"
EXECUTION, BEFORE = "a1a1a1a1-0000-4000-8000-00000000000a", "b0b0b0b0-0000-4000-8000-00000000000b"


def _history(live: str, head: str) -> dict[str, Any]:
    def entry(execution_id: str, status: str, started: float, sha: str) -> dict[str, Any]:
        return {
            "pipelineExecutionId": execution_id,
            "status": status,
            "startTime": started,
            "sourceRevisions": [
                {
                    "actionName": "AppSource",
                    "revisionId": sha,
                    "revisionSummary": codestar_summary("a commit"),
                    "revisionUrl": f"https://x.example/?FullRepositoryId={REPO}&Commit={sha}",
                }
            ],
            "trigger": {"triggerType": "WebhookV2", "triggerDetail": "arn:connection"},
        }

    now = time.time()
    return {
        "pipelineExecutionSummaries": [
            entry(EXECUTION, "InProgress", now, head),
            entry(BEFORE, "Succeeded", now - 3600, live),
        ]
    }


def _pipeline_event(sha: str | None) -> dict[str, Any]:
    """An execution success in eu-west-2, naming its commit (a V2 Git trigger) or not."""
    message = copy.deepcopy(load_sample("codepipeline-notification-execution-failed-github.json"))
    message["region"] = "eu-west-2"
    detail = message["detail"]
    detail.update({"state": "SUCCEEDED", "pipeline": PIPELINE, "execution-id": EXECUTION})
    if sha:
        detail["execution-trigger"].update({"commit-id": sha, "full-repository-name": REPO})
    else:
        del detail["execution-trigger"]
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


class PerRun:
    """One container's release lookup, each event a run it has not seen: the diff kept for a
    run is dropped before every event (the container's other memories stay)."""

    def __init__(self, lookup: ReleaseLookup) -> None:
        self._lookup = lookup

    def start(self, event: Any, run: Any) -> Any:
        self._lookup._diffs.clear()  # a benchmark's reach into the cache
        return self._lookup.start(event, run)

    def finish(self, event: Any, pending: Any, run: Any) -> Any:
        return self._lookup.finish(event, pending, run)


def _measure(
    fakes: tuple[FakeAws, FakeGitHub], runs: int, run: Callable[[], None]
) -> tuple[int, float, list[str]]:
    """(critical path of the last run, median seconds, operations of the last run)."""
    run()  # warm: clients, pipeline definitions, Slack users
    times, depth, operations = [], 0, []
    for _ in range(runs):
        for fake in fakes:
            fake.calls.clear()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
        calls = [*fakes[0].calls, *fakes[1].calls]
        depth = critical_path(calls)
        operations = sorted(c.operation for c in calls)
    return depth, statistics.median(times), operations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added per call")
    args = parser.parse_args()

    github = FakeGitHub.start(delay=args.delay)
    repo = github.repository(REPO)
    people = [Author("Alice", "alice@example.com", "alice"), Author("Bob", "bob@example.com")]
    shas = [repo.add(f"Change {i}", people[i % 2]) for i in range(13)]
    fake = FakeAws.start(
        {
            "ListPipelineExecutions": _history(shas[0], shas[12]),
            "GetPipelineExecution": execution(EXECUTION, shas[12], codestar_summary("Ship")),
            "GetPipeline": pipeline_definition(PIPELINE, APP, GROUP),
            "ListActionExecutions": actions_page(
                deploy_execution(EXECUTION, DEPLOYMENT),
                source_execution(EXECUTION, shas[12], "Ship"),
            ),
        },
        delay=args.delay,
    )
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_CODEPIPELINE": fake.url,
            "AWS_ENDPOINT_URL_CODEDEPLOY": fake.url,
            "AWS_DEFAULT_REGION": "eu-west-2",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    config = Config(
        slack_bot_token="xoxb-bench",
        slack_api_url=f"{fake.url}/api/",
        pipelines=(PipelineMapping(PIPELINE, applications=(APP,), deployment_groups=(GROUP,)),),
        # github.com's repositories are asked of api.github.com, which `client` stands in for
        release=ReleaseSettings(github_api_url="https://api.github.com"),
    )
    poster = make_poster(config)
    directory = make_directory(config, None)
    cp, cd = aws.client("codepipeline"), aws.client("codedeploy")
    client = GitHub(github.url, lambda: "")

    def scenario(payload: dict[str, Any], *, diff: bool) -> Callable[[], None]:
        release = PerRun(ReleaseLookup(cp, cd, config, github=client, people=directory))
        enricher = Enricher(cp, cd, config, release=release if diff else None)  # type: ignore[arg-type]

        def run() -> None:
            handle_lambda_event(payload, config, poster, enricher)

        return run

    deployment = load_sample("codedeploy-trigger-success.json")
    rows = [
        ("execution, commit read from the API", _pipeline_event(None)),
        ("execution, commit named by the notification", _pipeline_event(shas[12])),
        ("CodeDeploy deployment of a mapped pipeline", deployment),
    ]
    print(f"{args.delay * 1000:.0f} ms per AWS, GitHub and Slack call, median of {args.runs} runs")
    print(f"{'scenario':46} {'diff':>4} {'round trips':>11} {'median':>8}  calls")
    for name, payload in rows:
        for diff in (False, True):
            depth, median, operations = _measure(
                (fake, github), args.runs, scenario(payload, diff=diff)
            )
            print(
                f"{name:46} {'on' if diff else 'off':>4} {depth:>11} {median * 1000:>6.0f}ms  "
                f"{', '.join(operations)}"
            )
            if diff and "compare" not in operations:
                raise SystemExit(f"{name}: the diff asked GitHub nothing: this measures nothing")
    # A run's later events (STARTED, then SUCCEEDED): the diff is kept per run.
    kept = ReleaseLookup(cp, cd, config, github=client, people=directory)
    enricher = Enricher(cp, cd, config, release=kept)
    payload = _pipeline_event(shas[12])

    def later() -> None:
        handle_lambda_event(payload, config, poster, enricher)

    depth, median, operations = _measure((fake, github), args.runs, later)
    name = "the same execution's next event (diff kept)"
    print(f"{name:46} {'on':>4} {depth:>11} {median * 1000:>6.0f}ms  {', '.join(operations)}")

    # A cold container: no guess of the base, and the authors' e-mails not yet asked about.
    def cold() -> None:
        fresh = ReleaseLookup(cp, cd, config, github=client, people=make_directory(config, None))
        handle_lambda_event(payload, config, poster, Enricher(cp, cd, config, release=fresh))

    depth, median, operations = _measure((fake, github), args.runs, cold)
    name = "commit named, cold container (authors unknown)"
    print(f"{name:46} {'on':>4} {depth:>11} {median * 1000:>6.0f}ms  {', '.join(operations)}")
    fake.close()
    github.close()


if __name__ == "__main__":
    main()
