"""The pure side of rolling back: where the button appears, which target, who may press."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from blocks.deployment import build_message
from blocks.rollback import rollback_button
from bot.domain.config import (
    ConfigError,
    RollbackGroup,
    RollbackPipeline,
    RollbackSettings,
    config_from_mapping,
)
from bot.domain.model import Commit, Deployment, Execution, Scope, Source, Status
from bot.domain.rollback import (
    CODEDEPLOY,
    PIPELINE,
    VALUE_MAX,
    Claim,
    Target,
    authorization_refusal,
    check_deployment,
    check_pipeline,
    decode,
    encode,
    target_for,
    verdict,
)
from tests.blockkit import violations

GOOD = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
BAD = "60303ae22b998861bce3b28f33eec1be758a213c"
SETTINGS = RollbackSettings(
    pipelines=(RollbackPipeline("web-prod", environment="production"),),
    deployment_groups=(RollbackGroup("legacy-app", "prod"),),
    users=("U0ALLOWED",),
    usergroups=("S0ONCALL",),
    channels=("C0DEPLOYS",),
)


def _execution(status: Status, sha: str = GOOD, **extra: Any) -> Deployment:
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=status,
        pipeline="web-prod",
        execution_id="exec-new",
        commit=Commit(sha=sha, title="Fix checkout"),
        **extra,
    )


def test_a_successful_execution_offers_itself() -> None:
    target = target_for(_execution(Status.SUCCEEDED), SETTINGS)
    assert target == Target(
        strategy=PIPELINE,
        sha=GOOD,
        pipeline="web-prod",
        execution_id="exec-new",
        title="Fix checkout",
        environment="production",
    )


def test_a_failed_execution_offers_the_previous_good_one() -> None:
    good = Execution("exec-old", Status.SUCCEEDED, commit=Commit(sha=GOOD, title="Stable"))
    target = target_for(_execution(Status.FAILED, sha=BAD, last_good=good), SETTINGS)
    assert target is not None
    assert (target.execution_id, target.sha, target.title) == ("exec-old", GOOD, "Stable")


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_execution(Status.FAILED, sha=BAD), id="failed-without-previous-good"),
        pytest.param(
            _execution(
                Status.FAILED, last_good=Execution("o", Status.SUCCEEDED, commit=Commit(GOOD))
            ),
            id="previous-good-is-the-failed-commit",
        ),
        pytest.param(_execution(Status.IN_PROGRESS), id="not-final"),
        pytest.param(_execution(Status.STOPPED), id="stopped"),
        pytest.param(
            Deployment(
                source=Source.CODEPIPELINE,
                scope=Scope.PIPELINE,
                status=Status.SUCCEEDED,
                pipeline="web-prod",
                execution_id="e",
                commit=Commit(GOOD, confirmed=False),
            ),
            id="unconfirmed-commit",
        ),
        pytest.param(
            Deployment(
                source=Source.CODEPIPELINE,
                scope=Scope.PIPELINE,
                status=Status.SUCCEEDED,
                pipeline="other",
                execution_id="e",
                commit=Commit(GOOD),
            ),
            id="pipeline-not-enabled",
        ),
        pytest.param(
            Deployment(
                source=Source.CODEPIPELINE,
                scope=Scope.STAGE,
                status=Status.SUCCEEDED,
                pipeline="web-prod",
                execution_id="e",
                commit=Commit(GOOD),
            ),
            id="a-stage-event",
        ),
        pytest.param(
            Deployment(
                source=Source.CODEDEPLOY,
                scope=Scope.DEPLOYMENT,
                status=Status.SUCCEEDED,
                application="legacy-app",
                deployment_group="prod",
                deployment_id="d-1",
                execution_id="exec-of-a-pipeline",
            ),
            id="deployment-of-a-pipeline",
        ),
    ],
)
def test_no_button_without_a_valid_target(event: Deployment) -> None:
    assert target_for(event, SETTINGS) is None
    assert target_for(event, RollbackSettings()) is None


def test_nothing_configured_offers_nothing() -> None:
    assert target_for(_execution(Status.SUCCEEDED), RollbackSettings()) is None


def test_a_codedeploy_deployment_without_pipeline_offers_itself() -> None:
    event = Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=Status.SUCCEEDED,
        application="legacy-app",
        deployment_group="prod",
        deployment_id="d-1",
    )
    target = target_for(event, SETTINGS)
    assert target is not None
    assert (target.strategy, target.deployment_id, target.environment) == (
        CODEDEPLOY,
        "d-1",
        "legacy-app/prod",
    )


def test_the_value_round_trips_within_slacks_limit() -> None:
    target = Target(PIPELINE, sha=GOOD, pipeline="p" * 100, execution_id="e" * 36)
    value = encode(target)
    assert len(value) < VALUE_MAX
    assert decode(value) == target
    assert decode("not json") is None
    assert decode('{"s":"pipeline","c":"x"}') is None  # no pipeline nor execution


@pytest.mark.parametrize(
    ("settings", "user", "channel", "groups", "allowed"),
    [
        (SETTINGS, "U0ALLOWED", "C0DEPLOYS", (), True),
        (SETTINGS, "U0ONCALL", "C0DEPLOYS", ("S0ONCALL",), True),
        (SETTINGS, "U0STRANGER", "C0DEPLOYS", (), False),
        (SETTINGS, "U0ALLOWED", "C0RANDOM", (), False),
        (RollbackSettings(users=("U0ALLOWED",)), "U0ALLOWED", "C0DEPLOYS", (), False),
        (RollbackSettings(channels=("C0DEPLOYS",)), "U0ALLOWED", "C0DEPLOYS", (), False),
        (RollbackSettings(), "U0ALLOWED", "C0DEPLOYS", (), False),
    ],
)
def test_authorization_denies_by_default(
    settings: RollbackSettings, user: str, channel: str, groups: tuple[str, ...], allowed: bool
) -> None:
    assert (authorization_refusal(settings, user, channel, groups) == "") is allowed


def _summary(execution_id: str, sha: str, status: str = "Succeeded", **extra: Any) -> Any:
    return {
        "pipelineExecutionId": execution_id,
        "status": status,
        "sourceRevisions": [{"actionName": "Source", "revisionId": sha}],
        **extra,
    }


TARGET = Target(PIPELINE, sha=GOOD, pipeline="web-prod", execution_id="old")


def test_a_valid_pipeline_target_names_the_source_action_to_pin() -> None:
    check = check_pipeline(TARGET, [_summary("new", BAD), _summary("old", GOOD)])
    assert check.refusal == ""
    assert check.source_action == "Source"


@pytest.mark.parametrize(
    ("summaries", "reason"),
    [
        ([_summary("old", GOOD)], "already the live one"),
        ([_summary("new", GOOD), _summary("old", GOOD)], "is already live (execution new)"),
        ([_summary("new", BAD), _summary("old", GOOD, "Failed")], "is Failed, not Succeeded"),
        ([_summary("new", BAD)], "is not among the 1 latest"),
        (
            [
                _summary("rb", GOOD, "InProgress", executionType="ROLLBACK"),
                _summary("new", BAD),
                _summary("old", GOOD),
            ],
            "already rolling back (execution rb)",
        ),
        ([_summary("new", BAD), _summary("old", BAD)], "did not ship commit 9f86d08"),
    ],
)
def test_a_stale_pipeline_target_is_refused(summaries: list[Any], reason: str) -> None:
    assert reason in check_pipeline(TARGET, summaries).refusal


def test_a_codedeploy_target_is_rechecked() -> None:
    target = Target(CODEDEPLOY, application="a", deployment_group="g", deployment_id="d-old")
    info = {"applicationName": "a", "deploymentGroupName": "g", "status": "Succeeded"}
    group = {"lastSuccessfulDeployment": {"deploymentId": "d-new"}}
    assert check_deployment(target, {"deploymentInfo": info}, {"deploymentGroupInfo": group}) == ""
    live = {"lastSuccessfulDeployment": {"deploymentId": "d-old"}}
    assert "already the live one" in check_deployment(
        target, {"deploymentInfo": info}, {"deploymentGroupInfo": live}
    )
    busy = {"lastAttemptedDeployment": {"deploymentId": "d-x", "status": "InProgress"}}
    assert "d-x is still running" in check_deployment(
        target, {"deploymentInfo": info}, {"deploymentGroupInfo": busy}
    )


def test_one_rollback_per_target_at_a_time() -> None:
    claim = Claim(user="U1", request="U1:1", token="t", at=1000.0)
    assert verdict(None, "U1:1", 1000) == "claim"
    assert verdict(claim, "U1:1", 1001) == "resume"  # the lazy listener runs again
    assert verdict(claim, "U2:2", 1001) == "duplicate"  # a second click
    assert verdict(Claim("U1", "U1:1", "t", 1000.0, state="started"), "U1:1", 1001) == "done"
    assert verdict(Claim("U1", "U1:1", "t", 1000.0, state="failed"), "U2:2", 1001) == "claim"
    assert verdict(claim, "U2:2", 1000 + 3601) == "claim"


def test_the_confirm_dialog_names_environment_commit_and_what_happens(
    snapshot: SnapshotAssertion,
) -> None:
    event = _execution(Status.SUCCEEDED)
    target = target_for(event, SETTINGS)
    assert target is not None
    button = rollback_button(target, event)
    assert button["style"] == "danger"
    assert button["confirm"]["style"] == "danger"
    assert "production" in button["confirm"]["title"]["text"]
    assert "9f86d08 Fix checkout" in button["confirm"]["text"]["text"]
    message = build_message(event, rollback=target)
    assert violations(message) == []
    assert button == snapshot.use_extension(JSONSnapshotExtension)


def test_the_confirm_dialog_stays_within_limits_with_huge_names() -> None:
    long = "x" * 400
    target = Target(
        PIPELINE, sha=GOOD, pipeline=long, execution_id="e", title=long, environment=long
    )
    button = rollback_button(target, _execution(Status.SUCCEEDED))
    assert violations({"blocks": [{"type": "actions", "elements": [button]}]}) == []


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"channels": ["#deploys"]}, "rollback.channels: '#deploys' is not a channel id"),
        ({"users": ["bob"]}, "rollback.users: 'bob' is not a user id"),
        ({"pipelines": [{"pipeline": "p", "strategy": "x"}]}, "rollback.pipelines[0].strategy"),
        ({"pipelines": [{"pipeline": "p", "strategy": "stage"}]}, "rollback.pipelines[0].stage"),
        ({"deployment_groups": [{"application": "a"}]}, "deployment_groups[0].deployment_group"),
        ({"enabled": True}, "rollback.enabled: unknown key"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        config_from_mapping({"rollback": table}, {})


def test_the_default_strategy_reruns_the_pipeline() -> None:
    config = config_from_mapping({"rollback": {"pipelines": [{"pipeline": "p"}]}}, {})
    assert config.rollback.pipelines == (RollbackPipeline("p", strategy="pipeline"),)
