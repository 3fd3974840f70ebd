"""`deploybot check`: is the configuration valid, is Slack reachable, is AWS access granted?

Each check says what it found and, when it fails, what to do about it. The I/O is Slack's Web
API (auth.test, conversations.info/list) and one read call per configured AWS resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.config import Config

# Scopes the code uses (manifest.yml): posting, the slash command, and reading channels here.
REQUIRED_SCOPES = ("chat:write", "commands")


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def _channels(config: Config) -> list[str]:
    return list(dict.fromkeys([config.default_channel, *(r.channel for r in config.routes)]))


def check_slack(config: Config, client: WebClient) -> Iterator[Check]:
    """The token works, has the scopes, and every configured channel can be posted to."""
    if not config.slack_bot_token:
        if config.slack_webhook_url:
            yield Check("Slack", True, "incoming webhook (its channel is fixed; no token checks)")
        else:
            yield Check(
                "Slack credentials",
                False,
                "no bot token and no webhook",
                "set SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_PARAMETER on AWS)",
            )
        return
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "")
        yield Check(
            "Slack token",
            False,
            f"auth.test answered {error}",
            "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions",
        )
        return
    except SlackClientError as exc:
        yield Check("Slack token", False, f"Slack unreachable: {exc}", "check SLACK_API_URL")
        return
    yield Check("Slack token", True, f"bot {auth.get('user_id')} in workspace {auth.get('team')}")
    scopes = {s.strip() for s in auth.headers.get("x-oauth-scopes", "").split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    yield Check(
        "Slack scopes",
        not missing,
        ", ".join(sorted(scopes)) or "none reported",
        f"add {', '.join(missing)} (manifest.yml) and reinstall the app" if missing else "",
    )
    can_read = {"channels:read", "groups:read"} <= scopes
    for channel in _channels(config):
        yield _check_channel(
            client, channel, public_ok="chat:write.public" in scopes, can_read=can_read
        )


def _find_channel(client: WebClient, channel: str) -> dict[str, Any] | None:
    if not channel.startswith("#"):
        return dict(client.conversations_info(channel=channel)["channel"])
    name = channel[1:]
    cursor = None
    for _ in range(50):  # 50 pages of 1000: a workspace larger than that is checked in part
        page = client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=1000,
            cursor=cursor,
        )
        for found in page["channels"]:
            if found.get("name") == name:
                return dict(found)
        metadata: dict[str, str] = page.get("response_metadata") or {}
        cursor = metadata.get("next_cursor")
        if not cursor:
            break
    return None


def _check_channel(client: WebClient, channel: str, *, public_ok: bool, can_read: bool) -> Check:
    name = f"channel {channel}"
    if not can_read:
        return Check(name, True, "not verified: the app lacks channels:read and groups:read")
    try:
        info = _find_channel(client, channel)
    except SlackApiError as exc:
        info = None if exc.response.get("error") == "channel_not_found" else {"error": exc}
    if info is None:
        return Check(
            name,
            False,
            "not found, or private without the bot",
            f"create it, or invite the bot: /invite @deploybot in {channel}",
        )
    if "error" in info:
        return Check(name, False, f"could not look it up: {info['error']}")
    if info.get("is_archived"):
        return Check(name, False, "archived", "unarchive it or route elsewhere")
    if info.get("is_member"):
        return Check(name, True, "the bot is a member")
    if not info.get("is_private") and public_ok:
        return Check(name, True, "public; the bot posts with chat:write.public")
    return Check(name, False, "the bot is not a member", f"/invite @deploybot in {channel}")


def check_signing_secret(config: Config) -> Check:
    """The Slack door cannot verify requests without the signing secret."""
    if config.slack_signing_secret:
        return Check("Slack signing secret", True, "set")
    return Check(
        "Slack signing secret",
        False,
        "missing: /deploy-status and buttons answer 500",
        "set SLACK_SIGNING_SECRET (Basic Information → App Credentials)",
    )


def check_aws(config: Config, codepipeline: Any, codedeploy: Any) -> Iterator[Check]:
    """One read call per pipeline and deployment group the configuration names."""
    pipelines = list(
        dict.fromkeys([*(m.pipeline for m in config.pipelines), *config.watched_pipelines])
    )
    if config.enrich.discover or not pipelines:
        yield _attempt("list pipelines", codepipeline, "list_pipelines")
    for pipeline in pipelines:
        yield _attempt(f"pipeline {pipeline}", codepipeline, "get_pipeline", name=pipeline)
    for mapping in config.pipelines:
        for application in mapping.applications:
            for group in mapping.deployment_groups:
                yield _attempt(
                    f"deployment group {application}/{group}",
                    codedeploy,
                    "get_deployment_group",
                    applicationName=application,
                    deploymentGroupName=group,
                )


def _attempt(label: str, client: Any, operation: str, **params: Any) -> Check:
    """Make one read call; a refusal names the IAM action to grant."""
    from bot import aws

    try:
        aws.call(client, operation, **params)
    except aws.AwsError as exc:
        problem = exc.problem
        fix = {
            "denied": f"grant {problem.action} to deploybot's role",
            "credentials": "configure AWS credentials",
            "timeout": "check the network path to AWS and the region",
        }.get(problem.kind, "")
        return Check(label, False, problem.message or problem.reason, fix)
    return Check(label, True, "readable" if params else "permitted")


def format_checklist(checks: list[Check]) -> str:
    """The checklist as a reader sees it: ✓ or ✗, what was found, and what to fix."""
    lines = []
    for check in checks:
        mark = "✓" if check.ok else "✗"
        line = f"{mark} {check.name}" + (f": {check.detail}" if check.detail else "")
        if check.fix:
            line += f"\n    → {check.fix}"
        lines.append(line)
    failed = sum(not c.ok for c in checks)
    lines.append(f"\n{len(checks) - failed} of {len(checks)} checks passed")
    return "\n".join(lines)
