"""Freeze and Unfreeze end to end: `/deploy-status NAME` shows frozen stages and offers the
buttons, clicks go through the Lambda handler, and the stateful CodePipeline stand-in answers
GetPipelineState and Disable/EnableStageTransition as the API reference says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks import ids
from tests.doors import CHANNEL, Door, buttons, click, open_door, refusals, status
from tests.fake_deploys import standard
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack

PIPELINE = "web-prod"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
CONFIG = """
[slack]
channel = "C0DEPLOYS"

[rollback]
users = ["U0ALLOWED", "U0SECOND"]
channels = ["C0DEPLOYS"]

[[rollback.pipelines]]
pipeline = "web-prod"
"""


@pytest.fixture
def door(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Door]:
    yield from open_door(monkeypatch, tmp_path, aws_env, slack_env, CONFIG)


def _status(door: Door, name: str = PIPELINE) -> dict[str, Any]:
    return status(door, name)


def _pipeline(door: Door) -> None:
    door.world.add(standard(PIPELINE))
    door.world.run(PIPELINE, SHA, ago=3600)


def test_freeze_from_deploy_status_then_unfreeze(door: Door) -> None:
    _pipeline(door)
    # GIVEN the detail answer: it offers Freeze for the deploy stage
    answer = _status(door)
    [freeze] = buttons(answer, "stage_")
    assert (freeze["action_id"], json.loads(freeze["value"])) == (
        ids.FREEZE,
        {"p": PIPELINE, "t": "Deploy", "r": "eu-west-1"},
    )
    # WHEN an allowed user presses it in that private answer
    click(door, None, freeze)
    # THEN the transition into Deploy is disabled once, the reason naming the user
    [sent] = door.world.started("DisableStageTransition")
    assert sent["stageName"] == "Deploy" and sent["transitionType"] == "Inbound"
    assert "U0ALLOWED" in sent["reason"] and len(sent["reason"]) <= 300
    # AND the channel is told (a private answer has no thread)
    [told] = [p for p in door.slack.posts if ":lock:" in p["text"]]
    assert told["channel"] == CHANNEL and "thread_ts" not in told
    assert "<@U0ALLOWED> froze Deploy of web-prod" in told["text"]
    # WHEN /deploy-status is asked again: the stage shows frozen, by whom, and Unfreeze
    answer = _status(door)
    stages = json.dumps(answer["blocks"])
    assert ":lock: frozen by deploybot: Frozen from Slack by dev U0ALLOWED with deploybot" in stages
    [unfreeze] = buttons(answer, "stage_")
    assert unfreeze["action_id"] == ids.UNFREEZE
    click(door, None, unfreeze, user="U0SECOND", action_ts="1700000200.000100")
    assert len(door.world.started("EnableStageTransition")) == 1
    assert door.world.pipelines[PIPELINE].transitions["Deploy"]["enabled"] is True


def test_a_second_freeze_is_told_who_froze_it_and_sends_nothing(door: Door) -> None:
    _pipeline(door)
    [freeze] = buttons(_status(door), "stage_")
    click(door, None, freeze)
    click(door, None, freeze, user="U0SECOND", action_ts="1700000200.000100")
    assert len(door.world.calls("DisableStageTransition")) == 1
    assert "Deploy of web-prod is already frozen (by deploybot" in refusals(door.slack)[-1]


def test_a_stranger_freezes_nothing_and_reads_nothing(door: Door) -> None:
    _pipeline(door)
    [freeze] = buttons(_status(door), "stage_")
    read = len(door.calls())
    click(door, None, freeze, user="U0STRANGER")
    assert "you are not in rollback.users" in refusals(door.slack)[-1]
    # THEN no AWS call at all: not the write, not even GetPipeline for the deploy stage
    assert door.calls()[read:] == []


def test_no_button_for_a_pipeline_the_config_does_not_name(door: Door) -> None:
    door.world.add(standard("api-prod"))
    door.world.run("api-prod", SHA, ago=3600)
    assert buttons(_status(door, "api-prod"), "stage_") == []


def test_a_lost_freeze_answer_is_read_back(door: Door) -> None:
    _pipeline(door)
    door.world.fail("DisableStageTransition", "lose")
    [freeze] = buttons(_status(door), "stage_")
    click(door, None, freeze)
    assert len(door.world.calls("DisableStageTransition")) == 1
    assert "deploybot read AWS and found it frozen" in json.dumps(door.slack.posts)
