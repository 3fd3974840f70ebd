"""Enrichment through the standard boto3 environment: the CLI and the Lambda entry point.

AWS is a local fake on loopback (AWS_ENDPOINT_URL_<SERVICE>); without a region or credentials
the CLI still renders, with a note, and without touching the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import aws, lambda_function
from bot.cli import main
from tests.aws_data import SHA_A, actions_page, deploy_execution, source_execution
from tests.conftest import SAMPLES, load_sample
from tests.fake_aws import FakeAws
from tests.fake_slack import TOKEN, FakeSlack
from tests.fake_sts import FakeSts

SUCCESS = str(SAMPLES / "codedeploy-trigger-success.json")  # d-MainDeployment, eu-west-2
CONFIG = """
[[pipelines]]
pipeline = "status-pipeline"
application = "temporary-status"
deployment_group = "temporary-status-deployment"
"""
_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CODEPIPELINE",
    "AWS_ENDPOINT_URL_CODEDEPLOY",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def _clear_caches() -> None:
    for cached in (aws._client, aws.unavailable_reason, aws._session):
        cached.cache_clear()
    for cached in (lambda_function._config, lambda_function._poster, lambda_function._enrich):
        cached.cache_clear()


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No AWS account at all: no credentials, no region, no profile, no instance metadata."""
    for key in _AWS_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _clear_caches()
    yield monkeypatch
    _clear_caches()


@pytest.fixture
def fake_aws(no_aws: pytest.MonkeyPatch, fake_sts: FakeSts) -> Iterator[FakeAws]:
    """A fake CodePipeline/CodeDeploy with d-MainDeployment deployed from commit A, in the
    account of the sample's trigger (STS says the credentials are that account's)."""
    fake_sts.accounts["x"] = "677183322136"
    no_aws.setenv("AWS_ENDPOINT_URL_STS", fake_sts.url)
    page = actions_page(
        deploy_execution("a1a1a1a1-0000-4000-8000-00000000000a", "d-MainDeployment"),
        source_execution("a1a1a1a1-0000-4000-8000-00000000000a", SHA_A, "Fix the login page"),
    )
    fake = FakeAws.start({"ListActionExecutions": page})
    no_aws.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    no_aws.setenv("AWS_ACCESS_KEY_ID", "x")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "x")
    no_aws.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", fake.url)
    no_aws.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", fake.url)
    yield fake
    fake.close()


def _config_file(tmp_path: Path) -> str:
    path = tmp_path / "deploybot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def test_render_without_a_region_says_lookups_were_skipped(
    no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no AWS setup at all; WHEN a user renders a sample
    status = main(["render", SUCCESS])
    # THEN it renders, exits 0, and says why there is no commit
    out = capsys.readouterr().out
    assert status == 0
    assert "Deployment succeeded" in out
    assert "AWS lookups skipped: no AWS region is configured" in out


def test_render_without_credentials_says_lookups_were_skipped(
    no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a region but no credentials; WHEN rendered
    no_aws.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    status = main(["render", SUCCESS])
    # THEN exit 0 with the note
    assert status == 0
    assert "AWS lookups skipped: no AWS credentials were found" in capsys.readouterr().out


def test_render_offline_makes_no_lookup(
    fake_aws: FakeAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a reachable AWS; WHEN rendered with --offline
    status = main(["render", SUCCESS, "--offline", "--config", _config_file(tmp_path)])
    # THEN no call was made and no commit shown
    assert status == 0
    assert fake_aws.calls == []
    assert "Commit" not in capsys.readouterr().out


def test_render_enriches_through_the_endpoint_environment(
    fake_aws: FakeAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN AWS_ENDPOINT_URL_* pointing at the fake and a pipeline mapping
    # WHEN rendered as JSON
    status = main(["render", SUCCESS, "--json", "--config", _config_file(tmp_path)])
    # THEN the boto3 client asked for the pipeline's action executions, and the commit is shown
    # (and, for the release diff, for the pipeline's executions: this fake has none to give)
    assert status == 0
    [call] = [c for c in fake_aws.calls if c.operation == "ListActionExecutions"]
    assert call.params == {"pipelineName": "status-pipeline", "maxResults": 100}
    assert sorted(fake_aws.operations()) == ["ListActionExecutions", "ListPipelineExecutions"]
    [message] = json.loads(capsys.readouterr().out)
    assert SHA_A[:7] in message["text"]


def test_lambda_posts_the_enriched_message(
    fake_aws: FakeAws,
    fake_slack: FakeSlack,
    no_aws: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # GIVEN the Lambda's environment: Slack token and API URL, config file, AWS endpoints
    no_aws.setenv("SLACK_BOT_TOKEN", TOKEN)
    no_aws.setenv("SLACK_API_URL", fake_slack.api_url)
    no_aws.setenv("DEPLOYBOT_CONFIG", _config_file(tmp_path))
    # WHEN the SNS event arrives
    result = lambda_function.handler(load_sample("codedeploy-trigger-success.json"), None)
    # THEN one message was posted, naming the commit the deployment shipped
    assert result == {"posted": 1, "skipped": 0}
    [post] = fake_slack.posts
    assert SHA_A[:7] in post["text"]
    assert sorted(fake_aws.operations()) == ["ListActionExecutions", "ListPipelineExecutions"]
