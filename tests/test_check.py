"""`deploybot check`: a checklist of what works and what to fix, against the fake Slack, botocore
Stubber (CodePipeline, CodeDeploy, CloudFormation) and IAM's policy simulator as its API model
describes it."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bot import aws
from bot.check import Check, check_aws, check_role, check_slack, format_checklist
from bot.cli import main
from bot.domain.config import (
    Config,
    PipelineMapping,
    RollbackGroup,
    RollbackPipeline,
    RollbackSettings,
    Route,
)
from bot.domain.permissions import FREEZE, PIPELINE_READS, Place, needs
from bot.slack import make_web_client
from tests.conftest import ROOT
from tests.fake_slack import TOKEN, FakeSlack

ROLE = "arn:aws:iam::123456789012:role/deploybot-DeployBotFunctionRole-ABC"
REGION = "eu-west-1"


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def _slack_config(fake: FakeSlack, **overrides: object) -> Config:
    return Config(slack_bot_token=TOKEN, slack_api_url=fake.api_url, **overrides)  # type: ignore[arg-type]


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


# --- Slack ------------------------------------------------------------------------------------


def test_slack_checks_token_scopes_and_channels(fake_slack: FakeSlack) -> None:
    # GIVEN a public channel the bot has not joined and a private one it is not in
    fake_slack.channels = {
        "C0PUBLIC": {"id": "C0PUBLIC", "name": "deployments", "is_private": False},
        "C0PRIVATE": {"id": "C0PRIVATE", "name": "ops", "is_private": True, "is_member": False},
    }
    config = _slack_config(fake_slack, routes=(Route(channel="C0PRIVATE"),))
    # WHEN the Slack checks run
    checks = _by_name(list(check_slack(config, make_web_client(config))))
    # THEN the token and scopes pass, the public channel is fine, the private one needs an invite
    assert checks["Slack token"].ok
    assert checks["Slack scopes"].ok
    assert checks["channel #deployments"].ok
    assert "chat:write.public" in checks["channel #deployments"].detail
    private = checks["channel C0PRIVATE"]
    assert private.ok is False
    assert private.fix == "/invite @deploybot in C0PRIVATE"


def test_the_scopes_the_config_needs_are_required(fake_slack: FakeSlack) -> None:
    # GIVEN an app without commands, the history scopes or usergroups:read
    fake_slack.scopes = "chat:write,channels:read,groups:read"
    rollback = RollbackSettings(usergroups=("S0ONCALL",))
    config = _slack_config(fake_slack, default_channel="#nowhere", rollback=rollback)
    # WHEN checked
    checks = _by_name(list(check_slack(config, make_web_client(config))))
    # THEN each missing scope is named with what it is for
    scopes = checks["Slack scopes"]
    assert scopes.ok is False
    assert "commands (/deploy-status)" in scopes.detail
    assert "channels:history (finding a post whose answer was lost" in scopes.detail
    assert "usergroups:read (rollback.usergroups)" in scopes.detail
    assert "reinstall" in scopes.fix
    assert checks["channel #nowhere"].ok is False


def test_users_read_email_is_required_only_while_authors_are_looked_up(
    fake_slack: FakeSlack,
) -> None:
    # GIVEN an app without users:read.email
    fake_slack.scopes = "chat:write,commands,channels:read,groups:read"
    looked_up = _slack_config(fake_slack, store_backend="none")
    not_looked_up = replace(looked_up, release=replace(looked_up.release, lookup_emails=False))
    # WHEN checked with release.lookup_emails on (the default), THEN the scope is missing
    scopes = _by_name(list(check_slack(looked_up, make_web_client(looked_up))))["Slack scopes"]
    assert scopes.ok is False
    assert "users:read.email (commit authors as Slack users" in scopes.detail
    # AND users:read with it: Slack grants users:read.email only together with users:read
    assert "users:read (" in scopes.detail
    # AND with it off, nothing is missing
    client = make_web_client(not_looked_up)
    assert _by_name(list(check_slack(not_looked_up, client)))["Slack scopes"].ok


def test_usergroups_read_is_not_required_without_rollback_usergroups(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.scopes = "chat:write,commands,channels:read,groups:read,users:read,users:read.email"
    config = _slack_config(fake_slack, store_backend="none")
    checks = _by_name(list(check_slack(config, make_web_client(config))))
    assert checks["Slack scopes"].ok is True


def test_channels_cannot_be_verified_without_channels_read(fake_slack: FakeSlack) -> None:
    fake_slack.scopes = "chat:write,commands"
    config = _slack_config(fake_slack)
    checks = _by_name(list(check_slack(config, make_web_client(config))))
    assert checks["Slack scopes"].ok is False
    assert checks["channel #deployments"].ok is None  # not a pass: it could not be looked at


def test_a_bad_token_stops_the_slack_checks(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(("error", "invalid_auth"))
    config = _slack_config(fake_slack)
    [check] = list(check_slack(config, make_web_client(config)))
    assert (check.name, check.ok, check.detail) == (
        "Slack token",
        False,
        "auth.test answered invalid_auth",
    )
    assert "Bot User OAuth Token" in check.fix


def _closed_port_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


def test_slack_unreachable_is_one_failed_check() -> None:
    # GIVEN a Slack API URL where nothing listens
    config = Config(slack_bot_token=TOKEN, slack_api_url=_closed_port_url())
    client = make_web_client(config)
    client.retry_handlers.clear()  # the retries' back-off adds nothing here
    # WHEN checked, THEN one line says Slack cannot be reached, and how to fix it
    [check] = list(check_slack(config, client))
    assert check.ok is False
    assert check.detail.startswith(f"cannot reach Slack at {config.slack_api_url}")
    assert "SLACK_API_URL" in check.fix


def test_cli_check_prints_the_whole_checklist_when_slack_is_unreachable(tmp_path: Path) -> None:
    # GIVEN a real process, Slack unreachable and no AWS configuration
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": _closed_port_url(),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "DEPLOYBOT_STORE_PATH": str(tmp_path / "state.db"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # THEN it exits 1 with every line of the checklist and no traceback
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "✓ config: valid" in result.stdout
    assert "✗ Slack: cannot reach Slack at" in result.stdout
    assert "✗ Slack signing secret: missing" in result.stdout
    assert "✗ AWS: no AWS region is configured" in result.stdout
    assert "checks passed" in result.stdout


# --- AWS with your own credentials -------------------------------------------------------------


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
    assert denied.ok is False
    assert denied.fix == "grant codepipeline:GetPipeline to the credentials you run this with"


# --- the function's role ----------------------------------------------------------------------

ROLLBACK_CONFIG = Config(
    pipelines=(PipelineMapping(pipeline="web-prod", applications=("web",)),),
    rollback=RollbackSettings(
        pipelines=(RollbackPipeline(pipeline="web-prod"),),
        deployment_groups=(RollbackGroup(application="legacy", deployment_group="prod"),),
        users=("U012ABC",),
        channels=("C0DEPLOYS",),
    ),
)


# What the template grants only with RollbackEnabled=true.
ROLLBACK_ONLY = {
    "codepipeline:StartPipelineExecution",
    "codepipeline:RollbackStage",
    "codedeploy:CreateDeployment",
    "codedeploy:GetApplicationRevision",
    "codedeploy:GetDeploymentConfig",
}


def test_a_freeze_after_rollback_needs_the_stage_transition_actions() -> None:
    entry = RollbackPipeline(
        pipeline="api-prod", strategy="stage", stage="Deploy", freeze_after_rollback=True
    )
    config = Config(rollback=RollbackSettings(pipelines=(entry,)))
    [freeze] = [n for n in needs(config, Place("aws", REGION, "1")) if n.actions == FREEZE]
    assert freeze.resource == f"arn:aws:codepipeline:{REGION}:1:api-prod/Deploy"
    assert freeze.grant == "RollbackEnabled=true and api-prod/Deploy in RollbackFreezeStages"


def test_reads_are_always_needed_and_writes_only_for_what_rollback_names() -> None:
    place = Place("aws", REGION, "123456789012")
    plain = {n.resource: n.actions for n in needs(Config(watched_pipelines=("api",)), place)}
    assert plain[f"arn:aws:codepipeline:{REGION}:123456789012:api"] == PIPELINE_READS
    actions = {a for acts in plain.values() for a in acts}
    assert "codepipeline:StartPipelineExecution" not in actions
    assert "codedeploy:CreateDeployment" not in actions
    writes = {a for n in needs(ROLLBACK_CONFIG, place) for a in n.actions}
    assert {"codepipeline:StartPipelineExecution", "codedeploy:CreateDeployment"} <= writes
    assert "codepipeline:RollbackStage" not in writes  # no pipeline uses strategy "stage"


def _result(action: str, decision: str, resource: str = "*") -> dict[str, Any]:
    return {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision}


def _simulation(
    stub: Stubber, actions: tuple[str, ...], resource: str, decisions: dict[str, str]
) -> None:
    expected: dict[str, Any] = {
        "PolicySourceArn": ROLE,
        "ActionNames": list(actions),
        "ContextEntries": [
            {
                "ContextKeyName": "aws:RequestedRegion",
                "ContextKeyValues": [REGION],
                "ContextKeyType": "string",
            }
        ],
        "MaxItems": 1000,
    }
    if resource != "*":
        expected["ResourceArns"] = [resource]
    answer = [_result(a, decisions.get(a, "allowed"), resource) for a in actions]
    stub.add_response("simulate_principal_policy", {"EvaluationResults": answer}, expected)


def test_the_role_is_simulated_per_resource_and_denials_name_the_grant() -> None:
    # GIVEN a role that may read but was deployed without RollbackEnabled
    iam = _client("iam")
    place = Place("aws", REGION, "123456789012")
    wanted = list(needs(ROLLBACK_CONFIG, place))
    with Stubber(iam) as stub:
        for need in wanted:
            denied = {a: "implicitDeny" for a in need.actions if a in ROLLBACK_ONLY}
            _simulation(stub, need.actions, need.resource, denied)
        # WHEN the role is checked
        checks = _by_name(list(check_role(ROLLBACK_CONFIG, iam, ROLE, REGION)))
        stub.assert_no_pending_responses()
    # THEN reads pass and each denied write says which template parameter grants it
    assert checks["role may read pipeline web-prod"].ok is True
    rerun = checks["role may re-run web-prod at a commit"]
    assert rerun.ok is False
    assert rerun.detail == (
        "denied: codepipeline:StartPipelineExecution on "
        f"arn:aws:codepipeline:{REGION}:123456789012:web-prod"
    )
    assert rerun.fix == "RollbackEnabled=true and web-prod in RollbackPipelines"
    assert checks["role may redeploy to legacy/prod"].ok is False


def test_simulation_results_are_read_across_pages() -> None:
    iam = _client("iam")
    config = Config(watched_pipelines=("api",), enrich=Config().enrich)
    [unscoped, pipeline] = list(needs(config, Place("aws", REGION, "123456789012")))
    with Stubber(iam) as stub:
        _simulation(stub, unscoped.actions, "*", {})
        first, rest = pipeline.actions[:2], pipeline.actions[2:]
        stub.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [_result(a, "allowed", pipeline.resource) for a in first],
                "IsTruncated": True,
                "Marker": "page-2",
            },
            {
                "PolicySourceArn": ROLE,
                "ActionNames": ANY,
                "ContextEntries": ANY,
                "MaxItems": 1000,
                "ResourceArns": [pipeline.resource],
            },
        )
        stub.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [_result(rest[0], "explicitDeny", pipeline.resource)]},
            {
                "PolicySourceArn": ROLE,
                "ActionNames": ANY,
                "ContextEntries": ANY,
                "MaxItems": 1000,
                "ResourceArns": [pipeline.resource],
                "Marker": "page-2",
            },
        )
        checks = _by_name(list(check_role(config, iam, ROLE, REGION)))
        stub.assert_no_pending_responses()
    # an action the simulator never answered for counts as denied, like an explicit deny
    assert checks["role may read pipeline api"].detail.startswith(
        "denied: " + ", ".join(rest) + " on "
    )


def test_without_permission_to_simulate_it_says_it_could_not() -> None:
    # GIVEN credentials that may not call iam:SimulatePrincipalPolicy
    iam = _client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "not authorized", 403)
        checks = list(check_role(Config(), iam, ROLE, REGION))
    # THEN one line, neither pass nor fail, says so and what to do
    [check] = checks
    assert check.ok is None
    assert "access denied to iam:SimulatePrincipalPolicy" in check.detail
    assert "iam:SimulatePrincipalPolicy" in check.fix


@pytest.fixture
def shared_clients(aws_credentials: None) -> Iterator[tuple[Stubber, Stubber, Stubber]]:
    """Stubbers on the shared clients `deploybot check` makes (aws.client caches them)."""
    stubbers = tuple(Stubber(aws.client(s)) for s in ("codepipeline", "cloudformation", "iam"))
    for stubber in stubbers:
        stubber.activate()
    yield stubbers  # type: ignore[misc]
    for stubber in stubbers:
        stubber.deactivate()


def _slack_env(monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack) -> None:
    """A working Slack for `deploybot check`: token, signing secret, one channel with the bot."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    fake_slack.channels = {"C1": {"id": "C1", "name": "deployments", "is_member": True}}


@pytest.fixture
def deployed(
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    shared_clients: tuple[Stubber, Stubber, Stubber],
) -> tuple[Stubber, Stubber, Stubber]:
    """`deploybot check` with Slack working and one pipeline read answered."""
    _slack_env(monkeypatch, fake_slack)
    shared_clients[0].add_response("list_pipelines", {"pipelines": []}, {})
    return shared_clients


def test_cli_check_reads_the_role_and_the_function_from_the_stack(
    capsys: pytest.CaptureFixture[str], deployed: tuple[Stubber, Stubber, Stubber]
) -> None:
    # GIVEN a deployed stack whose role may do everything the default config needs
    _, stacks, iam = deployed
    stacks.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "deploybot",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [
                        {"OutputKey": "FunctionRoleArn", "OutputValue": ROLE},
                        {"OutputKey": "FunctionName", "OutputValue": "deploybot-deploybot"},
                    ],
                }
            ]
        },
        {"StackName": "deploybot"},
    )
    place = Place("aws", REGION, "123456789012")
    unscoped, invoke = needs(Config(), place, "deploybot-deploybot")
    _simulation(iam, unscoped.actions, "*", {})
    # (the stack's role may not invoke its own function: an older or hand-edited stack)
    function = f"arn:aws:lambda:{REGION}:123456789012:function:deploybot-deploybot"
    assert (invoke.resource, invoke.actions) == (function, ("lambda:InvokeFunction",))
    _simulation(iam, invoke.actions, function, {"lambda:InvokeFunction": "implicitDeny"})
    # WHEN `deploybot check --stack deploybot` runs
    code = main(["check", "--stack", "deploybot"])
    # THEN the role's reads pass, and invoking itself (Slack's lazy listeners) is named
    out = capsys.readouterr().out
    assert "✓ role may list pipelines and deployments: 5 actions allowed" in out
    assert (
        "✗ role may invoke itself (deploybot-deploybot: Slack's lazy listeners): denied: "
        f"lambda:InvokeFunction on {function}"
    ) in out
    assert code == 1, out
    for stubber in deployed:
        stubber.assert_no_pending_responses()


def test_cli_check_names_a_stack_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], deployed: tuple[Stubber, Stubber, Stubber]
) -> None:
    _, stacks, _ = deployed
    stacks.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id nope does not exist", 400
    )
    assert main(["check", "--stack", "nope"]) == 1
    assert "✗ stack nope: cloudformation:DescribeStacks: ValidationError" in capsys.readouterr().out


def test_checklist_format() -> None:
    text = format_checklist([Check("a", True, "fine"), Check("b", False, "broken", "fix it")])
    assert text == "✓ a: fine\n✗ b: broken\n    → fix it\n\n1 of 2 checks passed"
    unknown = format_checklist([Check("a", True), Check("c", None, "not simulated")])
    assert unknown == "✓ a\n? c: not simulated\n\n1 of 2 checks passed, 1 could not be made"


def test_cli_check_without_aws_exits_1(
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _slack_env(monkeypatch, fake_slack)
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
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


def test_a_github_token_parameter_needs_ssm_read_on_that_parameter() -> None:
    # GIVEN a release diff that reads its GitHub token from SSM
    config = Config(release=replace(Config().release, github_token_parameter="/deploybot/gh"))
    place = Place("aws", REGION, "123456789012")
    # THEN the role must be allowed to read exactly that parameter
    wanted = {n.resource: n.actions for n in needs(config, place)}
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/deploybot/gh"
    assert wanted[arn] == ("ssm:GetParameter",)
    # AND without one, no SSM read is asked for
    assert not any(n.resource.startswith("arn:aws:ssm") for n in needs(Config(), place))


def test_the_slack_secrets_the_config_names_need_reading() -> None:
    place = Place("aws", REGION, "123456789012")
    # GIVEN the two SSM parameters (SLACK_BOT_TOKEN_PARAMETER, SLACK_SIGNING_SECRET_PARAMETER)
    ssm = Config(
        slack_bot_token_parameter="/deploybot/slack-bot-token",
        slack_signing_secret_parameter="/deploybot/slack-signing-secret",
    )
    # THEN the role must be allowed to read exactly those, as the template grants them
    wanted = {n.resource: n.actions for n in needs(ssm, place)}
    prefix = "arn:aws:ssm:eu-west-1:123456789012:parameter"
    for name in ("/deploybot/slack-bot-token", "/deploybot/slack-signing-secret"):
        assert wanted[prefix + name] == ("ssm:GetParameter",)
    # GIVEN a Secrets Manager secret instead (SLACK_SECRETS_ID, its name)
    secret = {n.resource: n for n in needs(Config(slack_secrets_id="deploybot/slack"), place)}
    # THEN its ARN is simulated as AWS forms it (name, "-", six characters), which the template's
    # grant (secret:NAME-??????) covers
    [arn] = [r for r in secret if r.startswith("arn:aws:secretsmanager")]
    assert secret[arn].actions == ("secretsmanager:GetSecretValue",)
    pattern = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:deploybot/slack-??????"
    assert fnmatch.fnmatchcase(arn, pattern)
    # AND a full ARN is simulated as it is
    full = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:deploybot/slack-Ab12Cd"
    assert full in {n.resource for n in needs(Config(slack_secrets_id=full), place)}
    # AND with the secrets in the environment itself, no secret read is asked for
    resources = [n.resource for n in needs(Config(), place)]
    assert not [r for r in resources if r.startswith(("arn:aws:ssm", "arn:aws:secretsmanager"))]


def test_people_who_may_roll_back_may_freeze_and_steering_is_not_simulated() -> None:
    # GIVEN [rollback] with people and a channel, a pipeline whose deploy stage is named, and a
    # pipeline whose deploy stage deploybot finds in its definition
    named = RollbackPipeline(pipeline="api-prod", strategy="stage", stage="Deploy")
    found = RollbackPipeline(pipeline="web-prod")
    rollback = replace(ROLLBACK_CONFIG.rollback, pipelines=(named, found))
    place = Place("aws", REGION, "123456789012")
    wanted = {n.what: n for n in needs(replace(ROLLBACK_CONFIG, rollback=rollback), place)}
    # THEN the blue/green buttons' writes are not asked for: only CodeDeploy knows which groups
    # deploy blue/green, and an in-place group never shows those buttons
    steering = {"codedeploy:ContinueDeployment", "codedeploy:StopDeployment"}
    assert not [n for n in wanted.values() if steering & set(n.actions)]
    # AND the Freeze button's are, on the named stage (the other's stage is known only to AWS)
    freeze = wanted["freeze and unfreeze api-prod/Deploy"]
    assert freeze.resource == f"arn:aws:codepipeline:{REGION}:123456789012:api-prod/Deploy"
    assert (freeze.actions, freeze.grant) == (
        FREEZE,
        "FreezeEnabled=true and api-prod/Deploy in FreezeStages",
    )
    assert [n for n in wanted.values() if n.actions == FREEZE] == [freeze]
    # AND with nobody who may press, neither
    nobody = replace(rollback, users=(), usergroups=())
    actions = {
        a for n in needs(replace(ROLLBACK_CONFIG, rollback=nobody), place) for a in n.actions
    }
    assert not actions & {"codedeploy:ContinueDeployment", *FREEZE}
