"""Enrich a notification with what CodePipeline and CodeDeploy know: the exact commit, why a
deployment failed, which pipeline actions failed. The I/O edge of the notification path.

Clients are injected (tests pass real botocore clients under `Stubber`). Every call runs on a
thread pool and is waited for only until one deadline per event, so a slow, throttled or
forbidden API never blocks the post: what could not be looked up becomes a note on the message.
See DESIGN.md "Finding the commit" and ../shared/aws-facts.md §5-7.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from bot import aws
from bot.aws import AwsError
from bot.aws.accounts import NoLookups, Place, Places, accounts_of
from bot.aws.discovery import Discovery
from bot.aws.release import PeopleLookup, ReleaseLookup, release_lookup
from bot.aws.run import LookupFailed, Run
from bot.domain import approvals, codedeploy, codepipeline, rollback
from bot.domain.codepipeline import ActionRun, PipelineInfo, Response
from bot.domain.coerce import as_map
from bot.domain.config import Config, RollbackPipeline
from bot.domain.ledger import DeploymentLink, deployment_key
from bot.domain.model import (
    Commit,
    Deployment,
    Enrich,
    Execution,
    FailureDetail,
    Scope,
    Source,
    Status,
)
from bot.ledger import Ledger
from bot.store import Store, StoreError

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # list_action_executions' maximum
POOL_SIZE = 8
LAST_GOOD_PAGE = 20  # executions searched for the newest successful one before a failure
# A deployment this young may not be in the pipeline's action executions yet.
_EARLY = frozenset({Status.CREATED, Status.STARTED, Status.IN_PROGRESS})
RETRY_DELAY_SECONDS = 1.0
RETRY_MARGIN_SECONDS = 1.0  # left for the second search itself

# Creators of deployments that no pipeline action started (aws-facts.md §5).
_NOT_PIPELINE_CREATORS = frozenset(
    {"autoscaling", "autoscalingTermination", "CodeDeployAutoUpdate", "CloudFormation"}
)


def wants_lookup(event: Deployment) -> bool:
    """True for events that AWS lookups can add to: deployments and pipeline executions."""
    if event.source is Source.CODEDEPLOY:
        return event.scope is Scope.DEPLOYMENT and bool(event.deployment_id)
    if event.scope is Scope.APPROVAL:
        return bool(event.pipeline and event.stage and event.action)
    return (
        event.source is Source.CODEPIPELINE
        and event.scope in (Scope.PIPELINE, Scope.STAGE, Scope.ACTION)
        and bool(event.pipeline and event.execution_id)
    )


def with_notes(event: Deployment, *notes: str) -> Deployment:
    """The event with `notes` added to what enrichment could not find out."""
    return replace(event, notes=(*event.notes, *notes)) if notes else event


def skip_lookups(event: Deployment, reason: str) -> Deployment:
    """No AWS call is possible (`reason`): say so on the events that would have had lookups."""
    return with_notes(event, f"AWS lookups skipped: {reason}") if wants_lookup(event) else event


@dataclass(frozen=True, slots=True)
class _CommitResult:
    commit: Commit | None = None
    missing: str = ""  # why there is no commit, or why it is only the latest source revision
    pipeline: str = ""  # the pipeline execution that ran the deployment, when found
    execution_id: str = ""
    not_found: bool = False  # every page searched answered, and none named the deployment


def _commit_note(commit: Commit | None, why: str) -> str:
    return f"Commit unknown: {why}" if commit is None else f"Commit not confirmed: {why}"


class Enricher:
    """Adds commit, failure reason and failed actions to events, within a deadline per event.

    Build once per container: it keeps a thread pool and what discovery learned. With a
    ledger, a deployment whose pipeline execution an earlier event or lookup named costs one
    call (get_pipeline_execution), and discovery's progress outlives the container.
    """

    def __init__(
        self,
        codepipeline: Any,
        codedeploy: Any,
        config: Config,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        executor: Executor | None = None,
        release: ReleaseLookup | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self._release = release  # the release diff, looked up beside the commit
        self._cp = codepipeline
        self._cd = codedeploy
        self._config = config
        self._settings = config.enrich
        self._now = now
        self._sleep = sleep
        self._ledger = ledger
        self._pool = executor or ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="deploybot-aws")
        self._discovery = Discovery(
            codepipeline, ledger, cache_seconds=self._settings.cache_seconds, now=now
        )
        self._region = aws.region_of(codepipeline)

    def __call__(self, event: Deployment) -> Deployment:
        """Same as `enrich`, so an Enricher is the `enrich` callable of the notification path."""
        return self.enrich(event)

    def enrich(self, event: Deployment) -> Deployment:
        """The event with what AWS knows added; never raises, never waits past the deadline."""
        if not wants_lookup(event):
            return event
        if event.region and self._region and event.region != self._region:
            return skip_lookups(
                event, f"the event is from {event.region}, the AWS clients use {self._region}"
            )
        run = self._run(event)
        if event.pipeline and event.pipeline_version:
            self._discovery.saw_version(*run.where, event.pipeline, event.pipeline_version)
        diff = self._release.start(event, run) if self._release else None
        try:
            if event.source is Source.CODEDEPLOY:
                enriched = self._deployment(event, run)
            elif event.scope is Scope.APPROVAL:
                enriched = self._approval(event, run)
            else:
                enriched = self._pipeline_event(event, run)
        except Exception:
            logger.exception("enrichment failed for %s", event.deployment_id or event.execution_id)
            return with_notes(event, "AWS lookups failed unexpectedly (see the logs)")
        if self._release is not None and diff is not None:
            enriched = self._release.finish(enriched, diff, run)
        return with_notes(enriched, *run.notes)

    def _run(self, event: Deployment) -> Run:
        budget = self._settings.timeout_seconds
        where = (event.account, event.region or self._region)
        return Run(self._pool, self._now() + budget, budget, self._now, where=where)

    def execution_of(self, event: Deployment) -> DeploymentLink | None:
        """The pipeline execution that started a deployment: the ledger's word, else a search
        (kept in the ledger). None when it cannot be found (now); never raises for AWS."""
        if event.region and self._region and event.region != self._region:
            return None
        run = self._run(event)
        known = self._known_execution(event, run)
        if known is not None:
            return known
        for pipeline in self._pipelines_for(event, run):
            try:
                found, _ = run.wait(run.submit(self._search, pipeline, event.deployment_id, run))
            except LookupFailed as exc:
                logger.info("could not search %s: %s", pipeline, exc.reason)
                continue
            if found is not None:
                link = DeploymentLink(
                    event.deployment_id,
                    pipeline,
                    found.pipeline_execution_id,
                    found.stage,
                    found.action,
                )
                self._remember(run, link)
                return link
        return None

    def _remember(self, run: Run, link: DeploymentLink) -> None:
        if self._ledger is None:
            return
        key = deployment_key(*run.where, link.deployment_id)
        try:
            self._ledger.change(key, lambda _: link)
        except StoreError:
            logger.exception("could not keep %s in the ledger", key)

    # --- CodeDeploy deployments ----------------------------------------------------------------

    def _deployment(self, event: Deployment, run: Run) -> Deployment:
        deployment_id = event.deployment_id
        # A trigger message carries overview, error and rollback; an EventBridge event does not.
        facts_future = (
            run.submit(aws.call, self._cd, "get_deployment", deploymentId=deployment_id)
            if event.instances is None
            else None
        )
        failure_future = (
            run.submit(self._failure, deployment_id, run) if event.status.is_failure else None
        )
        group_future = self._group_of_failure(event, run)
        rollback_of = event.rollback.triggering_deployment_id if event.rollback else ""
        known = self._known_execution(event, run) if not rollback_of else None
        pipelines = (known.pipeline,) if known else self._pipelines_for(event, run)
        result: _CommitResult | None = None
        if known is not None:
            result = self._commit_of_known(known, event.region, run)
        elif pipelines:
            result = self._search_deployment(event, pipelines, rollback_of, run)
        facts = self._facts(facts_future, run)
        if facts is not None:
            event = replace(
                event,
                error=event.error or facts.error,
                rollback=event.rollback or facts.rollback,
                waiting=event.waiting or facts.waiting,
            )
        if result is not None:
            if result.commit is None and not rollback_of and event.rollback:
                # Only get_deployment told us this is a rollback: find the original's commit.
                rollback_of = event.rollback.triggering_deployment_id
                result = self._commit_of_deployment(
                    rollback_of, pipelines, event.region, run, fallback=False
                )
            creator = facts.trigger if facts else ""
            event = self._with_commit(event, result, creator, rolls_back=bool(rollback_of), run=run)
        if failure_future is not None:
            event = self._with_failure(event, failure_future, run)
        if group_future is not None and not event.execution_id:
            event = self._with_group_good(event, group_future, run)
        return event

    def _group_of_failure(self, event: Deployment, run: Run) -> Future[Any] | None:
        """For a failed deployment of a group that can be rolled back: the group's state."""
        if not event.status.is_failure or event.execution_id:
            return None
        if self._config.rollback.group(event.application, event.deployment_group) is None:
            return None
        return run.submit(
            aws.call,
            self._cd,
            "get_deployment_group",
            applicationName=event.application,
            deploymentGroupName=event.deployment_group,
        )

    @staticmethod
    def _with_group_good(event: Deployment, future: Future[Any], run: Run) -> Deployment:
        """The group's last good deployment, unless CodeDeploy rolls the failure back itself."""
        try:
            good = rollback.group_good(run.wait(future), event.deployment_id)
        except LookupFailed as exc:
            run.notes.append(f"No rollback target: {exc.reason}")
            return event
        return replace(event, last_good=Execution(good, Status.SUCCEEDED)) if good else event

    def _search_deployment(
        self, event: Deployment, pipelines: tuple[str, ...], rollback_of: str, run: Run
    ) -> _CommitResult:
        """The commit of the execution that ran the deployment (or the one it rolls back)."""
        result = self._commit_of_deployment(
            rollback_of or event.deployment_id,
            pipelines,
            event.region,
            run,
            fallback=not rollback_of,
        )
        if result.not_found and not rollback_of and event.status in _EARLY:
            # A deployment's first triggers can beat CodePipeline's record of the action
            # that started it (aws-facts §6.4): look once more, a moment later.
            pause = min(RETRY_DELAY_SECONDS, run.deadline - self._now() - RETRY_MARGIN_SECONDS)
            if pause > 0:
                self._sleep(pause)
                result = self._commit_of_deployment(
                    event.deployment_id, pipelines, event.region, run, fallback=True
                )
        return result

    def _facts(self, future: Future[Any] | None, run: Run) -> Deployment | None:
        """What get_deployment says of the deployment, or None (with a note when it failed)."""
        if future is None:
            return None
        try:
            response = run.wait(future)
        except LookupFailed as exc:
            run.notes.append(f"Deployment details unknown: {exc.reason}")
            return None
        return codedeploy.parse_deployment(as_map(response.get("deploymentInfo")))

    @staticmethod
    def _with_commit(
        event: Deployment, result: _CommitResult, creator: str, *, rolls_back: bool, run: Run
    ) -> Deployment:
        """The event with the commit found (or a note why not), joined to its execution."""
        missing = result.missing
        if result.commit is None and creator in _NOT_PIPELINE_CREATORS:
            missing = f"{event.deployment_id} was started by {creator}, not by a pipeline"
        if missing:
            run.notes.append(_commit_note(result.commit, missing))
        event = replace(event, commit=result.commit or event.commit)
        if result.execution_id and not rolls_back:
            # The deployment belongs to this execution: its living message is the one.
            event = replace(
                event,
                pipeline=event.pipeline or result.pipeline,
                execution_id=event.execution_id or result.execution_id,
            )
        return event

    def _known_execution(self, event: Deployment, run: Run) -> DeploymentLink | None:
        """The execution that started the deployment, if the ledger knows it: no search."""
        if self._ledger is None:
            return None
        account, region = run.where
        try:
            return self._ledger.execution_of(
                account, region, event.deployment_id, event.application, event.deployment_group
            )
        except StoreError:
            logger.exception("could not read the ledger for %s", event.deployment_id)
            return None

    def _commit_of_known(self, known: DeploymentLink, region: str, run: Run) -> _CommitResult:
        result = self._commit_of_execution(known.pipeline, known.execution_id, region, run)
        return replace(result, pipeline=known.pipeline, execution_id=known.execution_id)

    def _pipelines_for(self, event: Deployment, run: Run) -> tuple[str, ...]:
        """The pipelines that deploy the event's application/group: from config, else discovered."""
        application, group = event.application, event.deployment_group
        mapped = self._config.pipelines_for(application, group)
        if mapped:
            return mapped
        target = f"{application} → {group}"
        if not self._settings.discover:
            run.notes.append(
                f"Commit unknown: no [[pipelines]] entry maps {target} and discovery is off"
            )
            return ()
        try:
            found = self._discovery.deploying(*run.where, application, group, run)
        except LookupFailed as exc:
            run.notes.append(f"Commit unknown: could not list the pipelines: {exc.reason}")
            return ()
        if not found.pipelines and not found.complete:
            run.notes.append(
                f"Commit unknown: no pipeline found for {target} yet: {found.failures[-1]}; "
                "the search goes on with the next event"
            )
        elif not found.pipelines and found.failures:
            run.notes.append(f"Commit unknown: could not read every pipeline: {found.failures[0]}")
        elif not found.pipelines:
            run.notes.append(
                f"Commit unknown: no pipeline deploys {target}, so it was started outside "
                "CodePipeline"
            )
        return found.pipelines

    def _info(self, pipeline: str, run: Run) -> Future[PipelineInfo]:
        """The pipeline's definition (branch and repository of its sources)."""
        return self._discovery.info(*run.where, pipeline, run)

    def _search(
        self, pipeline: str, deployment_id: str, run: Run
    ) -> tuple[ActionRun | None, list[Response]]:
        """Page through the pipeline's action executions, newest first, for the deployment."""
        details: list[Response] = []
        params: dict[str, Any] = {"pipelineName": pipeline, "maxResults": PAGE_SIZE}
        for _ in range(self._settings.max_pages):
            run.check()
            page = aws.call(self._cp, "list_action_executions", **params)
            batch = list(page.get("actionExecutionDetails", []))
            details.extend(batch)
            found = codepipeline.find_deployment_action(batch, deployment_id)
            if found is not None or not page.get("nextToken"):
                return found, details
            params["nextToken"] = page["nextToken"]
        return None, details

    def _commit_of_deployment(
        self,
        deployment_id: str,
        pipelines: tuple[str, ...],
        region: str,
        run: Run,
        *,
        fallback: bool,
    ) -> _CommitResult:
        """The commit of the pipeline execution whose Deploy action ran `deployment_id`."""
        searches = [(p, run.submit(self._search, p, deployment_id, run)) for p in pipelines]
        errors: list[tuple[str, str]] = []
        for pipeline, future in searches:
            try:
                found, details = run.wait(future)
            except LookupFailed as exc:
                errors.append((pipeline, exc.reason))
                continue
            if found is None:
                continue
            execution_id = found.pipeline_execution_id
            revision = codepipeline.pick_revision(
                codepipeline.revisions_from_action_executions(details, execution_id),
                self._config.source_action_for(pipeline),
            )
            if revision is not None:
                result = _CommitResult(codepipeline.commit_from_revision(revision, region))
            else:
                result = self._commit_of_execution(pipeline, execution_id, region, run)
            return replace(result, pipeline=pipeline, execution_id=execution_id)
        if errors:
            pipeline, reason = errors[0]
            why = f"could not list the action executions of {pipeline}: {reason}"
            if fallback:
                return self._latest_source(pipeline, "", why, region, run)
            return _CommitResult(missing=why)
        pages = self._settings.max_pages * PAGE_SIZE
        return _CommitResult(
            missing=f"{deployment_id} is not among the last {pages} action executions of "
            f"{', '.join(pipelines)}: it was started outside the pipeline, or long ago",
            not_found=True,
        )

    # --- pipeline executions -------------------------------------------------------------------

    def _commit_of_execution(
        self, pipeline: str, execution_id: str, region: str, run: Run
    ) -> _CommitResult:
        """The commit of one pipeline execution, from its artifact revisions."""
        execution = run.submit(
            aws.call,
            self._cp,
            "get_pipeline_execution",
            pipelineName=pipeline,
            pipelineExecutionId=execution_id,
        )
        info = self._info(pipeline, run)
        try:
            response = run.wait(execution)
        except LookupFailed as exc:
            why = f"could not read execution {execution_id} of {pipeline}: {exc.reason}"
            return self._latest_source(pipeline, execution_id, why, region, run)
        revision = codepipeline.pick_revision(
            codepipeline.revisions_from_execution(response, self._optional(info, run)),
            self._config.source_action_for(pipeline),
        )
        if revision is None:
            return _CommitResult(missing=f"execution {execution_id} has no Git source revision")
        return _CommitResult(codepipeline.commit_from_revision(revision, region))

    def _latest_source(
        self, pipeline: str, execution_id: str, why: str, region: str, run: Run
    ) -> _CommitResult:
        """The fallback: the Source stage's current revision, confirmed only if it is ours."""
        state = run.submit(aws.call, self._cp, "get_pipeline_state", name=pipeline)
        info = self._info(pipeline, run)
        try:
            response = run.wait(state)
        except LookupFailed as exc:
            return _CommitResult(missing=f"{why}; pipeline state: {exc.reason}")
        source_execution, revisions = codepipeline.revisions_from_state(
            response, self._optional(info, run)
        )
        revision = codepipeline.pick_revision(revisions, self._config.source_action_for(pipeline))
        if revision is None:
            return _CommitResult(missing=f"{why}; {pipeline} shows no Git source revision")
        confirmed = bool(execution_id) and source_execution == execution_id
        commit = codepipeline.commit_from_revision(revision, region, confirmed=confirmed)
        return _CommitResult(commit, "" if confirmed else why)

    def _optional(self, future: Future[PipelineInfo], run: Run) -> PipelineInfo | None:
        """A pipeline definition that only adds detail (branch, provider): None if unavailable."""
        try:
            return run.wait(future)
        except LookupFailed as exc:
            logger.info("pipeline definition unavailable: %s", exc.reason)
            return None

    def _approval(self, event: Deployment, run: Run) -> Deployment:
        """An approval with its definition's custom data, link and expiry; for the legacy SNS
        message, which names no execution, the execution that holds its token."""
        definition = self._info(event.pipeline, run)
        token = event.approval.token if event.approval else ""
        state = (
            run.submit(aws.call, self._cp, "get_pipeline_state", name=event.pipeline)
            if token and not event.execution_id
            else None
        )
        info = self._optional(definition, run)
        if info is not None:
            event = approvals.with_definition(event, info.approval(event.stage, event.action))
        if state is None:
            return event
        try:
            execution = approvals.execution_of(run.wait(state), event)
        except LookupFailed as exc:
            run.notes.append(f"Execution unknown: {exc.reason}")
            return event
        if not execution:
            run.notes.append("Execution unknown: AWS no longer shows this approval waiting")
            return event
        return replace(event, execution_id=execution)

    def _pipeline_event(self, event: Deployment, run: Run) -> Deployment:
        actions_future = self._actions_of(event, run)
        failure_future = (
            run.submit(self._failure, event.deployment_id, run)
            if event.deployment_id and event.status.is_failure
            else None
        )
        good_future = self._last_good(event, run)
        if event.commit is None:
            result = self._commit_of_execution(
                event.pipeline, event.execution_id, event.region, run
            )
            if result.missing:
                run.notes.append(_commit_note(result.commit, result.missing))
            event = replace(event, commit=result.commit)
        if actions_future is not None and not event.failed_actions:
            event = self._with_failed_actions(event, actions_future, run)
        if failure_future is not None:
            event = self._with_failure(event, failure_future, run)
        if good_future is not None:
            event = self._with_last_good(event, good_future, actions_future, run)
        return event

    def _actions_of(self, event: Deployment, run: Run) -> Future[Any] | None:
        """For a failed execution or stage: its action executions (what failed, what deployed)."""
        wanted = not event.failed_actions or self._rollback_entry(event) is not None
        if (
            not event.status.is_failure
            or event.scope not in (Scope.PIPELINE, Scope.STAGE)
            or not wanted
        ):
            return None
        return run.submit(
            aws.call,
            self._cp,
            "list_action_executions",
            pipelineName=event.pipeline,
            filter={"pipelineExecutionId": event.execution_id},
            maxResults=PAGE_SIZE,
        )

    @staticmethod
    def _with_failed_actions(event: Deployment, future: Future[Any], run: Run) -> Deployment:
        try:
            page = run.wait(future)
        except LookupFailed as exc:
            run.notes.append(f"Failed actions unknown: {exc.reason}")
            return event
        stage, failed = codepipeline.failed_actions(
            page.get("actionExecutionDetails", []), event.execution_id
        )
        return replace(event, failed_stage=event.failed_stage or stage, failed_actions=failed)

    def _rollback_entry(self, event: Deployment) -> RollbackPipeline | None:
        """The rollback config of a failed pipeline execution that can be rolled back."""
        entry = self._config.rollback.pipeline(event.pipeline)
        if entry is None or event.scope is not Scope.PIPELINE or not event.status.is_failure:
            return None
        return entry

    def _last_good(self, event: Deployment, run: Run) -> Future[Any] | None:
        """For a failed execution whose pipeline can be rolled back: the executions before it."""
        if self._rollback_entry(event) is None:
            return None
        return run.submit(
            aws.call,
            self._cp,
            "list_pipeline_executions",
            pipelineName=event.pipeline,
            maxResults=LAST_GOOD_PAGE,
        )

    def _with_last_good(
        self, event: Deployment, good: Future[Any], actions: Future[Any] | None, run: Run
    ) -> Deployment:
        """The newest good execution before the failure, if the failure may have deployed."""
        entry = self._rollback_entry(event)
        assert entry is not None
        info = self._info(event.pipeline, run) if not entry.stage else None
        try:
            page = run.wait(good)
        except LookupFailed as exc:
            run.notes.append(f"No rollback target: {exc.reason}")
            return event
        found = rollback.last_good(
            page.get("pipelineExecutionSummaries", []),
            event.execution_id,
            event.region,
            before=event.started_at,
            stage_rollback=entry.strategy == rollback.STAGE,
        )
        if found is None or self._deployed(event, entry.stage, info, actions, run) is False:
            return event  # nothing to go back to, or nothing was deployed: no button
        return replace(event, last_good=found)

    def _deployed(
        self,
        event: Deployment,
        stage: str,
        info: Future[PipelineInfo] | None,
        actions: Future[Any] | None,
        run: Run,
    ) -> bool | None:
        """Did the failed execution run the deploy stage's Deploy actions (None: unknown)?"""
        try:
            stage = stage or (run.wait(info).deploy_stage if info is not None else "")
            details = run.wait(actions).get("actionExecutionDetails", []) if actions else None
        except LookupFailed:
            return None
        if not stage or details is None:
            return None
        runs = codepipeline.deploy_runs(details, stage)
        return rollback.deployed(runs, event.execution_id)

    # --- why a deployment failed ---------------------------------------------------------------

    def _failure(self, deployment_id: str, run: Run) -> FailureDetail | None:
        """The first failed lifecycle event of the deployment's first failed target."""
        page = aws.call(
            self._cd,
            "list_deployment_targets",
            deploymentId=deployment_id,
            targetFilters={"TargetStatus": ["Failed"]},
        )
        ids = codedeploy.target_ids(page)[:1]
        if not ids:
            return None
        run.check()
        targets = aws.call(
            self._cd, "batch_get_deployment_targets", deploymentId=deployment_id, targetIds=ids
        )
        return codedeploy.first_failure(targets)

    def _with_failure(
        self, event: Deployment, future: Future[FailureDetail | None], run: Run
    ) -> Deployment:
        try:
            detail = run.wait(future)
        except LookupFailed as exc:
            run.notes.append(f"Failure reason unknown: {exc.reason}")
            return event
        if detail is None:
            return event
        return replace(event, failure_details=(*event.failure_details, detail))


class AccountsEnricher:
    """The `enrich` of several accounts and regions: each event goes to the Enricher of the
    account and region it names, reading there with that account's clients (its role's, for a
    spoke). An event deploybot may not read (an account not configured, a region not listed, a
    role it cannot assume) is posted with a note saying why, and costs no AWS call there.

    Enrichers are made on first use per account and region and share one thread pool.
    """

    def __init__(self, accounts: Places, make: Callable[[Place, Executor], Enricher]) -> None:
        self._accounts = accounts
        self._make = make
        self._pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="deploybot-aws")
        self._made: dict[tuple[str, str], Enricher] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Deployment) -> Deployment:
        """The event with what its own account's AWS knows; never raises."""
        if not wants_lookup(event):
            return event
        try:
            enricher = self.enricher(event)
        except NoLookups as exc:
            return skip_lookups(event, exc.reason)
        return enricher.enrich(event)

    def enricher(self, event: Deployment) -> Enricher:
        """The Enricher of the event's account and region (NoLookups when there is none)."""
        try:
            place = self._accounts.place(event.account, event.region)
            key = (place.account, place.region)
            with self._lock:
                made = self._made.get(key)
            if made is None:
                made = self._make(place, self._pool)
                with self._lock:
                    made = self._made.setdefault(key, made)
        except AwsError as exc:  # no client could be made (no region, a broken profile)
            raise NoLookups(exc.reason) from exc
        return made

    def execution_of(self, event: Deployment) -> DeploymentLink | None:
        """The pipeline execution that started a deployment, read in its own account."""
        try:
            return self.enricher(event).execution_of(event)
        except NoLookups as exc:
            logger.info("no lookup of %s: %s", event.deployment_id, exc.reason)
            return None


def accounts_enricher(
    config: Config,
    ledger: Ledger | None,
    *,
    people: PeopleLookup | None = None,
    release: bool = True,
    places: Places | None = None,
) -> AccountsEnricher:
    """An AccountsEnricher over the config's accounts (or `places`); with `release`, each
    place's Enricher looks the release diff up too (CodeCommit through that place's clients)."""

    def make(place: Place, pool: Executor) -> Enricher:
        codepipeline, codedeploy = place.codepipeline, place.codedeploy
        diff = (
            release_lookup(
                config,
                codepipeline,
                codedeploy,
                people=people,
                codecommit=lambda: place.client("codecommit"),
            )
            if release and config.release.enabled
            else None
        )
        return Enricher(
            codepipeline, codedeploy, config, release=diff, ledger=ledger, executor=pool
        )

    return AccountsEnricher(places or accounts_of(config), make)


def enricher_from_environment(
    config: Config, store: Store | None = None, *, people: PeopleLookup | None = None
) -> Enrich:
    """The enrich callable for this environment: AWS through the standard boto3 setup, and
    for each configured spoke through its role.

    Without a region or credentials every event gets a note instead of failing lookups.
    `people` maps commit authors to Slack users (bot/directory.py) for the release diff. With
    a store, the ledger in it saves lookups (and keeps what discovery read).
    """
    reason = aws.unavailable_reason()
    if reason:
        return lambda event: skip_lookups(event, reason)
    ledger = Ledger(store) if store is not None else None
    return accounts_enricher(config, ledger, people=people)
