"""Reroute traffic now, Finish now, Stop and roll back: a waiting blue/green deployment steered
from its message.

Each click is acked at once and worked in a lazy listener through the shared flow
(handlers/actions.py), under the same policy as rollback ([rollback] users, user groups,
channels). Nothing in the button is trusted: GetDeployment says where the deployment is, the
config must cover its group (or the pipeline that ran it), and only a deployment still waiting
for that very step is steered: one ContinueDeployment (READY_WAIT or TERMINATION_WAIT) or
StopDeployment (autoRollbackEnabled) per click, through a client that does not retry. A double
click or a re-run is refused (or does nothing again); a lost answer is read back with
GetDeployment. The message then stops offering the step and the thread records who did what.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks import ids
from blocks.actions import mention
from blocks.approvals import answered_at
from blocks.traffic import build_steer_failed, build_steered, traffic_buttons
from bot import aws
from bot.aws import AwsError
from bot.aws.accounts import Place
from bot.domain import traffic
from bot.domain.claims import Claim
from bot.domain.codedeploy import parse_deployment
from bot.domain.coerce import as_map
from bot.domain.config import Config
from bot.domain.living import build_view, link_key, load_state
from bot.domain.model import AwsProblem, Deployment, Scope, Source, Status
from bot.domain.traffic import Steer
from bot.slack import WebApiPoster
from bot.store import Store, make_store
from handlers.actions import Call, Click, Flow, authorization, drive, place_of, refuse_click
from handlers.common import config_of
from handlers.notifications import deliver_events

logger = logging.getLogger(__name__)

SECTION = "rollback"  # the same people and channels as rollback
_NOW_STATUS = {traffic.REROUTE: Status.IN_PROGRESS, traffic.FINISH: Status.IN_PROGRESS}


def register(app: App) -> None:
    """Wire the three buttons: an empty ack, then the work in a lazy listener."""
    for action_id in (ids.TRAFFIC_REROUTE, ids.TRAFFIC_FINISH, ids.TRAFFIC_STOP):
        app.action(action_id)(ack=ack_traffic, lazy=[run_traffic])


def ack_traffic(ack: Ack) -> None:
    """Slack waits 3 seconds; the checks and the AWS call take longer."""
    ack()


def run_traffic(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Check everything again, then take the step once."""
    _steer(body, client, config_of(context), late=False)


def report_late(body: dict[str, Any], client: WebClient, config: Config) -> None:
    """The lazy run came after Slack's window (handlers/late.py): do nothing; say what became
    of the click, reading AWS when an earlier run of it left no outcome."""
    _steer(body, client, config, late=True)


def _steer(body: dict[str, Any], client: WebClient, config: Config, *, late: bool) -> None:
    click = Click(body, client)
    steer = traffic.decode(click.value)
    if steer is None:
        refuse_click(click, "traffic", "this button names no deployment step")
        return
    reason = "" if late else authorization(client, config.rollback, click, SECTION)
    store = make_store(config)
    if reason or store is None:
        why = reason or "steering deployments needs the store (store.backend)"
        refuse_click(click, "traffic", why)
        return
    drive(
        lambda: _Steer(click, store, config, steer, place_of(config, steer.account, steer.region)),
        click,
        "traffic",
        late=late,
    )


def pipeline_of(store: Store, deployment_id: str) -> str:
    """The pipeline whose execution ran the deployment, as its living message knows it ("")."""
    link = store.get(link_key(deployment_id))
    key = load_state(link.body).link if link else ""
    record = store.get(key) if key else None
    state = load_state(record.body) if record else None
    if state is None or not state.events:
        return ""
    return build_view(key, state.events.values()).head.pipeline


class _Steer(Flow[Call]):
    """One click on a waiting blue/green deployment (the shared flow: Flow)."""

    name = "traffic"
    raced = "someone else steered this deployment at the same moment"

    def __init__(
        self, click: Click, store: Store, config: Config, steer: Steer, place: Place
    ) -> None:
        super().__init__(click, store, steer.where, place)
        self.config = config
        self.steer = steer
        self.codedeploy = place.codedeploy
        # What GetDeployment said last (prepare and find read it).
        self.deployment = Deployment(
            source=Source.CODEDEPLOY,
            scope=Scope.DEPLOYMENT,
            status=Status.UNKNOWN,
            deployment_id=steer.deployment_id,
            account=place.account or steer.account,
            region=place.region,
        )

    @property
    def subject(self) -> str:
        return self.steer.operation

    def log(self, what: str, **extra: str) -> dict[str, str]:
        keys = {"deployment_id": self.steer.deployment_id, "traffic": self.steer.operation}
        return super().log(what, **keys, **extra)

    def busy(self, claim: Claim) -> str:
        return f"{mention(claim.user)} is steering this deployment right now"

    def done_already(self, claim: Claim) -> str:
        if claim.outcome != self.steer.operation:
            return ""
        return f"{mention(claim.user)} already did this at {answered_at(claim.at)}"

    def _read(self) -> dict[str, Any]:
        found: dict[str, Any] = aws.call(
            self.codedeploy, "get_deployment", deploymentId=self.steer.deployment_id
        )
        read = parse_deployment(as_map(found.get("deploymentInfo")), region=self.place.region)
        self.deployment = replace(read, account=read.account or self.deployment.account)
        return found

    def prepare(self, token: str) -> Call | None:
        try:
            check = traffic.check(self.steer, self._read())
        except AwsError as exc:
            self.failed(exc.problem)
            return None
        pipeline = pipeline_of(self.store, self.steer.deployment_id)
        refusal = traffic.config_refusal(check.deployment, self.config.rollback, pipeline)
        if refusal or check.refusal:
            self.refuse(refusal or check.refusal)
            return None
        return Call("codedeploy", check.method, dict(check.params or {}))

    def write(self, write: Call) -> str:
        super().write(write)
        return self.steer.operation

    def find(self, claim: Claim) -> str:
        asked = replace(self.steer, operation=claim.subject)
        return claim.subject if traffic.moved_on(asked, self._read()) else ""

    def started(
        self, claim: Claim, outcome: str, write: Call | None, *, found: bool = False
    ) -> None:
        self.record(claim, outcome)
        logger.info("deployment steered", extra=self.log("done"))
        now = _NOW_STATUS.get(outcome, Status.STOPPED)
        moved = replace(
            self.deployment,
            status=now,
            raw_status=now.value,
            waiting="",
            occurred_at=datetime.now(UTC),
            event_id="",
        )
        # What deploybot did shows in the message at once: it stops offering the step.
        _, failures = deliver_events(
            [moved], self.config, WebApiPoster(self.click.client), self.store
        )
        if failures:
            logger.error("the deployment's message was not updated: %s", failures[0])
        # After a reroute the original instances may wait to be terminated: offer what follows.
        follow = traffic_buttons(replace(moved, waiting="TERMINATION_WAIT"))
        extra = follow if outcome == traffic.REROUTE else []
        reply = build_steered(claim.user, outcome, self.deployment, *extra, found=found)
        self.click.thread(reply)

    def failed(self, problem: AwsProblem) -> None:
        logger.warning("traffic failed: %s", problem.reason, extra=self.log("failed"))
        self.click.thread(
            build_steer_failed(self.click.user, self.steer.operation, self.deployment, problem)
        )

    def unknown(self, claim: Claim, problem: AwsProblem) -> None:
        self.click.thread(
            build_steer_failed(claim.user, claim.subject, self.deployment, problem, maybe=True)
        )
