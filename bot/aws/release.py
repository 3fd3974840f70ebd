"""The release diff of a run, looked up beside its commit, under the same deadline. The I/O edge.

For a pipeline execution or a deployment: the revision that was live before it (`LiveBefore`:
a ledger of deployments when one is plugged in, else AWS's history: the last successful
execution of the same pipeline, or the deployment group's last successful deployment), the
compare link (no token needed), the commits in between (GitHub's compare API, CodeCommit's
commits), who wrote them and who started the run, as Slack users where they map to one.

bot/aws/enrich.py calls `start` when an event's lookups begin and `finish` with the event they
produced. Between the two, the history is read on this module's own pool, in parallel with
the commit lookup; for a pipeline execution the whole diff runs there. `finish` waits only
until the event's deadline: what could not be read leaves the compare link and a note. The diff
on the pool keeps what it has found so far (`_Progress`: the link as soon as the history is read,
the commits walked or listed, then the whole list), so a lookup still running at the deadline
costs only its own part, never the link.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from bot import aws
from bot.aws import AwsError
from bot.domain import codepipeline, release
from bot.domain.coerce import as_count, as_map, as_str, mappings
from bot.domain.commits import build_commit
from bot.domain.config import DEFAULT_GITHUB_API_URL, Config
from bot.domain.model import Commit, Deployment, Person, ReleaseDiff, Scope, StartedBy
from bot.domain.people import deployment_starter, mapped_id, persons, pipeline_starter, with_people
from bot.domain.release import Baseline, Hosts
from bot.github import PER_PAGE, GitHub, GitHubError, Page

logger = logging.getLogger(__name__)

T = TypeVar("T")

HISTORY_PAGE = 50  # executions read to find the last successful one (list_pipeline_executions)
POOL_SIZE = 6
CODECOMMIT_MAX = 100  # commits walked in CodeCommit, one BatchGetCommits per generation
BATCH_MAX = 100  # commit ids per BatchGetCommits
LOOKUPS_MAX = 10  # users.lookupByEmail calls per event at most (Tier 3: 50+ per minute)
_ROLLBACK_TRIGGERS = frozenset({"ManualRollback", "AutomatedRollback", "codeDeployRollback"})
_GITHUBS = frozenset({"github", "githubenterpriseserver"})  # providers GitHub's API serves

# The revision that was live before the event's run, or None when the source cannot tell.
# The ledger of deployments plugs in here (ReleaseLookup(live_before=...)): it is asked first,
# and AWS's history only when it answers None.
LiveBefore = Callable[[Deployment], Baseline | None]


class Deadline(Protocol):
    """What a release lookup needs of the event's lookups (bot/aws/run.py's `Run`)."""

    deadline: float
    now: Callable[[], float]
    timeout_reason: str
    notes: list[str]


class PeopleLookup(Protocol):
    """Slack's users.lookupByEmail, cached (bot/directory.py)."""

    def user_for_email(self, email: str) -> str:
        """The Slack user id of `email`, or ""."""


class _Missing(Exception):
    """A part of the diff could not be read; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Found:
    """What the history says of a run: what was live before, what it ships, who started it."""

    base: Baseline | None = None
    head: Commit | None = None
    starter: StartedBy | None = None
    backwards: bool = False  # the run is a rollback: it takes commits out
    why: str = ""  # why there is no base


@dataclass(frozen=True, slots=True)
class _Span:
    """Commits of `repository` reachable from `new` but not from `old`."""

    repository: str
    old: str
    new: str

    def reversed(self) -> _Span:
        return _Span(self.repository, self.new, self.old)


_Early = tuple[_Span, Future[ReleaseDiff]]  # a comparison started on a guess of the base


@dataclass(frozen=True, slots=True)
class _Outcome:
    found: _Found
    diff: ReleaseDiff | None = None


class _Progress:
    """What one event's diff has reached so far, shared by the pool's threads and `finish`: the
    newest outcome (replaced whole as the diff goes on) and the Slack lookups asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: _Outcome | None = None
        self._asked: dict[str, Future[str]] = {}

    def keep(self, outcome: _Outcome) -> None:
        with self._lock:
            self._latest = outcome

    def latest(self) -> _Outcome | None:
        with self._lock:
            return self._latest

    def ask(self, email: str, start: Callable[[str], Future[str]] | None) -> Future[str] | None:
        """The lookup of `email` this event began already, else one `start` begins (if any)."""
        with self._lock:
            if email not in self._asked and start is not None:
                self._asked[email] = start(email)
            return self._asked.get(email)


def _ignore(_: ReleaseDiff) -> None:
    """Where a partial diff goes when nobody waits for it (the caller's own thread reads it)."""


Partial = Callable[[ReleaseDiff], None]  # takes the diff found so far, if the deadline comes


@dataclass(frozen=True, slots=True)
class Pending:
    """A release lookup under way for one event."""

    cached: ReleaseDiff | None = None
    history: Future[list[Any]] | None = None
    branch: Future[_Outcome] | None = None
    progress: _Progress = field(default_factory=_Progress)


_EXECUTIONS = frozenset({Scope.PIPELINE, Scope.APPROVAL})  # an approval shows its run's diff


def wants_diff(event: Deployment) -> bool:
    """Pipeline executions, their approval requests (what the approver lets through) and
    CodeDeploy deployments have a release diff; other parts of a run do not."""
    if event.scope in _EXECUTIONS:
        return bool(event.pipeline and event.execution_id)
    return event.scope is Scope.DEPLOYMENT and bool(event.deployment_id)


def _is_rollback(event: Deployment, own: Any = None) -> bool:
    starter = event.started_by.how if event.started_by else ""
    trigger = as_str(as_map(as_map(own).get("trigger")).get("triggerType"))
    return (
        event.requested is not None
        or event.rollback is not None
        or starter in _ROLLBACK_TRIGGERS
        or trigger in _ROLLBACK_TRIGGERS
        or as_map(own).get("executionType") == "ROLLBACK"
    )


class ReleaseLookup:
    """Looks up release diffs; build once per container (it keeps a pool and caches)."""

    def __init__(
        self,
        codepipeline_client: Any,
        codedeploy_client: Any,
        config: Config,
        *,
        codecommit: Callable[[], Any] | None = None,
        github: GitHub | None = None,
        people: PeopleLookup | None = None,
        live_before: LiveBefore | None = None,
        executor: Executor | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cp = codepipeline_client
        self._cd = codedeploy_client
        self._codecommit = codecommit
        self._github = github
        self._people = people
        self._live_before = live_before
        self._config = config
        self._settings = config.release
        # Calls go to `_pool`; a diff that waits for calls runs on `_branches`, so that waiting
        # tasks never hold every thread of the pool their calls need.
        self._pool = executor or ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="deploybot-diff")
        self._branches = executor or ThreadPoolExecutor(2, thread_name_prefix="deploybot-diffs")
        self._now = now
        self._lock = threading.Lock()
        self._diffs: dict[str, tuple[float, ReleaseDiff]] = {}
        self._live: dict[str, Baseline] = {}  # each pipeline's newest success this container saw
        api = self._settings.github_api_url
        on_github_com = release.web_root(api) == release.GITHUB_WEB
        self._hosts = Hosts(
            github_enterprise="" if on_github_com else release.web_root(api),
            gitlab_self_managed=self._settings.gitlab_url,
        )
        # The one provider GITHUB_API_URL serves: api.github.com is github.com's; any other is a
        # GitHub Enterprise Server's. The other is never asked (its repository names and SHAs
        # stay off a server that is not theirs).
        self._served = "github" if on_github_com else "githubenterpriseserver"

    # --- the two calls bot/aws/enrich.py makes ------------------------------------------------

    def start(self, event: Deployment, run: Deadline) -> Pending | None:
        """Begin the event's diff: read the history now, and for an execution, the whole diff."""
        if not self._settings.enabled or not wants_diff(event):
            return None
        cached = self._cached(event.execution_id or event.deployment_id)
        if cached is not None:
            return Pending(cached=cached)
        pipeline = event.pipeline or self._sole_pipeline(event)
        history = self._pool.submit(self._history, pipeline) if pipeline else None
        progress = _Progress()
        branch = None
        if event.scope in _EXECUTIONS and history is not None:
            early = self._guess(event, run)
            branch = self._branches.submit(
                self._execution_outcome, event, history, run, progress, early
            )
        return Pending(history=history, branch=branch, progress=progress)

    def finish(self, event: Deployment, pending: Pending, run: Deadline) -> Deployment:
        """The event with its diff, who started it and their Slack ids; never raises."""
        try:
            event = self._with_diff(event, pending, run)
            return self._with_people(event, run, pending.progress)
        except Exception:
            logger.exception("the release diff failed unexpectedly")
            run.notes.append("Changes unknown: the lookup failed unexpectedly (see the logs)")
            return event

    # --- caches ---------------------------------------------------------------------------

    def _cached(self, run_id: str) -> ReleaseDiff | None:
        with self._lock:
            entry = self._diffs.get(run_id)
        return entry[1] if entry and entry[0] > self._now() else None

    def _keep(self, run_id: str, diff: ReleaseDiff) -> None:
        if diff.note or not run_id:
            return  # a partial answer is looked up again by the run's next event
        with self._lock:
            self._diffs[run_id] = (self._now() + self._config.enrich.cache_seconds, diff)

    def _sole_pipeline(self, event: Deployment) -> str:
        mapped = self._config.pipelines_for(event.application, event.deployment_group)
        return mapped[0] if len(mapped) == 1 else ""

    def _wait(self, future: Future[T], run: Deadline) -> T:
        try:
            return future.result(timeout=max(0.0, run.deadline - run.now()))
        except FutureTimeout:
            raise _Missing(run.timeout_reason) from None
        except (AwsError, GitHubError) as exc:
            raise _Missing(exc.reason) from exc

    # --- the diff -------------------------------------------------------------------------

    def _with_diff(self, event: Deployment, pending: Pending, run: Deadline) -> Deployment:
        run_id = event.execution_id or event.deployment_id
        if pending.cached is not None:
            return replace(event, diff=pending.cached)
        try:
            outcome = self._outcome(event, pending, run)
        except _Missing as exc:
            run.notes.append(f"Changes unknown: {exc.reason}")
            return event
        found = outcome.found
        event = replace(event, started_by=event.started_by or found.starter)
        diff = outcome.diff
        if diff is None and found.base is not None:
            head = event.commit if event.commit and event.commit.confirmed else found.head
            diff = self._diff(found, head, event.region, run) if head else None
        if diff is None:
            if found.why:
                run.notes.append(f"Changes unknown: {found.why}")
            return event
        self._keep(run_id, diff)
        return replace(event, diff=diff)

    def _outcome(self, event: Deployment, pending: Pending, run: Deadline) -> _Outcome:
        if pending.branch is not None:
            return self._branch_outcome(pending.branch, pending.progress, run)
        if event.pipeline and event.execution_id and event.rollback is None:
            history = pending.history
            if history is None or event.pipeline != self._sole_pipeline(event):
                history = self._pool.submit(self._history, event.pipeline)
            return _Outcome(self._execution_found(event, self._wait(history, run)))
        if event.scope is Scope.DEPLOYMENT and not event.execution_id:
            return _Outcome(self._group_found(event, run))
        return _Outcome(_Found())

    def _branch_outcome(
        self, branch: Future[_Outcome], progress: _Progress, run: Deadline
    ) -> _Outcome:
        """The diff on the pool; still running at the deadline: what it had found by then."""
        try:
            return self._wait(branch, run)
        except _Missing:
            if branch.done():
                return self._wait(branch, run)  # it ended meanwhile: its answer or its error
            latest = progress.latest()
            if latest is None:
                raise  # the history was not read: no link either
            return latest

    def _history(self, pipeline: str) -> list[Any]:
        page = aws.call(
            self._cp, "list_pipeline_executions", pipelineName=pipeline, maxResults=HISTORY_PAGE
        )
        return list(mappings(page.get("pipelineExecutionSummaries")))

    def _guess(self, event: Deployment, run: Deadline) -> _Early | None:
        """For a run whose notification names its commit: compare it at once with the newest
        success this container saw, while the history is read. The history decides: a guess
        that turns out wrong is dropped (one GitHub call spent), a right one saves a round trip.
        """
        commit = event.commit
        if self._github is None or commit is None or not commit.confirmed:
            return None
        if commit.provider.replace(" ", "").lower() != self._served:
            return None
        with self._lock:
            live = self._live.get(event.pipeline)
        if live is None or live.sha == commit.sha or live.run_id == event.execution_id:
            return None
        span = _Span(commit.repository, live.sha, commit.sha)
        return span, self._pool.submit(self._github_diff, self._github, span, run)

    def _execution_outcome(
        self,
        event: Deployment,
        history: Future[list[Any]],
        run: Deadline,
        progress: _Progress,
        early: _Early | None = None,
    ) -> _Outcome:
        """On the pool, for an execution: its history, then its diff if the head is known;
        `progress` keeps each step, for `finish` to take if the deadline comes first."""
        found = self._execution_found(event, self._wait(history, run))
        progress.keep(_Outcome(found))
        head = event.commit if event.commit and event.commit.confirmed else found.head
        if found.base is None or head is None:
            return _Outcome(found)

        def partial(diff: ReleaseDiff) -> None:
            progress.keep(_Outcome(found, diff))

        diff = self._diff(found, head, event.region, run, early=early, partial=partial)
        if diff is not None:
            partial(diff)
        # Ask Slack about the authors now, while the commit lookup may still run: `finish`
        # then takes the same lookups (done, or still under way) from `progress`.
        starter = event.started_by or found.starter
        self._users(persons(replace(event, diff=diff, started_by=starter)), run, progress)
        return _Outcome(found, diff)

    def _execution_found(self, event: Deployment, summaries: list[Any]) -> _Found:
        """What was live before an execution, from the ledger or the pipeline's history."""
        own = release.own_summary(summaries, event.execution_id)
        source_action = self._config.source_action_for(event.pipeline)
        self._remember(event.pipeline, summaries, source_action)
        head = None
        starter = None
        if own is not None:
            trigger = as_map(own.get("trigger"))
            starter = pipeline_starter(
                as_str(trigger.get("triggerType")), as_str(trigger.get("triggerDetail"))
            )
            revision = codepipeline.pick_revision(
                codepipeline.revisions_from_summary(own), source_action
            )
            head = codepipeline.commit_from_revision(revision, event.region) if revision else None
        backwards = _is_rollback(event, own)
        base = self._live_before(event) if self._live_before else None
        if base is not None:
            return _Found(base, head, starter, backwards)
        before = release.live_before(summaries, event.execution_id, event.started_at)
        if before is None:
            where = f"the last {len(summaries)} executions of {event.pipeline}"
            why = (
                f"no successful execution before this one among {where}"
                if own is not None or event.started_at
                else f"execution {event.execution_id} is not among {where}"
            )
            return _Found(None, head, starter, backwards, why)
        return _Found(release.execution_baseline(before, source_action), head, starter, backwards)

    def _remember(self, pipeline: str, summaries: list[Any], source_action: str) -> None:
        """Keep the newest success of a pipeline's history: the likely base of its next run."""
        newest = next((s for s in summaries if s.get("status") == "Succeeded"), None)
        live = release.execution_baseline(newest, source_action) if newest else None
        if live is not None:
            with self._lock:
                self._live[pipeline] = live

    def _group_found(self, event: Deployment, run: Deadline) -> _Found:
        """What was live in a deployment group before a deployment no pipeline made."""
        if not event.application or not event.deployment_group:
            return _Found()
        own_future = self._pool.submit(
            aws.call, self._cd, "get_deployment", deploymentId=event.deployment_id
        )
        group_future = self._pool.submit(
            aws.call,
            self._cd,
            "get_deployment_group",
            applicationName=event.application,
            deploymentGroupName=event.deployment_group,
        )
        own = self._wait(own_future, run)
        info = as_map(own.get("deploymentInfo"))
        starter = deployment_starter(as_str(info.get("creator")))
        head = self._github_revision(release.revision_of(own), event.region)
        backwards = _is_rollback(replace(event, started_by=event.started_by or starter))
        base = self._live_before(event) if self._live_before else None
        if base is None:
            base = self._group_base(event.deployment_id, own, self._wait(group_future, run), run)
        return _Found(base, head, starter, backwards)

    def _group_base(
        self, deployment_id: str, own: Any, group: Any, run: Deadline
    ) -> Baseline | None:
        last = release.last_success(group)
        if last and last != deployment_id:
            answer = self._wait(
                self._pool.submit(aws.call, self._cd, "get_deployment", deploymentId=last), run
            )
            return release.revision_baseline(release.revision_of(answer), last)
        return release.revision_baseline(release.revision_of(own, "previousRevision"), "")

    @staticmethod
    def _github_revision(revision: Any, region: str) -> Commit | None:
        base = release.revision_baseline(revision, "")
        if base is None:
            return None  # an S3 bundle names no commit
        return build_commit(
            sha=base.sha, repository=base.repository, provider="GitHub", region=region
        )

    def _diff(
        self,
        found: _Found,
        head: Commit,
        region: str,
        run: Deadline,
        *,
        early: _Early | None = None,
        partial: Partial = _ignore,
    ) -> ReleaseDiff | None:
        """The diff from what was live to `head`: link always, commits where an API can list.

        `early` is a comparison started on a guess (`_guess`); it is used if it guessed right.
        `partial` gets what is known while the list is read: the link alone, then any part.
        """
        base = found.base
        assert base is not None
        repository = head.repository or base.repository
        if base.repository and head.repository and base.repository.lower() != repository.lower():
            return None  # the pipeline's source moved to another repository: nothing to compare
        facts: dict[str, Any] = {
            "repository": repository,
            "compare_url": release.compare_url(
                head.provider, repository, base.sha, head.sha, region=region, hosts=self._hosts
            ),
            "base_run": base.run_id,
        }
        if base.sha == head.sha:
            return ReleaseDiff(base.sha, head.sha, count=0, **facts)
        span = _Span(repository, base.sha, head.sha)
        unlisted = f"Commit list unavailable: {run.timeout_reason}"
        partial(ReleaseDiff(base.sha, head.sha, note=unlisted, **facts))
        try:
            if early is not None and early[0] == span:
                listed: ReleaseDiff | None = self._wait(early[1], run)
            else:
                listed = self._list(
                    head.provider, span, found, run, lambda d: partial(replace(d, **facts))
                )
        except _Missing as exc:
            return ReleaseDiff(
                base.sha, head.sha, note=f"Commit list unavailable: {exc.reason}", **facts
            )
        if listed is None:
            return ReleaseDiff(base.sha, head.sha, **facts)
        return replace(listed, **facts)

    def _list(
        self, provider: str, span: _Span, found: _Found, run: Deadline, partial: Partial
    ) -> ReleaseDiff | None:
        """The commits base..head where the provider has an API we read, else None."""
        kind = provider.replace(" ", "").lower()
        if self._github is not None and kind in _GITHUBS:
            if kind != self._served:
                raise _Missing(self._unserved(kind))
            return self._github_diff(self._github, span, run, partial)
        if kind == "codecommit" and self._codecommit is not None:
            return self._codecommit_diff(span, found.backwards, run, partial)
        return None

    # --- GitHub -------------------------------------------------------------------------------

    def _unserved(self, kind: str) -> str:
        """Why a GitHub the API URL does not serve is not asked, and what to set."""
        api = self._settings.github_api_url
        if kind == "github":
            return (
                f"GITHUB_API_URL names {api}, not github.com's API: set GITHUB_API_URL to "
                f"{DEFAULT_GITHUB_API_URL} to list github.com repositories"
            )
        return (
            "GitHub Enterprise Server is not asked at api.github.com: set GITHUB_API_URL to "
            "its API (https://HOST/api/v3)"
        )

    @staticmethod
    def _page(github: GitHub, span: _Span, page: int, run: Deadline) -> Page:
        timeout = run.deadline - run.now()
        if timeout <= 0:
            raise _Missing(run.timeout_reason)
        try:
            return github.compare(span.repository, span.old, span.new, page, timeout=timeout)
        except GitHubError as exc:
            raise _Missing(exc.reason) from exc

    def _github_diff(
        self, github: GitHub, span: _Span, run: Deadline, partial: Partial = _ignore
    ) -> ReleaseDiff:
        first = self._page(github, span, 1, run)
        status, _, behind = release.github_status(first.body)
        listed = span.reversed() if status == "behind" else span
        if listed is not span:  # head is older than what was live: list what the run takes out
            first = self._page(github, listed, 1, run)

        def summary(pages: list[Page], note: str) -> ReleaseDiff:
            return release.summarize(
                span.old,
                span.new,
                release.github_changes(p.body for p in pages),
                count=as_count(first.body.get("total_commits")),
                backwards=listed is not span,
                note=note,
            )

        if first.last > 1:
            partial(summary([first], f"some commits are not listed: {run.timeout_reason}"))
        pages, note = self._more_pages(github, listed, first, run)
        if status == "diverged" and behind:
            note = note or f"{behind} commits of the old revision are not in the new one"
        return summary(pages, note)

    def _more_pages(
        self, github: GitHub, span: _Span, first: Page, run: Deadline
    ) -> tuple[list[Page], str]:
        """Page 1 and the pages after it, read in parallel: the newest ones when there are too
        many to read them all (GitHub lists the oldest commits first)."""
        most = max(1, -(-self._settings.max_commits // PER_PAGE))
        numbers = list(range(max(2, first.last - most + 2), first.last + 1))
        futures = [self._pool.submit(self._page, github, span, n, run) for n in numbers]
        pages, note = [first], ""
        for future in futures:
            try:
                pages.append(self._wait(future, run))
            except _Missing as exc:
                note = f"some commits are not listed: {exc.reason}"
        if not note and first.last > most:
            note = f"only the first and the newest {PER_PAGE * (most - 1)} commits are listed"
        return pages, note

    # --- CodeCommit ---------------------------------------------------------------------------

    def _codecommit_diff(
        self, span: _Span, backwards: bool, run: Deadline, partial: Partial = _ignore
    ) -> ReleaseDiff:
        assert self._codecommit is not None
        limit = min(self._settings.max_commits, CODECOMMIT_MAX)

        def summary(walked: list[Any], complete: bool) -> ReleaseDiff:
            newest_first = sorted(walked, key=release.commit_time, reverse=True)[:limit]
            return release.summarize(
                span.old,
                span.new,
                release.codecommit_changes(newest_first),
                complete=complete,
                backwards=backwards,
            )

        listed = span.reversed() if backwards else span
        walked, complete = self._walk(
            self._codecommit(), listed, run, limit, lambda so_far: partial(summary(so_far, False))
        )
        return summary(walked, complete)

    @staticmethod
    def _walk(
        client: Any,
        span: _Span,
        run: Deadline,
        limit: int,
        progress: Callable[[list[Any]], None],
    ) -> tuple[list[Any], bool]:
        """Commits reachable from `start` but not `stop` (unordered), one generation of
        parents per BatchGetCommits (CodeCommit has no log API), each generation shown to
        `progress`. Commits older than `stop` end the walk on their branch, so merges of old
        work are not counted. Stops at the deadline with what it has, if anything."""
        start, stop = span.new, span.old
        frontier, seen = [start], {start, stop}
        walked: list[Any] = []
        stop_date: int | None = None
        while frontier and len(walked) < limit:
            if run.now() >= run.deadline:
                if not walked:
                    raise _Missing(run.timeout_reason)
                return walked, False
            # BatchGetCommits takes 100 ids at most (CommitIdsLimitExceededException).
            first = stop_date is None
            ask = frontier[: BATCH_MAX - first] + ([stop] if first else [])
            try:
                answer = aws.call(
                    client, "batch_get_commits", repositoryName=span.repository, commitIds=ask
                )
            except AwsError as exc:
                raise _Missing(exc.reason) from exc
            found = {as_str(c.get("commitId")): c for c in mappings(answer.get("commits"))}
            stop_date = release.commit_time(found.get(stop, {})) if stop_date is None else stop_date
            frontier = frontier[BATCH_MAX - first :]
            for commit_id in ask:
                commit = found.get(commit_id)
                if commit is None or commit_id == stop:
                    continue
                if stop_date is not None and release.commit_time(commit) < stop_date:
                    continue  # older than what was live: reached through a merge of old work
                walked.append(commit)
                fresh = [p for p in release.parents(commit) if p not in seen]
                seen.update(fresh)
                frontier.extend(fresh)
            progress(list(walked))
        return walked, not frontier

    # --- people ---------------------------------------------------------------------------------

    def _users(self, named: Iterable[Person], run: Deadline, progress: _Progress) -> dict[str, str]:
        """Slack user ids by e-mail for the people [people] does not map (users.lookupByEmail,
        in parallel; the directory keeps what it learns). An e-mail this event asked about
        already is not asked again; after the deadline, nobody new is asked."""
        people = self._settings.people
        lookup = self._people
        if lookup is None:
            return {}

        def start(email: str) -> Future[str]:
            return self._pool.submit(lookup.user_for_email, email)

        late = run.now() >= run.deadline
        asked: dict[str, Future[str]] = {}
        for person in named:
            email = person.email.lower()
            if person.slack_id or mapped_id(person, people) or not email or email in asked:
                continue
            if len(asked) >= LOOKUPS_MAX:
                break
            future = progress.ask(email, None if late else start)
            if future is not None:
                asked[email] = future
        found: dict[str, str] = {}
        for email, future in asked.items():
            try:
                found[email] = self._wait(future, run)
            except _Missing:
                logger.info("no Slack user for an author within the deadline")
        return found

    def _with_people(self, event: Deployment, run: Deadline, progress: _Progress) -> Deployment:
        """Everyone the event names, with a Slack id from [people] or users.lookupByEmail."""
        people = self._settings.people
        found = self._users(persons(event), run, progress)

        def resolve(person: Person) -> Person:
            if person.slack_id:
                return person
            user = mapped_id(person, people) or found.get(person.email.lower(), "")
            return replace(person, slack_id=user) if user else person

        return with_people(event, resolve)


def release_lookup(
    config: Config,
    codepipeline_client: Any,
    codedeploy_client: Any,
    *,
    people: PeopleLookup | None = None,
    live_before: LiveBefore | None = None,
    codecommit: Callable[[], Any] | None = None,
) -> ReleaseLookup:
    """The release lookup of this environment: GitHub at GITHUB_API_URL with its token (read on
    first use), CodeCommit through `codecommit` (the shared client by default, made on first
    use; a spoke's repositories through its role)."""
    from bot.aws.secrets import github_token

    github = GitHub(config.release.github_api_url, lambda: github_token(config))
    return ReleaseLookup(
        codepipeline_client,
        codedeploy_client,
        config,
        codecommit=codecommit or (lambda: aws.client("codecommit")),
        github=github,
        people=people,
        live_before=live_before,
    )
