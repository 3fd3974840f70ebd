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
from bot.aws.accounts import Clients, NoLookups, Places
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
    keeps_besides,
    parse_filter,
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
    """The AWS reads of one answer in one account and region, through that account's clients."""

    codepipeline: Any
    codedeploy: Any
    region: str
    account: str = ""
    account_name: str = ""

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
            account=self.account,
            account_name=self.account_name,
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
                    account=self.account,
                    account_name=self.account_name,
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
        return GroupStatus(
            application,
            group,
            self.region,
            tuple(deployments),
            account=self.account,
            account_name=self.account_name,
        )


# --- the ledger and what it does not know yet ------------------------------------------------


@dataclass
class _Survey:
    """One account and region of the answer: its reader, and the pipeline names it lists."""

    account: str  # "" for deploybot's own account when its id is not known
    name: str
    region: str
    reader: _Reader | None = None
    discovery: Discovery | None = None
    names: tuple[str, ...] = ()
    problem: AwsProblem | None = None  # why it cannot be read (its role, its listing)
    home: bool = False  # deploybot's own account: lookups without an account are its


@dataclass(frozen=True, slots=True)
class _Known:
    """What the ledger holds for the answer's places, and every name AWS (or config) lists."""

    pipelines: list[PipelineEntry]
    groups: list[GroupEntry]
    unseen: list[PipelineEntry]  # listed names the ledger has not seen, one per place


class _Answer:
    """One /deploy-status answer: the ledger, the places it covers, a deadline for the refresh."""

    def __init__(self, config: Config, ledger: Ledger | None, places: Places) -> None:
        self.config = config
        self.ledger = ledger
        self.places = places
        self.surveys: list[_Survey] = []

    def now(self) -> float:
        return self.ledger.now() if self.ledger else time.time()

    # --- the places ---------------------------------------------------------------------------

    def survey(self, run: Run) -> list[_Survey]:
        """Every place, its clients made and its names listed, side by side within the run."""
        specs = self.places.places()
        futures = [
            run.submit(self._survey, account, name, region, run) for account, name, region in specs
        ]
        surveys = []
        for (account, name, region), future in zip(specs, futures, strict=True):
            try:
                surveys.append(run.wait(future))
            except LookupFailed as exc:
                surveys.append(_Survey(account, name, region, problem=_problem(exc)))
        self.surveys = surveys
        if not self.places.configured and surveys[0].problem is not None:
            raise AwsError(surveys[0].problem)  # one account: its refusal is the answer
        return surveys

    def _survey(self, account: str, name: str, region: str, run: Run) -> _Survey:
        """One place: its clients (a spoke's role is assumed here), then its names."""
        home = not account or not self.places.configured or account == self.places.own_id()
        if home and self.places.configured and not account:
            account = self.places.own_id()
        try:
            place = self.places.place(account, region)
        except NoLookups as exc:
            problem = exc.problem or AwsProblem("error", "sts:AssumeRole", exc.reason)
            return _Survey(account, name, region, problem=problem, home=home)
        reader = _Reader(place.codepipeline, place.codedeploy, region, account, name)
        discovery = Discovery(
            place.codepipeline, self.ledger, cache_seconds=self.config.enrich.cache_seconds
        )
        found = _Survey(account, name, region, reader, discovery, home=home)
        watched = self.config.watched_pipelines
        if watched and len(self.places.places()) == 1:
            found.names = watched  # one place: the config's names are its names
            return found
        try:
            listed = discovery.names_here(account, region)
        except AwsError as exc:
            found.names, found.problem = watched, exc.problem
            if not self.places.configured:
                raise
            return found
        found.names = tuple(n for n in listed if not watched or n in watched)
        return found

    def survey_of(self, account: str, region: str) -> _Survey | None:
        """The place an entry of the ledger belongs to (None: a place the answer does not cover)."""
        for survey in self.surveys:
            if survey.region != region and region:
                continue
            if not self.places.configured or account == survey.account:
                return survey
            if survey.home and not account:
                return survey
        return None

    def reader(self, entry: PipelineEntry) -> _Reader:
        survey = self.survey_of(entry.account, entry.region)
        if survey is None or survey.reader is None:
            raise LookupFailed("this account cannot be read now")
        return survey.reader

    # --- the ledger ---------------------------------------------------------------------------

    def known(self, run: Run) -> _Known:
        """One query of the ledger, and the names to show (AWS's or the config's), per place."""
        pipelines: list[PipelineEntry] = []
        groups: list[GroupEntry] = []
        if self.ledger is not None:
            try:
                pipelines, groups = self.ledger.listing()
            except StoreError:
                logger.exception("could not read the ledger: answering from AWS alone")
        surveys = self.survey(run)
        shown: list[PipelineEntry] = []
        unseen: list[PipelineEntry] = []
        for survey in surveys:
            mine = [e for e in pipelines if self.survey_of(e.account, e.region) is survey]
            listed = set(survey.names)
            # A pipeline deleted since it was recorded is not shown (unless its place is unread).
            shown.extend(e for e in mine if e.name in listed or survey.reader is None)
            seen = {e.name for e in mine}
            unseen.extend(
                PipelineEntry(n, survey.account, survey.region)
                for n in survey.names
                if n not in seen
            )
        kept = [g for g in groups if self.survey_of(g.account, g.region) is not None]
        return _Known(shown, kept, unseen)

    def filter(self, query: str) -> Filter:
        """The query as a filter; an account's configured name keeps that account."""
        names = {s.name.lower(): s.account for s in self.surveys if s.name and s.account}
        return parse_filter(query, names)

    def page(self, known: _Known, wanted: Filter, number: int) -> Page:
        """The `number`th page of what the ledger knows and AWS lists, as `wanted` filters it."""
        size = self.config.status.page_size
        return select_page(
            known.pipelines, known.unseen, known.groups, wanted=wanted, number=number, size=size
        )

    def overview(self, query: str, number: int, run: Run) -> StatusReport:
        known = self.known(run)
        page = self.page(known, self.filter(query), number)
        return self.report(page, self.refresh(page, run), len(known.unseen))

    def refresh(self, page: Page, run: Run) -> list[PipelineStatus]:
        """The page's pipelines, the stale and unseen ones read again in parallel."""
        fresh_for = self.config.status.fresh_seconds
        now = self.now()
        stale = [e for e in page.entries if now - e.checked_at > fresh_for]
        futures = {id(e): run.submit(self.read_latest, e) for e in [*stale, *page.unseen]}
        return [self.status(e, futures.get(id(e)), run) for e in [*page.entries, *page.unseen]]

    def read_latest(self, entry: PipelineEntry) -> PipelineEntry:
        """One pipeline's latest executions from AWS, written back to the ledger."""
        executions = self.reader(entry).latest(entry.name, HISTORY)
        updated = with_executions(entry, executions, self.now())
        if self.ledger is not None:
            try:
                self.ledger.change(
                    entry.key,
                    lambda old: with_executions(
                        old if isinstance(old, PipelineEntry) else entry, executions, self.now()
                    ),
                )
            except StoreError:
                logger.exception("could not write %s back to the ledger", entry.name)
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
        survey = self.survey_of(entry.account, entry.region)
        return PipelineStatus(
            name=entry.name,
            region=entry.region or (survey.region if survey else ""),
            latest=entry.latest,
            targets=entry.targets,
            problem=problem,
            known=bool(entry.executions) or entry.checked_at > 0,
            account=entry.account or (survey.account if survey else ""),
            account_name=survey.name if survey else "",
        )

    def report(self, page: Page, shown: list[PipelineStatus], unseen: int) -> StatusReport:
        shown.sort(key=lambda p: -_activity(p))
        groups = tuple(self.group_status(g) for g in page.groups)
        problems = tuple(_where(s) for s in self.surveys if self.places.configured)
        return StatusReport(
            pipelines=tuple(shown),
            groups=groups,
            problems=tuple(p for p in problems if p is not None),
            page=page.number,
            offset=page.number * self.config.status.page_size,
            has_more=page.has_more,
            total=page.total,
            unseen=max(unseen - len(page.unseen), 0),
        )

    def group_status(self, entry: GroupEntry) -> GroupStatus:
        survey = self.survey_of(entry.account, entry.region)
        return GroupStatus(
            application=entry.application,
            group=entry.group,
            region=entry.region or (survey.region if survey else ""),
            deployments=entry.deployments[:1],
            account=entry.account or (survey.account if survey else ""),
            account_name=survey.name if survey else "",
        )


def _where(survey: _Survey) -> AwsProblem | None:
    """A place's problem, saying which account and region it is about."""
    if survey.problem is None:
        return None
    who = survey.name or survey.account or "deploybot"
    said = survey.problem.message or survey.problem.reason
    return replace(survey.problem, message=f"{who} ({survey.region}): {said}")


def _activity(pipeline: PipelineStatus) -> float:
    latest = pipeline.latest
    when = (latest.updated_at or latest.started_at) if latest else None
    return when.timestamp() if when else 0.0


def _problem(exc: LookupFailed) -> AwsProblem:
    cause = exc.__cause__
    if isinstance(cause, AwsError):
        return cause.problem
    return AwsProblem("timeout", "codepipeline:ListPipelineExecutions", exc.reason)


# --- one name --------------------------------------------------------------------------------


class _Named(_Answer):
    """`/deploy-status NAME`: a pipeline or a deployment group in detail, else a filter."""

    def detail(self, survey: _Survey, name: str) -> PipelineStatus:
        assert survey.reader is not None
        status = survey.reader.detail(name)
        if self.ledger is not None:
            base = PipelineEntry(name, survey.account, survey.region)
            try:
                self.ledger.change(
                    base.key,
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
        wanted = self.filter(query)
        name = " ".join(w for w in query.split() if w.lower() in wanted.words)
        if wanted.failing or not name:
            return self._list(query, known, wanted, number, run)
        places = [
            s
            for s in self.surveys
            if s.reader and (not wanted.accounts or s.account in wanted.accounts)
        ]
        exact = [(s, n) for s in places for n in s.names if n == name] or [
            (s, n) for s in places for n in s.names if n.lower() == name
        ]
        if len(exact) == 1:
            return self.detail(*exact[0])
        groups = [g for g in known.groups if not wanted.accounts or g.account in wanted.accounts]
        group = _group_named(name.lower(), groups)
        if group is not None and "/" not in name:  # `prod` filters, `web/prod` is the group
            pipelines = [*known.pipelines, *known.unseen]
            group = None if keeps_besides(wanted, pipelines, groups, group) else group
        survey = self.survey_of(group.account, group.region) if group is not None else None
        if group is not None and survey is not None and survey.reader is not None:
            return survey.reader.group_detail(group.application, group.group)
        page = self.page(known, wanted, number)
        if page.total or page.groups:
            return self._list(query, known, wanted, number, run)
        return self.in_codedeploy(name, places)

    def _list(self, query: str, known: _Known, wanted: Filter, number: int, run: Run) -> Lookup:
        page = self.page(known, wanted, number)
        report = self.report(page, self.refresh(page, run), 0)
        return replace(report, title=f"Deployments: {query}")

    def in_codedeploy(self, name: str, places: list[_Survey]) -> Lookup:
        """A CodeDeploy application or group the ledger has not seen, else the closest names."""
        key = name.lower()
        candidates: list[str] = []
        for survey in places:
            assert survey.reader is not None
            groups = survey.reader.groups_by_application()
            for application, names in groups.items():
                if application.lower() == key and names:
                    return StatusReport(
                        groups=tuple(survey.reader.group_summaries(application, names)),
                        title=f"Application {application}",
                    )
            pairs = [(a, g) for a, names in groups.items() for g in names]
            matches = [p for p in pairs if key in (p[1].lower(), f"{p[0]}/{p[1]}".lower())]
            if len(matches) == 1:
                return survey.reader.group_detail(*matches[0])
            candidates += [*survey.names, *groups, *(f"{a}/{g}" for a, g in pairs)]
        return NotFound(name, closest(name, list(dict.fromkeys(candidates))))


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
    """The answer to `/deploy-status [query]` read with these clients (one account and region)."""
    places = Clients(codepipeline, codedeploy)
    return look_up_in(query, config, places, ledger=ledger, page=page)


def look_up_in(
    query: str, config: Config, places: Places, *, ledger: Ledger | None = None, page: int = 0
) -> Lookup:
    """The answer to `/deploy-status [query]` (page `page` of a list) over every account and
    region of `places`, read side by side within REFRESH_SECONDS: never raises for AWS."""
    answer = _Named(config, ledger, places)
    pool = _pool()
    run = Run(pool, time.monotonic() + REFRESH_SECONDS, REFRESH_SECONDS, time.monotonic)
    name = query.strip()
    try:
        return answer.named(name, page, run) if name else answer.overview("", page, run)
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
    """`backfill_in` with these clients (one account and region)."""
    return backfill_in(config, Clients(codepipeline, codedeploy), ledger, seconds=seconds)


def backfill_in(config: Config, places: Places, ledger: Ledger, *, seconds: float) -> int:
    """Read what the ledger lacks in every account and region of `places` (pipelines never
    seen, definitions, deployment groups) until `seconds` pass; the next answer starts from
    it. Returns how many reads succeeded."""
    pool = _pool()
    run = Run(pool, time.monotonic() + seconds, seconds, time.monotonic)
    try:
        return _backfill(_Answer(config, ledger, places), ledger, run)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _backfill(answer: _Answer, ledger: Ledger, run: Run) -> int:
    try:
        known = answer.known(run)
        undefined = [e for e in known.pipelines if e.definition is None]
        futures: list[Future[Any]] = []
        # Both APIs at once, each has its own limit: the pool takes work in the order it is
        # queued, so a pipeline's two reads are queued together, not all of one API first.
        for entry, unseen in [*((e, True) for e in known.unseen), *((e, False) for e in undefined)]:
            if unseen:
                futures.append(run.submit(answer.read_latest, entry))
            survey = answer.survey_of(entry.account, entry.region)
            if survey is not None and survey.discovery is not None:
                futures.append(
                    survey.discovery.read(survey.account, survey.region, entry.name, run)
                )
        done = sum(1 for f in futures if _succeeded(f, run))
    except (AwsError, LookupFailed, StoreError) as exc:
        logger.warning("could not fill the ledger in: %s", exc)
        return 0
    for survey in answer.surveys:
        if survey.reader is None:
            continue
        try:
            done += _backfill_groups(survey.reader, ledger, run)
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
    marker = group_names_key(reader.account, reader.region)
    listed = ledger.get(marker, Names)
    if listed is not None and ledger.now() - listed.listed_at < GROUPS_EVERY_SECONDS:
        return 0
    groups = run.wait(run.submit(reader.groups_by_application))
    written = 0
    for application, names in groups.items():
        if names:
            for summary in run.wait(run.submit(reader.group_summaries, application, names)):
                key = group_key(reader.account, reader.region, application, summary.group)
                ledger.change(key, _new_group(summary, ledger.now()))
                written += 1
    # Only when is read back: every pair would grow past what one DynamoDB item holds.
    ledger.change(marker, lambda _: Names((), ledger.now()))
    return written


def _new_group(summary: GroupStatus, now: float) -> Callable[[Entry | None], Entry | None]:
    """Create a group's entry from AWS's summary; one that events keep is left alone."""

    def change(old: Entry | None) -> Entry | None:
        if isinstance(old, GroupEntry) and old.deployments:
            return None
        return GroupEntry(
            summary.application,
            summary.group,
            account=summary.account,
            region=summary.region,
            deployments=summary.deployments,
            checked_at=now,
        )

    return change
