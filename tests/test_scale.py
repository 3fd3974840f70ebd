"""Many pipelines and a throttling AWS: rate limits, incremental discovery, warm lookups, and
/deploy-status answered from the ledger page by page. AWS is the loopback fake over HTTP with
real boto3 clients, throttling the way AWS's JSON protocol does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from blocks import ids
from blocks.deploy_status import build_answer, page_value, read_page_value
from bot import aws
from bot.aws import limits
from bot.aws.deploy_status import backfill, look_up
from bot.aws.enrich import Enricher
from bot.domain.config import Config, EnrichSettings
from bot.domain.ledger import (
    DeploymentLink,
    GroupEntry,
    Names,
    PipelineEntry,
    deployment_key,
    group_names_key,
    pipeline_key,
    with_executions,
)
from bot.domain.model import (
    AwsProblem,
    Execution,
    GroupStatus,
    PipelineStatus,
    Status,
    StatusReport,
)
from bot.ledger import Ledger
from bot.store import SqliteStore
from tests.aws_data import (
    SHA_A,
    actions_page,
    codestar_summary,
    deploy_execution,
    deploy_success,
    deployment_info,
    execution,
    pipeline_definition,
    source_execution,
)
from tests.aws_responses import as_wire, group_infos
from tests.blockkit import violations
from tests.fake_aws import FakeAws, Fault

REGION = "us-east-1"  # tests.aws_data's events are there


def _client(fake: FakeAws, service: str, *, attempts: int = 3) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=fake.url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=BotoConfig(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


@pytest.fixture
def fake() -> Iterator[FakeAws]:
    server = FakeAws.start({"ListPipelines": {"pipelines": []}})
    yield server
    server.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(SqliteStore(str(tmp_path / "state.db")))


# --- the fake throttles like AWS ------------------------------------------------------------


def test_the_fake_throttles_with_awss_error_shape_and_counts_botocores_retries(
    fake: FakeAws,
) -> None:
    # GIVEN an API limited to 1 request per second, already used
    fake.throttle(1, burst=1)
    once = _client(fake, "codepipeline", attempts=1)
    once.list_pipelines()
    # WHEN a request comes too soon THEN botocore reads AWS's throttling error from it
    with pytest.raises(ClientError) as caught:
        once.list_pipelines()
    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    # AND a retrying client's own retries are calls the fake counts
    fake.calls.clear()
    fake.throttle(0.001, burst=0)
    with pytest.raises(aws.AwsError) as failed:
        aws.call(_client(fake, "codepipeline", attempts=3), "list_pipelines")
    assert failed.value.problem.kind == "throttled"
    assert [c.throttled for c in fake.calls] == [True, True, True]


# --- the rate limiter ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_limiter_paces_each_api_and_halves_once_per_burst_when_throttled() -> None:
    clock = Clock()
    limiter = limits.RateLimiter(rate=4, clock=clock, sleep=clock.sleep)
    # GIVEN an idle API: a second's worth goes at once, then one every 1/rate seconds
    for _ in range(6):
        limiter.acquire("codepipeline.GetPipeline")
    assert clock.slept == [pytest.approx(0.25)]
    limiter.acquire("codepipeline.ListPipelines")  # another API has its own bucket
    assert len(clock.slept) == 1
    # WHEN AWS throttles three answers of one burst THEN the rate halves once
    for _ in range(3):
        limiter.answered("codepipeline.GetPipeline", throttled=True)
    assert limiter.rate("codepipeline.GetPipeline") == 2
    # AND answers bring it back, slowly once near the rate that was throttled
    for _ in range(20):
        limiter.answered("codepipeline.GetPipeline", throttled=False)
    assert 3.4 < limiter.rate("codepipeline.GetPipeline") < 4


def test_a_request_that_would_wait_past_the_deadline_is_not_sent(fake: FakeAws) -> None:
    # GIVEN a client whose requests go through a limiter of one request per second
    client = _client(fake, "codepipeline")
    limits.RateLimiter(rate=1).attach(client)
    # WHEN three requests must go within half a second
    results = []
    with limits.time_left(0.5):
        for _ in range(3):
            try:
                aws.call(client, "list_pipelines")
                results.append("sent")
            except aws.AwsError as exc:
                results.append(exc.problem.kind)
    # THEN what the idle API allows at once went out, and the last failed at once, unsent
    assert results == ["sent", "sent", "timeout"]
    assert len(fake.calls) == 2


# --- commit lookups with the ledger ----------------------------------------------------------


def test_a_deployment_the_ledger_maps_costs_one_call(fake: FakeAws, ledger: Ledger) -> None:
    # GIVEN a ledger that knows which execution ran the deployment, and the pipeline's definition
    event = replace(deploy_success(), account="111")
    link = DeploymentLink(event.deployment_id, "web-prod", "exec-a")
    ledger.change(deployment_key("111", REGION, event.deployment_id), lambda _: link)
    definition = pipeline_definition("web-prod")
    from bot.domain.codepipeline import parse_pipeline
    from bot.domain.ledger import with_definition

    ledger.change(
        pipeline_key("111", REGION, "web-prod"),
        lambda _: with_definition(
            PipelineEntry("web-prod", "111", REGION), parse_pipeline(definition), ledger.now()
        ),
    )
    fake.answers["GetPipelineExecution"] = execution("exec-a", SHA_A, codestar_summary("Fix it"))
    enricher = Enricher(
        _client(fake, "codepipeline"), _client(fake, "codedeploy"), Config(), ledger=ledger
    )
    # WHEN its trigger is enriched in a new container
    enriched = enricher.enrich(event)
    # THEN one call named the commit, and the message joins the execution
    assert fake.operations() == ["GetPipelineExecution"]
    assert enriched.commit is not None and enriched.commit.sha == SHA_A
    assert enriched.commit.branch == "main"  # from the definition the ledger kept
    assert enriched.execution_id == "exec-a"


def test_discovery_goes_on_where_the_last_event_stopped_and_never_reads_twice(
    fake: FakeAws, tmp_path: Path
) -> None:
    # GIVEN 40 pipelines whose names do not say what they deploy, the right one last in line,
    # and an AWS that allows 10 GetPipeline a second
    names = [f"pipeline-{n:02d}" for n in range(40)]
    fake.answers["ListPipelines"] = {"pipelines": [{"name": n} for n in names]}
    fake.answers["GetPipeline"] = lambda p: (
        pipeline_definition(p["name"])
        if p["name"] == "pipeline-39"
        else pipeline_definition(p["name"], "other", p["name"])
    )
    fake.answers["ListActionExecutions"] = actions_page(
        deploy_execution("exec-a", "d-X1234567"), source_execution("exec-a", SHA_A, "Fix it")
    )
    fake.throttle(10, burst=10)
    store = SqliteStore(str(tmp_path / "state.db"))
    config = Config(enrich=EnrichSettings(timeout_seconds=1.0))
    event = deploy_success()
    events_needed = 0
    # WHEN the deployment's events come one after another, each in a new container
    for _ in range(8):
        events_needed += 1
        limits.SHARED.reset()
        cp = _client(fake, "codepipeline")
        limits.SHARED.attach(cp)
        pool = ThreadPoolExecutor(8)
        enricher = Enricher(
            cp, _client(fake, "codedeploy"), config, ledger=Ledger(store), executor=pool
        )
        enriched = enricher.enrich(event)
        pool.shutdown(wait=True)  # the container's reads in flight at the deadline end with it
        if enriched.commit is not None:
            break
        assert any("the search goes on with the next event" in n for n in enriched.notes)
    # THEN the search went on across events and containers until it found the commit
    assert enriched.commit is not None and enriched.commit.sha == SHA_A
    assert 1 < events_needed < 8
    # AND no definition was read twice, and no retry storm: each new container meets AWS's
    # limit only while it learns the rate (its first burst and slow start)
    reads = [
        c.params["name"] for c in fake.calls if c.operation == "GetPipeline" and not c.throttled
    ]
    assert len(reads) == len(set(reads))
    assert fake.throttled() <= len(reads) // 2


# --- /deploy-status from the ledger ----------------------------------------------------------


def _filled(ledger: Ledger, count: int) -> list[str]:
    """A ledger that knows `count` pipelines, checked just now, one failing in seven."""
    from datetime import UTC, datetime

    names = [f"svc-{n:03d}-{'prod' if n % 2 else 'staging'}" for n in range(count)]
    for n, name in enumerate(names):
        started = datetime.fromtimestamp(1_700_000_000 + n * 3600, UTC)
        status = Status.FAILED if n % 7 == 0 else Status.SUCCEEDED
        run = Execution(f"{n:08d}-0000-4000-8000-000000000000", status, started, started)
        entry = with_executions(PipelineEntry(name, region=REGION), [run], ledger.now())
        ledger.change(entry.key, lambda _, entry=entry: entry)
    ledger.put_names(
        "",
        REGION,
        __import__("bot.domain.ledger", fromlist=["Names"]).Names(tuple(names), ledger.now()),
    )
    return names


def test_400_pipelines_answer_from_one_query_in_pages(fake: FakeAws, ledger: Ledger) -> None:
    # GIVEN a ledger that events keep fresh for 400 pipelines
    names = _filled(ledger, 400)
    cp, cd = _client(fake, "codepipeline"), _client(fake, "codedeploy")
    # WHEN the overview is asked for
    report = look_up("", Config(), cp, cd, ledger=ledger)
    # THEN no AWS call was needed, the newest activity comes first, and a page fits Slack
    assert fake.calls == []
    assert isinstance(report, StatusReport)
    assert [p.name for p in report.pipelines][:2] == [names[399], names[398]]
    assert (report.total, report.has_more, len(report.pipelines)) == (400, True, 20)
    answer = build_answer(report, query="", share=True)
    assert violations(answer) == [] and len(answer["blocks"]) <= 50
    [actions] = [b for b in answer["blocks"] if b["type"] == "actions"]
    next_button = actions["elements"][-1]
    assert next_button["action_id"] == ids.STATUS_NEXT
    assert read_page_value(next_button["value"]) == ("", 1)
    assert "Pipelines 1–20 of 400" in json.dumps(answer, ensure_ascii=False)
    assert answer["text"] == "Deployments: 20 of 400 pipelines, 3 failed"
    # AND the last page has no Next button
    last = look_up("", Config(), cp, cd, ledger=ledger, page=19)
    assert isinstance(last, StatusReport) and not last.has_more
    last_answer = build_answer(last, query="", share=True)
    assert "Pipelines 381–400 of 400" in json.dumps(last_answer, ensure_ascii=False)
    # AND `failing` and `prod` filter the same list
    failing = look_up("failing", Config(), cp, cd, ledger=ledger)
    assert isinstance(failing, StatusReport) and failing.total == len(range(0, 400, 7))
    assert all(p.latest is not None and p.latest.status is Status.FAILED for p in failing.pipelines)
    prod = look_up("prod", Config(), cp, cd, ledger=ledger)
    assert isinstance(prod, StatusReport) and prod.total == 200
    assert fake.calls == []


def test_a_pipeline_aws_refuses_is_one_line_and_the_rest_stands(
    fake: FakeAws, ledger: Ledger
) -> None:
    # GIVEN a ledger whose entries are stale, and one pipeline the role may not read
    _filled(ledger, 3)

    def executions(params: dict[str, Any]) -> dict[str, Any]:
        if params["pipelineName"] == "svc-002-staging":
            raise Fault(400, "AccessDeniedException", "not authorized")
        return {"pipelineExecutionSummaries": []}

    fake.answers["ListPipelineExecutions"] = executions
    config = Config()
    stale = replace(config, status=replace(config.status, fresh_seconds=0))
    report = look_up(
        "", stale, _client(fake, "codepipeline"), _client(fake, "codedeploy"), ledger=ledger
    )
    # THEN that pipeline is one line naming what to grant, with what was last known
    assert isinstance(report, StatusReport)
    [refused] = [p for p in report.pipelines if p.problem]
    assert refused.name == "svc-002-staging" and refused.problem is not None
    assert refused.problem.kind == "denied"
    answer = json.dumps(build_answer(report, query="", share=True), ensure_ascii=False)
    assert "AWS denied `codepipeline:ListPipelineExecutions` · last known:" in answer
    assert "svc-000-staging" in answer and "svc-001-prod" in answer


def test_a_throttled_pipeline_is_one_line_saying_so() -> None:
    latest = Execution("e1", Status.SUCCEEDED)
    report = StatusReport(
        pipelines=(
            PipelineStatus(
                "web",
                "eu-west-1",
                latest,
                problem=AwsProblem("throttled", "codepipeline:ListPipelineExecutions"),
            ),
            PipelineStatus("api", "eu-west-1", latest),
        )
    )
    answer = build_answer(report, query="", share=True)
    web = answer["blocks"][1]["text"]["text"]
    assert web.count("\n") == 0
    assert ":hourglass: AWS is throttling `codepipeline:ListPipelineExecutions`" in web
    assert violations(answer) == []


def test_a_garbled_next_value_shows_the_first_page() -> None:
    assert read_page_value("not json") == ("", 0)
    assert read_page_value(page_value("prod", 3)) == ("prod", 3)


def test_the_backfill_reads_executions_and_definitions_side_by_side(
    fake: FakeAws, ledger: Ledger
) -> None:
    # GIVEN 40 pipelines the ledger has never seen (each needs its executions and definition)
    names = [f"svc-{n:02d}-prod" for n in range(40)]
    fake.answers["ListPipelines"] = {"pipelines": [{"name": n} for n in names]}
    fake.answers["ListPipelineExecutions"] = {"pipelineExecutionSummaries": []}
    fake.answers["GetPipeline"] = lambda p: pipeline_definition(p["name"])
    fake.answers["ListApplications"] = {"applications": []}
    cp, cd = _client(fake, "codepipeline"), _client(fake, "codedeploy")
    # WHEN the ledger is filled in after an answer
    done = backfill(Config(), cp, cd, ledger, seconds=10)
    # THEN every read was made, and the two APIs (each throttled on its own by AWS) were read
    # side by side from the start, not one after the other
    reads = [op for op in fake.operations() if op in ("ListPipelineExecutions", "GetPipeline")]
    assert done == 80 and len(reads) == 80
    first = reads[:20]
    assert first.count("GetPipeline") >= 6, first
    assert first.count("ListPipelineExecutions") >= 6, first


def test_a_filter_word_wins_over_a_group_of_that_name(fake: FakeAws, ledger: Ledger) -> None:
    # GIVEN pipelines named *-prod and *-staging, and one deployment group called "prod"
    _filled(ledger, 6)
    group = GroupEntry("billing", "prod", region=REGION)
    ledger.change(group.key, lambda _: group)
    fake.answers["ListDeployments"] = {"deployments": []}
    cp, cd = _client(fake, "codepipeline"), _client(fake, "codedeploy")
    # WHEN someone asks for `/deploy-status prod` THEN the filter answers: the prod pipelines
    prod = look_up("prod", Config(), cp, cd, ledger=ledger)
    assert isinstance(prod, StatusReport), prod
    assert [p.name for p in prod.pipelines] == ["svc-005-prod", "svc-003-prod", "svc-001-prod"]
    assert fake.calls == []
    # AND `application/group` still answers with the group in detail
    detail = look_up("billing/prod", Config(), cp, cd, ledger=ledger)
    assert isinstance(detail, GroupStatus) and (detail.application, detail.group) == (
        "billing",
        "prod",
    )
    # AND so does the group's bare name where it filters nothing else
    other = look_up("staging", Config(), cp, cd, ledger=ledger)
    assert isinstance(other, StatusReport) and other.total == 3
    alone = GroupEntry("billing", "blue", region=REGION)
    ledger.change(alone.key, lambda _: alone)
    blue = look_up("blue", Config(), cp, cd, ledger=ledger)
    assert isinstance(blue, GroupStatus) and blue.group == "blue"


def test_listing_the_deployment_groups_keeps_only_when_it_was_done(
    fake: FakeAws, ledger: Ledger
) -> None:
    # GIVEN an account with 2,500 deployment groups of the longest names CodeDeploy allows
    application = "a" * 100
    groups = [f"{n:0100d}" for n in range(2500)]
    fake.answers["ListApplications"] = {"applications": [application]}
    fake.answers["ListDeploymentGroups"] = {"deploymentGroups": groups}
    fake.answers["BatchGetDeploymentGroups"] = {"deploymentGroupsInfo": []}
    cp, cd = _client(fake, "codepipeline"), _client(fake, "codedeploy")
    # WHEN the ledger is filled in
    backfill(Config(), cp, cd, ledger, seconds=10)
    # THEN what is read later (when they were listed) is kept, not 500 KB of names that one
    # DynamoDB item (400 KB at most) could not hold
    listed = ledger.get(group_names_key("", REGION), Names)
    assert listed is not None and listed.listed_at > 0 and listed.names == ()


def test_a_group_or_application_name_the_ledger_has_not_seen_is_asked_of_codedeploy(
    fake: FakeAws, ledger: Ledger
) -> None:
    # GIVEN pipelines that deploy elsewhere, and a CodeDeploy application the ledger never saw
    _filled(ledger, 4)
    infos = as_wire(group_infos())
    infos["deploymentGroupsInfo"][0]["deploymentGroupName"] = "canary"
    fake.answers["ListApplications"] = {"applications": ["legacy-app"]}
    fake.answers["ListDeploymentGroups"] = {"deploymentGroups": ["canary"]}
    fake.answers["BatchGetDeploymentGroups"] = infos
    fake.answers["ListDeployments"] = {"deployments": ["d-C3XYEM1QF"]}
    deployment = deployment_info(
        "d-C3XYEM1QF", applicationName="legacy-app", deploymentGroupName="canary"
    )
    fake.answers["BatchGetDeployments"] = {"deploymentsInfo": [deployment["deploymentInfo"]]}
    cp, cd = _client(fake, "codepipeline"), _client(fake, "codedeploy")
    # WHEN `/deploy-status APPLICATION` is asked THEN its groups answer, with their last one
    application = look_up("legacy-app", Config(), cp, cd, ledger=ledger)
    assert isinstance(application, StatusReport), application
    assert application.title == "Application legacy-app"
    [group] = application.groups
    assert (group.application, group.group) == ("legacy-app", "canary")
    assert [(d.deployment_id, d.status) for d in group.deployments] == [
        ("d-C3XYEM1QF", Status.FAILED)
    ]
    # AND `/deploy-status GROUP` answers with that group's history, read from CodeDeploy
    for query in ("canary", "legacy-app/canary", "LEGACY-APP/Canary"):
        fake.calls.clear()
        detail = look_up(query, Config(), cp, cd, ledger=ledger)
        assert isinstance(detail, GroupStatus), (query, detail)
        assert (detail.application, detail.group) == ("legacy-app", "canary")
        assert [d.deployment_id for d in detail.deployments] == ["d-C3XYEM1QF"]
        assert "BatchGetDeployments" in fake.operations()
