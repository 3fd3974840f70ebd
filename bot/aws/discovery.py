"""Which pipelines deploy a CodeDeploy application/group: from the ledger, else by reading
pipeline definitions, the likeliest first, a little more with every event.

Reading every definition of a region with 1,000 pipelines takes minutes at the rates AWS
allows, far more than one event's deadline. So what is read is kept: in this container for
`cache_seconds`, and in the ledger (each pipeline's record holds its definition) for every
container and every later invocation. A search reads only definitions nobody has read yet
(or that an event showed to be outdated), names holding the application or group first, stops
at the first pipeline that deploys the target, and never reads the same definition twice at
once. What the deadline cuts short is picked up by the next event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from bot import aws
from bot.aws.run import LookupFailed, Run
from bot.domain import codepipeline
from bot.domain.codepipeline import PipelineInfo
from bot.domain.ledger import Names, PipelineEntry, likely_first, pipeline_key, with_definition
from bot.ledger import Ledger
from bot.store import StoreError

logger = logging.getLogger(__name__)

LIST_PIPELINES_PAGE_SIZE = 1000
LIST_PIPELINES_PAGES = 5
DEFINITION_TTL_SECONDS = 7 * 86400  # a definition no event showed to be outdated is re-read weekly
WAVE = 16  # definitions asked for at once: keeps the pool busy, wastes little past a match


@dataclass
class _Region:
    """What this container knows of one account and region."""

    names: tuple[str, ...] | None = None
    names_until: float = 0.0
    infos: dict[str, tuple[float, PipelineInfo]] = field(default_factory=dict)
    seeded_until: float = 0.0  # when the ledger's definitions must be read again
    versions: dict[str, int] = field(default_factory=dict)  # newest version events named


@dataclass(frozen=True, slots=True)
class Found:
    """The pipelines that deploy a target, and why some definitions could not be read."""

    pipelines: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    complete: bool = True  # every pipeline's definition was considered


class Discovery:
    """Pipeline names and definitions for one CodePipeline client, shared by a container."""

    def __init__(
        self,
        codepipeline_client: Any,
        ledger: Ledger | None,
        *,
        cache_seconds: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cp = codepipeline_client
        self._ledger = ledger
        self._ttl = cache_seconds
        self._now = now
        self._lock = threading.RLock()  # an inline executor (tests) reads under the lock
        self._regions: dict[tuple[str, str], _Region] = {}
        self._inflight: dict[tuple[str, str, str], Future[PipelineInfo]] = {}

    def _region(self, account: str, region: str) -> _Region:
        with self._lock:
            return self._regions.setdefault((account, region), _Region())

    # --- names -----------------------------------------------------------------------------

    def names(self, account: str, region: str, run: Run) -> tuple[str, ...]:
        """Every pipeline's name: this container's, the ledger's if fresh, else list_pipelines."""
        return self._names(
            account, region, lambda: run.wait(run.submit(self._list, account, region))
        )

    def names_here(self, account: str, region: str) -> tuple[str, ...]:
        """`names`, listing in the calling thread (a worker of a run already)."""
        return self._names(account, region, lambda: self._list(account, region))

    def _names(
        self, account: str, region: str, listing: Callable[[], tuple[str, ...]]
    ) -> tuple[str, ...]:
        place = self._region(account, region)
        if place.names is not None and place.names_until > self._now():
            return place.names
        names = self._stored_names(account, region)
        if names is None:
            names = listing()
        place.names, place.names_until = names, self._now() + self._ttl
        return names

    def _stored_names(self, account: str, region: str) -> tuple[str, ...] | None:
        if self._ledger is None:
            return None
        try:
            stored = self._ledger.names(account, region)
        except StoreError:
            logger.exception("could not read the pipeline names from the ledger")
            return None
        if stored is None or self._ledger.now() - stored.listed_at > self._ttl:
            return None
        return stored.names

    def _list(self, account: str, region: str) -> tuple[str, ...]:
        listed: list[str] = []
        params: dict[str, Any] = {"maxResults": LIST_PIPELINES_PAGE_SIZE}
        for _ in range(LIST_PIPELINES_PAGES):
            page = aws.call(self._cp, "list_pipelines", **params)
            listed.extend(codepipeline.pipeline_names(page))
            if not page.get("nextToken"):
                break
            params["nextToken"] = page["nextToken"]
        names = tuple(listed)
        if self._ledger is not None:
            try:
                self._ledger.put_names(account, region, Names(names, self._ledger.now()))
            except StoreError:
                logger.exception("could not keep the pipeline names in the ledger")
        return names

    # --- definitions -----------------------------------------------------------------------

    def saw_version(self, account: str, region: str, pipeline: str, version: int) -> None:
        """An event named the pipeline's structure version: an older definition is outdated."""
        place = self._region(account, region)
        with self._lock:
            if version > place.versions.get(pipeline, 0):
                place.versions[pipeline] = version

    def known(self, account: str, region: str, pipeline: str) -> PipelineInfo | None:
        """The definition this container holds, if it is fresh and not outdated."""
        place = self._region(account, region)
        with self._lock:
            entry = place.infos.get(pipeline)
            newest = place.versions.get(pipeline, 0)
        if entry is None or entry[0] <= self._now():
            return None
        info = entry[1]
        return None if newest > info.version > 0 else info

    def info(self, account: str, region: str, pipeline: str, run: Run) -> Future[PipelineInfo]:
        """The pipeline's definition: this container's, the ledger's, else get_pipeline."""
        known = self.known(account, region, pipeline)
        if known is not None:
            done: Future[PipelineInfo] = Future()
            done.set_result(known)
            return done
        return self._fetch(account, region, pipeline, run, ledger_first=True)

    def read(self, account: str, region: str, pipeline: str, run: Run) -> Future[PipelineInfo]:
        """Read the definition from AWS (and keep it), whatever is known of it."""
        return self._fetch(account, region, pipeline, run, ledger_first=False)

    def _fetch(
        self, account: str, region: str, pipeline: str, run: Run, *, ledger_first: bool
    ) -> Future[PipelineInfo]:
        """One read of a definition at a time per pipeline: a second asker shares the first."""
        key = (account, region, pipeline)
        with self._lock:
            running = self._inflight.get(key)
            if running is not None:
                return running
            future = run.submit(self._read, account, region, pipeline, ledger_first)
            self._inflight[key] = future
        future.add_done_callback(lambda _: self._forget(key, future))
        return future

    def _forget(self, key: tuple[str, str, str], future: Future[PipelineInfo]) -> None:
        with self._lock:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    def _read(self, account: str, region: str, pipeline: str, ledger_first: bool) -> PipelineInfo:
        if ledger_first and self._ledger is not None:
            entry = self._stored(account, region, pipeline)
            if entry is not None and entry.definition is not None:
                self._keep(account, region, entry.definition)
                return entry.definition
        info = codepipeline.parse_pipeline(aws.call(self._cp, "get_pipeline", name=pipeline))
        self._keep(account, region, info)
        if self._ledger is not None:
            self._store_definition(account, region, info)
        return info

    def _stored(self, account: str, region: str, pipeline: str) -> PipelineEntry | None:
        assert self._ledger is not None
        try:
            entry = self._ledger.pipeline(account, region, pipeline)
        except StoreError:
            logger.exception("could not read %s from the ledger", pipeline)
            return None
        if entry is None or entry.stale_definition(self._ledger.now(), DEFINITION_TTL_SECONDS):
            return None
        newest = self._region(account, region).versions.get(pipeline, 0)
        definition = entry.definition
        return None if definition is None or newest > definition.version > 0 else entry

    def _store_definition(self, account: str, region: str, info: PipelineInfo) -> None:
        assert self._ledger is not None
        ledger = self._ledger

        def change(old: object) -> PipelineEntry:
            base = old if isinstance(old, PipelineEntry) else None
            entry = base or PipelineEntry(info.name, account, region)
            return with_definition(entry, info, ledger.now())

        try:
            ledger.change(pipeline_key(account, region, info.name), change)
        except StoreError:
            logger.exception("could not keep the definition of %s in the ledger", info.name)

    def _keep(self, account: str, region: str, info: PipelineInfo) -> None:
        place = self._region(account, region)
        with self._lock:
            place.infos[info.name] = (self._now() + self._ttl, info)

    def _seed(self, account: str, region: str) -> None:
        """Take in every definition the ledger holds (one query), once per `cache_seconds`."""
        place = self._region(account, region)
        if self._ledger is None or place.seeded_until > self._now():
            return
        place.seeded_until = self._now() + self._ttl
        try:
            entries, _ = self._ledger.listing()
        except StoreError:
            logger.exception("could not read the ledger's pipeline definitions")
            return
        now = self._ledger.now()
        for entry in entries:
            if (entry.account, entry.region) in ((account, region), ("", region)):
                fresh = not entry.stale_definition(now, DEFINITION_TTL_SECONDS)
                if entry.definition is not None and fresh:
                    self._keep(account, region, entry.definition)

    # --- the search ------------------------------------------------------------------------

    def deploying(self, account: str, region: str, application: str, group: str, run: Run) -> Found:
        """The pipelines whose Deploy actions deploy `application`/`group`."""
        names = self.names(account, region, run)
        self._seed(account, region)
        found = self._matching(account, region, names, application, group)
        if found:
            return Found(found)
        unknown = [n for n in names if self.known(account, region, n) is None]
        likely, rest = likely_first(unknown, application, group)
        waves = [likely[:WAVE], *(rest[i : i + WAVE] for i in range(0, len(rest), WAVE))]
        return self._search(account, region, [w for w in waves if w], run, (application, group))

    def _matching(
        self, account: str, region: str, names: Iterable[str], application: str, group: str
    ) -> tuple[str, ...]:
        infos = (self.known(account, region, n) for n in names)
        return tuple(i.name for i in infos if i is not None and i.deploys(application, group))

    def _search(
        self,
        account: str,
        region: str,
        waves: list[list[str]],
        run: Run,
        target: tuple[str, str],
    ) -> Found:
        """Read definitions wave by wave until a wave finds `target` or time runs out.

        The first wave holds the likely names only, so a well-named pipeline costs one read.
        """
        failures: list[str] = []
        for wave in waves:
            futures = [(n, self._fetch(account, region, n, run, ledger_first=False)) for n in wave]
            found: list[str] = []
            for name, future in futures:
                try:
                    if run.wait(future).deploys(*target):
                        found.append(name)
                except LookupFailed as exc:
                    failures.append(exc.reason)
                    if run.now() >= run.deadline or _out_of_time(exc):
                        self._cancel(futures)
                        return Found(failures=tuple(failures), complete=False)
            if found:
                return Found(tuple(found), tuple(failures))
        return Found(failures=tuple(failures))

    @staticmethod
    def _cancel(futures: Iterable[tuple[str, Future[PipelineInfo]]]) -> None:
        """Drop what no thread has taken up yet; what is running finishes and is kept."""
        for _, future in futures:
            future.cancel()


def _out_of_time(exc: LookupFailed) -> bool:
    """True when the read was not answered in time (or not sent: no time was left for it)."""
    cause = exc.__cause__
    return isinstance(cause, aws.AwsError) and cause.problem.kind == "timeout"
