"""Warm end-to-end time of the notification path with enrichment, against slow local fakes.

One loopback server plays CodePipeline, CodeDeploy (AWS JSON 1.1, dispatched on X-Amz-Target)
and Slack's chat.postMessage, adding DELAY seconds to every call. The real boto3 clients reach it
through AWS_ENDPOINT_URL_CODEPIPELINE / AWS_ENDPOINT_URL_CODEDEPLOY and the real WebClient
through its base URL. For each scenario it prints the calls made, the sequential round trips
on the critical path (the longest chain of calls each starting after the previous ended) and
the median wall time of the warm runs.

    uv run python bench/bench_enrich.py [--runs 20] [--delay 0.05]
"""

from __future__ import annotations

import argparse
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
from bot.aws import limits  # noqa: E402
from bot.aws.enrich import Enricher  # noqa: E402
from bot.domain.config import Config, PipelineMapping  # noqa: E402
from bot.slack import make_poster  # noqa: E402
from handlers.notifications import handle_lambda_event  # noqa: E402
from tests.aws_data import (  # noqa: E402
    SHA_A,
    SHA_B,
    actions_page,
    codestar_summary,
    deploy_execution,
    execution,
    other_execution,
    pipeline_definition,
    source_execution,
)
from tests.conftest import load_fixture, load_sample  # noqa: E402
from tests.fake_aws import FakeAws, critical_path  # noqa: E402

APP, GROUP, DEPLOYMENT = "temporary-status", "temporary-status-deployment", "d-MainDeployment"
PIPELINE = "status-pipeline"
EXEC_A, EXEC_B = "a1a1a1a1-0000-4000-8000-00000000000a", "b2b2b2b2-0000-4000-8000-00000000000b"
MAPPED = PipelineMapping(pipeline=PIPELINE, applications=(APP,), deployment_groups=(GROUP,))


def _same_page() -> dict[str, Any]:
    return actions_page(
        source_execution(EXEC_B, SHA_B, "newer"),
        deploy_execution(EXEC_A, DEPLOYMENT),
        other_execution(EXEC_A),
        source_execution(EXEC_A, SHA_A, "Fix the login page"),
    )


def _other_page() -> dict[str, Any]:
    return actions_page(
        source_execution(EXEC_B, SHA_B, "newer"),
        deploy_execution(EXEC_A, DEPLOYMENT),
        next_token="more",
    )


def _definition(params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    if name == PIPELINE:
        return pipeline_definition(PIPELINE, APP, GROUP)
    return pipeline_definition(name, "other-app", "other-group")


ANSWERS: dict[str, Any] = {
    "GetPipelineExecution": execution(EXEC_A, SHA_A, codestar_summary("Fix the login page")),
    "GetPipeline": _definition,
    "ListPipelines": {
        "pipelines": [{"name": f"pipeline-{i}"} for i in range(5)] + [{"name": PIPELINE}]
    },
    "ListDeploymentTargets": load_fixture("api/codedeploy-list-deployment-targets-meerkat.json"),
    "BatchGetDeploymentTargets": load_fixture(
        "api/codedeploy-batch-get-deployment-targets-failed-meerkat.json"
    ),
}


def _measure(
    fake: FakeAws, runs: int, run: Callable[[], None], *, warm: bool = True
) -> tuple[list[str], int, float]:
    """(operations of the last run, its critical path, median seconds over `runs`)."""
    if warm:
        run()  # fills the container's caches: clients, pipeline definitions
    times = []
    operations: list[str] = []
    depth = 0
    for _ in range(runs):
        fake.calls.clear()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
        operations = sorted(fake.operations())
        depth = critical_path(fake.calls)
    return operations, depth, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added per call")
    args = parser.parse_args()

    fake = FakeAws.start(dict(ANSWERS), delay=args.delay)
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
    base = Config(slack_bot_token="xoxb-bench", slack_api_url=f"{fake.url}/api/")
    poster = make_poster(base)
    success = load_sample("codedeploy-trigger-success.json")
    failure = load_sample("codedeploy-trigger-failure.json")

    def scenario(
        config: Config, payload: dict[str, Any], fresh: bool = False
    ) -> Callable[[], None]:
        enricher = Enricher(aws.client("codepipeline"), aws.client("codedeploy"), config)

        def run() -> None:
            nonlocal enricher
            if fresh:  # a cold container: nothing cached yet, its own rate limiter
                limits.SHARED.reset()
                enricher = Enricher(aws.client("codepipeline"), aws.client("codedeploy"), config)
            handle_lambda_event(payload, config, poster, enricher)

        return run

    mapped = Config(
        slack_bot_token=base.slack_bot_token, slack_api_url=base.slack_api_url, pipelines=(MAPPED,)
    )
    rows = []
    fake.answers["ListActionExecutions"] = _same_page()
    rows.append(("success, mapping cached, source on the same page", scenario(mapped, success)))
    rows.append(("failure (targets + log tail), mapping cached", scenario(mapped, failure)))
    rows.append(("success, discovered pipeline (warm cache)", scenario(base, success)))
    rows.append(
        ("success, cold container: discovery of 6 pipelines", scenario(base, success, fresh=True))
    )
    print(f"{args.delay * 1000:.0f} ms per AWS and Slack call, median of {args.runs} runs")
    print(f"{'scenario':58} {'round trips':>11} {'median':>8}  calls")
    for name, run in rows:
        operations, depth, median = _measure(fake, args.runs, run)
        print(f"{name:58} {depth:>11} {median * 1000:>6.0f}ms  {', '.join(operations)}")
    fake.answers["ListActionExecutions"] = _other_page()
    name = "success, mapping cached, execution read (source elsewhere)"
    operations, depth, median = _measure(fake, args.runs, scenario(mapped, success))
    print(f"{name:58} {depth:>11} {median * 1000:>6.0f}ms  {', '.join(operations)}")
    fake.close()


if __name__ == "__main__":
    main()
