"""The release diff end to end: an SNS notification through `bot.lambda_function.handler`, AWS
as a local fake (AWS JSON 1.1 over HTTP), GitHub's compare API and Slack's Web API as local
fakes, every client the real one. And `deploybot render` with the same three."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import aws, lambda_function
from bot.aws import release
from bot.cli import main
from bot.github import GitHub
from tests.conftest import OWN_ACCOUNT, load_sample
from tests.fake_aws import FakeAws
from tests.fake_github import Author, FakeGitHub
from tests.fake_slack import TOKEN, FakeSlack, slack_user
from tests.fake_sts import FakeSts

REPO = "my-org/my-repo"
EXECUTION = "5b1ee5a2-0000-4000-8000-0000000000c4"
BEFORE = "4a0dd4a1-0000-4000-8000-0000000000b3"
STARTED = datetime(2026, 11, 20, 11, 13, 23, tzinfo=UTC)


def _notification(sha: str) -> dict[str, Any]:
    """The captured 'execution failed (GitHub)' notification as a success of our execution,
    in our region, naming commit `sha`; delivered by SNS to Lambda."""
    message = copy.deepcopy(load_sample("codepipeline-notification-execution-failed-github.json"))
    message.update(region="eu-west-2", account=OWN_ACCOUNT)  # the capture's is redacted
    detail = message["detail"]
    detail.update(state="SUCCEEDED", pipeline="web-prod")
    detail["execution-id"] = EXECUTION
    detail["start-time"] = STARTED.isoformat().replace("+00:00", "Z")
    detail["execution-trigger"].update({"commit-id": sha, "full-repository-name": REPO})
    envelope = copy.deepcopy(load_sample("sns-lambda-event-envelope.json"))
    envelope["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return envelope


def _history(live_sha: str, head_sha: str) -> dict[str, Any]:
    """list_pipeline_executions: our execution (running), and the one before it, a success."""

    def entry(execution: str, status: str, started: datetime, sha: str) -> dict[str, Any]:
        return {
            "pipelineExecutionId": execution,
            "status": status,
            "startTime": started.timestamp(),
            "lastUpdateTime": (started + timedelta(minutes=4)).timestamp(),
            "sourceRevisions": [
                {
                    "actionName": "Source",
                    "revisionId": sha,
                    "revisionSummary": json.dumps(
                        {"ProviderType": "GitHub", "CommitMessage": "a commit"}
                    ),
                    "revisionUrl": "https://eu-west-2.console.aws.amazon.com/codesuite/settings/"
                    f"connections/redirect?FullRepositoryId={REPO}&Commit={sha}",
                }
            ],
            "trigger": {"triggerType": "WebhookV2", "triggerDetail": "arn:connection"},
        }

    return {
        "pipelineExecutionSummaries": [
            entry(EXECUTION, "InProgress", STARTED, head_sha),
            entry(BEFORE, "Succeeded", STARTED - timedelta(hours=2), live_sha),
        ]
    }


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_slack: FakeSlack, fake_sts: FakeSts
) -> Iterator[tuple[FakeAws, FakeGitHub, FakeSlack, list[str]]]:
    """AWS, GitHub and Slack as local fakes; commits 1..3 are new since commit 0 went live."""
    github = FakeGitHub.start()
    repo = github.repository(REPO)
    alice = Author("Github User", "user@host.com", "github-user")
    bob = Author("Bob", "bob@example.com")
    shas = [repo.add(f"Change {i}", alice if i % 2 else bob) for i in range(4)]
    fake = FakeAws.start({"ListPipelineExecutions": _history(shas[0], shas[3])})
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    env = {
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_CODEPIPELINE": fake.url,
        "AWS_ENDPOINT_URL_CODEDEPLOY": fake.url,
        "AWS_ENDPOINT_URL_STS": fake_sts.url,
        "GITHUB_API_URL": "https://api.github.com",  # github.com's repositories are asked...
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fake_sts.accounts["x"] = OWN_ACCOUNT
    # ...and the real client that would go to api.github.com goes to the fake (no internet)
    monkeypatch.setattr(
        release, "GitHub", lambda _api, token: GitHub(github.url, token), raising=True
    )
    fake_slack.scopes += ",users:read.email"
    fake_slack.users = {"user@host.com": slack_user("U0GHUSER", "user@host.com")}
    for cached in (aws._client, aws._session, aws.unavailable_reason, lambda_function._enrich):
        cached.cache_clear()
    yield fake, github, fake_slack, shas
    fake.close()
    github.close()


def test_a_pipeline_success_posts_what_changed_and_who_started_it(
    world: tuple[FakeAws, FakeGitHub, FakeSlack, list[str]],
) -> None:
    fake, github, slack, shas = world
    # WHEN the notification of the execution shipping commit 3 reaches the Lambda function
    result = lambda_function.handler(_notification(shas[3]), None)
    # THEN one message was posted, with the diff since commit 0 (what the last success shipped)
    assert result == {"posted": 1, "skipped": 0}
    [post] = slack.posts
    blocks = json.dumps(post["blocks"])
    assert "*3 commits* by <@U0GHUSER> and Bob since `" + shas[0][:7] in blocks
    assert f"https://github.com/{REPO}/compare/{shas[0]}...{shas[3]}" in blocks
    # AND who started it: the pusher, found in Slack by the e-mail git recorded
    assert "webhook push by <@U0GHUSER>" in blocks
    # AND AWS was asked for the history once, GitHub for one page, Slack once per e-mail
    assert fake.operations() == ["ListPipelineExecutions"]
    assert len(github.requests()) == 1
    assert sorted(c["email"] for c in slack.calls_to("users.lookupByEmail")) == [
        "bob@example.com",
        "user@host.com",
    ]


def test_render_shows_the_diff_too(
    world: tuple[FakeAws, FakeGitHub, FakeSlack, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, _, shas = world
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(_notification(shas[3])), encoding="utf-8")
    # WHEN rendered as JSON
    assert main(["render", str(payload), "--json"]) == 0
    # THEN the same diff is in what would be posted
    [message] = json.loads(capsys.readouterr().out)
    assert "*3 commits*" in json.dumps(message["blocks"])
