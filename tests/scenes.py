"""The README's screenshots as pages: real messages, built by deploybot's own code from the
samples and the captured AWS answers, delivered as they would be on AWS (living messages).

tests/test_preview_html.py renders every scene (and loads it in Chromium when installed);
scripts/screenshots.py takes the pictures in docs/img/.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from botocore.stub import Stubber

from blocks.deploy_status import build_answer
from bot.aws.deploy_status import look_up
from bot.aws.discovery import LIST_PIPELINES_PAGE_SIZE
from bot.domain.codedeploy import first_failure
from bot.domain.codepipeline import SourceRevision, commit_from_revision
from bot.domain.config import Config, RollbackGroup, RollbackSettings
from bot.domain.events import parse_payload
from bot.domain.model import Deployment
from bot.preview_html import page
from bot.slack import MessageRef
from bot.store import SqliteStore
from handlers.living import LivingDelivery
from tests import aws_responses as r
from tests.aws_data import (
    APP,
    GROUP,
    REGION,
    REPO,
    SHA_A,
    clients,
    codestar_summary,
    deploy_failure,
    deploy_success,
)
from tests.conftest import load_fixture, load_sample

CHANNEL = "#deployments"
COMMIT = commit_from_revision(
    SourceRevision(
        sha=SHA_A,
        action="AppSource",
        provider="CodeStarSourceConnection",
        summary=codestar_summary("Fix the login page\n\nThe session cookie kept its old domain."),
        branch="main",
        repository=REPO,
    ),
    REGION,
    confirmed=True,
)
BASE = Config(
    default_channel=CHANNEL,
    sites={GROUP: "https://status.example.com"},
    failure_mentions=("S0PLATFORM",),
)


@dataclass(frozen=True, slots=True)
class Scene:
    """A page to show, and how to show it."""

    title: str
    posts: list[dict[str, Any]]
    fragment: str = ""  # "#confirm" opens the first confirm dialog
    min_height: int = 0

    def html(self) -> str:
        return page(self.posts, title=self.title)


class Channel:
    """Slack's side, in memory: the messages LivingDelivery posts and edits (an Editor)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._ts = itertools.count(1_700_000_000)

    def post(self, message: dict[str, Any]) -> MessageRef:
        ts = f"{next(self._ts)}.000100"
        self.messages.append({**message, "ts": ts})
        return MessageRef(str(message["channel"]), ts)

    def update(self, ref: MessageRef, message: dict[str, Any]) -> None:
        for shown in self.messages:
            if shown["ts"] == ref.ts:
                shown.update({k: message[k] for k in ("text", "blocks") if k in message})

    def find(self, channel: str, key: str, slot: str, oldest: float) -> MessageRef | None:
        return None

    def posts(self) -> list[dict[str, Any]]:
        """Top-level messages, each with its thread's replies."""
        top = [m for m in self.messages if "thread_ts" not in m]
        return [
            {**m, "replies": [r for r in self.messages if r.get("thread_ts") == m["ts"]]}
            for m in top
        ]


def delivered(events: Iterable[Deployment], config: Config = BASE) -> list[dict[str, Any]]:
    """What the channel shows after deploybot delivered `events` as living messages."""
    channel = Channel()
    delivery = LivingDelivery(config, channel, SqliteStore(":memory:"))
    for event in events:
        delivery.deliver(event)
    return channel.posts()


def success() -> Scene:
    return Scene("deployments", delivered([replace(deploy_success(), commit=COMMIT)]))


def failure() -> Scene:
    detail = first_failure(
        load_fixture("api/codedeploy-batch-get-deployment-targets-failed-meerkat.json")
    )
    assert detail is not None
    failed = replace(deploy_failure(), commit=COMMIT, failure_details=(detail,))
    return Scene("deployments", delivered([failed]))


def living(events_so_far: int = 12) -> Scene:
    """A pipeline execution mid-way: source and build done, the deploy stage running."""
    flow = load_sample("codepipeline-notification-flow-failed-codedeploy.json")
    events = [e for item in flow[:events_so_far] for e in parse_payload(item)]
    return Scene("deployments", delivered(events))


def deploy_status() -> Scene:
    """`/deploy-status SentinelAwsMonitorCI`: its stages and last executions (ephemeral)."""
    codepipeline, codedeploy = clients()
    with Stubber(codepipeline) as stub:
        stub.add_response(
            "list_pipelines",
            {"pipelines": [{"name": r.PIPELINE}]},
            {"maxResults": LIST_PIPELINES_PAGE_SIZE},
        )
        stub.add_response("get_pipeline_state", r.pipeline_state(), {"name": r.PIPELINE})
        stub.add_response(
            "list_pipeline_executions",
            r.executions(),
            {"pipelineName": r.PIPELINE, "maxResults": 5},
        )
        lookup = look_up(r.PIPELINE, Config(), codepipeline, codedeploy)
        stub.assert_no_pending_responses()
    answer = build_answer(lookup, query=r.PIPELINE, share=True)
    return Scene("#deployments", [{**answer, "response_type": "ephemeral"}])


def rollback_confirm() -> Scene:
    """A successful deployment with Roll back to this, its confirm dialog open."""
    rollback = RollbackSettings(
        deployment_groups=(RollbackGroup(APP, GROUP, "production"),),
        users=("U012ABC",),
        channels=("C0DEPLOYS",),
    )
    config = replace(BASE, rollback=rollback)
    posts = delivered([replace(deploy_success(), commit=COMMIT)], config)
    return Scene("deployments", posts, fragment="#confirm", min_height=480)


SCENES: dict[str, Callable[[], Scene]] = {
    "success": success,
    "failure": failure,
    "living": living,
    "deploy-status": deploy_status,
    "rollback-confirm": rollback_confirm,
}
