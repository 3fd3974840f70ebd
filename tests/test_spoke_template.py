"""spoke.yaml: CloudFormation would accept it (the same intrinsic-function rules and cfn-lint as
template.yaml), the role trusts deploybot's role alone (with its external id), reads only what
it names in the regions it names, writes nothing unless a parameter says so, and forwards the
events to the hub's default event bus and nowhere else. And the hub's side of it in
template.yaml: the roles it may assume, the accounts that may put events on its bus."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.cfn_rules import problems
from tests.test_template import (
    NO_RESOURCE_TYPE,
    PARAMETERS,
    READ_PREFIXES,
    ROLLBACK_WRITES,
    UNSCOPABLE_WRITES,
    Stack,
    _as_list,
    _cfn_lint,
    _iam_matches,
    _raw,
    _translate,
)
from tests.test_template import _grants as _grants_anywhere

ROOT = Path(__file__).resolve().parent.parent
SPOKE = ROOT / "spoke.yaml"
ACCOUNT, REGION = "222233334444", "us-east-1"
HUB, HUB_REGION = "111122223333", "eu-west-1"
HUB_ROLE = f"arn:aws:iam::{HUB}:role/deploybot-DeployBotFunctionRole-ABC"
BASE = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": "deploybot-spoke",
    "HubAccountId": HUB,
    "HubRoleArn": HUB_ROLE,
    "HubRegion": HUB_REGION,
    "PipelineNames": "web-prod,api-prod",
    "DeploymentGroups": "web/production",
    "Regions": "us-east-1,eu-west-1",
}
WRITES = {
    **BASE,
    "RollbackEnabled": "true",
    "RollbackPipelines": "web-prod",
    "RollbackStages": "api-prod/Deploy",
    "RollbackFreezeStages": "api-prod/Deploy",
    "RollbackApplications": "web",
    "RollbackDeploymentGroups": "web/production",
    "ApprovalsEnabled": "true",
    "ApprovalActions": "web-prod/Approve/Release",
    "TrafficEnabled": "true",
    "FreezeEnabled": "true",
    "FreezeStages": "web-prod/Deploy",
}
ALL_WRITES = ROLLBACK_WRITES | UNSCOPABLE_WRITES | {"codepipeline:PutApprovalResult"}


def _spoke() -> dict[str, Any]:
    return dict(yaml_parse(SPOKE.read_text()))


class Spoke(Stack):
    """spoke.yaml evaluated for one set of parameters (plain CloudFormation: no transform)."""

    def statements(self) -> list[dict[str, Any]]:
        role = self.resource("DeployBotSpokeRole")
        return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]

    def trust(self) -> dict[str, Any]:
        [statement] = self.resource("DeployBotSpokeRole")["AssumeRolePolicyDocument"]["Statement"]
        return dict(statement)


def _grants(statement: dict[str, Any], arn: str, region: str) -> bool:
    """Does this Allow statement cover `arn` for a request to `region` (of its list)?"""
    pinned = _as_list(statement["Condition"]["StringEquals"]["aws:RequestedRegion"])
    patterns = _as_list(statement["Resource"])
    return region in pinned and any(_iam_matches(p, arn) for p in patterns)


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _actions(stack: Spoke) -> set[str]:
    return {a for s in stack.statements() for a in _as_list(s["Action"])}


# --- what CloudFormation accepts --------------------------------------------------------------


def test_spoke_yaml_uses_intrinsic_functions_as_cloudformation_allows() -> None:
    assert problems(_spoke()) == []


def test_cfn_lint_passes_on_spoke_yaml() -> None:
    result = subprocess.run([_cfn_lint(), str(SPOKE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- who may assume the role ------------------------------------------------------------------


def test_the_role_trusts_deploybots_role_alone_with_the_external_id_when_set() -> None:
    plain = Spoke(_spoke(), BASE).trust()
    assert plain["Principal"] == {"AWS": HUB_ROLE}
    assert plain["Action"] == "sts:AssumeRole"
    assert "Condition" not in plain
    with_id = Spoke(_spoke(), {**BASE, "ExternalId": "deploybot-7f3a"}).trust()
    assert with_id["Condition"] == {"StringEquals": {"sts:ExternalId": "deploybot-7f3a"}}
    checker = "arn:aws:iam::111122223333:role/Admin"
    checked = Spoke(_spoke(), {**BASE, "CheckerArns": checker}).trust()
    assert checked["Principal"] == {"AWS": [HUB_ROLE, checker]}
    assert _spoke()["Parameters"]["ExternalId"]["NoEcho"] is True


# --- what the role may do ---------------------------------------------------------------------


def test_reads_cover_exactly_the_named_pipelines_and_groups_in_the_named_regions() -> None:
    stack = Spoke(_spoke(), BASE)
    pipelines = stack.statement("ReadPipelines")
    assert _grants(pipelines, _arn("codepipeline", "web-prod"), REGION)
    assert not _grants(pipelines, _arn("codepipeline", "web-prod-2"), REGION)
    assert pipelines["Condition"]["StringEquals"]["aws:RequestedRegion"] == [REGION, HUB_REGION]
    groups = stack.statement("ReadDeploymentGroups")
    assert _grants(groups, _arn("codedeploy", "deploymentgroup:web/production"), REGION)
    assert not _grants(groups, _arn("codedeploy", "deploymentgroup:web/staging"), REGION)
    # without Regions: the stack's own region only
    default = Spoke(_spoke(), {k: v for k, v in BASE.items() if k != "Regions"})
    pinned = default.statement("ReadPipelines")["Condition"]["StringEquals"]
    assert pinned["aws:RequestedRegion"] == [REGION]


def test_the_role_is_read_only_by_default() -> None:
    for name in ("RollbackEnabled", "ApprovalsEnabled", "TrafficEnabled", "FreezeEnabled"):
        assert _spoke()["Parameters"][name]["Default"] == "false"
    stack = Spoke(_spoke(), BASE)
    assert not _actions(stack) & ALL_WRITES
    for action in _actions(stack):
        assert action.split(":", 1)[1].startswith(READ_PREFIXES), action


def test_no_wildcard_action_and_wildcard_resources_only_where_iam_has_no_resource_type() -> None:
    for statement in Spoke(_spoke(), WRITES).statements():
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= NO_RESOURCE_TYPE, statement
        assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"], statement


def test_each_enabled_write_covers_exactly_its_named_targets() -> None:
    stack = Spoke(_spoke(), WRITES)
    assert _actions(stack) >= ALL_WRITES
    expected = {
        "RerunPipelinesPinnedToACommit": ("codepipeline", "web-prod", "api-prod"),
        "RollBackStages": ("codepipeline", "api-prod/Deploy", "api-prod/Build"),
        "FreezeDeployStages": ("codepipeline", "api-prod/Deploy", "web-prod/Deploy"),
        "RedeployToDeploymentGroups": (
            "codedeploy",
            "deploymentgroup:web/production",
            "deploymentgroup:web/staging",
        ),
        "ReadRevisionsToRedeploy": ("codedeploy", "application:web", "application:api"),
        "AnswerManualApprovals": ("codepipeline", "web-prod/Approve/Release", "web-prod/Approve/X"),
        "FreezeStagesFromSlack": ("codepipeline", "web-prod/Deploy", "api-prod/Deploy"),
    }
    for sid, (service, granted, refused) in expected.items():
        statement = stack.statement(sid)
        assert _grants(statement, _arn(service, granted), REGION), sid
        assert not _grants(statement, _arn(service, refused), REGION), sid
        assert not _grants(statement, _arn(service, granted, "ap-south-1"), "ap-south-1"), sid
    steer = stack.statement("SteerBlueGreenDeployments")
    assert steer["Resource"] == "*" and not _grants(steer, "*", "ap-south-1")


def test_a_further_region_only_forwards_events() -> None:
    stack = Spoke(_spoke(), {**WRITES, "CreateRole": "false"})
    assert not stack.exists("DeployBotSpokeRole")
    assert stack.exists("ForwardRule") and stack.exists("ForwardRole")
    assert _spoke()["Outputs"]["RoleArn"]["Condition"] == "CreateRole"


# --- the events -------------------------------------------------------------------------------


def test_events_go_to_the_hubs_default_bus_as_a_role_that_may_put_there_alone() -> None:
    stack = Spoke(_spoke(), BASE)
    bus = f"arn:aws:events:{HUB_REGION}:{HUB}:event-bus/default"
    rule = stack.resource("ForwardRule")
    [target] = rule["Targets"]
    assert target["Arn"] == bus and target["RoleArn"] == "<ForwardRole.Arn>"
    hub_rule = _raw()["Resources"]["DeploymentEventsRule"]["Properties"]["EventPattern"]
    assert rule["EventPattern"] == hub_rule  # what the hub's own rule listens for
    role = stack.resource("ForwardRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", bus)
    # the hub in this very region: its bus here
    here = Spoke(_spoke(), {**BASE, "HubRegion": ""}).resource("ForwardRule")["Targets"][0]
    assert here["Arn"] == f"arn:aws:events:{REGION}:{HUB}:event-bus/default"
    assert not Spoke(_spoke(), {**BASE, "ForwardEvents": "false"}).exists("ForwardRule")


# --- the hub's side (template.yaml) -----------------------------------------------------------

SPOKES = {
    **PARAMETERS,
    "SpokeRoleArns": f"arn:aws:iam::{ACCOUNT}:role/spoke-a,arn:aws:iam::444455556666:role/b",
    "SpokeAccountIds": f"{ACCOUNT},444455556666",
    "EnableEventBridge": "true",
}


@pytest.fixture(scope="module")
def hub() -> Stack:
    return Stack(_translate(SPOKES), SPOKES)


def test_the_hub_may_assume_the_named_spoke_roles_and_no_other(hub: Stack) -> None:
    statement = hub.statement("AssumeSpokeRoles")
    assert statement["Action"] == "sts:AssumeRole"
    assert _grants_anywhere(statement, f"arn:aws:iam::{ACCOUNT}:role/spoke-a")
    assert not _grants_anywhere(statement, f"arn:aws:iam::{ACCOUNT}:role/spoke-b")
    off = Stack(_translate(PARAMETERS), PARAMETERS)
    assert not [s for s in off.statements() if s.get("Sid") == "AssumeSpokeRoles"]


def test_the_hubs_bus_takes_events_from_the_named_spoke_accounts_only(hub: Stack) -> None:
    policy = hub.resource("SpokeEventsPolicy")
    assert policy["EventBusName"] == "default"
    statement = policy["Statement"]
    assert statement["Principal"] == {"AWS": [ACCOUNT, "444455556666"]}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == "arn:aws:events:eu-west-1:123456789012:event-bus/default"
    # off by default, and only with the EventBridge rule that takes the events in
    assert _raw()["Parameters"]["SpokeAccountIds"]["Default"] == "none"
    assert not Stack(_translate(PARAMETERS), PARAMETERS).exists("SpokeEventsPolicy")
    no_rule = {**SPOKES, "EnableEventBridge": "false"}
    assert not Stack(_translate(no_rule), no_rule).exists("SpokeEventsPolicy")
