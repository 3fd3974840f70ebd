"""`deploybot check`: a checklist of what works and what to fix, against the fake Slack and
botocore Stubber."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from bot.check import Check, check_aws, check_slack, format_checklist
from bot.cli import main
from bot.domain.config import Config, PipelineMapping
from bot.slack import make_web_client
from tests.fake_slack import TOKEN, FakeSlack


def _client(service: str) -> object:
    return boto3.client(
        service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _slack_config(fake: FakeSlack, **overrides: object) -> Config:
    return Config(slack_bot_token=TOKEN, slack_api_url=fake.api_url, **overrides)  # type: ignore[arg-type]


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_slack_checks_token_scopes_and_channels(fake_slack: FakeSlack) -> None:
    # GIVEN a public channel the bot has not joined and a private one it is not in
    fake_slack.channels = {
        "C0PUBLIC": {"id": "C0PUBLIC", "name": "deployments", "is_private": False},
        "C0PRIVATE": {"id": "C0PRIVATE", "name": "ops", "is_private": True, "is_member": False},
    }
    from bot.domain.config import Route

    config = _slack_config(fake_slack, routes=(Route(channel="C0PRIVATE"),))
    # WHEN the Slack checks run
    checks = _by_name(list(check_slack(config, make_web_client(config))))
    # THEN the token and scopes pass, the public channel is fine, the private one needs an invite
    assert checks["Slack token"].ok
    assert checks["Slack scopes"].ok
    assert checks["channel #deployments"].ok
    assert "chat:write.public" in checks["channel #deployments"].detail
    private = checks["channel C0PRIVATE"]
    assert not private.ok
    assert private.fix == "/invite @deploybot in C0PRIVATE"


def test_a_missing_channel_and_missing_scopes_are_reported(fake_slack: FakeSlack) -> None:
    fake_slack.scopes = "chat:write,channels:read,groups:read"
    config = _slack_config(fake_slack, default_channel="#nowhere")
    checks = _by_name(list(check_slack(config, make_web_client(config))))
    assert not checks["Slack scopes"].ok
    assert checks["Slack scopes"].fix == "add commands (manifest.yml) and reinstall the app"
    assert not checks["channel #nowhere"].ok


def test_a_bad_token_stops_the_slack_checks(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(("error", "invalid_auth"))
    config = _slack_config(fake_slack)
    [check] = list(check_slack(config, make_web_client(config)))
    assert (check.name, check.ok, check.detail) == (
        "Slack token",
        False,
        "auth.test answered invalid_auth",
    )


def test_aws_checks_make_one_read_per_configured_resource() -> None:
    # GIVEN a mapping of one pipeline to two groups, and a watched pipeline deploybot may not read
    codepipeline, codedeploy = _client("codepipeline"), _client("codedeploy")
    config = Config(
        pipelines=(
            PipelineMapping(
                pipeline="web-prod", applications=("web",), deployment_groups=("blue",)
            ),
        ),
        watched_pipelines=("secret-pipe",),
    )
    with Stubber(codepipeline) as pipelines, Stubber(codedeploy) as deploys:
        pipelines.add_response("list_pipelines", {"pipelines": []}, {})
        pipelines.add_response(
            "get_pipeline",
            {"pipeline": {"name": "web-prod", "roleArn": "arn:aws:iam::1:role/r", "stages": []}},
            {"name": "web-prod"},
        )
        pipelines.add_client_error(
            "get_pipeline", "AccessDeniedException", "not authorized", 400, {"name": "secret-pipe"}
        )
        deploys.add_response(
            "get_deployment_group",
            {"deploymentGroupInfo": {"deploymentGroupName": "blue"}},
            {"applicationName": "web", "deploymentGroupName": "blue"},
        )
        # WHEN the AWS checks run
        checks = _by_name(list(check_aws(config, codepipeline, codedeploy)))
        pipelines.assert_no_pending_responses()
        deploys.assert_no_pending_responses()
    # THEN each resource got one read call, and the refusal says what to grant
    assert checks["pipeline web-prod"].ok
    assert checks["deployment group web/blue"].ok
    denied = checks["pipeline secret-pipe"]
    assert not denied.ok
    assert denied.fix == "grant codepipeline:GetPipeline to deploybot's role"


def test_checklist_format() -> None:
    text = format_checklist([Check("a", True, "fine"), Check("b", False, "broken", "fix it")])
    assert text == "✓ a: fine\n✗ b: broken\n    → fix it\n\n1 of 2 checks passed"


def test_cli_check_without_aws_exits_1(
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    fake_slack.channels = {"C1": {"id": "C1", "name": "deployments", "is_member": True}}
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "✓ config: valid" in out
    assert "✓ channel #deployments: the bot is a member" in out
    assert "✗ AWS: no AWS region is configured" in out


def test_cli_check_names_a_bad_config_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[slak]\n")
    assert main(["check", "--config", str(config)]) == 2
    assert "slak: unknown key" in capsys.readouterr().err
