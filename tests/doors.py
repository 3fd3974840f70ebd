"""The Slack door's surroundings for action tests: the stateful AWS stand-in, the Lambda and Slack
stand-ins and a config file; really signed clicks and modal submissions through the Lambda
handler, with Bolt's lazy invocations replayed as AWS would run them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import signature

from bot import aws
from bot.config import load_config
from bot.domain.claims import Claim, claim_key, load_claim
from bot.lambda_function import handler
from bot.store import Store, make_store
from tests.fake_deploys import World
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack
from tests.slack_requests import (
    LambdaContext,
    block_actions,
    function_url_event,
    slash_command,
    view_submission,
)

CHANNEL = "C0DEPLOYS"


@dataclass
class Door:
    """The Lambda's surroundings: the AWS world, the Lambda and Slack stand-ins, the config."""

    world: World
    lam: FakeLambda
    slack: FakeSlack
    config: Path

    def calls(self) -> list[str]:
        """Every CodePipeline/CodeDeploy operation that reached the stand-in."""
        assert self.world.server is not None
        return self.world.server.operations()

    def store(self) -> Store:
        """The store the Lambda uses (the SQLite file of DEPLOYBOT_STORE_PATH)."""
        store = make_store(load_config())
        assert store is not None
        return store

    def claim(self, environment: str) -> Claim | None:
        record = self.store().get(claim_key(environment))
        return load_claim(record.body) if record else None

    def replay(self, before: int) -> list[dict[str, Any]]:
        """Run the lazy invocations made since `before`, as AWS would; their payloads."""
        lazy = [i.payload for i in self.lam.invocations[before:]]
        for payload in lazy:
            assert handler(payload, LambdaContext())["statusCode"] == 200
        return lazy


def open_door(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    lam: FakeLambda,
    slack: FakeSlack,
    config: str,
) -> Iterator[Door]:
    """A door with `config` as the Lambda's config file, the AWS world served over HTTP."""
    path = tmp_path / "deploybot.toml"
    path.write_text(config)
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(path))
    world = World()
    server = world.serve()
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", server.url)
    # A late answer comes after 1.5 s: the clients stop waiting before.
    monkeypatch.setattr(aws, "READ_TIMEOUT_SECONDS", 0.5)
    yield Door(world, lam, slack, path)
    server.close()


def click(
    door: Door,
    message: dict[str, Any] | None,
    button: dict[str, Any],
    *,
    user: str = "U0ALLOWED",
    channel: str = CHANNEL,
    action_ts: str = "1700000100.000100",
    replay: bool = True,
) -> list[dict[str, Any]]:
    """Click `button` of `message` (None: of a private answer); then let AWS run the lazy
    invocations it caused (unless `replay`). Their payloads."""
    before = len(door.lam.invocations)
    body = block_actions(
        button["action_id"],
        f"{door.slack.url}/actions/1",
        value=button.get("value"),
        user_id=user,
        channel_id=channel,
        message=message,
        action_ts=action_ts,
    )
    assert handler(function_url_event(body), LambdaContext())["statusCode"] == 200
    return door.replay(before) if replay else [i.payload for i in door.lam.invocations[before:]]


def status(door: Door, query: str = "") -> dict[str, Any]:
    """`/deploy-status QUERY` through the Lambda handler, its lazy half run: the private answer."""
    before = len(door.lam.invocations)
    body = slash_command(query, f"{door.slack.url}/commands/1")
    assert handler(function_url_event(body), LambdaContext())["statusCode"] == 200
    door.replay(before)
    return dict(door.slack.calls_to("response_url")[-1])


def submit(
    door: Door,
    view: dict[str, Any],
    view_id: str,
    *,
    values: dict[str, dict[str, Any]] | None = None,
    user: str = "U0ALLOWED",
    replay: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Submit a modal as Slack does; (the ack's response, the lazy invocations' payloads)."""
    before = len(door.lam.invocations)
    body = view_submission(view, view_id, values=values, user_id=user)
    response = handler(function_url_event(body), LambdaContext())
    assert response["statusCode"] == 200
    lazy = door.replay(before) if replay else [i.payload for i in door.lam.invocations[before:]]
    return response, lazy


def refusals(fake: FakeSlack) -> list[str]:
    """What the clicker was told privately: response_url answers, then chat.postEphemeral."""
    answers = fake.calls_to("response_url")
    assert all(a["response_type"] == "ephemeral" for a in answers)
    return [a["text"] for a in answers] + [a["text"] for a in fake.calls_to("chat.postEphemeral")]


def thread(fake: FakeSlack, ts: str) -> list[dict[str, Any]]:
    return [p for p in fake.posts if p.get("thread_ts") == ts]


def thread_text(fake: FakeSlack, ts: str) -> str:
    return "\n".join(
        b["text"]["text"] for p in thread(fake, ts) for b in p["blocks"] if "text" in b
    )


def buttons(message: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The buttons of a message whose action_id starts with `prefix`."""
    return [
        e
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(prefix)
    ]


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """From now on the clock reads `seconds` later (Lambda ran the invocation that late)."""
    real = time.time

    def moved() -> float:
        return real() + seconds

    monkeypatch.setattr(time, "time", moved)
    monkeypatch.setattr(signature.Clock, "now", lambda self: moved())
