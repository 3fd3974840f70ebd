"""Many AWS accounts, one Slack app: notifications of a spoke account are enriched with the
spoke role's credentials in the event's region, never the hub's; an account nobody configured
gets no lookup and a note; a role that cannot be assumed is named. Through the Lambda entry
point, with STS and CodePipeline/CodeDeploy as local fakes that check who signed each call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks import ids
from bot.aws.accounts import accounts_of
from bot.check import Check, check_accounts
from bot.config import load_config
from bot.domain.claims import Claim, claim_key, dump_claim
from bot.domain.freeze import Stage
from bot.lambda_function import handler
from bot.slack import make_poster
from bot.store import Record, make_store
from handlers.living import LivingDelivery
from handlers.sweep import Sweeper
from tests.blockkit import violations
from tests.conftest import cold_start, load_sample
from tests.doors import Door, buttons, click, refusals, status, submit, thread_text
from tests.estate import (
    CONFIG,
    HUB,
    HUB_KEY,
    HUB_REGION,
    OTHER,
    SPOKE,
    SPOKE_REGION,
    SPOKE_ROLE,
    Estate,
    serve_estate,
    trigger,
)
from tests.fake_deploys import World, gated, standard
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack
from tests.fake_sts import Trust
from tests.slack_requests import LambdaContext, function_url_event, slash_command

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
HOUR = 3600.0


@pytest.fixture
def estate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Estate]:
    yield from serve_estate(monkeypatch, tmp_path)


def _spoke_deploys(estate: Estate, deployment: str) -> None:
    """The spoke's web-prod ran `deployment` (its Deploy action) an hour ago."""
    world = estate.world(SPOKE, SPOKE_REGION)
    world.add(standard("web-prod"))
    world.run("web-prod", SHA, ago=HOUR, deployment=deployment)


def _posted(fake: FakeSlack) -> list[dict[str, Any]]:
    """The main messages posted (not thread replies)."""
    return [p for p in fake.posts if p.get("channel") and not p.get("thread_ts")]


def _context(post: dict[str, Any]) -> str:
    return " ".join(
        str(e.get("text", ""))
        for b in post["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
    )


def test_a_spokes_deployment_is_enriched_with_the_spoke_roles_credentials_in_its_region(
    estate: Estate, slack_env: FakeSlack
) -> None:
    # GIVEN web-prod in the prod account (a spoke, us-east-1) deployed d-SPOKE1
    _spoke_deploys(estate, "d-SPOKE1")
    # WHEN that deployment's CodeDeploy trigger reaches the hub's function
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE1"), LambdaContext())
    # THEN the message names the commit the spoke's pipeline shipped, and the account
    [post] = _posted(slack_env)
    assert SHA[:7] in str(post["blocks"])
    assert "prod" in _context(post)
    # AND every lookup was signed with the spoke role's credentials for us-east-1, never the hub's
    assert estate.signers() and set(estate.signers()) == {(SPOKE, SPOKE_REGION)}
    assert HUB_KEY not in estate.access_keys()
    # AND the hub assumed the role once, with its own credentials
    [assumed] = estate.sts.assumed(SPOKE_ROLE)
    assert assumed.access_key == HUB_KEY and assumed.params["RoleSessionName"] == "deploybot"


def test_the_hubs_own_deployment_uses_the_functions_own_credentials(
    estate: Estate, slack_env: FakeSlack
) -> None:
    # GIVEN web-prod in the hub's own account deployed d-HUB1
    world = estate.world(HUB, HUB_REGION)
    world.add(standard("web-prod"))
    world.run("web-prod", SHA, ago=HOUR, deployment="d-HUB1")
    # WHEN its trigger arrives
    handler(trigger(HUB, HUB_REGION, "d-HUB1"), LambdaContext())
    # THEN it is read with the hub's own key, and no role is assumed
    [post] = _posted(slack_env)
    assert SHA[:7] in str(post["blocks"])
    assert set(estate.signers()) == {(HUB, HUB_REGION)}
    assert estate.sts.assumed() == []


def test_an_account_nobody_configured_is_posted_without_lookups_naming_the_account(
    estate: Estate, slack_env: FakeSlack
) -> None:
    # WHEN a deployment of an account [[accounts]] does not list reaches the function
    handler(trigger(OTHER, SPOKE_REGION, "d-OTHER1", "FAILED"), LambdaContext())
    # THEN it is posted, with a note naming the account to add, and nothing read anywhere
    [post] = _posted(slack_env)
    assert f"account {OTHER} is not configured: add it to [[accounts]]" in _context(post)
    assert estate.server.calls == []
    assert estate.sts.assumed() == []


def test_a_region_the_account_does_not_list_gets_no_lookups(
    estate: Estate, slack_env: FakeSlack
) -> None:
    handler(trigger(SPOKE, "ap-southeast-2", "d-SPOKE2"), LambdaContext())
    [post] = _posted(slack_env)
    assert "ap-southeast-2 is not among the regions of account prod" in _context(post)
    assert estate.server.calls == []


@pytest.fixture
def untrusted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Estate]:
    # The spoke's role demands an external id that the config does not send.
    yield from serve_estate(monkeypatch, tmp_path, external_id="not-the-configured-one")


def test_a_role_that_cannot_be_assumed_is_a_note_naming_the_role_and_the_trust(
    untrusted: Estate, slack_env: FakeSlack
) -> None:
    # WHEN a spoke's deployment arrives and STS refuses the role (AccessDenied)
    _spoke_deploys(untrusted, "d-SPOKE3")
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE3"), LambdaContext())
    # THEN the message is posted with a note naming the role and the trust it lacks
    [post] = _posted(slack_env)
    context = _context(post)
    assert f"could not assume {SPOKE_ROLE} for account prod (AccessDenied)" in context
    assert "trust policy must let deploybot" in context
    # AND nothing was read with any other credentials instead
    assert untrusted.server.calls == []


@pytest.fixture
def with_external_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Estate]:
    config = CONFIG + 'external_id = "deploybot-7f3a"\n'
    yield from serve_estate(monkeypatch, tmp_path, config, external_id="deploybot-7f3a")


def test_the_external_id_is_sent_with_assume_role(
    with_external_id: Estate, slack_env: FakeSlack
) -> None:
    _spoke_deploys(with_external_id, "d-SPOKE4")
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE4"), LambdaContext())
    [assumed] = with_external_id.sts.assumed(SPOKE_ROLE)
    assert assumed.params["ExternalId"] == "deploybot-7f3a"
    assert SHA[:7] in str(_posted(slack_env)[0]["blocks"])


@pytest.fixture
def short_lived(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Estate]:
    # Credentials that expire in 12 minutes: inside botocore's 15-minute advisory window.
    yield from serve_estate(monkeypatch, tmp_path, seconds=720)


def test_credentials_are_kept_while_valid_and_refreshed_before_they_expire(
    short_lived: Estate, slack_env: FakeSlack
) -> None:
    # GIVEN two deployments of the spoke, their triggers in one warm container
    _spoke_deploys(short_lived, "d-SPOKE5")
    short_lived.world(SPOKE, SPOKE_REGION).run("web-prod", SHA, ago=HOUR / 2, deployment="d-SPOKE6")
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE5"), LambdaContext())
    first = set(short_lived.access_keys())
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE6"), LambdaContext())
    # THEN credentials near their expiry were refreshed (a second AssumeRole), and every call
    # was still the spoke's
    assert len(short_lived.sts.assumed(SPOKE_ROLE)) >= 2
    assert set(short_lived.access_keys()) - first
    assert set(short_lived.signers()) == {(SPOKE, SPOKE_REGION)}


def test_one_assume_role_serves_a_warm_container_while_the_credentials_last(
    estate: Estate, slack_env: FakeSlack
) -> None:
    _spoke_deploys(estate, "d-SPOKE7")
    estate.world(SPOKE, SPOKE_REGION).run("web-prod", SHA, ago=HOUR / 2, deployment="d-SPOKE8")
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE7"), LambdaContext())
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE8"), LambdaContext())
    assert len(estate.sts.assumed(SPOKE_ROLE)) == 1
    assert len(_posted(slack_env)) == 2


# --- /deploy-status and the buttons, across accounts ------------------------------------------

ACTIONS = """
[rollback]
users = ["U0ALLOWED"]
channels = ["C0DEPLOYS"]

[[rollback.pipelines]]
pipeline = "web-prod"
environment = "production"

[[rollback.deployment_groups]]
application = "checkout-ecs"
deployment_group = "production"

[[rollback.deployment_groups]]
application = "legacy-app"
deployment_group = "prod"
environment = "legacy"

[approvals]
users = ["U0ALLOWED"]
channels = ["C0DEPLOYS"]
"""


@pytest.fixture
def door(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[tuple[Estate, Door]]:
    for estate in serve_estate(monkeypatch, tmp_path, CONFIG + ACTIONS):
        # web-prod in both accounts, one name, two pipelines; api-prod in the hub only
        hub, spoke = estate.world(HUB, HUB_REGION), estate.world(SPOKE, SPOKE_REGION)
        for world, names in ((hub, ("web-prod", "api-prod")), (spoke, ("web-prod",))):
            for name in names:
                world.add(standard(name))
                world.run(name, SHA, ago=HOUR)
        yield estate, Door(spoke, aws_env, slack_env, tmp_path / "deploybot.toml")


def _texts(answer: dict[str, Any]) -> str:
    return json.dumps(answer["blocks"], ensure_ascii=False)


def test_deploy_status_covers_every_account_grouped_by_account(
    door: tuple[Estate, Door],
) -> None:
    estate, front = door
    # WHEN someone asks /deploy-status
    answer = status(front)
    shown = _texts(answer)
    # THEN both accounts' pipelines are there, under their accounts' names
    assert f"*tools* ({HUB})" in shown and f"*prod* ({SPOKE})" in shown
    assert shown.count("web-prod") >= 2 and "api-prod" in shown
    # AND each links its own region's console
    assert f"https://{SPOKE_REGION}.console.aws.amazon.com" in shown
    assert f"https://{HUB_REGION}.console.aws.amazon.com" in shown
    # AND each account was read with its own credentials in its own region
    assert set(estate.signers()) == {(HUB, HUB_REGION), (SPOKE, SPOKE_REGION)}
    spoke_reads = [c for c in estate.server.calls if estate.account_of(c.access_key) == SPOKE]
    assert {c.operation for c in spoke_reads} >= {"ListPipelines", "ListPipelineExecutions"}
    assert violations(answer) == []


def test_an_accounts_name_filters_deploy_status(door: tuple[Estate, Door]) -> None:
    _, front = door
    answer = status(front, "prod")
    shown = _texts(answer)
    assert f"*prod* ({SPOKE})" in shown and "api-prod" not in shown and "tools" not in shown
    # AND with a pipeline's name, that account's pipeline in detail
    detail = _texts(status(front, "prod web-prod"))
    assert f"Account *prod* ({SPOKE}) · {SPOKE_REGION}" in detail
    assert f"https://{SPOKE_REGION}.console.aws.amazon.com" in detail


def test_a_freeze_of_a_spokes_stage_is_sent_once_with_the_spokes_credentials(
    door: tuple[Estate, Door],
) -> None:
    estate, front = door
    spoke = estate.world(SPOKE, SPOKE_REGION)
    # GIVEN the hub's web-prod frozen by someone a moment ago, still sending: its claim holds
    hub_stage = Stage("web-prod", "Deploy", HUB, HUB_REGION)
    taken = Claim("freeze", "U0OTHER", "U0OTHER:1", time.time(), subject="freeze")
    assert front.store().put(Record(claim_key(hub_stage.where), body=dump_claim(taken)))
    # AND the spoke's CodePipeline failing the next write with a 500
    spoke.fail("DisableStageTransition", "5xx")
    # WHEN an allowed user presses Freeze on the spoke's web-prod (/deploy-status prod web-prod)
    [freeze] = buttons(status(front, "prod web-prod"), "stage_")
    assert json.loads(freeze["value"]) == {
        "p": "web-prod",
        "t": "Deploy",
        "ac": SPOKE,
        "r": SPOKE_REGION,
    }
    click(front, None, freeze)
    # THEN the hub's claim did not hold the spoke's stage: one request reached the spoke, signed
    # with its role's credentials for its region, and none was repeated after the 500 (the
    # client sends once)
    sent = [c for c in estate.server.calls if c.operation == "DisableStageTransition"]
    assert len(sent) == 1
    assert (estate.account_of(sent[0].access_key), sent[0].region) == (SPOKE, SPOKE_REGION)
    # AND the hub's web-prod was never written
    assert estate.world(HUB, HUB_REGION).started("DisableStageTransition") == []


# --- rollback, approvals and blue/green in a spoke: the one write, signed by the spoke ----------
#
# The hub holds a twin of each target: the same pipeline or deployment group, the same execution,
# deployment and approval ids, waiting the same way. A write sent with the hub's credentials
# would succeed there; each test checks it reached the spoke alone.

BAD = "60303ae22b998861bce3b28f33eec1be758a213c"
IMAGE = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "ab" * 32}}
WRITES = {  # every production write deploybot sends
    "StartPipelineExecution",
    "RollbackStage",
    "PutApprovalResult",
    "ContinueDeployment",
    "StopDeployment",
    "CreateDeployment",
    "DisableStageTransition",
    "EnableStageTransition",
}
APPROVAL = ("web-gate", "Approve", "Release")  # (pipeline, stage, action)
Scene = Callable[[Estate, Door], dict[str, Any]]  # sets a spoke's target up: its message
Press = Callable[[Door, dict[str, Any]], None]  # presses the message's button


def _moved(sample: str, account: str, region: str, **detail: Any) -> dict[str, Any]:
    """An EventBridge sample as `account` sends it from `region`, its detail updated."""
    event = load_sample(sample)
    text = json.dumps(event).replace(event["account"], account)
    event = json.loads(text.replace(event["region"], region))
    event["detail"].update(detail)
    return dict(event)


def _channel_message(front: Door) -> dict[str, Any]:
    """The one main message in the channel, as Slack sends it back on a click (with its ts)."""
    [message] = [m for m in front.slack.messages["C0DEPLOYS"] if not m.get("thread_ts")]
    return dict(message)


def _twins(estate: Estate) -> tuple[World, World]:
    """(the spoke's world, the hub's)."""
    return estate.world(SPOKE, SPOKE_REGION), estate.world(HUB, HUB_REGION)


def _signed(estate: Estate, operation: str) -> list[tuple[str, str]]:
    """(account, region) of each `operation` request that reached AWS, by who signed it."""
    return [
        (estate.account_of(c.access_key), c.region)
        for c in estate.server.calls
        if c.operation == operation
    ]


def _failed_in_spoke(estate: Estate, front: Door) -> dict[str, Any]:
    """web-prod of the spoke (and its hub twin) ran SHA an hour ago, then BAD, which deployed
    and failed its tests; the spoke's failure reached the hub: its message."""
    spoke, hub = _twins(estate)
    bad = "0b6e5c4d-3a2f-4e1d-8c9b-7a6f5e4d3c2b"
    for world in (spoke, hub):
        world.run("web-prod", BAD, ago=HOUR / 2, failed_at="Test", id=bad)
    assert [e.id for e in spoke.executions if e.pipeline == "web-prod"] == [
        e.id for e in hub.executions if e.pipeline == "web-prod"
    ]
    failed = "eventbridge-codepipeline-execution-failed.json"
    handler(
        _moved(failed, SPOKE, SPOKE_REGION, pipeline="web-prod", **{"execution-id": bad}),
        LambdaContext(),
    )
    return _channel_message(front)


def _bundle(version: str) -> dict[str, Any]:
    """An S3 revision of legacy-app."""
    s3 = {"bucket": "builds", "key": "legacy.zip", "bundleType": "zip", "version": version}
    return {"revisionType": "S3", "s3Location": s3}


def _group_failed_in_spoke(estate: Estate, front: Door) -> dict[str, Any]:
    """legacy-app/prod of the spoke (and its hub twin, same ids) deployed v1, then v2, which
    failed; the spoke's failure reached the hub: its message."""
    for world in _twins(estate):
        world.group("legacy-app", "prod")
        world.deployment("legacy-app", "prod", _bundle("v1"), ago=3 * HOUR, id="d-GOOD00001")
        world.deployment(
            "legacy-app", "prod", _bundle("v2"), ago=HOUR, status="Failed", id="d-BAD000001"
        )
    sample = "eventbridge-codedeploy-deployment-state-change.json"
    where = {"application": "legacy-app", "deploymentGroup": "prod"}
    event = _moved(sample, SPOKE, SPOKE_REGION, **where, deploymentId="d-BAD000001")
    event["detail"]["state"] = "FAILURE"
    handler(event, LambdaContext())
    return _channel_message(front)


def _roll_back(front: Door, message: dict[str, Any]) -> None:
    [button] = [b for b in buttons(message, "rollback") if b["action_id"] == ids.ROLLBACK]
    click(front, message, button)


def _waiting_in_spoke(estate: Estate, front: Door) -> dict[str, Any]:
    """web-gate of the spoke (and its hub twin, same execution) waits for approval Release;
    the spoke's EventBridge events reached the hub: the execution's message."""
    for world in _twins(estate):
        world.add(gated("web-gate"))
    execution = "5f1d2c3b-4a5e-4f6d-9e8c-1b2a3c4d5e6f"
    for world in _twins(estate):
        world.run("web-gate", SHA, ago=600, running_at="Approve", id=execution)
        world.await_approval(execution, "Approve", "Release")
    # the same token in both: an answer sent to the hub would be taken there
    spoke, hub = _twins(estate)
    hub.approvals[APPROVAL].token = spoke.approvals[APPROVAL].token
    where = {"pipeline": "web-gate", "execution-id": execution}
    for sample, more in (
        ("eventbridge-codepipeline-execution-started.json", {}),
        (
            "eventbridge-codepipeline-action-approval-started.json",
            {"stage": "Approve", "action": "Release"},
        ),
    ):
        handler(_moved(sample, SPOKE, SPOKE_REGION, **where, **more), LambdaContext())
    return _channel_message(front)


def _approve(front: Door, message: dict[str, Any]) -> None:
    [approve] = [b for b in buttons(message, "approval_") if b["action_id"] == ids.APPROVE]
    opened = len(front.slack.views)
    click(front, message, approve)
    if len(front.slack.views) > opened:  # the modal opened: submit it with a comment
        values = {"reason": {"text": {"type": "plain_text_input", "value": "ship it"}}}
        submit(front, front.slack.views[-1], "V1", values=values)


def _ready_in_spoke(estate: Estate, front: Door) -> dict[str, Any]:
    """A blue/green deployment of checkout-ecs/production in the spoke (and its hub twin, same
    id) waits to reroute; the spoke's READY event reached the hub: its message."""
    ready = "d-SPOKEB6N1"
    for world in _twins(estate):
        world.group("checkout-ecs", "production")
        world.deployment(
            "checkout-ecs", "production", IMAGE, ago=300, status="Ready", blue_green=True, id=ready
        )
    sample = "eventbridge-codedeploy-deployment-ready-bluegreen.json"
    handler(_moved(sample, SPOKE, SPOKE_REGION, deploymentId=ready), LambdaContext())
    return _channel_message(front)


def _reroute(front: Door, message: dict[str, Any]) -> None:
    [button] = [b for b in buttons(message, "traffic_") if b["action_id"] == ids.TRAFFIC_REROUTE]
    click(front, message, button)


def _sent_once_in_spoke(
    estate: Estate, front: Door, scene: Scene, press: Press, operation: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post the spoke's message (`scene`) and `press` its button as an allowed user: no refusal,
    one `operation` request, signed by the spoke role's credentials for the spoke's region, and
    nothing written to the hub's twin. (The message, the request's parameters.)"""
    spoke, hub = _twins(estate)
    message = scene(estate, front)
    press(front, message)
    assert refusals(front.slack) == []
    assert _signed(estate, operation) == [(SPOKE, SPOKE_REGION)]
    [sent] = spoke.started(operation)
    assert hub.writes == []
    return message, sent


ROLLBACKS = {  # strategy: (its scene, its write, what the write carries, the audit line)
    "pipeline": (
        _failed_in_spoke,
        "StartPipelineExecution",
        (
            "sourceRevisions",
            [{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": SHA}],
        ),
        f"started a rollback of *production (prod)* to `{SHA[:7]}`",
    ),
    "group": (
        _group_failed_in_spoke,
        "CreateDeployment",
        ("revision", _bundle("v1")),
        "started a rollback of *legacy (prod)* to `d-GOOD00001`",
    ),
}


@pytest.mark.parametrize("strategy", list(ROLLBACKS))
def test_a_rollback_in_a_spoke_is_sent_once_there_with_the_spokes_credentials(
    door: tuple[Estate, Door], strategy: str
) -> None:
    estate, front = door
    scene, operation, (key, value), audit = ROLLBACKS[strategy]
    # GIVEN the spoke's failure message, offering to roll back to what ran before; the hub's
    # twin (same names, same ids)
    # WHEN an allowed user confirms Roll back
    # THEN one write reached the spoke alone, signed by its role for its region
    message, sent = _sent_once_in_spoke(estate, front, scene, _roll_back, operation)
    # AND it goes back to the good one
    assert sent[key] == value
    # AND the thread's audit line names the environment with its account, and links what it
    # started in the spoke's region
    said = thread_text(front.slack, message["ts"])
    assert audit in said
    assert f"https://{SPOKE_REGION}.console.aws.amazon.com/" in said


def test_an_approval_in_a_spoke_is_answered_once_there_with_the_spokes_credentials(
    door: tuple[Estate, Door],
) -> None:
    estate, front = door
    # GIVEN the spoke's web-gate waiting for approval, its message in the channel, and the hub's
    # same-named pipeline waiting with the same execution and token
    # WHEN an allowed user approves it
    # THEN one PutApprovalResult reached the spoke alone, signed by its role for its region
    _, sent = _sent_once_in_spoke(estate, front, _waiting_in_spoke, _approve, "PutApprovalResult")
    spoke, hub = _twins(estate)
    assert sent["token"] == spoke.approvals[APPROVAL].token
    assert sent["result"]["status"] == "Approved"
    # AND the hub's same-named approval is still waiting
    assert hub.approvals[APPROVAL].status == "InProgress"


def test_a_reroute_in_a_spoke_continues_the_deployment_there_with_the_spokes_credentials(
    door: tuple[Estate, Door],
) -> None:
    estate, front = door
    # GIVEN the spoke's blue/green deployment ready to reroute, its message in the channel, and
    # the hub's deployment of the same id ready too
    # WHEN an allowed user presses Reroute traffic now
    # THEN one ContinueDeployment reached the spoke alone, signed by its role for its region
    _, sent = _sent_once_in_spoke(estate, front, _ready_in_spoke, _reroute, "ContinueDeployment")
    assert sent["deploymentWaitType"] == "READY_WAIT"


SCENES: dict[str, tuple[Scene, Press]] = {
    "rollback": (_failed_in_spoke, _roll_back),
    "group-rollback": (_group_failed_in_spoke, _roll_back),
    "approve": (_waiting_in_spoke, _approve),
    "reroute": (_ready_in_spoke, _reroute),
}


@pytest.mark.parametrize("scene", list(SCENES))
def test_a_click_in_a_spoke_whose_role_cannot_be_assumed_is_refused_naming_the_trust(
    door: tuple[Estate, Door], scene: str
) -> None:
    estate, front = door
    scenery, press = SCENES[scene]
    # GIVEN a spoke's message with its button, posted while the role could be assumed
    message = scenery(estate, front)
    # AND then the role's trust no longer names deploybot's role, and the click reaches a new
    # container (no credentials kept)
    estate.sts.roles[SPOKE_ROLE] = Trust(frozenset())
    cold_start()
    before = len(estate.server.calls)
    # WHEN an allowed user presses it
    press(front, message)
    # THEN the click is refused with the note naming the role and the trust it lacks
    said = "\n".join(refusals(front.slack))
    assert f"could not assume {SPOKE_ROLE} for account prod (AccessDenied)" in said
    assert "trust policy must let deploybot's role call sts:AssumeRole" in said
    # AND nothing was sent anywhere, with any credentials
    assert [c.operation for c in estate.server.calls[before:] if c.operation in WRITES] == []
    assert all(world.writes == [] for world in _twins(estate))


# --- deploybot check ---------------------------------------------------------------------------

CHECKED = (
    CONFIG
    + """
[status]
pipelines = ["web-prod", "api-prod", "gone"]
"""
)


@pytest.fixture
def checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_credentials: None
) -> Iterator[Estate]:
    for estate in serve_estate(monkeypatch, tmp_path, CHECKED):
        estate.world(HUB, HUB_REGION).add(standard("api-prod"))
        estate.world(SPOKE, SPOKE_REGION).add(standard("web-prod"))
        yield estate


def _checklist(role: str = "") -> dict[str, Check]:
    config = load_config()
    return {c.name: c for c in check_accounts(config, accounts_of(config), role)}


def test_check_assumes_each_role_and_reads_each_configured_pipeline_where_it_lives(
    checked: Estate,
) -> None:
    checks = _checklist()
    assert checks["account prod: role"].ok is True
    assert checks[f"account prod in {SPOKE_REGION}: pipeline web-prod"].ok is True
    assert checks[f"account tools in {HUB_REGION}: pipeline api-prod"].ok is True
    # a configured pipeline no account lists is named
    assert checks["pipeline gone"].ok is False
    # and each account was read with its own credentials in its own region
    assert set(checked.signers()) == {(HUB, HUB_REGION), (SPOKE, SPOKE_REGION)}


GROUPS = (
    CHECKED
    + """
[[pipelines]]
pipeline = "web-prod"
application = "web"
deployment_group = ["prod", "gone"]
"""
)


@pytest.fixture
def checked_groups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_credentials: None
) -> Iterator[Estate]:
    for estate in serve_estate(monkeypatch, tmp_path, GROUPS):
        spoke = estate.world(SPOKE, SPOKE_REGION)
        spoke.add(standard("web-prod"))
        spoke.group("web", "prod")
        yield estate


def test_check_reads_each_mapped_deployment_group_where_its_pipeline_lives(
    checked_groups: Estate,
) -> None:
    # GIVEN [[pipelines]] mapping the spoke's web-prod to web/prod and web/gone
    checks = _checklist()
    # THEN each group was read in the spoke, with its role, and the one missing is named
    where = f"account prod in {SPOKE_REGION}: deployment group"
    assert checks[f"{where} web/prod"].ok is True
    gone = checks[f"{where} web/gone"]
    assert gone.ok is False and "gone does not exist" in gone.detail
    reads = [
        (checked_groups.account_of(c.access_key), c.region)
        for c in checked_groups.server.calls
        if c.operation == "GetDeploymentGroup"
    ]
    assert reads == [(SPOKE, SPOKE_REGION)] * 2


@pytest.fixture
def checked_untrusted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_credentials: None
) -> Iterator[Estate]:
    yield from serve_estate(monkeypatch, tmp_path, CHECKED, external_id="other")


def test_check_says_whether_a_refused_role_is_a_missing_trust_or_only_not_yours(
    checked_untrusted: Estate,
) -> None:
    # WHEN the check runs with credentials that are not deploybot's role: it cannot tell
    unsure = _checklist()["account prod: role"]
    assert unsure.ok is None and "its trust policy names deploybot's role" in unsure.detail
    # WHEN it runs as deploybot's role (the session STS reports is that role's): the trust lacks
    sure = _checklist(f"arn:aws:iam::{HUB}:role/deploybot")["account prod: role"]
    assert sure.ok is False and "trust policy must let deploybot's role" in sure.detail
    # AND the pipelines it could not list are not called missing
    assert _checklist()["pipeline web-prod"].ok is None


def test_the_slack_ack_assumes_no_role(door: tuple[Estate, Door]) -> None:
    # WHEN /deploy-status is acknowledged (its lazy half not run yet)
    estate, front = door
    body = slash_command("prod", f"{front.slack.url}/commands/1")
    assert handler(function_url_event(body), LambdaContext())["statusCode"] == 200
    # THEN the ack asked STS and AWS nothing: roles are assumed in the lazy listener
    assert estate.sts.calls == [] and estate.server.calls == []
    assert len(front.lam.invocations) == 1


SPOKES_ONLY = f"""
[slack]
channel = "C0DEPLOYS"

[[accounts]]
id = "{SPOKE}"
name = "prod"
role_arn = "{SPOKE_ROLE}"
regions = ["{SPOKE_REGION}"]
"""


@pytest.fixture
def spokes_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Estate]:
    yield from serve_estate(monkeypatch, tmp_path, SPOKES_ONLY)


def test_deploybots_own_account_is_recognised_when_only_spokes_are_listed(
    spokes_only: Estate, slack_env: FakeSlack
) -> None:
    # GIVEN [[accounts]] naming the spoke alone, and web-prod of the hub deployed d-HUB2
    world = spokes_only.world(HUB, HUB_REGION)
    world.add(standard("web-prod"))
    world.run("web-prod", SHA, ago=HOUR, deployment="d-HUB2")
    # WHEN two of the hub's own triggers arrive
    handler(trigger(HUB, HUB_REGION, "d-HUB2"), LambdaContext())
    handler(trigger(HUB, HUB_REGION, "d-HUB2", "FAILED"), LambdaContext())
    # THEN they are read with the function's own credentials, no role assumed, and STS was
    # asked once who deploybot is
    assert SHA[:7] in str(_posted(slack_env)[0]["blocks"])
    assert set(spokes_only.signers()) == {(HUB, HUB_REGION)}
    actions = [c.action for c in spokes_only.sts.calls]
    assert actions == ["GetCallerIdentity"]


def test_the_sweep_heals_a_spokes_message_reading_the_spoke(
    estate: Estate, slack_env: FakeSlack
) -> None:
    # GIVEN the spoke's web-prod started an execution, and its message says so
    spoke = estate.world(SPOKE, SPOKE_REGION)
    spoke.add(standard("web-prod"))
    run = spoke.run("web-prod", SHA, ago=HOUR, running_at="Deploy")
    started = load_sample("eventbridge-codepipeline-execution-started.json")
    started.update(account=SPOKE, region=SPOKE_REGION)
    started["detail"].update(pipeline="web-prod", **{"execution-id": run.id})
    handler(started, LambdaContext())
    # WHEN its succeeded event is lost, and the sweep comes after sweep.after_minutes
    spoke.finish(run.id)
    before = len(estate.server.calls)
    config = load_config()
    store = make_store(config)
    assert store is not None

    def clock() -> float:
        return time.time() + 11 * 60

    delivery = LivingDelivery(config, make_poster(config), store, clock=clock)
    report = Sweeper(config, delivery, store, accounts_of(config), clock=clock).run()
    # THEN the message says succeeded, read from the spoke with its role in its region
    assert report.healed == 1, report
    assert ":white_check_mark:" in json.dumps(slack_env.messages["C0DEPLOYS"][0]["blocks"])
    read = [(estate.account_of(c.access_key), c.region) for c in estate.server.calls[before:]]
    assert read and (SPOKE, SPOKE_REGION) in read and (HUB, SPOKE_REGION) not in read


TWO_REGIONS = CONFIG.replace(
    f'regions = ["{SPOKE_REGION}"]', f'regions = ["{SPOKE_REGION}", "{HUB_REGION}"]'
)


@pytest.fixture
def two_regions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_credentials: None
) -> Iterator[Estate]:
    yield from serve_estate(monkeypatch, tmp_path, TWO_REGIONS)


def test_two_regions_asked_at_once_share_one_assume_role(two_regions: Estate) -> None:
    from concurrent.futures import ThreadPoolExecutor

    accounts = accounts_of(load_config())
    with ThreadPoolExecutor(4) as pool:
        places = list(pool.map(lambda r: accounts.place(SPOKE, r), [SPOKE_REGION, HUB_REGION] * 4))
    assert {p.region for p in places} == {SPOKE_REGION, HUB_REGION}
    assert len(two_regions.sts.assumed(SPOKE_ROLE)) == 1


def test_deploy_status_says_which_account_it_could_not_read_and_why(untrusted: Estate) -> None:
    from bot.aws.deploy_status import look_up_in
    from bot.domain.model import StatusReport

    untrusted.world(HUB, HUB_REGION).add(standard("api-prod"))
    config = load_config()
    report = look_up_in("", config, accounts_of(config))
    assert isinstance(report, StatusReport)
    assert [p.name for p in report.pipelines] == ["api-prod"]  # the hub's, read all the same
    [problem] = report.problems
    assert (problem.kind, problem.action) == ("denied", "sts:AssumeRole")
    assert problem.message.startswith(f"prod ({SPOKE_REGION}): could not assume {SPOKE_ROLE}")


# --- without [[accounts]]: deploybot's own account alone ----------------------------------------

NO_ACCOUNTS = """
[slack]
channel = "C0DEPLOYS"

[approvals]
users = ["U0ALLOWED"]
channels = ["C0DEPLOYS"]
"""


@pytest.fixture
def unlisted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[tuple[Estate, Door]]:
    for estate in serve_estate(monkeypatch, tmp_path, NO_ACCOUNTS):
        yield estate, Door(estate.world(HUB, HUB_REGION), aws_env, slack_env, tmp_path / "t")


def _of_other(sample: str, execution: str) -> dict[str, Any]:
    """An EventBridge event of web-prod in OTHER's account, in the hub's region."""
    event = _moved(sample, OTHER, HUB_REGION, pipeline="web-prod", **{"execution-id": execution})
    if "stage" in event["detail"]:
        event["detail"].update(stage="Approve", action="Release")
    return event


def test_without_accounts_another_accounts_deployment_is_not_read_as_the_hubs(
    unlisted: tuple[Estate, Door], slack_env: FakeSlack
) -> None:
    estate = unlisted[0]
    # GIVEN no [[accounts]], and the hub's own web-prod that deployed d-SAME (same id and name)
    hub = estate.world(HUB, HUB_REGION)
    hub.add(standard("web-prod"))
    hub.run("web-prod", SHA, ago=HOUR, deployment="d-SAME")
    # WHEN a trigger of account 333333333333 arrives, in the hub's region
    handler(trigger(OTHER, HUB_REGION, "d-SAME"), LambdaContext())
    # THEN it is posted with the note naming the account to add, and not the hub's commit
    [post] = _posted(slack_env)
    assert f"account {OTHER} is not configured: add it to [[accounts]]" in _context(post)
    assert SHA[:7] not in str(post["blocks"])
    # AND nothing was read anywhere: deploybot asked STS who it is, once, and assumed nothing
    assert estate.server.calls == []
    assert [c.action for c in estate.sts.calls] == ["GetCallerIdentity"]


def test_without_accounts_a_button_of_another_account_is_refused(
    unlisted: tuple[Estate, Door], slack_env: FakeSlack
) -> None:
    estate, front = unlisted
    # GIVEN no [[accounts]], and the hub's own web-prod waiting for an approval
    hub = estate.world(HUB, HUB_REGION)
    hub.add(gated("web-prod"))
    execution = hub.run("web-prod", SHA, ago=600, running_at="Approve").id
    hub.await_approval(execution, "Approve", "Release")
    # AND account 333333333333's web-prod (same name, same region) waiting for one too
    for sample in (
        "eventbridge-codepipeline-execution-started.json",
        "eventbridge-codepipeline-action-approval-started.json",
    ):
        handler(_of_other(sample, "other-execution"), LambdaContext())
    [message] = _posted(slack_env)
    message = slack_env.messages["C0DEPLOYS"][0]
    # WHEN an allowed user approves it from its message
    [approve] = [b for b in buttons(message, "approval_") if b.get("style") == "primary"]
    click(front, message, approve)
    values = {"reason": {"text": {"type": "plain_text_input", "value": "ship it"}}}
    submit(front, slack_env.views[-1], "V1", values=values)
    # THEN the click is refused saying which account to add, and the hub's same-named approval
    # was neither read nor answered
    assert any(f"account {OTHER} is not configured" in r for r in refusals(slack_env))
    assert hub.started("PutApprovalResult") == []
    assert estate.server.calls == []
    assert estate.sts.assumed() == []


def test_without_accounts_an_event_naming_no_account_asks_sts_nothing(
    unlisted: tuple[Estate, Door], slack_env: FakeSlack
) -> None:
    # GIVEN no [[accounts]], and the hub's web-prod deployed d-HUB3
    hub = estate_world = unlisted[0].world(HUB, HUB_REGION)
    hub.add(standard("web-prod"))
    estate_world.run("web-prod", SHA, ago=HOUR, deployment="d-HUB3")
    # WHEN its trigger names no account (an old or hand-made message)
    handler(trigger("", HUB_REGION, "d-HUB3"), LambdaContext())
    # THEN it is read with the function's credentials, and STS was not asked who deploybot is
    assert SHA[:7] in str(_posted(slack_env)[0]["blocks"])
    assert unlisted[0].sts.calls == []


def test_without_accounts_the_hubs_own_event_is_read_with_one_question_to_sts(
    unlisted: tuple[Estate, Door], slack_env: FakeSlack
) -> None:
    estate = unlisted[0]
    hub = estate.world(HUB, HUB_REGION)
    hub.add(standard("web-prod"))
    hub.run("web-prod", SHA, ago=HOUR, deployment="d-HUB4")
    handler(trigger(HUB, HUB_REGION, "d-HUB4"), LambdaContext())
    handler(trigger(HUB, HUB_REGION, "d-HUB4", "FAILED"), LambdaContext())
    assert SHA[:7] in str(_posted(slack_env)[0]["blocks"])
    assert set(estate.signers()) == {(HUB, HUB_REGION)}
    assert [c.action for c in estate.sts.calls] == ["GetCallerIdentity"]


def test_the_templates_account_id_spares_the_question_to_sts(
    unlisted: tuple[Estate, Door], slack_env: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the function's own account in DEPLOYBOT_ACCOUNT_ID, as the SAM template sets it
    monkeypatch.setenv("DEPLOYBOT_ACCOUNT_ID", HUB)
    estate = unlisted[0]
    hub = estate.world(HUB, HUB_REGION)
    hub.add(standard("web-prod"))
    hub.run("web-prod", SHA, ago=HOUR, deployment="d-HUB5")
    # WHEN its own deployment and another account's arrive
    handler(trigger(HUB, HUB_REGION, "d-HUB5"), LambdaContext())
    handler(trigger(OTHER, HUB_REGION, "d-OTHER5"), LambdaContext())
    # THEN its own is read, the other is not, and STS was never asked
    posted = _posted(slack_env)
    assert SHA[:7] in str(posted[0]["blocks"])
    assert f"account {OTHER} is not configured" in _context(posted[1])
    assert set(estate.signers()) == {(HUB, HUB_REGION)}
    assert estate.sts.calls == []


@pytest.fixture
def expiring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Estate]:
    # Credentials that expire in 5 minutes: inside botocore's 10-minute mandatory window, so
    # their first use renews them.
    yield from serve_estate(monkeypatch, tmp_path, seconds=300)


def test_a_role_that_stops_being_assumable_in_a_warm_container_is_named_and_backed_off(
    expiring: Estate, slack_env: FakeSlack
) -> None:
    # GIVEN a warm container that assumed the spoke's role (credentials due for renewal)
    _spoke_deploys(expiring, "d-SPOKE9")
    expiring.world(SPOKE, SPOKE_REGION).run("web-prod", SHA, ago=HOUR / 2, deployment="d-SPOKE10")
    accounts_of(load_config()).place(SPOKE, SPOKE_REGION)
    assert len(expiring.sts.assumed(SPOKE_ROLE)) == 1
    # AND then the role's trust policy no longer names deploybot's role
    expiring.sts.roles[SPOKE_ROLE] = Trust(frozenset())
    # WHEN a deployment of the spoke arrives, and another one after it
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE9"), LambdaContext())
    handler(trigger(SPOKE, SPOKE_REGION, "d-SPOKE10"), LambdaContext())
    # THEN each message names the role and the trust it lacks
    first, second = (_context(p) for p in _posted(slack_env))
    for context in (first, second):
        assert f"could not assume {SPOKE_ROLE} for account prod (AccessDenied)" in context
        assert "trust policy must let deploybot's role call sts:AssumeRole" in context
    # AND STS was asked once to renew them, not once per call: the failure is held off for
    # FAILURE_SECONDS, as a first AssumeRole's is
    assert len(expiring.sts.assumed(SPOKE_ROLE)) == 2
    # AND nothing was read with the hub's credentials instead
    assert HUB_KEY not in expiring.access_keys()
