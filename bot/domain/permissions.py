"""What the function's IAM role must be allowed to do for a configuration, per resource.

Pure: `deploybot check` simulates these against the role (iam:SimulatePrincipalPolicy); the
template grants them (README "IAM permissions"). Reads are always needed; the Slack secrets the
config names; the rollback writes only for what `[rollback]` names, and the Freeze button's
writes when someone may press it, and lambda:InvokeFunction on the function itself when its name
is known (a stack's FunctionName output). Not here, because the config does not name their
resources: PutApprovalResult (the approval
actions, found in the pipelines' definitions), codecommit:BatchGetCommits (the repositories,
found in the source actions), Freeze on a deploy stage the config leaves for GetPipeline to
find, and the blue/green buttons' ContinueDeployment and StopDeployment (whether a group
deploys blue/green is CodeDeploy's to say: a ✗ for every in-place group would be false).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bot.domain.config import STORE_INDEX, Config

PIPELINE_READS = (
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineState",
    "codepipeline:GetPipelineExecution",
    "codepipeline:ListPipelineExecutions",
    "codepipeline:ListActionExecutions",
)
GROUP_READS = (
    "codedeploy:GetDeployment",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:BatchGetDeploymentGroups",
    "codedeploy:BatchGetDeployments",
    "codedeploy:ListDeployments",
)
# No resource type in the Service Authorization Reference: granted on "*".
UNSCOPED_READS = (
    "codepipeline:ListPipelines",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
)
FREEZE = ("codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition")
# Secrets Manager names a secret's ARN NAME-xxxxxx (six random characters); the template grants
# NAME-??????, so a simulation needs some six characters.
SAMPLE_ARN_SUFFIX = "-AbCdEf"
# Slack's lazy listeners: the function invokes itself asynchronously (slack_bolt's runner).
INVOKE = ("lambda:InvokeFunction",)
# A deployment config to simulate GetDeploymentConfig on (the group's own is not in the config).
SAMPLE_DEPLOYMENT_CONFIG = "CodeDeployDefault.OneAtATime"


@dataclass(frozen=True, slots=True)
class Need:
    """Actions the role must be allowed on one resource, and why (for the checklist)."""

    what: str
    resource: str  # an ARN, or "*"
    actions: tuple[str, ...]
    grant: str = ""  # how the template grants it


@dataclass(frozen=True, slots=True)
class Place:
    """Where the role's resources are: ARNs are built from these."""

    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        """arn:<partition>:<service>:<region>:<account>:<resource>"""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


def _pipelines(config: Config) -> list[str]:
    names = [m.pipeline for m in config.pipelines]
    names += [*config.watched_pipelines, *(p.pipeline for p in config.rollback.pipelines)]
    return list(dict.fromkeys(names))


def _groups(config: Config) -> list[tuple[str, str]]:
    groups = [
        (application, group)
        for mapping in config.pipelines
        for application in mapping.applications
        for group in mapping.deployment_groups
    ]
    groups += [(g.application, g.deployment_group) for g in config.rollback.deployment_groups]
    return list(dict.fromkeys(groups))


def needs(config: Config, place: Place, function: str = "") -> Iterator[Need]:
    """Every (resource, actions) the function (named `function`, when known) needs for
    `config`, reads first."""
    yield Need("list pipelines and deployments", "*", UNSCOPED_READS, "the template grants it")
    if function:
        arn = place.arn("lambda", f"function:{function}")
        grant = "the template grants it (LazyListenersInvokeThisFunction): update the stack"
        yield Need(f"invoke itself ({function}: Slack's lazy listeners)", arn, INVOKE, grant)
    for pipeline in _pipelines(config):
        arn = place.arn("codepipeline", pipeline)
        grant = f"add {pipeline} to the stack's PipelineNames"
        yield Need(f"read pipeline {pipeline}", arn, PIPELINE_READS, grant)
    for application, group in _groups(config):
        name = f"{application}/{group}"
        arn = place.arn("codedeploy", f"deploymentgroup:{name}")
        grant = f"add {name} to the stack's DeploymentGroups"
        yield Need(f"read deployment group {name}", arn, GROUP_READS, grant)
    if config.store_table:
        arn = place.arn("dynamodb", f"table/{config.store_table}")
        actions = ("dynamodb:GetItem", "dynamodb:PutItem")
        yield Need(f"use table {config.store_table}", arn, actions, "the template grants its table")
        index = place.arn("dynamodb", f"table/{config.store_table}/index/{STORE_INDEX}")
        grant = "the template grants it (a stack from before the ledger: update it)"
        yield Need(
            f"query the ledger's lists in {config.store_table}", index, ("dynamodb:Query",), grant
        )
    yield from _secret_needs(config, place)
    yield from _rollback_needs(config, place)
    yield from _button_needs(config, place)
    for account in config.accounts:
        if account.role_arn:
            yield Need(
                f"assume the role of account {account.name}",
                account.role_arn,
                ("sts:AssumeRole",),
                f"add {account.role_arn} to the stack's SpokeRoleArns",
            )


def _secret_needs(config: Config, place: Place) -> Iterator[Need]:
    """Reading the Slack secrets (where the config says they are) and the GitHub token."""
    read = ("ssm:GetParameter",)
    for what, name, grant in (
        ("the Slack bot token", config.slack_bot_token_parameter, "SlackBotTokenParameter"),
        (
            "the Slack signing secret",
            config.slack_signing_secret_parameter,
            "SlackSigningSecretParameter",
        ),
    ):
        if name:
            yield Need(
                f"read {what} {name}", _parameter_arn(place, name), read, f"the stack's {grant}"
            )
    if config.slack_secrets_id:
        secret = config.slack_secrets_id
        arn = (
            secret
            if secret.startswith("arn:")
            else place.arn("secretsmanager", f"secret:{secret}{SAMPLE_ARN_SUFFIX}")
        )
        action = ("secretsmanager:GetSecretValue",)
        yield Need(f"read the Slack secret {secret}", arn, action, "the stack's SlackSecretsId")
    if config.release.enabled and config.release.github_token_parameter:
        name = config.release.github_token_parameter
        grant = "the stack's GitHubTokenParameter"
        arn = _parameter_arn(place, name)
        yield Need(f"read the GitHub token {name}", arn, read, grant)


def _parameter_arn(place: Place, name: str) -> str:
    """An SSM parameter's ARN: a name with a leading slash keeps it, others get one."""
    return name if name.startswith("arn:") else place.arn("ssm", f"parameter/{name.lstrip('/')}")


def _button_needs(config: Config, place: Place) -> Iterator[Need]:
    """The writes of the Freeze button, when someone may press it."""
    rollback = config.rollback
    if not rollback.enabled or not rollback.anyone:
        return
    for entry in rollback.pipelines:
        if entry.stage and not entry.freeze_after_rollback:  # else: see _rollback_needs
            name = f"{entry.pipeline}/{entry.stage}"
            grant = f"FreezeEnabled=true and {name} in FreezeStages"
            arn = place.arn("codepipeline", name)
            yield Need(f"freeze and unfreeze {name}", arn, FREEZE, grant)


def _rollback_needs(config: Config, place: Place) -> Iterator[Need]:
    """The writes of the Roll back button, for what [rollback] names."""
    enable = "RollbackEnabled=true and "
    for entry in config.rollback.pipelines:
        if entry.strategy == "stage":
            name = f"{entry.pipeline}/{entry.stage}"
            arn = place.arn("codepipeline", name)
            grant = f"{enable}{name} in RollbackStages"
            yield Need(f"roll back stage {name}", arn, ("codepipeline:RollbackStage",), grant)
        else:
            arn = place.arn("codepipeline", entry.pipeline)
            grant = f"{enable}{entry.pipeline} in RollbackPipelines"
            action = ("codepipeline:StartPipelineExecution",)
            yield Need(f"re-run {entry.pipeline} at a commit", arn, action, grant)
        if entry.freeze_after_rollback:
            name = f"{entry.pipeline}/{entry.stage}"
            grant = f"{enable}{name} in RollbackFreezeStages"
            yield Need(
                f"freeze and unfreeze {name}", place.arn("codepipeline", name), FREEZE, grant
            )
    for group in config.rollback.deployment_groups:
        name = f"{group.application}/{group.deployment_group}"
        arn = place.arn("codedeploy", f"deploymentgroup:{name}")
        grant = f"{enable}{name} in RollbackDeploymentGroups"
        yield Need(f"redeploy to {name}", arn, ("codedeploy:CreateDeployment",), grant)
        arn = place.arn("codedeploy", f"application:{group.application}")
        grant = f"{enable}{group.application} in RollbackApplications"
        action = ("codedeploy:GetApplicationRevision",)
        yield Need(f"read {group.application}'s revisions", arn, action, grant)
    if config.rollback.deployment_groups:
        arn = place.arn("codedeploy", f"deploymentconfig:{SAMPLE_DEPLOYMENT_CONFIG}")
        action = ("codedeploy:GetDeploymentConfig",)
        yield Need("read deployment configs", arn, action, "RollbackEnabled=true")
