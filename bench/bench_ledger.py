"""The ledger at scale: /deploy-status and commit lookups for 10, 100 and 400 pipelines.

A local fake of CodePipeline and CodeDeploy (AWS JSON 1.1 over HTTP on loopback) holds N
pipelines named `svc-NNN-prod` / `svc-NNN-staging`, each deploying its own CodeDeploy group,
and adds DELAY seconds to every call. With `--rate`, it also throttles each API to RATE
requests per second (bursts of RATE) the way AWS does: HTTP 400, ThrottlingException. Every
request is counted, botocore's own retries included. The store is a fresh SQLite file per
scenario, the boto3 clients are the ones deploybot builds (standard retries, the per-API rate
limiter); `--limiter adaptive` swaps the limiter for botocore's adaptive retry mode.

Printed per size: the /deploy-status overview (the first answer with an empty ledger, the
backfill after it, an answer from a filled ledger whose entries are stale, one from a fresh
ledger) and the commit lookup of a CodeDeploy trigger (a cold container with an empty ledger,
the same deployment's next event, a cold container with a filled ledger).

    uv run python bench/bench_ledger.py [--sizes 10 100 400] [--delay 0.05] [--rate 5]
        [--limiter ours|adaptive] [--baseline]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import aws  # noqa: E402
from bot.aws import limits  # noqa: E402
from bot.aws.deploy_status import backfill, look_up  # noqa: E402
from bot.aws.enrich import Enricher  # noqa: E402
from bot.domain.config import Config, StatusSettings  # noqa: E402
from bot.domain.events import parse_payload  # noqa: E402
from bot.domain.model import Deployment, StatusReport  # noqa: E402
from bot.ledger import Ledger  # noqa: E402
from bot.store import SqliteStore  # noqa: E402
from tests.aws_data import (  # noqa: E402
    SHA_A,
    actions_page,
    codestar_summary,
    deploy_execution,
    execution,
    pipeline_definition,
    source_execution,
)
from tests.conftest import load_sample  # noqa: E402
from tests.fake_aws import FakeAws  # noqa: E402

REGION = "eu-west-2"
DEPLOYMENT = "d-BENCH0001"
EXECUTION = "a1a1a1a1-0000-4000-8000-00000000000a"
SERVICES_PER_ENV = 2  # svc-NNN-prod and svc-NNN-staging


def names(size: int) -> list[str]:
    """N pipeline names: svc-000-prod, svc-000-staging, svc-001-prod, ..."""
    return [f"svc-{i // SERVICES_PER_ENV:03d}-{('prod', 'staging')[i % 2]}" for i in range(size)]


def target(size: int) -> str:
    """The pipeline whose deployment is looked up: a production one in the middle."""
    return names(size)[size // 2 - (size // 2) % 2]


def answers(size: int) -> dict[str, Any]:
    """The fake's answers for `size` pipelines (executions an hour apart, newest last)."""
    pipelines = names(size)
    index = {name: i for i, name in enumerate(pipelines)}
    wanted = target(size)

    def summaries(params: dict[str, Any]) -> dict[str, Any]:
        i = index[params["pipelineName"]]
        started = 1_700_000_000 + i * 3600
        return {
            "pipelineExecutionSummaries": [
                {
                    "pipelineExecutionId": f"{i:08d}-0000-4000-8000-000000000000",
                    "status": "Failed" if i % 7 == 0 else "Succeeded",
                    "startTime": started,
                    "lastUpdateTime": started + 300,
                    "sourceRevisions": [
                        {
                            "actionName": "AppSource",
                            "revisionId": f"{i:040x}",
                            "revisionSummary": codestar_summary(f"Change {i}"),
                        }
                    ],
                    "trigger": {"triggerType": "Webhook", "triggerDetail": "push"},
                }
            ]
        }

    def definition(params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        return pipeline_definition(name, name.rsplit("-", 1)[0], name)

    def actions(params: dict[str, Any]) -> dict[str, Any]:
        if params["pipelineName"] != wanted:
            return actions_page()
        deploy = deploy_execution(EXECUTION, DEPLOYMENT)
        deploy["input"]["configuration"] = {
            "ApplicationName": wanted.rsplit("-", 1)[0],
            "DeploymentGroupName": wanted,
        }
        return actions_page(deploy, source_execution(EXECUTION, SHA_A, "Fix the login page"))

    return {
        "ListPipelines": {"pipelines": [{"name": n} for n in pipelines]},
        "ListPipelineExecutions": summaries,
        "GetPipeline": definition,
        "ListActionExecutions": actions,
        "GetPipelineExecution": execution(EXECUTION, SHA_A, codestar_summary("Fix the login")),
        "ListApplications": {"applications": []},
    }


@dataclass
class Bench:
    """One fake AWS, its clients and a store, for one size and one throttling setting."""

    fake: FakeAws
    limiter: str
    store_dir: str

    def clients(self) -> tuple[Any, Any]:
        """A new container's clients: deploybot's own, or botocore's adaptive mode."""
        aws._client.cache_clear()
        limits.SHARED.reset()
        if self.limiter == "ours":
            return aws.client("codepipeline"), aws.client("codedeploy")
        import boto3
        from botocore.config import Config as BotoConfig

        config = BotoConfig(retries={"mode": "adaptive", "total_max_attempts": 3})
        return boto3.client("codepipeline", config=config), boto3.client(
            "codedeploy", config=config
        )

    def ledger(self, name: str) -> Ledger:
        return Ledger(SqliteStore(str(Path(self.store_dir) / f"{name}.db")))

    def measure(self, work: Callable[[], Any]) -> tuple[float, int, int, Any]:
        """(seconds, AWS requests, throttled requests, result) of `work`."""
        before, throttled = len(self.fake.calls), self.fake.throttled()
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        return seconds, len(self.fake.calls) - before, self.fake.throttled() - throttled, result


def _row(what: str, seconds: float, calls: int, throttled: int, note: str) -> None:
    # Every request AWS answered is one the same work needs unthrottled too.
    ratio = f"{calls / (calls - throttled):.2f}x" if calls > throttled else "-"
    print(f"  {what:44} {seconds:8.2f} s {calls:6d} {throttled:9d} {ratio:>6}  {note}")


def overview(bench: Bench, size: int, config: Config) -> None:
    cp, cd = bench.clients()
    ledger = bench.ledger(f"overview-{size}")

    def answer(settings: Config) -> Callable[[], Any]:
        return lambda: look_up("", settings, cp, cd, ledger=ledger)

    def shown(report: Any) -> str:
        if not isinstance(report, StatusReport):
            return f"{type(report).__name__}: {report}"
        problems = sum(1 for p in report.pipelines if p.problem)
        return f"{len(report.pipelines)} shown of {report.total}, {report.unseen} not read yet" + (
            f", {problems} shown as throttled/failed" if problems else ""
        )

    _row("first answer, empty ledger", *bench.measure(answer(config))[:3], "")
    seconds, calls, throttled, done = bench.measure(
        lambda: backfill(config, cp, cd, ledger, seconds=20)
    )
    left = len(ledger.listing()[0])
    note = f"{done} reads; {left}/{size} in the ledger"
    _row("  then backfill (20 s budget)", seconds, calls, throttled, note)
    stale = replace(config, status=StatusSettings(fresh_seconds=0))
    result = bench.measure(answer(stale))
    _row("answer, filled ledger, every entry stale", *result[:3], shown(result[3]))
    result = bench.measure(answer(config))
    _row("answer, filled ledger, fresh", *result[:3], shown(result[3]))


def baseline(bench: Bench, size: int, config: Config) -> None:
    """The overview as main had it before the ledger (sequential reads of every pipeline)."""
    import subprocess

    source = subprocess.run(
        ["git", "show", "715f158:bot/aws/deploy_status.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("old_deploy_status")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, "old_deploy_status", "exec"), module.__dict__)
    cp, cd = bench.clients()
    result = bench.measure(lambda: module.look_up("", config, cp, cd))
    _row("before the ledger (main 715f158)", *result[:3], "")


def trigger(size: int) -> Deployment:
    event = parse_payload(load_sample("codedeploy-trigger-success.json"))[0]
    pipeline = target(size)
    return replace(
        event,
        region=REGION,
        account="123456789012",
        application=pipeline.rsplit("-", 1)[0],
        deployment_group=pipeline,
        deployment_id=DEPLOYMENT,
    )


def enrichment(bench: Bench, size: int, config: Config) -> None:
    ledger = bench.ledger(f"enrich-{size}")
    event = trigger(size)

    def enricher() -> Enricher:
        cp, cd = bench.clients()
        return Enricher(cp, cd, config, ledger=ledger)

    def lookup(made: Enricher) -> Callable[[], Deployment]:
        def run() -> Deployment:
            enriched = made.enrich(event)
            ledger.record(enriched)  # what the notification path does next
            return enriched

        return run

    def found(result: Deployment) -> str:
        if result.commit is not None and result.commit.sha == SHA_A:
            return "right commit"
        return "no commit: " + "; ".join(result.notes)[:90]

    first = enricher()
    for what, made in (
        ("commit lookup, cold container, empty ledger", first),
        ("the same deployment's next event", first),
        ("cold container, filled ledger", enricher()),
    ):
        seconds, calls, throttled, result = bench.measure(lookup(made))
        _row(what, seconds, calls, throttled, found(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 400])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added per call")
    parser.add_argument("--rate", type=float, default=0.0, help="throttle: requests/s per API")
    parser.add_argument("--limiter", choices=["ours", "adaptive"], default="ours")
    parser.add_argument("--baseline", action="store_true", help="also time main's overview")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # botocore's "Found credentials" lines
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    throttling = f", throttled to {args.rate:g} requests/s per API" if args.rate else ""
    print(f"{args.delay * 1000:.0f} ms per AWS call{throttling}; limiter: {args.limiter}")
    print(f"  {'':44} {'time':>10} {'calls':>6} {'throttled':>9} {'ratio':>6}")
    for size in args.sizes:
        fake = FakeAws.start(answers(size), delay=args.delay)
        if args.rate:
            fake.throttle(args.rate, burst=args.rate)
        os.environ["AWS_ENDPOINT_URL_CODEPIPELINE"] = fake.url
        os.environ["AWS_ENDPOINT_URL_CODEDEPLOY"] = fake.url
        with tempfile.TemporaryDirectory() as store_dir:
            bench = Bench(fake, args.limiter, store_dir)
            print(f"{size} pipelines")
            overview(bench, size, Config())
            if args.baseline:
                baseline(bench, size, Config())
            enrichment(bench, size, Config())
        fake.close()


if __name__ == "__main__":
    main()
