"""The ledger: events fold into one record each, in any order; the list reads back sorted,
filtered and paged; entries without an account join their account's."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.config import SweepSettings
from bot.domain.ledger import (
    ACTIVITY,
    DeploymentLink,
    Entry,
    GroupEntry,
    PipelineEntry,
    fold,
    group_key,
    likely_first,
    load_entry,
    merge_accounts,
    parse_filter,
    pipeline_key,
    record_key,
    select_page,
    stuck_after,
    typical_seconds,
    with_executions,
)
from bot.domain.living import build_view, message_key
from bot.domain.model import Deployment, Execution, Scope, Source, Status
from bot.ledger import Ledger
from bot.store import SqliteStore
from tests.aws_data import deploy_success
from tests.test_living import FAILED, SUCCESS, flow

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(SqliteStore(str(tmp_path / "state.db")), clock=lambda: 1_700_000_000.0)


def test_each_event_changes_one_record_and_the_order_of_events_does_not_matter(
    ledger: Ledger, tmp_path: Path
) -> None:
    # GIVEN two real runs of one pipeline, delivered in order
    events = flow(SUCCESS) + flow(FAILED)
    for event in events:
        ledger.record(event)
    in_order = ledger.pipeline("000000000000", "ap-southeast-2", "meerkat")
    # WHEN the same events arrive shuffled (and some twice) into another ledger
    shuffled = Ledger(SqliteStore(str(tmp_path / "other.db")), clock=lambda: 1_700_000_000.0)
    noisy = events + random.Random(7).sample(events, 10)
    random.Random(3).shuffle(noisy)
    for event in noisy:
        shuffled.record(event)
    # THEN both ledgers say the same: the failed run is the latest, the successful one final
    assert shuffled.pipeline("000000000000", "ap-southeast-2", "meerkat") == in_order
    assert in_order is not None
    assert [(e.execution_id[:8], e.status) for e in in_order.executions] == [
        ("7705a421", Status.IN_PROGRESS),  # its own final event is not in the sample flow
        ("f17023e4", Status.SUCCEEDED),
    ]
    # AND the actions that ran a CodeDeploy deployment say which execution it belongs to
    link = ledger.execution_of("000000000000", "ap-southeast-2", "d-C3XYEM1QF", "", "")
    assert link is not None
    assert (link.pipeline, link.execution_id[:8]) == ("meerkat", "7705a421")
    assert (link.stage, link.action) == ("DeployToExternalAccount", "Deploy-GROUP_RED")


def test_a_final_state_is_never_replaced_by_a_late_running_one() -> None:
    started, succeeded = flow(SUCCESS)[0], flow(SUCCESS)[13]
    entry = fold(None, succeeded, 1.0)
    assert isinstance(entry, PipelineEntry)
    again = fold(entry, started, 2.0)
    assert isinstance(again, PipelineEntry)
    assert again.latest is not None and again.latest.status is Status.SUCCEEDED


def test_a_deployment_event_keeps_its_group_and_the_execution_enrichment_found(
    ledger: Ledger,
) -> None:
    # GIVEN a CodeDeploy trigger that enrichment joined to its pipeline execution
    event = replace(deploy_success(), account="111", pipeline="web", execution_id="exec-1")
    assert record_key(event) == group_key("111", event.region, event.application, "status-web-prod")
    ledger.record(event)
    # THEN the next event of that deployment finds its execution in the ledger
    link = ledger.execution_of(
        "111", event.region, event.deployment_id, event.application, event.deployment_group
    )
    assert link == DeploymentLink(event.deployment_id, "web", "exec-1")
    group = ledger.get(
        group_key("111", event.region, event.application, event.deployment_group), GroupEntry
    )
    assert group is not None and group.pipelines == ("web",)


def _execution(n: int, status: Status = Status.SUCCEEDED, minutes: int = 10) -> Execution:
    started = T0.replace(hour=n % 24, day=1 + n // 24)
    return Execution(
        f"exec-{n}", status, started, started.replace(minute=minutes) if status.is_final else None
    )


def test_a_lookup_without_account_joins_the_accounts_entry() -> None:
    named = PipelineEntry("web", "111", "eu-west-1", (_execution(2),), checked_at=5)
    unnamed = PipelineEntry(
        "web", "", "eu-west-1", (_execution(3), _execution(2, Status.FAILED)), checked_at=9
    )
    other_region = PipelineEntry("web", "", "us-east-1", (_execution(1),))
    merged = merge_accounts([named, unnamed, other_region])
    assert len(merged) == 2
    [joined] = [e for e in merged if e.region == "eu-west-1"]
    assert joined.account == "111"
    assert [(e.execution_id, e.status) for e in joined.executions] == [
        ("exec-3", Status.SUCCEEDED),
        ("exec-2", Status.SUCCEEDED),  # the account's own word (an event) wins
    ]
    assert joined.checked_at == 9


def test_the_list_is_ordered_by_activity_filtered_and_paged() -> None:
    entries = [
        PipelineEntry(
            f"svc-{n}-{'prod' if n % 2 else 'staging'}",
            executions=(_execution(n, Status.FAILED if n % 5 == 0 else Status.SUCCEEDED),),
        )
        for n in range(30)
    ]
    unseen = [PipelineEntry("zz-new-prod"), PipelineEntry("aa-new-staging")]
    first = select_page(entries, unseen, [], wanted=parse_filter(""), number=0, size=10)
    assert [e.name for e in first.entries][:3] == ["svc-29-prod", "svc-28-staging", "svc-27-prod"]
    assert (first.total, first.has_more) == (32, True)
    last = select_page(entries, unseen, [], wanted=parse_filter(""), number=3, size=10)
    assert last.entries == ()
    assert [u.name for u in last.unseen] == ["aa-new-staging", "zz-new-prod"]
    assert not last.has_more
    failing = select_page(entries, unseen, [], wanted=parse_filter("failing"), number=0, size=10)
    assert {e.name for e in failing.entries} == {
        "svc-0-staging",
        "svc-5-prod",
        "svc-10-staging",
        "svc-15-prod",
        "svc-20-staging",
        "svc-25-prod",
    }
    assert failing.unseen == ()
    prod = select_page(entries, unseen, [], wanted=parse_filter("prod"), number=0, size=40)
    assert all("prod" in e.name for e in prod.entries)
    assert [u.name for u in prod.unseen] == ["zz-new-prod"]
    prefix = select_page(entries, unseen, [], wanted=parse_filter("svc-1"), number=0, size=40)
    assert {e.name for e in prefix.entries} == {"svc-1-prod"} | {
        f"svc-1{n}-{'prod' if n % 2 else 'staging'}" for n in range(10)
    }


def test_groups_no_pipeline_deploys_to_are_shown_and_filtered_by_application() -> None:
    web = PipelineEntry("web-prod", executions=(_execution(1),))
    from bot.domain.codepipeline import PipelineInfo

    web = replace(web, definition=PipelineInfo("web-prod", deploy_targets=(("web", "prod"),)))
    covered = GroupEntry("web", "prod")
    loose = GroupEntry("legacy", "prod")
    page = select_page([web], [], [covered, loose], wanted=parse_filter(""), number=0, size=5)
    assert page.groups == (loose,)
    by_app = select_page([web], [], [covered, loose], wanted=parse_filter("web"), number=0, size=5)
    assert [e.name for e in by_app.entries] == ["web-prod"] and by_app.groups == ()


def test_likely_pipelines_come_first() -> None:
    names = ["billing-prod", "svc-117-staging", "svc-117-prod", "svc-118-prod", "ops"]
    likely, rest = likely_first(names, "svc-117", "svc-117-prod")
    assert likely == ["svc-117-prod", "svc-117-staging"]
    assert rest[0] == "svc-118-prod"  # shares words with the target


def test_stuck_after_comes_from_config_else_recent_durations() -> None:
    entry = PipelineEntry(
        "web", executions=tuple(_execution(n, minutes=m) for n, m in enumerate((10, 12, 30)))
    )
    assert typical_seconds(entry) == 12 * 60
    assert stuck_after(SweepSettings(), typical_seconds(entry)) == 36 * 60
    assert stuck_after(SweepSettings(stuck_after_minutes=90), 600) == 90 * 60
    assert stuck_after(SweepSettings(), None) == 60 * 60
    assert stuck_after(SweepSettings(), 10) == 300  # seconds-long runs are not stuck at once


def test_records_are_listed_by_activity_and_read_back_in_one_query(ledger: Ledger) -> None:
    for n in range(3):
        key = pipeline_key("", "eu-west-1", f"p{n}")
        ledger.change(
            key,
            lambda _, n=n: with_executions(
                PipelineEntry(f"p{n}", region="eu-west-1"), [_execution(n)]
            ),
        )
    pipelines, groups = ledger.listing()
    assert [p.name for p in pipelines] == ["p2", "p1", "p0"]
    assert groups == []
    record = ledger._store.get(pipeline_key("", "eu-west-1", "p2"))
    assert record is not None and record.listed is not None and record.listed[0] == ACTIVITY
    assert load_entry(record.key, record.body) == pipelines[0]


def _retried_execution() -> list[Deployment]:
    """A pipeline execution that failed, was retried and succeeded: its pipeline events, and
    the last stage's success reported in the same second as the execution's."""
    at = [T0.replace(minute=m) for m in range(4)]
    run = Deployment(
        Source.CODEPIPELINE, Scope.PIPELINE, Status.STARTED, region="eu-west-1", account="111"
    )
    run = replace(run, pipeline="web", execution_id="exec-retried")
    steps = [Status.STARTED, Status.FAILED, Status.RESUMED, Status.SUCCEEDED]
    events = [
        replace(run, status=s, occurred_at=t, event_id=f"e{i}")
        for i, (s, t) in enumerate(zip(steps, at, strict=True))
    ]
    stage = replace(run, scope=Scope.STAGE, stage="Deploy", status=Status.SUCCEEDED)
    return [*events, replace(stage, occurred_at=at[3], event_id="e4")]


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(5))))
def test_a_retried_execution_that_succeeded_stays_succeeded_in_any_order(
    arrival: tuple[int, ...],
) -> None:
    # GIVEN an execution that failed, was resumed and then succeeded, its events in any order
    events = [_retried_execution()[i] for i in arrival]
    entry: Entry | None = None
    for event in events:
        entry = fold(entry, event, 1.0) or entry
    # WHEN a duplicate of the failure arrives late
    failure = _retried_execution()[1]
    entry = fold(entry, failure, 2.0) or entry
    # THEN the ledger says succeeded, as the living message does
    assert isinstance(entry, PipelineEntry) and entry.latest is not None
    head = build_view(message_key(failure), [*events, failure]).head
    assert (entry.latest.status, head.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    # AND `/deploy-status failing` does not list it
    page = select_page([entry], [], [], wanted=parse_filter("failing"), number=0, size=20)
    assert page.entries == ()
