"""The SAM template: it lints, it translates, and its IAM policy grants no more than it must."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
PARAMETERS = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "deploybot",
    "PipelineNames": "web-prod,api-prod",
    "DeploymentGroups": "web/production,api/production",
    "RollbackEnabled": "true",
    "RollbackPipelines": "web-prod",
    "RollbackStages": "api-prod/Deploy",
    "RollbackFreezeStages": "api-prod/Deploy",
    "RollbackApplications": "web",
    "RollbackDeploymentGroups": "web/production",
    "ApprovalsEnabled": "true",
    "ApprovalActions": "web-prod/Approve/Release,api-prod/Gate/Ship",
    "TrafficEnabled": "true",
    "TrafficDeploymentGroups": "checkout/production",
    "FreezeEnabled": "true",
    "FreezeStages": "web-prod/Deploy",
}
# Conditions of the write statements, each an "Enabled" parameter that is "false" by default.
WRITE_CONDITIONS = ("RollbackEnabled", "ApprovalsEnabled", "TrafficEnabled", "FreezeEnabled")
LIST_PARAMETERS = (
    "DeploymentGroups",
    "ApprovalActions",
    "TrafficDeploymentGroups",
    "FreezeStages",
)
# Actions that have no resource type in the Service Authorization Reference: "*" is the only
# resource they accept.
NO_RESOURCE_TYPE = {
    "codepipeline:ListPipelines",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
}
READ_PREFIXES = ("Get", "List", "BatchGet", "Describe")


class _NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs; this template names none."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", PARAMETERS["AWS::Region"])
        template = yaml_parse(TEMPLATE.read_text())
        # What `sam package` does before CloudFormation sees it: the code is uploaded to S3.
        function = template["Resources"]["DeployBotFunction"]["Properties"]
        function["CodeUri"] = "s3://artifacts/deploybot.zip"
        return transform(template, PARAMETERS, _NoManagedPolicies())  # type: ignore[arg-type]


def _resolve(node: Any) -> Any:
    """Evaluate the intrinsics the policy uses (Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::GetAtt)."""
    values = {**PARAMETERS, "PipelineNames": PARAMETERS["PipelineNames"].split(",")}
    for name in (*LIST_PARAMETERS, *(k for k in PARAMETERS if k.startswith("Rollback"))):
        values[name] = PARAMETERS[name].split(",")
    if isinstance(node, list):
        return [_resolve(item) for item in node]
    if not isinstance(node, dict):
        return node
    [(key, arg)] = node.items()
    if key == "Ref":
        return values.get(arg, f"<{arg}>")
    if key == "Fn::GetAtt":
        return f"<{'.'.join(_as_list(arg))}>"
    if key == "Fn::Join":
        separator, items = _resolve(arg[0]), _resolve(arg[1])
        return separator.join(items)
    if key == "Fn::Split":
        return _resolve(arg[1]).split(_resolve(arg[0]))
    if key == "Fn::Sub":
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        names = {**values, **{k: _resolve(v) for k, v in extra.items()}}
        for name, value in names.items():
            if isinstance(value, str):
                text = text.replace("${" + name + "}", value)
        return text
    raise AssertionError(f"unexpected intrinsic {key}")


def _raw_statements(translated: dict[str, Any]) -> list[dict[str, Any]]:
    role = translated["Resources"]["DeployBotFunctionRole"]["Properties"]
    return [
        statement
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _statements(translated: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements in force with PARAMETERS (conditions evaluated: rollback enabled)."""
    statements = []
    for statement in _raw_statements(translated):
        if "Fn::If" in statement:
            condition, when_true, when_false = statement["Fn::If"]
            assert condition in WRITE_CONDITIONS or condition.startswith("Use"), condition
            assert when_false == {"Ref": "AWS::NoValue"}
            if PARAMETERS.get(condition, "true") == "true":
                statements.append(when_true)
        else:
            statements.append(statement)
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_passes() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(__import__("sys").executable).parent))
    assert cfn_lint is not None
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_translates_to_one_function_with_its_url(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    function = resources["DeployBotFunction"]["Properties"]
    assert function["Handler"] == "bot.lambda_function.handler"
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert resources["DeployBotFunctionUrl"]["Properties"]["AuthType"] == "NONE"
    assert resources["StateTable"]["Properties"]["TimeToLiveSpecification"]["Enabled"] is True
    destination = resources["DeployBotFunctionEventInvokeConfig"]["Properties"]
    assert destination["DestinationConfig"]["OnFailure"]["Destination"]


def test_no_statement_grants_a_wildcard_action(translated: dict[str, Any]) -> None:
    for statement in _statements(translated):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement


def test_wildcard_resources_only_for_actions_without_resource_types(
    translated: dict[str, Any],
) -> None:
    for statement in _statements(translated):
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= NO_RESOURCE_TYPE, statement


def test_every_write_action_is_scoped_to_named_resources(translated: dict[str, Any]) -> None:
    writes = []
    for statement in _statements(translated):
        for action in _as_list(statement["Action"]):
            if not action.split(":", 1)[1].startswith(READ_PREFIXES):
                writes.append(action)
                assert "*" not in _as_list(statement["Resource"]), statement
    # Writes are the Lambda self-invoke, SQS failure destination and the state table.
    assert writes


def _resources(translated: dict[str, Any], sid: str) -> list[str]:
    [statement] = [s for s in _statements(translated) if s.get("Sid") == sid]
    return _as_list(_resolve(statement["Resource"]))


def test_pipeline_reads_are_scoped_to_the_named_pipelines(translated: dict[str, Any]) -> None:
    assert _resources(translated, "ReadPipelines") == [
        "arn:aws:codepipeline:eu-west-1:123456789012:web-prod",
        "arn:aws:codepipeline:eu-west-1:123456789012:api-prod",
    ]


def test_deployment_reads_are_scoped_to_the_named_groups(translated: dict[str, Any]) -> None:
    assert _resources(translated, "ReadDeploymentGroups") == [
        "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:web/production",
        "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:api/production",
    ]


def test_lazy_listeners_may_invoke_only_this_function(translated: dict[str, Any]) -> None:
    assert _resources(translated, "LazyListenersInvokeThisFunction") == [
        "arn:aws:lambda:eu-west-1:123456789012:function:deploybot-deploybot"
    ]


ROLLBACK_WRITES = {
    "codepipeline:StartPipelineExecution",
    "codepipeline:RollbackStage",
    "codepipeline:DisableStageTransition",
    "codepipeline:EnableStageTransition",
    "codedeploy:CreateDeployment",
}


def test_rollback_writes_exist_only_when_enabled_and_name_their_targets(
    translated: dict[str, Any],
) -> None:
    assert translated["Parameters"]["RollbackEnabled"]["Default"] == "false"
    assert translated["Conditions"]["RollbackEnabled"] == {
        "Fn::Equals": [{"Ref": "RollbackEnabled"}, "true"]
    }
    # Every statement granting a rollback write is conditional: none is granted by default.
    for statement in _raw_statements(translated):
        if "Fn::If" not in statement:
            assert not set(_as_list(statement["Action"])) & ROLLBACK_WRITES, statement
    arn = "arn:aws:{}:eu-west-1:123456789012:{}"
    assert _resources(translated, "RerunPipelinesPinnedToACommit") == [
        arn.format("codepipeline", "web-prod")
    ]
    assert _resources(translated, "RollBackStages") == [
        arn.format("codepipeline", "api-prod/Deploy")
    ]
    # DisableStageTransition / EnableStageTransition take the stage resource type (Service
    # Authorization Reference, CodePipeline).
    assert _resources(translated, "FreezeDeployStages") == [
        arn.format("codepipeline", "api-prod/Deploy")
    ]
    assert _resources(translated, "RedeployToDeploymentGroups") == [
        arn.format("codedeploy", "deploymentgroup:web/production")
    ]
    assert _resources(translated, "ReadRevisionsToRedeploy") == [
        arn.format("codedeploy", "application:web")
    ]


ACTION_WRITES = {
    "ApprovalsEnabled": {"codepipeline:PutApprovalResult"},
    "TrafficEnabled": {"codedeploy:ContinueDeployment", "codedeploy:StopDeployment"},
    "FreezeEnabled": {"codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition"},
}


@pytest.mark.parametrize("condition", sorted(ACTION_WRITES))
def test_approval_traffic_and_freeze_writes_are_off_by_default_and_conditional(
    translated: dict[str, Any], condition: str
) -> None:
    # GIVEN the template's own defaults, THEN none of these writes is granted
    assert translated["Parameters"][condition]["Default"] == "false"
    assert translated["Conditions"][condition] == {"Fn::Equals": [{"Ref": condition}, "true"]}
    # AND every statement granting one of them is conditional (freezing after a rollback keeps
    # its own condition, RollbackEnabled)
    allowed = {condition, "RollbackEnabled"} if condition == "FreezeEnabled" else {condition}
    for statement in _raw_statements(translated):
        name, body = statement.get("Fn::If", [None, statement])[:2]
        if set(_as_list(body["Action"])) & ACTION_WRITES[condition]:
            assert name in allowed, statement


def test_approval_traffic_and_freeze_writes_name_their_targets(
    translated: dict[str, Any],
) -> None:
    arn = "arn:*:{}:*:*:{}"
    assert _resources(translated, "AnswerManualApprovals") == [
        arn.format("codepipeline", "web-prod/Approve/Release"),
        arn.format("codepipeline", "api-prod/Gate/Ship"),
    ]
    assert _resources(translated, "SteerBlueGreenDeployments") == [
        arn.format("codedeploy", "deploymentgroup:checkout/production")
    ]
    assert _resources(translated, "FreezeStagesFromSlack") == [
        arn.format("codepipeline", "web-prod/Deploy")
    ]
    for sid in ("AnswerManualApprovals", "SteerBlueGreenDeployments", "FreezeStagesFromSlack"):
        [statement] = [s for s in _statements(translated) if s.get("Sid") == sid]
        assert statement["Condition"] == {
            "StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}
        }


def test_these_statements_join_with_literal_delimiters_only() -> None:
    # CloudFormation refuses a function as Fn::Join's delimiter (its intrinsic-function
    # reference); the statements this issue adds keep to that.
    template = yaml_parse(TEMPLATE.read_text())
    statements = template["Resources"]["DeployBotFunction"]["Properties"]["Policies"][0]
    found = 0
    for statement in statements["Statement"]:
        body = statement.get("Fn::If", [None, statement])[1]
        if body.get("Sid") not in (
            "AnswerManualApprovals",
            "SteerBlueGreenDeployments",
            "FreezeStagesFromSlack",
        ):
            continue
        joined = body["Resource"]["Fn::Split"][1]["Fn::Sub"][1]
        [delimiter, _] = next(iter(joined.values()))["Fn::Join"]
        assert isinstance(delimiter, str)
        found += 1
    assert found == 3
