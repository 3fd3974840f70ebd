"""The sweep: every few minutes, messages that may have missed an event are brought to the truth.

EventBridge delivers "best effort" and SNS gives up after its retries, so a message can stay
"in progress" forever. Each living message that is not final is listed in the store by when
the sweep should look at it (`[sweep] after_minutes` after its first event). The sweep reads
those that are due, asks AWS how the run stands, and:
- a run that ended: its final state is folded in as the lost event would have been (one
  update of the message; the lost event arriving later changes nothing);
- a deployment that got a message of its own because its pipeline was not known yet: once
  its execution is known (the ledger, else a search), the message is folded into the
  execution's, and its own message says where it went;
- a run in progress for longer than `stuck_after` (3x its usual duration by default): one
  thread reply saying what it waits on (not for an approval or a blue/green wait: those have
  their own reminders, which the sweep sends through handlers/approvals.py).
What time is left goes, at most hourly, to filling the ledger in (bot/aws/deploy_status.py
`backfill`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace

from blocks.text import duration
from bot import aws
from bot.aws import AwsError
from bot.aws.accounts import NoLookups, Place, Places
from bot.aws.deploy_status import backfill_in
from bot.aws.enrich import accounts_enricher
from bot.aws.limits import DeadlinePassed
from bot.aws.run import LookupFailed, Run
from bot.domain.codedeploy import parse_deployment
from bot.domain.codepipeline import parse_execution, parse_stages
from bot.domain.coerce import as_map, mappings, parse_status
from bot.domain.config import Config
from bot.domain.ledger import (
    GroupEntry,
    Names,
    PipelineEntry,
    backfill_key,
    group_key,
    stuck_after,
    typical_seconds,
)
from bot.domain.living import (
    HEALED,
    SWEEP,
    State,
    build_view,
    healed,
    kind_of,
    load_state,
    position,
    with_sweep,
)
from bot.domain.model import Deployment, Execution, Scope, Source, Status, View
from bot.ledger import Ledger
from bot.slack import DeliveryError, Poster, make_web_client
from bot.store import Record, Store, StoreError
from handlers.approvals import send_reminders
from handlers.living import LivingDelivery

logger = logging.getLogger(__name__)

DUE_PER_SWEEP = 200  # messages looked at per sweep at most; the rest wait for the next
HISTORY_PAGE = 20  # executions read to find a stuck one with its times
BACKFILL_EVERY_SECONDS = 3600.0


@dataclass
class SweepReport:
    """What one sweep did."""

    looked_at: int = 0
    healed: int = 0
    folded: int = 0
    stuck: int = 0
    failed: int = 0
    reminded: int = 0  # reminders of approvals still waiting
    left: int = 0  # due, but the sweep ran out of time
    backfilled: int = 0

    def add(self, other: SweepReport) -> None:
        """Count what `other` did too."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


class Sweeper:
    """One sweep over the due messages, with the clients and store of one container."""

    def __init__(
        self,
        config: Config,
        delivery: LivingDelivery,
        store: Store,
        places: Places,
        *,
        clock: Callable[[], float] = time.time,
        remind: Callable[[str], int] | None = None,
    ) -> None:
        self._config = config
        self._delivery = delivery
        self._store = store
        self._ledger = Ledger(store, clock=clock)
        self._places = places  # each message is read in its own account and region
        self._enricher = accounts_enricher(config, self._ledger, release=False, places=places)
        self._clock = clock
        self._remind = remind  # approvals' reminders of a message (handlers/approvals.py)

    def run(self) -> SweepReport:
        """Look at every due message within `sweep.seconds`; then fill the ledger in."""
        report = SweepReport()
        seconds = self._config.sweep.seconds
        deadline = time.monotonic() + seconds
        now = self._clock()
        try:
            due = self._store.query(
                SWEEP, upto=position(now, "\uffff"), newest_first=False, limit=DUE_PER_SWEEP
            )
        except StoreError:
            # The schedule runs again in a few minutes: failing here would only get the
            # invocation retried and then parked with the failed notifications.
            logger.exception("the sweep skipped this time: the due messages could not be read")
            return report
        pool = ThreadPoolExecutor(1, thread_name_prefix="deploybot-sweep")
        run = Run(pool, deadline, seconds, time.monotonic)
        try:
            self._look_at(due, report, run)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if run.left > 1 and self._backfill_due():
            report.backfilled = backfill_in(
                self._config, self._places, self._ledger, seconds=run.left
            )
        return report

    def _look_at(self, due: list[Record], report: SweepReport, run: Run) -> None:
        """Each due message in turn, each bounded by the time the sweep has left (its AWS
        requests too: none waits for the rate limit past the deadline, none is sent after)."""
        for index, record in enumerate(due):
            if run.left <= 0:
                report.left += len(due) - index
                return
            try:
                report.add(run.wait(run.submit(self._look, record.key)))
            except LookupFailed as exc:  # out of time with it, or a bug (Run logged it)
                logger.warning("the sweep gave up on %s: %s", record.key, exc.reason)
                report.looked_at += 1
                if run.left <= 0:
                    report.left += len(due) - index
                    return
                report.failed += 1

    def _look(self, key: str) -> SweepReport:
        """One message (on the sweep's pool): what was done with it."""
        done = SweepReport(looked_at=1)
        try:
            self._one(key, done)
        except NoLookups as exc:
            # Its account cannot be read (not configured, its role refused): nothing to
            # heal now; it is looked at again later, like a message still running.
            logger.info("the sweep cannot read %s: %s", key, exc.reason)
            self._later(key)
        except (AwsError, StoreError, DeliveryError) as exc:
            if isinstance(exc.__cause__, DeadlinePassed):
                logger.info("the sweep ran out of time with %s: looked at next time", key)
                done.left += 1
            else:
                logger.exception("the sweep could not bring %s up to date", key)
                done.failed += 1
            self._later(key)
        return done

    def _backfill_due(self) -> bool:
        """Fill the ledger in at most hourly: a full read of it every 5 minutes costs more
        than what it finds (each /deploy-status answer fills it in too)."""
        key = backfill_key("", self._places.places()[0][2])
        now = self._ledger.now()
        try:
            last = self._ledger.get(key, Names)
            if last is not None and now - last.listed_at < BACKFILL_EVERY_SECONDS:
                return False
            self._ledger.change(key, lambda _: Names((), now))
        except StoreError:
            logger.exception("could not read when the ledger was last filled in")
            return False
        return True

    def _one(self, key: str, report: SweepReport) -> None:
        state = self._state(key)
        if not state.events:
            self._reschedule(key)  # leaves the list
            return
        view = build_view(key, state.events.values())
        if kind_of(key) == "deployment" and self._fold(key, view):
            report.folded += 1
            return
        if view.approvals and self._remind is not None:
            report.reminded += self._remind(key)
        if not view.head.status.is_final:
            truth = self._truth(key, view.head)
            if truth is not None and truth.status.is_final:
                self._delivery.heal(key, healed(key, state, truth))
                self._ledger.record(truth)
                report.healed += 1
                logger.info("healed %s: AWS says %s", key, truth.status.value)
            elif truth is not None and self._stuck(key, state, view):
                report.stuck += 1
        self._reschedule(key)

    def _reschedule(self, key: str) -> None:
        """Look again `after_minutes` from now, if there is anything left to look at."""
        after = self._config.sweep.after_minutes * 60
        extra = 1 if kind_of(key) == "deployment" else 0

        def again(state: State) -> State:
            checked = replace(state, due=0.0, checks=state.checks + extra)
            return with_sweep(key, checked, self._clock(), after)

        self._delivery.change(key, again)

    def _later(self, key: str) -> None:
        """After a failure: try again next time, behind what is due before it."""
        try:
            self._reschedule(key)
        except StoreError:
            logger.exception("could not reschedule %s", key)

    # --- a deployment's own message --------------------------------------------------------

    def _fold(self, key: str, view: View) -> bool:
        """Fold a deployment's message into its execution's, once the execution is known."""
        head = view.head
        if not (head.deployment_id and head.application and head.deployment_group):
            return False
        link = self._enricher.execution_of(head)
        if link is None:
            return False
        execution = f"execution#{link.execution_id}"
        self._delivery.fold_orphan(key, execution)
        return bool(self._state(key).moved_to)

    def _state(self, key: str) -> State:
        record = self._store.get(key)
        return load_state(record.body) if record else State()

    # --- how the run stands in AWS ---------------------------------------------------------

    def _place(self, head: Deployment) -> Place:
        """Where the run is read: its own account and region (NoLookups when it cannot be)."""
        return self._places.place(head.account, head.region)

    def _truth(self, key: str, head: Deployment) -> Deployment | None:
        """The run as AWS reports it now, as an event the message can take in."""
        if kind_of(key) == "execution" and head.pipeline:
            return self._execution(key, head)
        if head.deployment_id:
            codedeploy = self._place(head).codedeploy
            response = aws.call(codedeploy, "get_deployment", deploymentId=head.deployment_id)
            info = as_map(response.get("deploymentInfo"))
            read = parse_deployment(info, region=head.region)
            return replace(
                read,
                account=head.account,
                event_id=f"{HEALED}{key}:{read.status.value}",
                occurred_at=read.finished_at or read.started_at,
            )
        return None

    def _execution(self, key: str, head: Deployment) -> Deployment | None:
        pipeline, execution_id = head.pipeline, head.execution_id
        codepipeline = self._place(head).codepipeline
        page = aws.call(
            codepipeline, "list_pipeline_executions", pipelineName=pipeline, maxResults=HISTORY_PAGE
        )
        summaries = mappings(page.get("pipelineExecutionSummaries"))
        found = next((s for s in summaries if s.get("pipelineExecutionId") == execution_id), None)
        if found is not None:
            execution = parse_execution(found, head.region)
        else:  # older than the page: its status, without times
            response = aws.call(
                codepipeline,
                "get_pipeline_execution",
                pipelineName=pipeline,
                pipelineExecutionId=execution_id,
            )
            status = parse_status(as_map(response.get("pipelineExecution")).get("status"))
            execution = Execution(execution_id, status)
        return Deployment(
            source=Source.CODEPIPELINE,
            scope=Scope.PIPELINE,
            status=execution.status,
            raw_status=execution.status.value,
            region=head.region,
            account=head.account,
            event_id=f"{HEALED}{key}:{execution.status.value}",
            pipeline=pipeline,
            execution_id=execution_id,
            started_at=execution.started_at,
            finished_at=execution.updated_at if execution.status.is_final else None,
            occurred_at=execution.updated_at,
            commit=execution.commit,
            trigger=execution.trigger,
        )

    # --- runs that take too long -----------------------------------------------------------

    def _stuck(self, key: str, state: State, view: View) -> bool:
        """Post the one thread reply on a run far past its usual duration; True if posted."""
        head = view.head
        if state.stuck or head.started_at is None or view.approvals or view.waiting:
            return False  # waiting for a person: approvals and blue/green waits remind
        running = self._clock() - head.started_at.timestamp()
        usual = self._usual(head)
        if running <= stuck_after(self._config.sweep, usual):
            return False
        note = f"Running for {duration(running)}"
        if usual:
            note += f"; it usually takes {duration(usual)}"
        note += f". {self._waits_on(head)}"
        self._delivery.change(key, lambda s: None if s.stuck else replace(s, stuck=note))
        self._delivery.sync(key)
        logger.info("%s is stuck: %s", key, note)
        return True

    def _usual(self, head: Deployment) -> float | None:
        """The median duration of its pipeline's (or group's) recent runs, from the ledger."""
        try:
            if head.source is Source.CODEPIPELINE:
                entry: PipelineEntry | GroupEntry | None = self._ledger.pipeline(
                    head.account, head.region, head.pipeline
                )
            else:
                key = group_key(head.account, head.region, head.application, head.deployment_group)
                entry = self._ledger.get(key, GroupEntry)
        except StoreError:
            logger.exception(
                "could not read the ledger for %s", head.pipeline or head.deployment_id
            )
            return None
        return typical_seconds(entry) if entry is not None else None

    def _waits_on(self, head: Deployment) -> str:
        """What the run waits on, in a sentence."""
        place = self._place(head)
        if head.source is Source.CODEPIPELINE:
            state = aws.call(place.codepipeline, "get_pipeline_state", name=head.pipeline)
            stages = parse_stages(state)
            for stage in stages:
                if stage.execution_id == head.execution_id and stage.status is Status.IN_PROGRESS:
                    waits = f"It waits on stage {stage.name}"
                    if stage.action:
                        waits += f", action {stage.action}"
                        waits += f": {stage.detail}" if stage.detail else ""
                    return waits + "."
            return "No stage of it is running now."
        response = aws.call(place.codedeploy, "get_deployment", deploymentId=head.deployment_id)
        read = parse_deployment(as_map(response.get("deploymentInfo")), region=head.region)
        if read.status is Status.READY:
            return "It waits to reroute traffic (status Ready): continue or stop it in CodeDeploy."
        counts = read.instances
        if counts is None or not counts.total:
            return f"CodeDeploy reports it {read.raw_status or read.status.value}."
        return (
            f"{counts.succeeded} of {counts.total} targets done, {counts.in_progress} in "
            f"progress, {counts.pending} pending."
        )


def run_sweep(config: Config, poster: Poster, store: Store, places: Places) -> SweepReport:
    """One sweep with a container's poster, store and AWS accounts (`accounts_of(config)`)."""
    delivery = LivingDelivery(config, poster, store)
    remind = None
    if config.slack_bot_token:  # reminders are thread replies: the Web API, not a webhook
        client = make_web_client(config)

        def remind(key: str) -> int:
            return send_reminders(key, config, store, client)

    report = Sweeper(config, delivery, store, places, remind=remind).run()
    # Every 5 minutes: a line only when the sweep did something (or could not).
    busy = report.looked_at or report.backfilled or report.left
    logger.log(logging.INFO if busy else logging.DEBUG, "sweep: %s", report)
    return report
