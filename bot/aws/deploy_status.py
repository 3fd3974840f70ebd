"""What /deploy-status reads: the ledger first, then AWS for only what the answer shows.

The overview is one query of the ledger (every pipeline and deployment group by recent
activity), a filter and a page of it, and a bounded, parallel, rate-limited refresh of the
pipelines on that page whose ledger entry is older than `status.fresh_seconds` (one
list_pipeline_executions each). Pipelines the ledger has never seen are read when they are on
the page; the others are read after the answer, by `backfill`, so the next answer has them.
A pipeline AWS refuses or throttles is one line saying so; the rest of the answer stands.

`/deploy-status NAME` reads one pipeline (its stages and history) or one deployment group in
detail. The reads go through `bot.aws.call` on injected clients; bot/domain turns the answers
into the model. Any AWS failure becomes an `AwsProblem` that names the IAM action to grant.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from bot import aws
from bot.aws import AwsError
from bot.aws.discovery import Discovery
from bot.aws.run import LookupFailed, Run
from bot.domain.codedeploy import parse_deployment, parse_last_deployment
from bot.domain.codepipeline import parse_execution, parse_stages
from bot.domain.coerce import as_list, as_str, mappings
from bot.domain.config import Config
from bot.domain.ledger import (
    Entry,
    Filter,
    GroupEntry,
    Names,
    Page,
    PipelineEntry,
    group_key,
    group_names_key,
    parse_filter,
    pipeline_key,
    select_page,
    with_executions,
)
from bot.domain.model import (
    AwsProblem,
    Deployment,
    Execution,
    GroupStatus,
    Lookup,
    NotFound,
    PipelineStatus,
    StatusReport,
)
from bot.ledger import Ledger
from bot.store import StoreError

logger = logging.getLogger(__name__)

HISTORY = 5  # executions or deployments in a detailed answer, and per refresh
SUGGESTIONS = 5
REFRESH_SECONDS = 2.0  # the shown pipelines' refresh must leave the answer well under 3 s
POOL_SIZE = 8


def closest(name: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """The names most like `name`: case-insensitive prefix or substring hits, then difflib's."""
    lowered = {c.lower(): c for c in candidates}
    key = name.lower()
    hits = [c for c in candidates if key and key in c.lower()]
    fuzzy = difflib.get_close_matches(key, list(lowered), n=SUGGESTIONS, cutoff=0.5)
    ordered = dict.fromkeys([*hits, *(lowered[f] for f in fuzzy)])
    return tuple(ordered)[:SUGGESTIONS]


# --- AWS reads -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reader:
    """The AWS reads of one answer, through one account's clients."""

    codepipeline: Any
    codedeploy: Any
    region: str

    def latest(self, name: str, count: int) -> tuple[Execution, ...]:
        response = aws.call(
            self.codepipeline, "list_pipeline_executions", pipelineName=name, maxResults=count
        )
        summaries = mappings(response.get("pipelineExecutionSummaries"))
        return tuple(parse_execution(s, self.region) for s in summaries)

    def detail(self, name: str) -> PipelineStatus:
        stages = parse_stages(aws.call(self.codepipeline, "get_pipeline_state", name=name))
        executions = self.latest(name, HISTORY)
        return PipelineStatus(
            name=name,
            region=self.region,
            latest=executions[0] if executions else None,
            stages=stages,
            executions=executions,
        )

    def groups_by_application(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for application in aws.pages(self.codedeploy, "list_applications", "applications"):
            groups[application] = list(
                aws.pages(
                    self.codedeploy,
                    "list_deployment_groups",
                    "deploymentGroups",
                    applicationName=application,
                )
            )
        return groups

    def group_summaries(self, application: str, names: Sequence[str]) -> list[GroupStatus]:
        # batch_get_deployment_groups takes at most 100 names; nobody shows more in one answer.
        response = aws.call(
            self.codedeploy,
            "batch_get_deployment_groups",
            applicationName=application,
            deploymentGroupNames=list(names[:100]),
        )
        summaries = []
        for info in mappings(response.get("deploymentGroupsInfo")):
            last = parse_last_deployment(info, self.region)
            summaries.append(
                GroupStatus(
                    application=application,
                    group=as_str(info.get("deploymentGroupName")),
                    region=self.region,
                    deployments=(last,) if last else (),
                )
            )
        return summaries

    def group_detail(self, application: str, group: str) -> GroupStatus:
        response = aws.call(
            self.codedeploy,
            "list_deployments",
            applicationName=application,
            deploymentGroupName=group,
        )
        ids = [as_str(i) for i in as_list(response.get("deployments"))][:HISTORY]
        deployments: list[Deployment] = []
        if ids:
            infos = aws.call(self.codedeploy, "batch_get_deployments", deploymentIds=ids)
            deployments = [
                parse_deployment(i, region=self.region)
                for i in mappings(infos.get("deploymentsInfo"))
            ]
            deployments.sort(
                key=lambda d: d.started_at.timestamp() if d.started_at else 0, reverse=True
            )
        return GroupStatus(application, group, self.region, tuple(deployments))


# --- the ledger and what it does not know yet ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Known:
    """What the ledger holds for this region, and every pipeline name AWS (or config) lists."""

    pipelines: list[PipelineEntry]
    groups: list[GroupEntry]
    names: tuple[str, ...]

    @property
    def unseen(self) -> list[str]:
        seen = {e.name for e in self.pipelines}
        return [n for n in self.names if n not in seen]


class _Answer:
    """One /deploy-status answer: the ledger, the reader, a deadline for the refresh."""

    def __init__(self, reader: _Reader, config: Config, ledger: Ledger | None) -> None:
        self.reader = reader
        self.config = config
        self.ledger = ledger
        self.discovery = Discovery(
            reader.codepipeline, ledger, cache_seconds=config.enrich.cache_seconds
        )

    def now(self) -> float:
        return self.ledger.now() if self.ledger else time.time()

    def known(self, run: Run) -> _Known:
        """One query of the ledger, and the names to show (AWS's or the config's)."""
        pipelines: list[PipelineEntry] = []
        groups: list[GroupEntry] = []
        if self.ledger is not None:
            try:
                pipelines, groups = self.ledger.listing()
            except StoreError:
                logger.exception("could not read the ledger: answering from AWS alone")
        region = self.reader.region
        pipelines = [e for e in pipelines if e.region in (region, "")]
        groups = [g for g in groups if g.region in (region, "")]
        watched = self.config.watched_pipelines
        names = watched or self.discovery.names("", region, run)
        listed = set(names)  # a pipeline deleted since it was recorded is not shown
        return _Known([e for e in pipelines if e.name in listed], groups, tuple(names))

    def page(self, known: _Known, wanted: Filter, number: int) -> Page:
        """The `number`th page of what the ledger knows and AWS lists, as `wanted` filters it."""
        size = self.config.status.page_size
        return select_page(
            known.pipelines, known.unseen, known.groups, wanted=wanted, number=number, size=size
        )

    def overview(self, wanted: Filter, number: int, run: Run) -> StatusReport:
        known = self.known(run)
        page = self.page(known, wanted, number)
        return self.report(page, self.refresh(page, run), len(known.unseen))

    def refresh(self, page: Page, run: Run) -> list[PipelineStatus]:
        """The page's pipelines, the stale and unseen ones read again in parallel."""
        fresh_for = self.config.status.fresh_seconds
        now = self.now()
        stale = {e.name: e for e in page.entries if now - e.checked_at > fresh_for}
        names = [*stale, *page.unseen]
        futures = {n: run.submit(self.read_latest, stale.get(n), n) for n in names}
        shown: list[PipelineStatus] = []
        for entry in page.entries:
            shown.append(self.status(entry, futures.get(entry.name), run))
        for name in page.unseen:
            unread = PipelineEntry(name, region=self.reader.region)
            shown.append(self.status(unread, futures[name], run))
        return shown

    def read_latest(self, entry: PipelineEntry | None, name: str) -> PipelineEntry:
        """One pipeline's latest executions from AWS, written back to the ledger."""
        executions = self.reader.latest(name, HISTORY)
        base = entry or PipelineEntry(name, region=self.reader.region)
        updated = with_executions(base, executions, self.now())
        if self.ledger is not None:
            try:
                self.ledger.change(
                    base.key,
                    lambda old: with_executions(
                        old if isinstance(old, PipelineEntry) else base, executions, self.now()
                    ),
                )
            except StoreError:
                logger.exception("could not write %s back to the ledger", name)
        return updated

    def status(
        self, entry: PipelineEntry, future: Future[PipelineEntry] | None, run: Run
    ) -> PipelineStatus:
        problem = None
        if future is not None:
            try:
                entry = run.wait(future)
            except LookupFailed as exc:
                # Out of time (or our own rate limit): the ledger's word stands, if it has one.
                problem = _problem(exc)
                if problem.kind == "timeout" and entry.executions:
                    problem = None
        return PipelineStatus(
            name=entry.name,
            region=entry.region or self.reader.region,
            latest=entry.latest,
            targets=entry.targets,
            problem=problem,
            known=bool(entry.executions) or entry.checked_at > 0,
        )

    def report(self, page: Page, shown: list[PipelineStatus], unseen: int) -> StatusReport:
        shown.sort(key=lambda p: -_activity(p))
        groups = tuple(_group_status(g, self.reader.region) for g in page.groups)
        return StatusReport(
            pipelines=tuple(shown),
            groups=groups,
            page=page.number,
            offset=page.number * self.config.status.page_size,
            has_more=page.has_more,
            total=page.total,
            unseen=max(unseen - len(page.unseen), 0),
        )


def _activity(pipeline: PipelineStatus) -> float:
    latest = pipeline.latest
    when = (latest.updated_at or latest.started_at) if latest else None
    return when.timestamp() if when else 0.0


def _group_status(entry: GroupEntry, region: str) -> GroupStatus:
    return GroupStatus(
        application=entry.application,
        group=entry.group,
        region=entry.region or region,
        deployments=entry.deployments[:1],
    )


def _problem(exc: LookupFailed) -> AwsProblem:
    cause = exc.__cause__
    if isinstance(cause, AwsError):
        return cause.problem
    return AwsProblem("timeout", "codepipeline:ListPipelineExecutions", exc.reason)


# --- one name --------------------------------------------------------------------------------


class _Named(_Answer):
    """`/deploy-status NAME`: a pipeline or a deployment group in detail, else a filter."""

    def detail(self, name: str) -> PipelineStatus:
        status = self.reader.detail(name)
        if self.ledger is not None:
            base = PipelineEntry(name, region=self.reader.region)
            try:
                self.ledger.change(
                    pipeline_key("", self.reader.region, name),
                    lambda old: with_executions(
                        old if isinstance(old, PipelineEntry) else base,
                        status.executions,
                        self.now(),
                    ),
                )
            except StoreError:
                logger.exception("could not write %s back to the ledger", name)
        return status

    def named(self, query: str, number: int, run: Run) -> Lookup:
        known = self.known(run)
        lowered = query.lower()
        exact = [p for p in known.names if p == query] or [
            p for p in known.names if p.lower() == lowered
        ]
        if len(exact) == 1:
            return self.detail(exact[0])
        group = _group_named(lowered, known.groups)
        if group is not None:
            return self.reader.group_detail(group.application, group.group)
        wanted = parse_filter(query)
        page = self.page(known, wanted, number)
        if wanted.failing or page.total or page.groups:
            report = self.report(page, self.refresh(page, run), 0)
            return replace(report, title=f"Deployments: {query}")
        return self.in_codedeploy(query, known)

    def in_codedeploy(self, name: str, known: _Known) -> Lookup:
        """A CodeDeploy application or group the ledger has not seen, else the closest names."""
        groups = self.reader.groups_by_application()
        key = name.lower()
        for application, names in groups.items():
            if application.lower() == key and names:
                return StatusReport(
                    groups=tuple(self.reader.group_summaries(application, names)),
                    title=f"Application {application}",
                )
        pairs = [(application, group) for application, names in groups.items() for group in names]
        matches = [p for p in pairs if key in (p[1].lower(), f"{p[0]}/{p[1]}".lower())]
        if len(matches) == 1:
            return self.reader.group_detail(*matches[0])
        candidates = [*known.names, *groups, *(f"{a}/{g}" for a, g in pairs)]
        return NotFound(name, closest(name, candidates))


def _group_named(lowered: str, groups: Iterable[GroupEntry]) -> GroupEntry | None:
    """The one deployment group called `application/group` or `group`, if exactly one is."""
    matches = [
        g for g in groups if lowered in (g.group.lower(), f"{g.application}/{g.group}".lower())
    ]
    return matches[0] if len(matches) == 1 else None


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="deploybot-status")


def look_up(
    query: str,
    config: Config,
    codepipeline: Any,
    codedeploy: Any,
    *,
    ledger: Ledger | None = None,
    page: int = 0,
) -> Lookup:
    """The answer to `/deploy-status [query]` (page `page` of a list): never raises for AWS."""
    reader = _Reader(codepipeline, codedeploy, aws.region_of(codepipeline))
    answer = _Named(reader, config, ledger)
    pool = _pool()
    run = Run(pool, time.monotonic() + REFRESH_SECONDS, REFRESH_SECONDS, time.monotonic)
    name = query.strip()
    try:
        return answer.named(name, page, run) if name else answer.overview(Filter(), page, run)
    except AwsError as exc:
        return exc.problem
    except LookupFailed as exc:
        return _problem(exc)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# --- after the answer ------------------------------------------------------------------------


def backfill(
    config: Config, codepipeline: Any, codedeploy: Any, ledger: Ledger, *, seconds: float
) -> int:
    """Read what the ledger lacks (pipelines never seen, definitions, deployment groups) until
    `seconds` pass; the next answer starts from it. Returns how many reads succeeded."""
    reader = _Reader(codepipeline, codedeploy, aws.region_of(codepipeline))
    pool = _pool()
    run = Run(pool, time.monotonic() + seconds, seconds, time.monotonic)
    try:
        return _backfill(_Answer(reader, config, ledger), ledger, run)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _backfill(answer: _Answer, ledger: Ledger, run: Run) -> int:
    region = answer.reader.region
    try:
        known = answer.known(run)
        accounts = {e.name: e.account for e in known.pipelines if e.definition is None}
        futures: list[Future[Any]] = []
        for name in [*known.unseen, *accounts]:  # both APIs at once: each has its own limit
            if name not in accounts:
                futures.append(run.submit(answer.read_latest, None, name))
            futures.append(answer.discovery.read(accounts.get(name, ""), region, name, run))
        done = sum(1 for f in futures if _succeeded(f, run))
    except (AwsError, LookupFailed, StoreError) as exc:
        logger.warning("could not fill the ledger in: %s", exc)
        return 0
    try:
        return done + _backfill_groups(answer.reader, ledger, run)
    except (AwsError, LookupFailed, StoreError) as exc:
        logger.info("deployment groups not listed this time: %s", exc)
        return done


GROUPS_EVERY_SECONDS = 3600.0  # deployment groups are listed again at most hourly


def _succeeded(future: Future[Any], run: Run) -> bool:
    try:
        run.wait(future)
    except LookupFailed:
        return False
    return True


def _backfill_groups(reader: _Reader, ledger: Ledger, run: Run) -> int:
    """Deployment groups no event told of yet, with their last deployment (hourly at most)."""
    marker = group_names_key("", reader.region)
    listed = ledger.get(marker, Names)
    if listed is not None and ledger.now() - listed.listed_at < GROUPS_EVERY_SECONDS:
        return 0
    groups = run.wait(run.submit(reader.groups_by_application))
    written = 0
    for application, names in groups.items():
        if names:
            for summary in run.wait(run.submit(reader.group_summaries, application, names)):
                key = group_key("", reader.region, application, summary.group)
                ledger.change(key, _new_group(summary, ledger.now()))
                written += 1
    pairs = tuple(f"{a}/{g}" for a, names in groups.items() for g in names)
    ledger.change(marker, lambda _: Names(pairs, ledger.now()))
    return written


def _new_group(summary: GroupStatus, now: float) -> Callable[[Entry | None], Entry | None]:
    """Create a group's entry from AWS's summary; one that events keep is left alone."""

    def change(old: Entry | None) -> Entry | None:
        if isinstance(old, GroupEntry) and old.deployments:
            return None
        return GroupEntry(
            summary.application,
            summary.group,
            region=summary.region,
            deployments=summary.deployments,
            checked_at=now,
        )

    return change
