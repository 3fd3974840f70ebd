"""The deployments ledger: what every event and lookup said is running where. Pure.

One record per pipeline (its latest executions and, once read, its definition), per CodeDeploy
deployment group (its latest deployments and the pipelines that deploy to it), per deployment a
pipeline action started (which execution it belongs to), and per account and region the list of
pipeline names. Every key starts with the account and region, so several accounts never mix
("" is the account of a lookup that did not name one: the account the clients use).

Pipelines and groups stand in one list ordered by their latest activity: `/deploy-status` reads
that list in one query. Folding is order-independent like a living message's: a final state is
never replaced by a non-final one, and a later state replaces an earlier one.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.domain.codec import dump, load
from bot.domain.codepipeline import PipelineInfo
from bot.domain.config import DEFAULT_STUCK_MINUTES, SweepSettings
from bot.domain.living import position
from bot.domain.model import Commit, Deployment, Execution, Scope, Source, Status
from bot.domain.precedence import order, precedence, reported_at

ACTIVITY = "activity"  # the list of pipelines and groups, by their latest activity
EXECUTIONS_KEPT = 10  # per pipeline: enough for a median duration and the detail view
DEPLOYMENTS_KEPT = 10  # per deployment group
MIN_STUCK_SECONDS = 300.0  # a run of a few seconds is not stuck after a minute
# A record body this long still makes a DynamoDB item under its 400 KB limit (key, version and
# expiry included). Only the pipeline names can grow past it: 5 pages of 1,000 names of up to
# 100 characters make 515 KB.
NAMES_MAX_BYTES = 380_000
_TOKENS = re.compile(r"[^a-z0-9]+")


# --- keys ------------------------------------------------------------------------------------


def pipeline_key(account: str, region: str, name: str) -> str:
    """Where the ledger keeps a pipeline."""
    return f"ledger#pipeline#{account}#{region}#{name}"


def group_key(account: str, region: str, application: str, group: str) -> str:
    """Where the ledger keeps a CodeDeploy deployment group."""
    return f"ledger#group#{account}#{region}#{application}#{group}"


def deployment_key(account: str, region: str, deployment_id: str) -> str:
    """Where the ledger keeps which pipeline execution started a deployment."""
    return f"ledger#deployment#{account}#{region}#{deployment_id}"


def names_key(account: str, region: str) -> str:
    """Where the ledger keeps the names `list_pipelines` gave."""
    return f"ledger#names#{account}#{region}"


def backfill_key(account: str, region: str) -> str:
    """Where the ledger notes when the sweep last filled it in."""
    return f"ledger#backfill#{account}#{region}"


def group_names_key(account: str, region: str) -> str:
    """Where the ledger notes when the deployment groups were last listed."""
    return f"ledger#groupnames#{account}#{region}"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PipelineEntry:
    """A pipeline as the ledger knows it."""

    name: str
    account: str = ""
    region: str = ""
    executions: tuple[Execution, ...] = ()  # newest first
    definition: PipelineInfo | None = None  # from get_pipeline: deploy targets and sources
    defined_at: float = 0.0  # when the definition was read
    version: int = 0  # the newest structure version an event named
    checked_at: float = 0.0  # when an event or AWS last told us about it

    @property
    def key(self) -> str:
        """The record key."""
        return pipeline_key(self.account, self.region, self.name)

    @property
    def latest(self) -> Execution | None:
        """The newest execution, if any is known."""
        return self.executions[0] if self.executions else None

    @property
    def activity(self) -> float:
        """When something last happened, in seconds since 1970 (0: never, as far as known)."""
        return max((_seconds(e.updated_at or e.started_at) for e in self.executions), default=0)

    @property
    def targets(self) -> tuple[tuple[str, str], ...]:
        """The (application, deployment group) pairs its definition deploys to."""
        return self.definition.deploy_targets if self.definition else ()

    def stale_definition(self, now: float, ttl: float) -> bool:
        """True when the definition is missing, older than `ttl`, or older than an event's."""
        if self.definition is None or now - self.defined_at > ttl:
            return True
        return self.version > self.definition.version > 0


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """A CodeDeploy deployment group as the ledger knows it."""

    application: str
    group: str
    account: str = ""
    region: str = ""
    deployments: tuple[Deployment, ...] = ()  # newest first
    pipelines: tuple[str, ...] = ()  # pipelines known to deploy here
    checked_at: float = 0.0

    @property
    def key(self) -> str:
        """The record key."""
        return group_key(self.account, self.region, self.application, self.group)

    @property
    def activity(self) -> float:
        """When its last deployment last changed (0: never, as far as known)."""
        return max((_seconds(reported_at(d)) for d in self.deployments), default=0)


@dataclass(frozen=True, slots=True)
class DeploymentLink:
    """The pipeline execution (and action) that started a CodeDeploy deployment."""

    deployment_id: str
    pipeline: str
    execution_id: str
    stage: str = ""
    action: str = ""


@dataclass(frozen=True, slots=True)
class Names:
    """What `list_pipelines` answered, and when."""

    names: tuple[str, ...] = ()
    listed_at: float = 0.0


Entry = PipelineEntry | GroupEntry | DeploymentLink | Names
_KINDS: Mapping[str, type[Any]] = {
    "pipeline": PipelineEntry,
    "group": GroupEntry,
    "deployment": DeploymentLink,
    "names": Names,
    "groupnames": Names,
    "backfill": Names,
}


def dump_entry(entry: Entry) -> str:
    """A record body: compact JSON."""
    return json.dumps(dump(entry), separators=(",", ":"), ensure_ascii=False)


def load_entry(key: str, body: str) -> Entry:
    """The entry a record body holds; its kind comes from the key."""
    kind = _KINDS[key.split("#", 2)[1]]
    entry: Entry = load(kind, json.loads(body))
    return entry


def listed(entry: Entry) -> tuple[str, str] | None:
    """Where a record stands in the activity list: pipelines and groups only."""
    if isinstance(entry, PipelineEntry | GroupEntry):
        return ACTIVITY, position(entry.activity, entry.key)
    return None


# --- folding events in -----------------------------------------------------------------------


def _seconds(when: datetime | None) -> float:
    return when.timestamp() if when is not None else 0.0


def record_key(event: Deployment) -> str:
    """The one ledger record an event changes ("" when it changes none)."""
    account, region = event.account, event.region
    if event.source is Source.CODEPIPELINE and event.pipeline and event.execution_id:
        if event.scope is Scope.ACTION and event.deployment_id:
            return deployment_key(account, region, event.deployment_id)
        if event.scope in (Scope.PIPELINE, Scope.STAGE, Scope.ACTION):
            return pipeline_key(account, region, event.pipeline)
    if (
        event.source is Source.CODEDEPLOY
        and event.scope is Scope.DEPLOYMENT
        and event.deployment_id
        and event.application
        and event.deployment_group
    ):
        return group_key(account, region, event.application, event.deployment_group)
    return ""


def fold(entry: Entry | None, event: Deployment, now: float) -> Entry | None:
    """The record of `record_key(event)` with the event folded in; None when nothing changed."""
    if event.scope is Scope.ACTION and event.deployment_id:
        link = DeploymentLink(
            event.deployment_id, event.pipeline, event.execution_id, event.stage, event.action
        )
        return None if entry == link else link
    if event.source is Source.CODEPIPELINE:
        base = entry if isinstance(entry, PipelineEntry) else None
        return _fold_execution(base, event, now)
    group = entry if isinstance(entry, GroupEntry) else None
    return _fold_deployment(group, event, now)


def _fold_execution(entry: PipelineEntry | None, event: Deployment, now: float) -> PipelineEntry:
    """The execution with the event taken in: every field a fold of all its events, whatever
    their order (the earliest start, the latest update, the furthest state, the best commit)."""
    entry = entry or PipelineEntry(event.pipeline, event.account, event.region)
    old = next((e for e in entry.executions if e.execution_id == event.execution_id), None)
    # A stage or action event says the execution runs, and no more: its own events say the rest.
    status = event.status if event.scope is Scope.PIPELINE else Status.IN_PROGRESS
    status_at = reported_at(event)
    times = [t for t in (event.started_at, status_at) if t]
    if old is not None:
        old_at = old.status_at or old.updated_at
        if precedence(old.status, old_at) > precedence(status, status_at):
            status, status_at = old.status, old_at
        times += [t for t in (old.started_at, old.updated_at) if t]
    updated_at = max(times, default=None)
    commits = [c for c in (old.commit if old else None, event.commit) if c is not None]
    execution = Execution(
        execution_id=event.execution_id,
        status=status,
        started_at=min(times, default=None),
        updated_at=updated_at,
        commit=max(commits, key=_commit_rank, default=None),
        trigger=max(old.trigger if old else "", event.trigger),
        status_at=None if status_at == updated_at else status_at,
    )
    return replace(
        with_executions(entry, [execution]),
        version=max(entry.version, event.pipeline_version),
        checked_at=now,
    )


def _commit_rank(commit: Commit) -> tuple[bool, bool, bool, bool, str]:
    """Which of two reports of one commit says more (the same rule as a living message's)."""
    return (
        commit.confirmed,
        bool(commit.title),
        bool(commit.author),
        bool(commit.commit_url),
        commit.sha,
    )


def _fold_deployment(entry: GroupEntry | None, event: Deployment, now: float) -> GroupEntry:
    entry = entry or GroupEntry(
        event.application, event.deployment_group, event.account, event.region
    )
    old = next((d for d in entry.deployments if d.deployment_id == event.deployment_id), None)
    kept = _compact(event)
    if old is not None:
        newest, other = (kept, old) if order(kept) >= order(old) else (old, kept)
        kept = replace(
            newest,
            commit=newest.commit or other.commit,
            pipeline=newest.pipeline or other.pipeline,
            execution_id=newest.execution_id or other.execution_id,
            started_at=newest.started_at or other.started_at,
        )
    deployments = [kept, *(d for d in entry.deployments if d.deployment_id != kept.deployment_id)]
    deployments.sort(key=lambda d: _seconds(d.started_at or reported_at(d)), reverse=True)
    pipelines = entry.pipelines
    if kept.pipeline and kept.pipeline not in pipelines:
        pipelines = (*pipelines, kept.pipeline)
    return replace(
        entry,
        deployments=tuple(deployments[:DEPLOYMENTS_KEPT]),
        pipelines=pipelines,
        checked_at=now,
    )


def _compact(event: Deployment) -> Deployment:
    """What the ledger keeps of a deployment event: no notes, lifecycle or failure details."""
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=event.status,
        region=event.region,
        account=event.account,
        application=event.application,
        deployment_group=event.deployment_group,
        deployment_id=event.deployment_id,
        pipeline=event.pipeline,
        execution_id=event.execution_id,
        started_at=event.started_at,
        finished_at=event.finished_at,
        occurred_at=event.occurred_at,
        commit=event.commit,
        trigger=event.trigger,
        error=event.error,
    )


def with_executions(
    entry: PipelineEntry, executions: Iterable[Execution], now: float = 0.0
) -> PipelineEntry:
    """`entry` with `executions` merged in (the given ones win), newest first, the latest kept.

    With `now`, the executions came from AWS: the entry counts as checked at `now`.
    """
    merged: dict[str, Execution] = {e.execution_id: e for e in entry.executions}
    for execution in executions:
        old = merged.get(execution.execution_id)
        commit = execution.commit or (old.commit if old else None)
        merged[execution.execution_id] = replace(execution, commit=commit)
    ordered = sorted(
        merged.values(), key=lambda e: _seconds(e.started_at or e.updated_at), reverse=True
    )
    return replace(
        entry,
        executions=tuple(ordered[:EXECUTIONS_KEPT]),
        checked_at=max(entry.checked_at, now),
    )


def with_definition(entry: PipelineEntry, info: PipelineInfo, now: float) -> PipelineEntry:
    """`entry` with the definition get_pipeline just gave."""
    return replace(entry, definition=info, defined_at=now, version=max(entry.version, info.version))


# --- reading the list back -------------------------------------------------------------------


def merge_accounts(entries: Iterable[PipelineEntry]) -> list[PipelineEntry]:
    """One entry per pipeline: an entry of an unnamed account ("") joins the named one.

    Events name their account; a lookup made without one (the account the clients use) does
    not. Entries of two named accounts stay apart.
    """
    by_place: dict[tuple[str, str], list[PipelineEntry]] = {}
    for entry in entries:
        by_place.setdefault((entry.region, entry.name), []).append(entry)
    merged: list[PipelineEntry] = []
    for group in by_place.values():
        named = [e for e in group if e.account]
        unnamed = [e for e in group if not e.account]
        if not named or not unnamed:
            merged.extend(group)
            continue
        for extra in unnamed:
            named[0] = _join(named[0], extra)
        merged.extend(named)
    return merged


def merge_group_accounts(entries: Iterable[GroupEntry]) -> list[GroupEntry]:
    """One entry per deployment group: the named accounts' entries over one made without."""
    by_place: dict[tuple[str, str, str], list[GroupEntry]] = {}
    for entry in entries:
        by_place.setdefault((entry.region, entry.application, entry.group), []).append(entry)
    merged: list[GroupEntry] = []
    for group in by_place.values():
        merged.extend([e for e in group if e.account] or group)
    return merged


def _join(entry: PipelineEntry, extra: PipelineEntry) -> PipelineEntry:
    joined = with_executions(extra, entry.executions)  # the named account's word wins
    newer = entry if entry.defined_at >= extra.defined_at else extra
    return replace(
        joined,
        account=entry.account,
        definition=newer.definition,
        defined_at=newer.defined_at,
        version=max(entry.version, extra.version),
        checked_at=max(entry.checked_at, extra.checked_at),
    )


def likely_first(names: Sequence[str], application: str, group: str) -> tuple[list[str], list[str]]:
    """(the names likely to deploy `application`/`group`, the rest), each likeliest first.

    Teams name pipelines after what they deploy: a name holding the group or application name
    is likely (holding both comes first); the rest are ordered by the words they share with them.
    """
    wanted = [w for w in (group.lower(), application.lower()) if w]
    words = set(_TOKENS.split(" ".join(wanted))) - {""}

    def held(name: str) -> int:
        return sum(1 for w in wanted if w in name.lower())

    def shared(name: str) -> int:
        return len(words & set(_TOKENS.split(name.lower())))

    ordered = sorted(names, key=lambda n: (-held(n), -shared(n), n))
    return [n for n in ordered if held(n)], [n for n in ordered if not held(n)]


# --- what /deploy-status shows ---------------------------------------------------------------

FAILING = frozenset({"failing", "failed", "failures", "red"})


@dataclass(frozen=True, slots=True)
class Filter:
    """What `/deploy-status WORDS` keeps: failing ones, some accounts, names matching a word."""

    words: tuple[str, ...] = ()
    failing: bool = False
    accounts: tuple[str, ...] = ()  # account ids a word named ("prod" for [[accounts]] prod)

    def keeps(self, names: Iterable[str], status: Status | None, account: str = "") -> bool:
        """True for a thing called `names` (with its latest status, in `account`) that this
        filter keeps."""
        if self.failing and (status is None or not status.is_failure):
            return False
        if self.accounts and account not in self.accounts:
            return False
        return all(any(_matches(n, w) for n in names) for w in self.words)


def parse_filter(query: str, accounts: Mapping[str, str] | None = None) -> Filter:
    """`failing`, an account's name (`accounts`: lower-case name -> id), an environment
    (`prod`), a prefix (`web-`), an application or group name."""
    named = accounts or {}
    words = [w for w in query.lower().split() if w]
    return Filter(
        words=tuple(w for w in words if w not in FAILING and w not in named),
        failing=any(w in FAILING for w in words),
        accounts=tuple(dict.fromkeys(named[w] for w in words if w in named)),
    )


def _matches(name: str, word: str) -> bool:
    """A prefix of the name, or of one of its words: `prod` matches `web-production`."""
    lowered = name.lower()
    return lowered.startswith(word) or any(t.startswith(word) for t in _TOKENS.split(lowered) if t)


def pipeline_names(entry: PipelineEntry) -> tuple[str, ...]:
    """What a filter word may match for a pipeline: its name, applications and groups."""
    return (entry.name, *(a for a, _ in entry.targets), *(g for _, g in entry.targets))


def group_names(entry: GroupEntry) -> tuple[str, ...]:
    """What a filter word may match for a deployment group."""
    return (entry.application, entry.group, f"{entry.application}/{entry.group}")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the overview: pipelines known to the ledger, then names not seen yet."""

    entries: tuple[PipelineEntry, ...] = ()
    unseen: tuple[PipelineEntry, ...] = ()  # on this page, not in the ledger yet: read them now
    total: int = 0  # pipelines the filter keeps, on every page
    number: int = 0
    has_more: bool = False
    groups: tuple[GroupEntry, ...] = field(default=())  # groups no pipeline deploys to


def select_page(
    entries: Sequence[PipelineEntry],
    unseen: Sequence[PipelineEntry],
    groups: Sequence[GroupEntry],
    *,
    wanted: Filter,
    number: int,
    size: int,
) -> Page:
    """The `number`th page of `size`: most recent activity first, names not seen yet last
    (`unseen`: entries of pipelines AWS lists that the ledger has not seen, no executions)."""
    kept = [e for e in entries if wanted.keeps(pipeline_names(e), _latest_status(e), e.account)]
    kept.sort(key=lambda e: (-e.activity, e.name, e.account, e.region))
    fresh = [] if wanted.failing else [u for u in unseen if wanted.keeps([u.name], None, u.account)]
    fresh.sort(key=lambda u: (u.name, u.account, u.region))
    ordered = [*kept, *fresh]
    start = number * size
    shown = ordered[start : start + size]
    covered = {(e.account, *target) for e in entries for target in e.targets}
    loose = [
        g
        for g in groups
        if not _covered(covered, g)
        and not g.pipelines
        and wanted.keeps(
            group_names(g), g.deployments[0].status if g.deployments else None, g.account
        )
    ]
    loose.sort(key=lambda g: (-g.activity, g.application, g.group))
    known = {id(e) for e in kept}
    return Page(
        entries=tuple(e for e in shown if id(e) in known),
        unseen=tuple(e for e in shown if id(e) not in known),
        total=len(ordered),
        number=number,
        has_more=start + size < len(ordered),
        groups=tuple(loose) if number == 0 else (),
    )


def keeps_besides(
    wanted: Filter,
    entries: Iterable[PipelineEntry],
    groups: Iterable[GroupEntry],
    group: GroupEntry,
) -> bool:
    """Does `wanted` keep anything but `group`: a pipeline by its name or another target, or
    another group? Then a word that names the group is a filter (`prod`), not a request for it."""
    target = (group.application, group.group)
    for entry in entries:
        names = (entry.name, *(n for t in entry.targets if t != target for n in t))
        if wanted.keeps(names, None, entry.account):
            return True
    return any(wanted.keeps(group_names(g), None, g.account) for g in groups if g != group)


def _covered(covered: set[tuple[str, str, str]], group: GroupEntry) -> bool:
    """Does a pipeline of the group's account (or of an unnamed one) deploy to it?"""
    target = (group.application, group.group)
    if ("", *target) in covered or (group.account, *target) in covered:
        return True
    return not group.account and any(c[1:] == target for c in covered)


def _latest_status(entry: PipelineEntry) -> Status | None:
    return entry.latest.status if entry.latest else None


# --- how long work usually takes -------------------------------------------------------------


def typical_seconds(entry: PipelineEntry | GroupEntry) -> float | None:
    """The median duration of its recent finished executions or deployments, if any."""
    if isinstance(entry, PipelineEntry):
        spans = [e.duration_seconds for e in entry.executions]
    else:
        spans = [d.duration_seconds for d in entry.deployments if d.status.is_final]
    known = [s for s in spans if s]
    return statistics.median(known) if known else None


def stuck_after(settings: SweepSettings, typical: float | None) -> float:
    """Seconds after which a run counts as stuck: the configured time, else `stuck_factor`
    times its usual duration, else the default."""
    if settings.stuck_after_minutes:
        return settings.stuck_after_minutes * 60
    if typical:
        return max(settings.stuck_factor * typical, MIN_STUCK_SECONDS)
    return DEFAULT_STUCK_MINUTES * 60
