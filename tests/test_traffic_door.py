"""Reroute, Finish and Stop end to end: a blue/green READY notification folded into its living
message, really signed clicks through the Lambda handler, and the stateful CodeDeploy stand-in
(tests/fake_deploys.py) answering ContinueDeployment and StopDeployment as the API reference
says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from blocks import ids
from bot.config import load_config
from bot.domain.events import parse_payload
from bot.lambda_function import handler
from bot.slack import WebApiPoster, make_web_client
from handlers.notifications import deliver_events
from tests.blockkit import violations
from tests.conftest import load_sample
from tests.doors import (
    CHANNEL,
    Door,
    buttons,
    click,
    later,
    open_door,
    refusals,
    thread,
    thread_text,
)
from tests.fake_aws import Fault
from tests.fake_deploys import Deployment as Deployed
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack
from tests.slack_requests import LambdaContext

CONFIG = """
[slack]
channel = "C0DEPLOYS"

[rollback]
users = ["U0ALLOWED", "U0SECOND"]
channels = ["C0DEPLOYS"]

[[rollback.deployment_groups]]
application = "checkout-ecs"
deployment_group = "production"
"""
IMAGE = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "ab" * 32}}


@pytest.fixture
def door(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Door]:
    yield from open_door(monkeypatch, tmp_path, aws_env, slack_env, CONFIG)


def _ready(door: Door, **extra: Any) -> tuple[Deployed, dict[str, Any]]:
    """A blue/green deployment of checkout-ecs/production waits to reroute; its message."""
    door.world.group("checkout-ecs", "production")
    deployed = door.world.deployment(
        "checkout-ecs", "production", IMAGE, ago=300, status="Ready", blue_green=True, **extra
    )
    event = load_sample("eventbridge-codedeploy-deployment-ready-bluegreen.json")
    # In the AWS clients' region: the deployment is steered there.
    event["region"] = event["detail"]["region"] = "eu-west-1"
    event["detail"]["deploymentId"] = deployed.id
    config = load_config()
    poster = WebApiPoster(make_web_client(config))
    _, failures = deliver_events(parse_payload(event), config, poster, door.store())
    assert failures == []
    return deployed, _message(door)


def _message(door: Door) -> dict[str, Any]:
    [message] = [m for m in door.slack.messages[CHANNEL] if not m.get("thread_ts")]
    return dict(message)


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(b for b in buttons(message, "traffic_") if b["action_id"] == action_id)


def test_a_ready_deployment_offers_reroute_and_stop(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    _, message = _ready(door)
    labels = [b["text"]["text"] for b in buttons(message, "traffic_")]
    assert labels == ["Reroute traffic now", "Stop and roll back"]
    assert violations(message) == []
    assert message["blocks"] == snapshot_json


def _sent(door: Door) -> list[dict[str, Any]]:
    """Every ContinueDeployment and StopDeployment request CodeDeploy received, even refused."""
    return door.world.calls("ContinueDeployment") + door.world.calls("StopDeployment")


def test_reroute_sends_one_continue_deployment_then_finish_sends_the_termination_wait(
    door: Door,
) -> None:
    deployed, message = _ready(door)
    # WHEN an allowed user reroutes, twice (a double click)
    click(door, message, _button(message, ids.TRAFFIC_REROUTE))
    click(door, message, _button(message, ids.TRAFFIC_REROUTE), action_ts="1700000101.000100")
    # THEN CodeDeploy got one ContinueDeployment, READY_WAIT
    assert door.world.calls("ContinueDeployment") == [
        {"deploymentId": deployed.id, "deploymentWaitType": "READY_WAIT"}
    ]
    assert "already did this" in refusals(door.slack)[-1]
    # AND the message no longer offers it; the thread says who did it and offers what follows
    assert buttons(_message(door), "traffic_") == []
    [reply] = thread(door.slack, message["ts"])
    assert "<@U0ALLOWED> rerouted traffic of" in reply["text"]
    reply = {**reply, "ts": door.slack.messages[CHANNEL][-1]["ts"]}
    # WHEN Finish now is pressed in the thread
    click(door, reply, _button(reply, ids.TRAFFIC_FINISH), action_ts="1700000200.000100")
    # THEN one ContinueDeployment, TERMINATION_WAIT
    assert door.world.started("ContinueDeployment")[-1] == {
        "deploymentId": deployed.id,
        "deploymentWaitType": "TERMINATION_WAIT",
    }
    assert len(door.world.started("ContinueDeployment")) == 2
    assert deployed.status == "Succeeded"


def test_stop_and_roll_back_sends_one_stop_deployment_with_auto_rollback(door: Door) -> None:
    deployed, message = _ready(door)
    click(door, message, _button(message, ids.TRAFFIC_STOP))
    assert door.world.started("StopDeployment") == [
        {"deploymentId": deployed.id, "autoRollbackEnabled": True}
    ]
    assert "<@U0ALLOWED> stopped" in thread_text(door.slack, message["ts"])
    assert deployed.status == "Stopped"


def test_a_stranger_changes_nothing(door: Door) -> None:
    _, message = _ready(door)
    click(door, message, _button(message, ids.TRAFFIC_REROUTE), user="U0STRANGER")
    assert door.calls() == []
    assert "you are not in rollback.users" in refusals(door.slack)[-1]


def test_a_deployment_that_moved_on_is_rechecked_and_nothing_is_sent(door: Door) -> None:
    deployed, message = _ready(door)
    deployed.status = "Succeeded"  # rerouted in the console, then finished
    click(door, message, _button(message, ids.TRAFFIC_REROUTE))
    assert _sent(door) == []
    assert "is already Succeeded" in refusals(door.slack)[-1]
    # AND finishing before the termination wait began is refused too
    deployed.status = "Ready"
    click(
        door,
        message,
        _button(message, ids.TRAFFIC_STOP)
        | {"action_id": ids.TRAFFIC_FINISH, "value": json.dumps({"d": deployed.id, "o": "finish"})},
        action_ts="2.2",
    )
    assert "not waiting for that step now (it is READY_WAIT)" in refusals(door.slack)[-1]
    assert _sent(door) == []


def test_a_group_the_config_does_not_name_is_refused(door: Door) -> None:
    _, message = _ready(door)
    door.config.write_text(CONFIG.split("[[rollback.deployment_groups]]", maxsplit=1)[0])
    click(door, message, _button(message, ids.TRAFFIC_REROUTE))
    assert _sent(door) == []
    assert "is not in rollback.deployment_groups" in refusals(door.slack)[-1]


def test_an_aws_error_reaches_the_thread_in_full(door: Door) -> None:
    _, message = _ready(door)

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise Fault(400, "DeploymentIsNotInReadyStateException", "not Ready, can't continue yet")

    assert door.world.server is not None
    door.world.server.answers["ContinueDeployment"] = refuse
    click(door, message, _button(message, ids.TRAFFIC_REROUTE))
    [reply] = thread(door.slack, message["ts"])
    assert (
        "failed: DeploymentIsNotInReadyStateException from codedeploy:ContinueDeployment"
        in (reply["text"])
    )
    assert "not Ready, can't continue yet" in reply["blocks"][0]["text"]["text"]


def test_a_lost_answer_is_read_back(door: Door) -> None:
    _, message = _ready(door)
    door.world.fail("ContinueDeployment", "lose")
    click(door, message, _button(message, ids.TRAFFIC_REROUTE))
    assert len(door.world.calls("ContinueDeployment")) == 1
    assert "read AWS and found it done" in thread_text(door.slack, message["ts"])


def test_a_retried_run_whose_write_aws_does_not_show_yet_sends_nothing_again(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a Reroute click whose run died after claiming, before AWS answered (a timeout)
    from handlers import traffic

    deployed, message = _ready(door)
    sent = traffic._Steer.write

    def dies(self: Any, write: Any) -> str:
        raise TimeoutError("the function timed out")

    monkeypatch.setattr(traffic._Steer, "write", dies)
    lazy = click(door, message, _button(message, ids.TRAFFIC_REROUTE), replay=False)
    for payload in lazy:
        handler(payload, LambdaContext())
    monkeypatch.setattr(traffic._Steer, "write", sent)
    # WHEN Lambda runs it again 50 s later, and AWS still shows the deployment Ready (a
    # ContinueDeployment with no token may yet show: reading cannot prove it was not sent)
    later(monkeypatch, 50)
    for payload in lazy:
        handler(payload, LambdaContext())
    # THEN nothing is sent again: the thread says it may have happened
    assert door.world.calls("ContinueDeployment") == []
    assert deployed.status == "Ready"
    assert "may not have worked" in thread_text(door.slack, message["ts"])
