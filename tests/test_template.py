"""The SAM template: CloudFormation would accept it, it translates, and its IAM policy grants no
more than it must."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.cfn_rules import problems

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
REGION, ACCOUNT = "eu-west-1", "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": "deploybot",
}
PARAMETERS = {
    **PSEUDO,
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
    "FreezeEnabled": "true",
    "FreezeStages": "web-prod/Deploy",
    "GitHubTokenParameter": "/deploybot/github-token",
    "CodeCommitRepositories": "web,api",
}
# Actions that have no resource type in the Service Authorization Reference: "*" is the only
# resource they accept.
NO_RESOURCE_TYPE = {
    "codepipeline:ListPipelines",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
    "codedeploy:ContinueDeployment",
    "codedeploy:StopDeployment",
}
# Writes that IAM cannot scope to a resource (above): granted on "*" in this region only, and
# each only behind its own off-by-default parameter.
UNSCOPABLE_WRITES = {"codedeploy:ContinueDeployment", "codedeploy:StopDeployment"}
READ_PREFIXES = ("Get", "List", "BatchGet", "Describe")
ROLLBACK_WRITES = {
    "codepipeline:StartPipelineExecution",
    "codepipeline:RollbackStage",
    "codepipeline:DisableStageTransition",
    "codepipeline:EnableStageTransition",
    "codedeploy:CreateDeployment",
}


class _NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs; this template names none."""

    def load(self) -> dict[str, str]:
        return {}


def _raw() -> dict[str, Any]:
    return dict(yaml_parse(TEMPLATE.read_text()))


def _translate(parameters: Mapping[str, str]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", REGION)
        template = _raw()
        # What `sam package` does before CloudFormation sees it: the code is uploaded to S3.
        function = template["Resources"]["DeployBotFunction"]["Properties"]
        function["CodeUri"] = "s3://artifacts/deploybot.zip"
        return dict(transform(template, dict(parameters), _NoManagedPolicies()))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return _translate(PARAMETERS)


class Stack:
    """The translated template evaluated for one set of parameter values, as CloudFormation would.

    Evaluates the intrinsics this template uses (Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::If,
    Fn::GetAtt as a placeholder) and its conditions; AWS::NoValue removes the key or item.
    """

    _GONE = object()

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, str]) -> None:
        self.template = template
        self.values: dict[str, Any] = dict(values)
        for name, parameter in template.get("Parameters", {}).items():
            value = self.values.get(name, parameter.get("Default", ""))
            is_list = parameter["Type"] == "CommaDelimitedList"
            self.values[name] = value.split(",") if is_list else str(value)

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, node: Any) -> Any:
        [(key, arg)] = node.items()
        if key == "Fn::Equals":
            return self.eval(arg[0]) == self.eval(arg[1])
        if key == "Fn::Not":
            return not self._condition(arg[0])
        if key == "Fn::And":
            return all(self._condition(item) for item in arg)
        if key == "Condition":
            return self.condition(arg)
        raise AssertionError(f"unexpected condition {key}")

    def eval(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.eval(item) for item in node]
            return [item for item in items if item is not self._GONE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, arg)] = node.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._function(key, arg)
        items = {k: self.eval(v) for k, v in node.items()}
        return {k: v for k, v in items.items() if v is not self._GONE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            if arg == "AWS::NoValue":
                return self._GONE
            return self.values.get(arg, f"<{arg}>")
        if key == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        if key == "Fn::If":
            return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Join":
            return arg[0].join(self.eval(arg[1]))
        if key == "Fn::Split":
            return self.eval(arg[1]).split(arg[0])
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {**self.values, **{k: self.eval(v) for k, v in extra.items()}}
            return re.sub(r"\$\{([^!}][^}]*)\}", lambda m: str(names[m.group(1)]), text)
        raise AssertionError(f"unexpected intrinsic {key}")

    def resource(self, name: str) -> dict[str, Any]:
        resource = self.template["Resources"][name]
        assert "Condition" not in resource or self.condition(resource["Condition"])
        return dict(self.eval(resource["Properties"]))

    def exists(self, name: str) -> bool:
        condition = self.template["Resources"][name].get("Condition")
        return condition is None or self.condition(condition)

    def statements(self) -> list[dict[str, Any]]:
        role = self.resource("DeployBotFunctionRole")
        return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]

    def statement(self, sid: str) -> dict[str, Any]:
        [statement] = [s for s in self.statements() if s.get("Sid") == sid]
        return statement

    def env(self) -> dict[str, str]:
        function = self.resource("DeployBotFunction")
        return dict(function["Environment"]["Variables"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _iam_matches(pattern: str, arn: str) -> bool:
    """IAM resource matching: `*` any run of characters, `?` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def _grants(statement: dict[str, Any], arn: str, region: str = REGION) -> bool:
    """Does this Allow statement cover `arn` for a request to `region`?"""
    pinned = statement.get("Condition", {}).get("StringEquals", {}).get("aws:RequestedRegion")
    if pinned is not None and pinned != region:
        return False
    return any(_iam_matches(pattern, arn) for pattern in _as_list(statement["Resource"]))


# --- what CloudFormation accepts --------------------------------------------------------------


def test_the_template_uses_intrinsic_functions_as_cloudformation_allows(
    translated: dict[str, Any],
) -> None:
    # GIVEN the template as written and as SAM translates it
    generated = frozenset(translated["Resources"])
    # THEN neither has a function where the reference allows none, nor names anything unknown
    assert problems(_raw(), extra_resources=generated) == []
    assert problems(translated) == []


BROKEN = {
    "join delimiter": {"Fn::Join": [{"Fn::Sub": ",arn:${AWS::Partition}:x:"}, ["a", "b"]]},
    "split delimiter": {"Fn::Split": [{"Ref": "Sep"}, "a,b"]},
    "ref": {"Ref": "PipelineName"},
    "sub variable": {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${Region}:x"},
    "sub string": {"Fn::Sub": [{"Fn::Join": ["", ["a"]]}, {}]},
    "sub value": {"Fn::Sub": ["${A}", {"A": {"Fn::Split": [",", "a,b"]}}]},
    "getatt": {"Fn::GetAtt": ["Nowhere", "Arn"]},
    "if": {"Fn::If": ["NoSuchCondition", "a", "b"]},
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_rules_reject_what_cloudformation_rejects(case: str) -> None:
    # GIVEN a template that uses one intrinsic function against the reference
    template = {
        "Parameters": {"Sep": {"Type": "String"}, "PipelineNames": {"Type": "String"}},
        "Resources": {"Thing": {"Type": "AWS::SNS::Topic", "Properties": {"X": BROKEN[case]}}},
    }
    # THEN the rules name it
    [problem] = problems(template)
    assert problem.startswith("Resources.Thing.Properties.X")


def test_the_rules_catch_the_join_this_template_used_to_have() -> None:
    # GIVEN the ARN list of the template before issue 11 (rejected by create-stack)
    old = {
        "Fn::Split": [
            ",",
            {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Names}",
                    {
                        "Names": {
                            "Fn::Join": [
                                {
                                    "Fn::Sub": ",arn:${AWS::Partition}:codepipeline:"
                                    "${AWS::Region}:${AWS::AccountId}:"
                                },
                                {"Ref": "PipelineNames"},
                            ]
                        }
                    },
                ]
            },
        ]
    }
    template = {
        "Parameters": {"PipelineNames": {"Type": "CommaDelimitedList"}},
        "Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Resource": old}}},
    }
    assert ["the Fn::Join delimiter must be a literal string" in p for p in problems(template)] == [
        True
    ]


def _cfn_lint() -> str:
    found = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert found is not None
    return found


def test_cfn_lint_passes() -> None:
    result = subprocess.run(
        [_cfn_lint(), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pinned_cfn_lint_still_reports_a_function_in_a_join_delimiter(tmp_path: Path) -> None:
    # GIVEN a SAM function whose policy joins ARNs with a function as the delimiter, the way
    # this template did before issue 11 (create-stack refuses it)
    delimiter = {"Fn::Sub": ",arn:${AWS::Partition}:codepipeline:"}
    names = {"Fn::Join": [delimiter, {"Ref": "Names"}]}
    arns = {"Fn::Sub": ["arn:${AWS::Partition}:codepipeline:${N}", {"N": names}]}
    statement = {
        "Effect": "Allow",
        "Action": "codepipeline:GetPipeline",
        "Resource": {"Fn::Split": [",", arns]},
    }
    function = {
        "CodeUri": "s3://bucket/code.zip",
        "Handler": "a.b",
        "Runtime": "python3.13",
        "Policies": [{"Version": "2012-10-17", "Statement": [statement]}],
    }
    bad = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Parameters": {"Names": {"Type": "CommaDelimitedList"}},
        "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": function}},
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    # WHEN the project's cfn-lint reads it, THEN it says E1018 (1.54 to 1.58 stay silent on a
    # SAM function's policy: keep this pin until a newer version reports it again)
    result = subprocess.run([_cfn_lint(), str(path)], capture_output=True, text=True, check=False)
    assert "E1018" in result.stdout, result.stdout


# --- what the stack is made of ----------------------------------------------------------------


def test_template_translates_to_one_function_with_its_url(translated: dict[str, Any]) -> None:
    stack = Stack(translated, PARAMETERS)
    function = stack.resource("DeployBotFunction")
    assert function["Handler"] == "bot.lambda_function.handler"
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["FunctionName"] == "deploybot-deploybot"
    assert "ReservedConcurrentExecutions" not in function
    assert stack.resource("DeployBotFunctionUrl")["AuthType"] == "NONE"
    assert stack.resource("StateTable")["TimeToLiveSpecification"]["Enabled"] is True
    destination = stack.resource("DeployBotFunctionEventInvokeConfig")
    assert destination["DestinationConfig"]["OnFailure"]["Destination"]
    assert "KmsMasterKeyId" not in stack.resource("NotificationTopic")


def test_reserved_concurrency_and_a_topic_key_are_offered() -> None:
    # GIVEN both parameters set
    values = {**PARAMETERS, "ReservedConcurrency": "20", "TopicKmsKeyId": "alias/deploybot"}
    stack = Stack(_translate(values), values)
    # THEN the function reserves them and the topic is encrypted with that key
    assert stack.resource("DeployBotFunction")["ReservedConcurrentExecutions"] == "20"
    assert stack.resource("NotificationTopic")["KmsMasterKeyId"] == "alias/deploybot"
    # AND with a topic of the user's own, the key parameter changes nothing of theirs
    own = {**values, "ExistingTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:theirs"}
    assert not Stack(_translate(own), own).exists("NotificationTopic")


def test_secrets_come_from_ssm_by_default(translated: dict[str, Any]) -> None:
    stack = Stack(translated, PARAMETERS)
    assert stack.env()["SLACK_BOT_TOKEN_PARAMETER"] == "/deploybot/slack-bot-token"
    assert "SLACK_SECRETS_ID" not in stack.env()
    assert _as_list(stack.statement("ReadSlackSecrets")["Resource"]) == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/deploybot/slack-bot-token",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/deploybot/slack-signing-secret",
    ]
    assert not [s for s in stack.statements() if s.get("Sid") == "ReadSlackSecret"]


def test_secrets_manager_replaces_ssm_when_a_secret_is_named() -> None:
    # GIVEN SlackSecretsId
    values = {**PARAMETERS, "SlackSecretsId": "deploybot/slack"}
    stack = Stack(_translate(values), values)
    # THEN the function reads that secret only, and may read nothing else
    env = stack.env()
    assert env["SLACK_SECRETS_ID"] == "deploybot/slack"
    assert "SLACK_BOT_TOKEN_PARAMETER" not in env
    assert "SLACK_SIGNING_SECRET_PARAMETER" not in env
    statement = stack.statement("ReadSlackSecret")
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    # Secrets Manager ARNs end in "-" and six random characters
    assert _grants(
        statement, f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:deploybot/slack-AbC123"
    )
    assert not _grants(
        statement, f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:deploybot/slack-other-AbC123"
    )
    assert not [s for s in stack.statements() if s.get("Sid") == "ReadSlackSecrets"]


# --- what the role may do ---------------------------------------------------------------------


def test_no_statement_grants_a_wildcard_action(translated: dict[str, Any]) -> None:
    for statement in Stack(translated, PARAMETERS).statements():
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement


def test_wildcard_resources_only_for_actions_without_resource_types(
    translated: dict[str, Any],
) -> None:
    for statement in Stack(translated, PARAMETERS).statements():
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= NO_RESOURCE_TYPE, statement


def test_every_write_action_is_scoped_to_named_resources(translated: dict[str, Any]) -> None:
    writes = []
    for statement in Stack(translated, PARAMETERS).statements():
        for action in _as_list(statement["Action"]):
            if not action.split(":", 1)[1].startswith(READ_PREFIXES):
                writes.append(action)
                if action in UNSCOPABLE_WRITES:
                    assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"]
                else:
                    assert "*" not in _as_list(statement["Resource"]), statement
    assert writes


def _arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def test_pipeline_reads_cover_exactly_the_named_pipelines_in_this_region(
    translated: dict[str, Any],
) -> None:
    statement = Stack(translated, PARAMETERS).statement("ReadPipelines")
    assert _grants(statement, _arn("codepipeline", "web-prod"))
    assert _grants(statement, _arn("codepipeline", "api-prod"))
    assert not _grants(statement, _arn("codepipeline", "web-prod-2"))
    assert not _grants(statement, _arn("codepipeline", "other"))
    assert not _grants(statement, _arn("codepipeline", "web-prod/Deploy"))
    # the same name in another region is not this stack's pipeline
    assert not _grants(statement, _arn("codepipeline", "web-prod", "us-east-1"), "us-east-1")


def test_deployment_reads_cover_exactly_the_named_groups(translated: dict[str, Any]) -> None:
    statement = Stack(translated, PARAMETERS).statement("ReadDeploymentGroups")
    assert _grants(statement, _arn("codedeploy", "deploymentgroup:web/production"))
    assert _grants(statement, _arn("codedeploy", "deploymentgroup:api/production"))
    assert not _grants(statement, _arn("codedeploy", "deploymentgroup:web/staging"))
    assert not _grants(statement, _arn("codedeploy", "application:web"))


def test_the_release_diff_reads_only_the_named_token_and_repositories(
    translated: dict[str, Any],
) -> None:
    stack = Stack(translated, PARAMETERS)
    token = stack.statement("ReadGitHubToken")
    assert token["Resource"] == _arn("ssm", "parameter/deploybot/github-token")
    commits = stack.statement("ReadCodeCommitCommits")
    assert commits["Action"] == "codecommit:BatchGetCommits"
    assert _grants(commits, _arn("codecommit", "web"))
    assert _grants(commits, _arn("codecommit", "api"))
    assert not _grants(commits, _arn("codecommit", "web-2"))
    assert not _grants(commits, _arn("codecommit", "web", "us-east-1"), "us-east-1")


def test_lazy_listeners_may_invoke_only_this_function(translated: dict[str, Any]) -> None:
    statement = Stack(translated, PARAMETERS).statement("LazyListenersInvokeThisFunction")
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == _arn("lambda", "function:deploybot-deploybot")


def test_bolts_lazy_runner_needs_only_lambda_invoke() -> None:
    # GIVEN Bolt's Lambda lazy runner with a client that expects exactly one Invoke
    from slack_bolt import BoltRequest
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    client = boto3.client(
        "lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    arn = _arn("lambda", "function:deploybot-deploybot")
    request = BoltRequest(body="", headers={})
    request.context["lambda_request"] = {"headers": {}, "body": ""}
    request.context["aws_lambda_invoked_function_arn"] = arn
    request.lazy_function_name = "work"
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": arn, "InvocationType": "Event", "Payload": ANY},
        )
        # WHEN it starts a lazy listener
        LambdaLazyListenerRunner(logging.getLogger("test"), client).start(lambda: None, request)
        # THEN Invoke was its only call (GetFunction would have found no stubbed answer)
        stub.assert_no_pending_responses()


def test_rollback_writes_exist_only_when_enabled_and_name_their_targets(
    translated: dict[str, Any],
) -> None:
    raw_role = translated["Resources"]["DeployBotFunctionRole"]["Properties"]
    raw = [s for p in raw_role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    # Every statement granting a rollback write is conditional on RollbackEnabled (default off)
    for statement in raw:
        if "Fn::If" not in statement:
            assert not set(_as_list(statement["Action"])) & ROLLBACK_WRITES, statement
    # (FreezeEnabled grants the freeze actions on its own: the Freeze buttons, issue 13)
    off = Stack(translated, {**PARAMETERS, "RollbackEnabled": "false", "FreezeEnabled": "false"})
    granted = {a for s in off.statements() for a in _as_list(s["Action"])}
    assert not granted & ROLLBACK_WRITES
    # With it, each write covers exactly the named targets
    stack = Stack(translated, PARAMETERS)
    expected = {
        "RerunPipelinesPinnedToACommit": ("codepipeline", "web-prod", "api-prod"),
        "RollBackStages": ("codepipeline", "api-prod/Deploy", "api-prod/Build"),
        # DisableStageTransition / EnableStageTransition take the stage resource type (Service
        # Authorization Reference, CodePipeline).
        "FreezeDeployStages": ("codepipeline", "api-prod/Deploy", "api-prod/Build"),
        "RedeployToDeploymentGroups": (
            "codedeploy",
            "deploymentgroup:web/production",
            "deploymentgroup:api/production",
        ),
        "ReadRevisionsToRedeploy": ("codedeploy", "application:web", "application:api"),
    }
    for sid, (service, granted, refused) in expected.items():
        statement = stack.statement(sid)
        assert _grants(statement, _arn(service, granted)), sid
        assert not _grants(statement, _arn(service, refused)), sid


def test_outputs_give_what_the_readme_commands_need(translated: dict[str, Any]) -> None:
    outputs = Stack(translated, PARAMETERS).eval(translated["Outputs"])
    assert outputs["Region"]["Value"] == REGION
    assert outputs["AccountId"]["Value"] == ACCOUNT
    assert outputs["FunctionRoleArn"]["Value"] == "<DeployBotFunctionRole.Arn>"
    for name in ("NotificationTopicArn", "SlackRequestUrl", "FunctionName"):
        assert name in outputs


ACTION_WRITES = {
    "ApprovalsEnabled": {"codepipeline:PutApprovalResult"},
    "TrafficEnabled": {"codedeploy:ContinueDeployment", "codedeploy:StopDeployment"},
    "FreezeEnabled": {"codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition"},
}


@pytest.mark.parametrize("condition", sorted(ACTION_WRITES))
def test_approval_traffic_and_freeze_writes_are_off_by_default(
    translated: dict[str, Any], condition: str
) -> None:
    # GIVEN the template's own default for the parameter, THEN none of its writes is granted
    assert translated["Parameters"][condition]["Default"] == "false"
    off = Stack(translated, {**PARAMETERS, condition: "false", "RollbackEnabled": "false"})
    granted = {a for s in off.statements() for a in _as_list(s["Action"])}
    assert not granted & ACTION_WRITES[condition]
    on = Stack(translated, {**PARAMETERS, "RollbackEnabled": "false"})
    assert ACTION_WRITES[condition] <= {a for s in on.statements() for a in _as_list(s["Action"])}


def test_blue_green_steering_is_granted_as_iam_allows_it_only_in_this_region(
    translated: dict[str, Any],
) -> None:
    # ContinueDeployment and StopDeployment have no resource type (Service Authorization
    # Reference for CodeDeploy; aws-facts §7): only "*" matches, so the region is the scope
    statement = Stack(translated, PARAMETERS).statement("SteerBlueGreenDeployments")
    assert set(statement["Action"]) == {
        "codedeploy:ContinueDeployment",
        "codedeploy:StopDeployment",
    }
    assert statement["Resource"] == "*"
    assert _grants(statement, "*")
    assert not _grants(statement, "*", region="us-east-1")


def test_approval_traffic_and_freeze_writes_cover_exactly_the_named_targets(
    translated: dict[str, Any],
) -> None:
    stack = Stack(translated, PARAMETERS)
    expected = {
        # PutApprovalResult takes the action resource type: pipeline/stage/action.
        "AnswerManualApprovals": (
            "codepipeline",
            ("web-prod/Approve/Release", "api-prod/Gate/Ship"),
            ("web-prod/Approve/Other", "web-prod/Deploy/Release"),
        ),
        "FreezeStagesFromSlack": ("codepipeline", ("web-prod/Deploy",), ("api-prod/Deploy",)),
    }
    for sid, (service, granted, refused) in expected.items():
        statement = stack.statement(sid)
        for resource in granted:
            assert _grants(statement, _arn(service, resource)), (sid, resource)
            assert not _grants(statement, _arn(service, resource), region="us-east-1"), sid
        for resource in refused:
            assert not _grants(statement, _arn(service, resource)), (sid, resource)


def test_the_state_table_keeps_its_key_and_gains_the_lists_index(
    translated: dict[str, Any],
) -> None:
    # GIVEN the table as the first release made it (pk alone): changing KeySchema would make
    # CloudFormation replace the table and lose every living message's state
    table = translated["Resources"]["StateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    # THEN the ledger's and the sweep's lists come from one global secondary index, which an
    # update adds without interruption
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "lists"
    assert index["KeySchema"] == [
        {"AttributeName": "list_name", "KeyType": "HASH"},
        {"AttributeName": "list_pos", "KeyType": "RANGE"},
    ]
    names = {d["AttributeName"] for d in table["AttributeDefinitions"]}
    assert names == {"pk", "list_name", "list_pos"}
    # AND the function may query that index only
    statement = Stack(translated, PARAMETERS).statement("LedgerAndSweepLists")
    assert statement["Action"] == "dynamodb:Query"
    assert statement["Resource"] == "<StateTable.Arn>/index/lists"


def test_the_sweep_runs_every_five_minutes_unless_turned_off(translated: dict[str, Any]) -> None:
    assert translated["Parameters"]["SweepSchedule"]["Default"] == "rate(5 minutes)"
    rule = Stack(translated, PARAMETERS).resource("SweepRule")
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    [target] = rule["Targets"]
    assert "Input" not in target  # the function gets the rule's own "Scheduled Event"
    permission = Stack(translated, PARAMETERS).resource("SweepPermission")
    assert permission["Principal"] == "events.amazonaws.com"
    off = Stack(translated, {**PARAMETERS, "SweepSchedule": ""})
    assert not off.exists("SweepRule") and not off.exists("SweepPermission")


def test_an_empty_github_token_parameter_means_none() -> None:
    # GIVEN GitHubTokenParameter left empty (the token lives in the SlackSecretsId secret, or
    # there is none)
    values = {**PARAMETERS, "GitHubTokenParameter": "", "SlackSecretsId": "deploybot/slack"}
    stack = Stack(_translate(values), values)
    # THEN the function is told of no parameter, and may read none for it
    assert "GITHUB_TOKEN_PARAMETER" not in stack.env()
    assert not [s for s in stack.statements() if s.get("Sid") == "ReadGitHubToken"]
    # AND CloudFormation would accept the empty value
    pattern = _raw()["Parameters"]["GitHubTokenParameter"]["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, "/deploybot/github-token")


def test_the_github_api_url_is_a_parameter(translated: dict[str, Any]) -> None:
    # GIVEN the default, THEN github.com's API
    assert Stack(translated, PARAMETERS).env()["GITHUB_API_URL"] == "https://api.github.com"
    # AND a GitHub Enterprise Server's API when given
    values = {**PARAMETERS, "GitHubApiUrl": "https://ghe.example/api/v3"}
    assert Stack(_translate(values), values).env()["GITHUB_API_URL"] == "https://ghe.example/api/v3"
    pattern = _raw()["Parameters"]["GitHubApiUrl"]["AllowedPattern"]
    assert not re.fullmatch(pattern, "")
