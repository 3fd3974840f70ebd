"""Freeze and Unfreeze a pipeline's deploy stage from Slack (`/deploy-status NAME`, rollback
threads).

Each click is acked at once and worked in a lazy listener through the shared flow
(handlers/actions.py), under the same policy as rollback. The pipeline must be in
`[[rollback.pipelines]]` and the stage its deploy stage (`stage` there, else the last stage
with a Deploy action, read with GetPipeline). GetPipelineState must show the transition open
(to freeze) or closed (to unfreeze); then one DisableStageTransition (its reason naming the
Slack user) or EnableStageTransition is sent through a client that does not retry, and a lost
answer is read back. The Unfreeze button of older rollback threads (action_id
`rollback_unfreeze`) is the same action.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks import ids
from blocks.actions import Block, mark_done
from blocks.freeze import (
    build_frozen_by,
    build_transition_failed,
    build_unfrozen,
    freeze_button,
    unfreeze_button,
)
from bot import aws
from bot.aws import AwsError
from bot.aws.accounts import NoLookups, Place
from bot.aws.rollback import inbound
from bot.domain.claims import Claim
from bot.domain.codepipeline import parse_pipeline
from bot.domain.config import Config
from bot.domain.freeze import Stage, read_stage
from bot.domain.model import AwsProblem, Lookup, PipelineStatus
from bot.domain.rollback import transition_reason
from bot.store import Store, make_store
from handlers.actions import Call, Click, Flow, authorization, drive, place_of, refuse_click
from handlers.common import config_of

logger = logging.getLogger(__name__)

SECTION = "rollback"  # the same people and channels as rollback
FREEZE, UNFREEZE = "freeze", "unfreeze"
_OPERATIONS = {ids.FREEZE: FREEZE, ids.UNFREEZE: UNFREEZE, ids.ROLLBACK_UNFREEZE: UNFREEZE}
_NOT = "Not done"
_DONE = {FREEZE: "frozen", UNFREEZE: "unfrozen"}


def register(app: App) -> None:
    """Wire Freeze and Unfreeze (and older rollback threads' Unfreeze): ack, then lazy work."""
    for action_id in _OPERATIONS:
        app.action(action_id)(ack=ack_freeze, lazy=[run_freeze])


def ack_freeze(ack: Ack) -> None:
    """Slack waits 3 seconds; the checks and the AWS call take longer."""
    ack()


def freeze_controls(lookup: Lookup, config: Config) -> tuple[Block, ...]:
    """Freeze (or Unfreeze) of a pipeline's deploy stage, for a /deploy-status answer about a
    pipeline in `[[rollback.pipelines]]` when someone may press it."""
    rollback = config.rollback
    if not isinstance(lookup, PipelineStatus):
        return ()
    entry = rollback.pipeline(lookup.name)
    if entry is None or not rollback.channels or not (rollback.users or rollback.usergroups):
        return ()
    named = Stage(entry.pipeline, "", lookup.account, lookup.region)
    try:
        stage = entry.stage or _deploy_stage(named, place_of(config, named.account, named.region))
    except (AwsError, NoLookups):
        return ()
    state = next((s for s in lookup.stages if s.name == stage), None)
    if state is None:
        return ()
    named = replace(named, stage=stage)
    return (unfreeze_button(named),) if state.frozen else (freeze_button(named),)


def _deploy_stage(named: Stage, place: Place) -> str:
    """The last stage with a Deploy action (GetPipeline, in the pipeline's account)."""
    answer = aws.call(place.codepipeline, "get_pipeline", name=named.pipeline)
    return parse_pipeline(answer).deploy_stage


def transition_open(pipeline: str, stage: str, reads: Any) -> bool | None:
    """Whether the stage's inbound transition is open, read from AWS (None: unreadable)."""
    try:
        enabled = inbound(pipeline, stage, reads).get("enabled")
    except AwsError:
        return None
    return enabled if isinstance(enabled, bool) else None


def run_freeze(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Check everything again, then close or open the transition once."""
    _freeze(body, client, config_of(context), late=False)


def report_late(body: dict[str, Any], client: WebClient, config: Config) -> None:
    """The lazy run came after Slack's window (handlers/late.py): change nothing; say what
    became of the click, reading AWS when an earlier run of it left no outcome."""
    _freeze(body, client, config, late=True)


def _freeze(body: dict[str, Any], client: WebClient, config: Config, *, late: bool) -> None:
    click = Click(body, client)
    operation = _OPERATIONS.get(str((body.get("actions") or [{}])[0].get("action_id")), "")
    # Who clicked is checked first: a click the config refuses reads nothing from AWS.
    reason = "" if late else authorization(client, config.rollback, click, SECTION)
    store = make_store(config)
    if reason or store is None:
        _refuse(click, reason or "freezing needs the store (store.backend)")
        return
    try:
        found = _stage_named(click, config)
    except AwsError as exc:  # the deploy stage could not be read (GetPipeline)
        _refuse(click, f"AWS cannot say which stage deploys: {exc.reason}")
        return
    except NoLookups as exc:  # its account is not configured, or its role cannot be assumed
        _refuse(click, f"AWS cannot be read there, so nothing was sent: {exc.reason}")
        return
    if found is None:
        return
    named, place = found
    drive(lambda: _Freeze(click, store, named, operation, place), click, "freeze", late=late)


def _refuse(click: Click, reason: str) -> None:
    refuse_click(click, "freeze", reason, _NOT)


def _stage_named(click: Click, config: Config) -> tuple[Stage, Place] | None:
    """The stage a button names, and where it lives, if the config lets deploybot freeze it."""
    named = read_stage(click.value)
    entry = config.rollback.pipeline(named.pipeline) if named is not None else None
    if named is not None and entry is not None:
        place = place_of(config, named.account, named.region)
        if named.stage == (entry.stage or _deploy_stage(named, place)):
            return named, place
    _refuse(click, "this button names no stage that rollback.pipelines freezes")
    return None


class _Freeze(Flow[Call]):
    """One Freeze or Unfreeze click (the shared flow: Flow)."""

    name = "freeze"
    head = _NOT
    raced = "someone else froze or unfroze this stage at the same moment"

    def __init__(self, click: Click, store: Store, named: Stage, operation: str, place: Place):
        super().__init__(click, store, named.where, place)
        self.named = named
        self.pipeline, self.stage = named.pipeline, named.stage
        self.operation = operation
        self.codepipeline = place.codepipeline

    @property
    def subject(self) -> str:
        return self.operation

    def log(self, what: str, **extra: str) -> dict[str, str]:
        keys = {"pipeline": self.pipeline, "stage": self.stage, "freeze": self.operation}
        return super().log(what, **keys, **extra)

    def prepare(self, token: str) -> Call | None:
        where = f"{self.stage} of {self.pipeline}"
        try:
            state = inbound(self.pipeline, self.stage, self.codepipeline)
        except AwsError as exc:
            self.refuse(f"AWS cannot say whether {where} is frozen: {exc.reason}")
            return None
        params: dict[str, Any] = {
            "pipelineName": self.pipeline,
            "stageName": self.stage,
            "transitionType": "Inbound",
        }
        if self.operation == UNFREEZE:
            if state.get("enabled") is not False:
                self.refuse(f"{where} is not frozen (or AWS cannot say)")
                return None
            return Call("codepipeline", "enable_stage_transition", params)
        if state.get("enabled") is False:
            by = str(state.get("lastChangedBy") or "someone").rsplit("/", 1)[-1]
            self.refuse(f"{where} is already frozen (by {by}: {state.get('disabledReason')})")
            return None
        who = f"{self.click.user_name} {self.click.user}".strip()
        params["reason"] = transition_reason(f"Frozen from Slack by {who} with deploybot")
        return Call("codepipeline", "disable_stage_transition", params)

    def write(self, write: Call) -> str:
        super().write(write)
        return self.operation

    def find(self, claim: Claim) -> str:
        is_open = transition_open(self.pipeline, self.stage, self.codepipeline)
        return claim.subject if is_open is (claim.subject == UNFREEZE) else ""

    def started(
        self, claim: Claim, outcome: str, write: Call | None, *, found: bool = False
    ) -> None:
        self.record(claim, outcome)
        logger.info("deploy stage %s", _DONE[outcome], extra=self.log(_DONE[outcome]))
        if outcome == UNFREEZE:
            done = build_unfrozen(claim.user, self.named)
            pressed: tuple[str, ...] = (ids.UNFREEZE, ids.ROLLBACK_UNFREEZE)
        else:
            done = build_frozen_by(claim.user, self.named, found=found)
            pressed = (ids.FREEZE,)
        self.click.thread(done)
        blocks = self.click.message.get("blocks")
        if blocks:
            text = str(self.click.message.get("text") or done["text"])
            self.click.update(text, mark_done(blocks, pressed, done["text"]))

    def failed(self, problem: AwsProblem) -> None:
        logger.warning("freeze failed: %s", problem.reason, extra=self.log("failed"))
        freezing = self.operation == FREEZE
        self.click.thread(
            build_transition_failed(self.click.user, self.pipeline, self.stage, freezing, problem)
        )

    def unknown(self, claim: Claim, problem: AwsProblem) -> None:
        self.failed(problem)
