"""Several AWS accounts for a test: a hub (deploybot's own) and spokes, each with its own
CodePipeline/CodeDeploy world, behind one HTTP endpoint that answers each call with the world of
the account whose credentials signed it, in the region it was signed for (tests/fake_aws.py's
router); and STS (tests/fake_sts.py) issuing each spoke role's credentials to the hub alone.

The hub signs with the `aws_credentials` fixture's key ("testing"); a spoke's calls must carry a
key STS issued for its role. A call signed with a key nobody issued is refused as AWS refuses it
(UnrecognizedClientException); a world nobody set up for an account and region answers as an
empty account does (PipelineNotFoundException, DeploymentDoesNotExistException...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot import aws
from tests.fake_aws import FakeAws
from tests.fake_deploys import World
from tests.fake_sts import FakeSts, Trust

HUB = "111111111111"
HUB_KEY = "testing"  # the aws_credentials fixture's access key: the function's own role
HUB_REGION = "eu-west-1"
SPOKE = "222222222222"
SPOKE_REGION = "us-east-1"
SPOKE_ROLE = f"arn:aws:iam::{SPOKE}:role/deploybot-spoke"
OTHER = "333333333333"  # an account nobody configured

CONFIG = f"""
[slack]
channel = "C0DEPLOYS"

[[accounts]]
id = "{HUB}"
name = "tools"

[[accounts]]
id = "{SPOKE}"
name = "prod"
role_arn = "{SPOKE_ROLE}"
regions = ["{SPOKE_REGION}"]
"""


@dataclass
class Estate:
    """The accounts, their worlds, the shared endpoint and STS."""

    sts: FakeSts
    server: FakeAws
    worlds: dict[tuple[str, str], World] = field(default_factory=dict)

    def world(self, account: str, region: str) -> World:
        """The world of one account and region (made empty on first use)."""
        return self.worlds.setdefault((account, region), World())

    def account_of(self, key: str) -> str:
        """The account whose credentials `key` is ("" when nobody issued it)."""
        if key == HUB_KEY:
            return HUB
        role = self.sts.role_of(key)
        return role.split(":")[4] if role else ""

    def signers(self) -> list[tuple[str, str]]:
        """(account, region) of every CodePipeline/CodeDeploy call, in order."""
        return [(self.account_of(k), r) for k, r in self.server.signers()]

    def access_keys(self) -> list[str]:
        """The access key of every CodePipeline/CodeDeploy call, in order."""
        return [k for k, _ in self.server.signers()]


def serve_estate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: str = CONFIG, **trust: Any
) -> Iterator[Estate]:
    """The estate behind AWS_ENDPOINT_URL_*, and `config` as the Lambda's config file.

    `trust`: the spoke role's trust (`external_id`), and `seconds` its credentials last.
    """
    path = tmp_path / "deploybot.toml"
    path.write_text(config)
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(path))
    monkeypatch.setenv("AWS_DEFAULT_REGION", HUB_REGION)
    roles = {SPOKE_ROLE: Trust(frozenset({HUB_KEY}), trust.get("external_id", ""))}
    sts = FakeSts.start(roles, {HUB_KEY: HUB}, seconds=trust.get("seconds", 3600))
    estate = Estate(sts, FakeAws(answers={}))
    cache: dict[tuple[str, str], dict[str, Any]] = {}

    def route(key: str, region: str) -> dict[str, Any] | None:
        account = estate.account_of(key)
        if not account:
            return None
        if (account, region) not in cache:
            cache[(account, region)] = estate.world(account, region).answers()
        return cache[(account, region)]

    estate.server = FakeAws.start({}, router=route)
    for world in estate.worlds.values():
        world.server = estate.server
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", estate.server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", estate.server.url)
    monkeypatch.setattr(aws, "READ_TIMEOUT_SECONDS", 0.5)
    yield estate
    estate.server.close()
    sts.close()


def trigger(
    account: str, region: str, deployment: str, status: str = "SUCCEEDED"
) -> dict[str, Any]:
    """A Lambda SNS event carrying a CodeDeploy trigger message of `account` in `region`."""
    message = {
        "region": region,
        "accountId": account,
        "eventTriggerName": "deploybot",
        "applicationName": "web",
        "deploymentId": deployment,
        "deploymentGroupName": "prod",
        "createTime": "Thu Oct 13 15:50:45 UTC 2026",
        "completeTime": "Thu Oct 13 15:59:37 UTC 2026",
        "deploymentOverview": json.dumps({"Succeeded": 1, "Failed": 0, "Skipped": 0}),
        "status": status,
    }
    topic = f"arn:aws:sns:{region}:{account}:deploybot"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:0f3e2d1c",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"message-{account}-{deployment}",
                    "TopicArn": topic,
                    "Subject": f"{status}: AWS CodeDeploy {deployment} in {region} to web",
                    "Message": json.dumps(message),
                    "Timestamp": "2026-10-13T15:59:37.312Z",
                },
            }
        ]
    }
