"""The Roll back button, and the Unfreeze and Clear buttons of a rollback's thread.

Each is acked at once and does its work in a lazy listener. Nothing in a button is trusted. A
Roll back click, in order:
1. the config must still enable rollback there and allow this user in this channel (user ids,
   user groups, channels; default deny);
2. the claim on the environment (the pipeline, or the deployment group) decides: one rollback
   at a time, whatever the target and whichever message was clicked. Another click's rollback
   that started, or may have (its answer was lost), is first looked up in AWS: still running,
   the click is refused; over, or proven never started, the environment is free again. A re-run
   of this very click (Lambda retrying the lazy listener) never sends its write twice blindly;
3. AWS must still show the target as worth going to (not what runs already, nothing rolling
   back, every source pinnable);
4. the claim is taken (compare-and-swap: one click wins) and the one write sent through a
   client that does not retry: StartPipelineExecution with a clientRequestToken, RollbackStage
   or CreateDeployment;
5. AWS accepted: an audit reply in the thread, the message marked, then the freeze of the deploy
   stage (strategy "stage" with freeze_after_rollback) or a warning that the next push redeploys.
   AWS refused: "did not start", with AWS's words, and the claim is released. The answer was
   lost: AWS is read at once (and StartPipelineExecution, whose token makes a repeat harmless,
   sent again with the same token); what is found is reported as started, else the claim stays
   unknown and the thread says so, never "did not start".
Refusals are private; what happened to a rollback goes in the thread for everyone.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks import ids
from blocks.actions import build_refusal, decode_value, mention
from blocks.rollback import (
    build_cleared,
    build_failed,
    build_freeze_failed,
    build_frozen,
    build_started,
    build_unknown,
    clear_button,
    console_url,
    mark_started,
    next_push_warning,
    run_url,
)
from blocks.rollback import started_text as audit_line
from bot.aws import AwsError
from bot.aws.accounts import NoLookups, Place
from bot.aws.rollback import (
    Plan,
    find_started,
    freeze,
    prepare,
    start,
    status_of,
)
from bot.domain import claims
from bot.domain.claims import Claim
from bot.domain.config import Config
from bot.domain.model import AwsProblem, RollbackRequest
from bot.domain.places import parse_environment
from bot.domain.rollback import (
    ACTION,
    PIPELINE,
    Target,
    claim_facts,
    claimed,
    client_token,
    config_refusal,
    decode,
    deployment_description,
    dump_request,
    freeze_reason,
    run_key,
    still_running,
    with_config,
)
from bot.store import Record, Store, StoreError, make_store
from handlers.actions import Claims, Click, Flow, authorization, now, place_of
from handlers.common import config_of
from handlers.freeze import transition_open

logger = logging.getLogger(__name__)

_NOT = "Not done"  # the head of an Unfreeze or Clear refusal


def register(app: App) -> None:
    """Wire the buttons: an empty ack, then the work in a lazy listener."""
    app.action(ids.ROLLBACK)(ack=ack_rollback, lazy=[run_rollback])
    app.action(ids.ROLLBACK_CLEAR)(ack=ack_rollback, lazy=[run_clear])


def ack_rollback(ack: Ack) -> None:
    """Slack waits 3 seconds; the checks and AWS calls take longer."""
    ack()


def _log(click: Click, what: str, target: Target | None, **extra: str) -> dict[str, str]:
    """The structured keys of a log line about a rollback click."""
    return {
        "rollback": what,
        "slack_user": click.user,
        "slack_channel": click.channel,
        "rollback_strategy": target.strategy if target else "",
        "rollback_target": target.target_id if target else "",
        "rollback_commit": target.sha if target else "",
        "pipeline": target.pipeline if target else "",
        **extra,
    }


def _refuse(
    click: Click,
    reason: str,
    target: Target | None,
    *buttons: dict[str, Any],
    head: str = "No rollback",
) -> None:
    """Tell the clicker privately why not, and log it."""
    logger.warning("rollback refused: %s", reason, extra=_log(click, "refused", target))
    click.private(build_refusal(f"{head}: {reason}", *buttons))


def _allowed(click: Click, config: Config, target: Target) -> Store | None:
    """The store, once the config allows this user this target here; None after a refusal."""
    reason = config_refusal(target, config.rollback) or authorization(
        click.client, config.rollback, click, ACTION
    )
    if reason:
        _refuse(click, reason, target)
        return None
    store = make_store(config)
    if store is None:
        _refuse(click, "rollbacks need the store, to run one at a time (store.backend)", target)
    return store


def run_rollback(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Check everything again, resolve what may still run, then start the rollback once."""
    config = config_of(context)
    click = Click(body, client)
    decoded = decode(click.value)
    if decoded is None:
        _refuse(click, "this button does not name a rollback target", None)
        return
    target = with_config(decoded, config.rollback, config.account_name(decoded.account))
    store = _allowed(click, config, target)
    if store is None:
        return
    try:
        place = place_of(config, target.account, target.region)
        _Rollback(click, target, store, place).run()
    except StoreError as exc:
        logger.exception("rollback store failed", extra=_log(click, "store-failed", target))
        _refuse(click, f"the store is unavailable, so nothing was started: {exc}", target)
    except AwsError as exc:  # no AWS client could be made (no region, a broken profile)
        _refuse(click, f"AWS cannot be called, so nothing was started: {exc.reason}", target)
    except NoLookups as exc:  # its account is not configured, or its role cannot be assumed
        _refuse(click, f"AWS cannot be read there, so nothing was started: {exc.reason}", target)


def report_late(body: dict[str, Any], client: WebClient, config: Config) -> None:
    """The lazy run of a click came after Slack's window (handlers/late.py): act on nothing;
    say what became of the click, reading AWS when an earlier run of it left no outcome."""
    click = Click(body, client)
    decoded = decode(click.value)
    store = make_store(config)
    if decoded is None or store is None:
        return
    target = with_config(decoded, config.rollback, config.account_name(decoded.account))
    try:
        place = place_of(config, target.account, target.region)
        _Rollback(click, target, store, place).report()
    except StoreError:
        logger.exception("rollback store failed", extra=_log(click, "store-failed", target))
    except (AwsError, NoLookups) as exc:
        logger.warning("a late rollback click cannot be read back: %s", exc)


class _Rollback(Flow[Plan]):
    """One Roll back click, from the claim to the audit reply (the shared flow: Flow)."""

    name = ACTION
    head = "No rollback"
    raced = "another rollback of this environment was claimed at the same moment"
    too_late = (
        "this click reached deploybot after Slack's 5-minute window, so nothing was started. "
        "Click again if the rollback is still needed."
    )
    holds = True  # the rollback runs on after its write: one at a time per environment

    def __init__(self, click: Click, target: Target, store: Store, place: Place) -> None:
        super().__init__(click, store, target.where, place)
        self.target = target
        self.codepipeline = place.codepipeline
        self.codedeploy = place.codedeploy

    @property
    def subject(self) -> str:
        return self.target.target_id

    def log(self, what: str, **extra: str) -> dict[str, str]:
        return _log(self.click, what, self.target, **extra)

    def busy(self, claim: Claim) -> str:
        return f"{mention(claim.user)} is starting a rollback of this environment now"

    def token(self) -> str:
        return client_token(self.target.where, self.target.target_id, self.click.request)

    def facts(self, write: Plan) -> dict[str, str]:
        return claim_facts(self.target, write.pins)

    def may_send_again(self, claim: Claim) -> bool:
        # StartPipelineExecution carries the first run's token: a repeat starts nothing new.
        return self.target.strategy == PIPELINE or claim.settled(now())

    def _clear(self, claim: Claim) -> dict[str, Any]:
        return clear_button(self.target.where, claim.request)

    def resolve(self, claim: Claim) -> bool:
        """Read AWS about another click's claim: True once the environment is free."""
        gone, _ = claimed(claim, self.target)
        started = claim.state_at(now()) == claims.STARTED
        try:
            run_id, hidden = (claim.outcome, False) if started else self._look_back(claim)
            status = status_of(gone, run_id, **self._reads()) if run_id else ""
        except AwsError as exc:
            self.refuse(
                f"{mention(claim.user)}'s rollback may still run and AWS cannot tell: "
                f"{exc.problem.reason}. Check the console; clear the claim if nothing runs.",
                self._clear(claim),
            )
            return False
        if run_id and still_running(status):
            if not started:
                self.claims.change(claim.request, lambda c: claims.started(c, run_id))
            minutes = max(0, int(now() - claim.at)) // 60
            self.refuse(
                f"a rollback of {self.target.environment} is running: {run_id}, started by "
                f"{mention(claim.user)} {minutes} min ago"
            )
            return False
        if not run_id and (hidden or not claim.settled(now())):
            self.refuse(
                f"the rollback {mention(claim.user)} asked for may still be starting: AWS does "
                "not show it yet. Try again in a minute.",
                self._clear(claim),
            )
            return False
        note = f"{run_id} is {status}" if run_id else "AWS shows nothing it started"
        self.claims.change(claim.request, lambda c: claims.released(c, note))
        return True

    def _reads(self) -> dict[str, Any]:
        return {"codepipeline": self.codepipeline, "codedeploy": self.codedeploy}

    def find(self, claim: Claim) -> str:
        return self._look_back(claim)[0]

    def _look_back(self, claim: Claim) -> tuple[str, bool]:
        """What the claim's write started, and whether a run that may be it hides its
        revisions still (one read)."""
        gone, pins = claimed(claim, self.target)
        return find_started(gone, since=claim.at, token=claim.token, pins=pins, **self._reads())

    # --- AWS: re-check, send once ---------------------------------------------------------------

    def prepare(self, token: str) -> Plan | None:
        description = deployment_description(self.target, self.click.user, token)
        try:
            plan = prepare(self.target, token=token, description=description, **self._reads())
        except AwsError as exc:
            self.failed(exc.problem)
            return None
        if isinstance(plan, str):
            self.refuse(plan)
            return None
        return plan

    def write(self, write: Plan) -> str:
        return start(write, self.place.writer(write.service))

    # --- what the thread is told ------------------------------------------------------------

    def failed(self, problem: AwsProblem) -> None:
        logger.warning(
            "rollback failed: %s",
            problem.reason,
            extra=self.log("failed", aws_error=problem.code, aws_message=problem.message),
        )
        self.click.thread(build_failed(self.click.user, self.target, problem))

    def unknown(self, claim: Claim, problem: AwsProblem) -> None:
        url = console_url(self.target, self.place.region)
        self.click.thread(build_unknown(claim.user, self.target, problem, url, self._clear(claim)))

    def started(
        self, claim: Claim, outcome: str, write: Plan | None, *, found: bool = False
    ) -> None:
        new_id = outcome
        stage = write.stage if write is not None else self.target.stage
        url = run_url(self.target, self.place.region, new_id)
        self.record(claim, new_id, url)
        asked = RollbackRequest(
            claim.user, self.target.environment, self.target.sha, self.target.target_id
        )
        # The rollback's own notifications look this up to say whose rollback they are.
        try:
            self.store.put(Record(run_key(new_id), body=dump_request(asked)))
        except StoreError:
            logger.exception("could not record whose rollback %s is", new_id)
        logger.info("rollback started", extra=self.log("started", new_id=new_id))
        self.click.thread(build_started(claim.user, self.target, new_id, url, found=found))
        blocks = self.click.message.get("blocks")
        if blocks:
            text = str(
                self.click.message.get("text") or audit_line(claim.user, self.target, new_id, url)
            )
            self.click.update(text, mark_started(blocks, claim.user, self.target, new_id, url))
        if self.target.freeze and stage:
            self._freeze(stage, new_id)
        else:
            self.click.thread(next_push_warning(self.target, stage))

    def _freeze(self, stage: str, new_id: str) -> None:
        """Close the deploy stage's inbound transition once; a lost answer is read back."""
        reason = freeze_reason(self.click.user, self.click.user_name, self.target, new_id)
        try:
            freeze(self.target.pipeline, stage, reason, self.place.writer("codepipeline"))
        except AwsError as exc:
            if not exc.problem.maybe_done or not self._frozen(stage):
                self.click.thread(build_freeze_failed(self.target, stage, exc.problem))
                return
        logger.info("deploy stage frozen", extra=self.log("frozen", stage=stage))
        self.click.thread(build_frozen(self.target, stage))

    def _frozen(self, stage: str) -> bool:
        return transition_open(self.target.pipeline, stage, self.codepipeline) is False


def _fields(click: Click) -> dict[str, str]:
    """The string fields of a JSON button value ({} when it is not one)."""
    return decode_value(click.value)


# --- Clear -------------------------------------------------------------------------------------


def _claim_named(click: Click, config: Config) -> tuple[str, str] | None:
    """(environment, request) a Clear button names, if rollback is still enabled there."""
    data = _fields(click)
    where, request = data.get("w", ""), data.get("r", "")
    kind, _, _, name = parse_environment(where)
    application, _, group = name.partition("/")
    enabled = (kind == "pipeline" and config.rollback.pipeline(name)) or (
        kind == "group" and config.rollback.group(application, group)
    )
    if not enabled or not request:
        _refuse(click, "this button names no environment that can be rolled back", None, head=_NOT)
        return None
    return where, request


def run_clear(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Release a claim that AWS could not resolve, once a person checked the console."""
    config = config_of(context)
    click = Click(body, client)
    named = _claim_named(click, config)
    if named is None:
        return
    reason = authorization(client, config.rollback, click, ACTION)
    store = make_store(config)
    if reason or store is None:
        _refuse(click, reason or "rollbacks need the store (store.backend)", None, head=_NOT)
        return
    where, request = named
    try:
        cleared = _clear(Claims(store, where), request, click.user)
    except StoreError as exc:
        cleared = f"the store is unavailable: {exc}"
    if isinstance(cleared, str):
        _refuse(click, cleared, None, head=_NOT)
        return
    logger.warning(
        "rollback claim cleared",
        extra={"rollback": "cleared", "slack_user": click.user, "claim": where},
    )
    click.thread(build_cleared(click.user, cleared))


def _clear(holder: Claims, request: str, user: str) -> Claim | str:
    """Release the claim of `request`; the claim it was, or why it cannot be cleared."""
    _, claim = holder.read()
    if claim is None or claim.request != request:
        return "that claim is no longer held"
    state = claim.state_at(now())
    if state == claims.SENDING:
        return "its write is being sent right now"
    if state == claims.STARTED:
        # Reading AWS found what it started since: it frees itself once AWS shows it finished.
        return f"AWS shows what it started, {claim.outcome}: it frees the environment once done"
    if state != claims.UNKNOWN:
        return "that claim is already released"
    if holder.change(request, lambda c: claims.released(c, f"cleared by {user}")) is None:
        return "the claim changed or could not be written: look again"
    return claim
