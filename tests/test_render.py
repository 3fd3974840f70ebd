"""What users see: snapshots of every sample's message, limits, and hostile text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from blocks.deployment import build_message
from bot.domain.commits import build_commit
from bot.domain.config import Config
from bot.domain.events import parse_payload, parse_text
from bot.domain.model import Deployment, ErrorInfo, FailedAction, Scope, Source, Status
from bot.plan import plan
from tests.blockkit import violations
from tests.conftest import SAMPLE_FILES, load_sample

CONFIG = Config(
    default_channel="#deploys",
    failure_mentions=("S0PLATFORM",),
    sites={"production": "https://www.example.com"},
)


def _planned(path: Path) -> list[dict[str, Any]]:
    return [
        item.message if item.message is not None else {"skipped": item.skip_reason}
        for item in plan(parse_text(path.read_text(encoding="utf-8")), CONFIG)
    ]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_sample_renders_as_snapshot(path: Path, snapshot_json: SnapshotAssertion) -> None:
    # The snapshot is what the channel shows for this payload: review changes as a diff.
    assert _planned(path) == snapshot_json


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_sample_stays_within_block_kit_limits(path: Path) -> None:
    events = parse_text(path.read_text(encoding="utf-8"))
    for event in events:
        message = build_message(event, site_url="https://example.com", mentions=("U1", "here"))
        assert violations(message) == []


def test_default_noise_policy() -> None:
    # GIVEN the real notifications of one successful pipeline run
    planned = plan(
        parse_payload(load_sample("codepipeline-notification-flow-success.json")), Config()
    )
    posted = [(p.event.scope, p.event.status) for p in planned if p.message is not None]
    # THEN only the execution's start and end are posted; stage/action chatter is skipped
    assert posted == [(Scope.PIPELINE, Status.STARTED), (Scope.PIPELINE, Status.SUCCEEDED)]
    assert all(p.skip_reason for p in planned if p.message is None)


def test_failed_stage_and_action_are_posted_by_default() -> None:
    planned = plan(
        parse_payload(load_sample("codepipeline-notification-flow-failed-codedeploy.json")),
        Config(),
    )
    failed = [p.event.scope for p in planned if p.message is not None and p.event.status.is_failure]
    assert Scope.STAGE in failed
    assert Scope.ACTION in failed


HOSTILE = [
    "<!channel> deploy now",
    "<!here|here> <!subteam^S123|team>",
    "ping <@U123> and <#C123>",
    "<http://evil.example|Release notes>",
    "Tom & Jerry <3 > 2",
    "x" * 10_000,
    "\n".join(f"line {i}" for i in range(200)),
    "배포 완료 — 한국어 커밋 메시지 " * 300,
    "🚀👩🏽‍💻🇰🇷 " * 1500,
    "`code` ```fence``` *bold* _it_ ~s~",
]


def _hostile_event(text: str) -> Deployment:
    commit = build_commit(
        sha="0123456789abcdef" + text[:5],
        message=f"{text}\n{text}\n{text}",
        author=text,
        branch=text,
        repository="org/" + text[:50],
        provider="GitHub",
    )
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=Status.FAILED,
        region="us-east-1",
        account="123456789012",
        pipeline=text,
        application=text,
        deployment_group=text,
        deployment_id="d-" + text,
        execution_id=text,
        stage=text,
        action=text,
        commit=commit,
        error=ErrorInfo(code=text, message=text),
        failed_stage=text,
        failed_actions=tuple(FailedAction(action=text, info=text) for _ in range(30)),
        summary=text,
        trigger=text,
        started_at=datetime(2024, 1, 1, tzinfo=UTC),
        notes=(text, text),
    )


def _all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("scope", [Scope.PIPELINE, Scope.GENERIC, Scope.DEPLOYMENT])
def test_hostile_text_cannot_ping_hide_links_or_break_limits(text: str, scope: Scope) -> None:
    # GIVEN every user-controlled field filled with hostile text
    event = replace(_hostile_event(text), scope=scope, subject=text)
    # WHEN it is rendered with a configured mention
    message = build_message(event, site_url="https://example.com", mentions=("U0ONCALL",))
    # THEN it fits every Block Kit limit
    assert violations(message) == []
    rendered = _all_text(message)
    # AND no special mention or link survives except the configured one and our own links
    for sequence in ("<!channel", "<!here", "<!subteam^S123", "<@U123", "<#C123", "<http://evil"):
        assert sequence not in rendered
    assert "<@U0ONCALL>" in rendered


def test_hostile_text_escaped_in_fallback_text() -> None:
    event = _hostile_event("<!channel> & <@U123>")
    text = build_message(event)["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text


def test_commit_body_is_cut_after_ten_lines() -> None:
    commit = build_commit(sha="a" * 40, message="title\n" + "\n".join(f"l{i}" for i in range(30)))
    event = replace(_hostile_event("x"), commit=commit)
    [section] = [
        b["text"]["text"]
        for b in build_message(event)["blocks"]
        if b["type"] == "section" and "text" in b and b["text"]["text"].startswith("*Commit*")
    ]
    assert "> l9" in section
    assert "l10" not in section
    assert section.endswith("> …")


def test_korean_and_emoji_are_never_cut_in_half() -> None:
    text = "배포🇰🇷👩🏽‍💻" * 400
    message = build_message(_hostile_event(text))
    for block in message["blocks"]:
        for piece in json.dumps(block, ensure_ascii=False).split("…")[:-1]:
            # Whatever precedes an ellipsis ends on a whole character cluster.
            assert not piece.endswith(("\u200d", "\U0001f3fd"))
            assert not piece.endswith("🇰")
    assert violations(message) == []
