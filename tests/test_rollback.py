"""The pure side of rolling back: where the button appears, which target, who may press, what
"live" means, what a lost answer started, and one claim per environment."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from blocks.deployment import build_message
from blocks.rollback import rollback_button
from bot.domain import claims
from bot.domain.claims import Claim, dump_claim, load_claim, verdict
from bot.domain.codepipeline import DeployRun, PipelineInfo, SourceAction, deploy_runs
from bot.domain.config import (
    ConfigError,
    RollbackGroup,
    RollbackPipeline,
    RollbackSettings,
    config_from_mapping,
)
from bot.domain.model import Commit, Deployment, Execution, Scope, Source, Status
from bot.domain.policy import authorization_refusal
from bot.domain.rollback import (
    CODEDEPLOY,
    PIPELINE,
    STAGE,
    VALUE_MAX,
    Pin,
    Target,
    check_deployment,
    check_pipeline,
    decode,
    encode,
    freeze_reason,
    group_good,
    last_good,
    started_deployment,
    started_execution,
    target_for,
)
from tests.blockkit import violations

GOOD = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
BAD = "60303ae22b998861bce3b28f33eec1be758a213c"
NEW = "11111111-1111-4111-8111-111111111111"
OLD = "22222222-2222-4222-8222-222222222222"
LIVE = "33333333-3333-4333-8333-333333333333"
SETTINGS = RollbackSettings(
    pipelines=(RollbackPipeline("web-prod", environment="production"),),
    deployment_groups=(RollbackGroup("legacy-app", "prod"),),
    users=("U0ALLOWED",),
    usergroups=("S0ONCALL",),
    channels=("C0DEPLOYS",),
)
START = datetime(2026, 9, 6, 10, 0, tzinfo=UTC)


def _execution(status: Status, sha: str = GOOD, **extra: Any) -> Deployment:
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=status,
        pipeline="web-prod",
        execution_id=NEW,
        commit=Commit(sha=sha, title="Fix checkout"),
        **extra,
    )


def _group_event(status: Status = Status.SUCCEEDED, **extra: Any) -> Deployment:
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=status,
        application="legacy-app",
        deployment_group="prod",
        deployment_id="d-A1B2C3D4E",
        **extra,
    )


# --- where the button appears -------------------------------------------------------------------


def test_a_successful_execution_offers_itself_with_its_duration() -> None:
    event = _execution(
        Status.SUCCEEDED, started_at=START, finished_at=START + timedelta(minutes=12)
    )
    assert target_for(event, SETTINGS) == Target(
        strategy=PIPELINE,
        sha=GOOD,
        pipeline="web-prod",
        execution_id=NEW,
        title="Fix checkout",
        environment="production",
        minutes=12,
    )


def test_a_failed_execution_offers_the_good_one_enrichment_found() -> None:
    good = Execution(
        OLD,
        Status.SUCCEEDED,
        started_at=START,
        updated_at=START + timedelta(minutes=9),
        commit=Commit(sha=GOOD, title="Stable"),
    )
    target = target_for(_execution(Status.FAILED, sha=BAD, last_good=good), SETTINGS)
    assert target is not None
    assert (target.execution_id, target.sha, target.title, target.minutes) == (
        OLD,
        GOOD,
        "Stable",
        9,
    )


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_execution(Status.FAILED, sha=BAD), id="failed-without-previous-good"),
        pytest.param(
            _execution(
                Status.FAILED, last_good=Execution(OLD, Status.SUCCEEDED, commit=Commit(GOOD))
            ),
            id="previous-good-is-the-failed-commit",
        ),
        pytest.param(_execution(Status.IN_PROGRESS), id="not-final"),
        pytest.param(_execution(Status.STOPPED), id="stopped"),
        pytest.param(
            replace(_execution(Status.SUCCEEDED), commit=Commit(GOOD, confirmed=False)),
            id="unconfirmed-commit",
        ),
        pytest.param(replace(_execution(Status.SUCCEEDED), pipeline="other"), id="pipeline-off"),
        pytest.param(replace(_execution(Status.SUCCEEDED), scope=Scope.STAGE), id="a-stage-event"),
        pytest.param(
            replace(_execution(Status.SUCCEEDED), execution_id="not-an-execution-id"),
            id="not-an-aws-execution-id",
        ),
        pytest.param(_group_event(execution_id=NEW), id="deployment-of-a-pipeline"),
    ],
)
def test_no_button_without_a_valid_target(event: Deployment) -> None:
    assert target_for(event, SETTINGS) is None
    assert target_for(event, RollbackSettings()) is None


def test_a_codedeploy_deployment_without_pipeline_offers_itself() -> None:
    target = target_for(_group_event(), SETTINGS)
    assert target is not None
    assert (target.strategy, target.deployment_id, target.environment) == (
        CODEDEPLOY,
        "d-A1B2C3D4E",
        "legacy-app/prod",
    )


def test_a_failed_group_deployment_offers_the_last_good_one() -> None:
    event = _group_event(Status.FAILED, last_good=Execution("d-G00DG00D1", Status.SUCCEEDED))
    target = target_for(event, SETTINGS)
    assert target is not None and target.deployment_id == "d-G00DG00D1"


# --- the button's value (issue 17: within Slack's 2,000 characters) -----------------------------


def test_the_value_round_trips_and_stays_small_with_the_longest_aws_names() -> None:
    # GIVEN names and ids at AWS's maximum lengths (100-character names, a 64-hex revision)
    pipeline = Target(PIPELINE, sha="a" * 64, pipeline="p" * 100, execution_id=NEW)
    group = Target(
        CODEDEPLOY,
        sha="b" * 40,
        application="A.@_-+=," * 12 + "abcd",
        deployment_group="g" * 100,
        deployment_id="d-ABCDEFGHI",
    )
    for target in (pipeline, group):
        value = encode(target)
        # THEN the value is far below Slack's limit, and decodes to the same target
        assert len(value) < 400 < VALUE_MAX
        assert decode(value) == target


def test_a_revision_too_long_to_show_is_left_out_of_the_value() -> None:
    # An S3 object version can be 1,500 characters: it is read back from AWS at click time.
    target = Target(PIPELINE, sha="v" * 1500, pipeline="web-prod", execution_id=NEW)
    value = encode(target)
    assert len(value) < 200
    assert decode(value) == Target(PIPELINE, pipeline="web-prod", execution_id=NEW)


def test_a_target_named_beyond_aws_limits_offers_no_button() -> None:
    event = Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=Status.SUCCEEDED,
        application="x" * 5000,
        deployment_group="prod",
        deployment_id="d-A1B2C3D4E",
    )
    settings = RollbackSettings(deployment_groups=(RollbackGroup("x" * 5000, "prod"),))
    assert target_for(event, settings) is None


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[]",
        '{"s":"pipeline","c":"x"}',
        '{"s":"pipeline","p":"web-prod","e":"../../etc"}',
        '{"s":"pipeline","p":"web prod","e":"' + NEW + '"}',
        '{"s":"codedeploy","a":"app","g":"grp","d":"<!channel>"}',
        '{"s":"stage","p":"web-prod","e":"' + NEW + '","c":"<@U1>"}',
        '{"s":"pipeline","p":"web-prod","e":1}',
    ],
)
def test_a_tampered_value_names_no_target(value: str) -> None:
    assert decode(value) is None


# --- who may press --------------------------------------------------------------------------------


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


# --- "live" is what the deploy stage runs ---------------------------------------------------------


def _summary(execution_id: str, sha: str, status: str = "Succeeded", **extra: Any) -> Any:
    return {
        "pipelineExecutionId": execution_id,
        "status": status,
        "sourceRevisions": [{"actionName": "Source", "revisionId": sha}],
        **extra,
    }


INFO = PipelineInfo(
    "web-prod",
    sources=(SourceAction("Source", "CodeStarSourceConnection"),),
    deploy_stage="Deploy",
)
TARGET = Target(PIPELINE, sha=GOOD, pipeline="web-prod", execution_id=OLD)
HISTORY = [_summary(LIVE, BAD), _summary(OLD, GOOD)]


def _deploy(execution_id: str, status: str, minute: int) -> dict[str, Any]:
    return {
        "pipelineExecutionId": execution_id,
        "stageName": "Deploy",
        "actionName": "Deploy",
        "status": status,
        "startTime": START + timedelta(minutes=minute),
        "input": {"actionTypeId": {"category": "Deploy", "provider": "CodeDeploy"}},
    }


def test_the_deploy_stages_runs_are_read_from_action_executions() -> None:
    details = [
        _deploy(LIVE, "Failed", 30),
        {**_deploy(LIVE, "Succeeded", 30), "actionName": "DeployEU"},
        _deploy(OLD, "Succeeded", 10),
        {**_deploy(NEW, "Succeeded", 50), "stageName": "Staging"},
        {**_deploy(NEW, "Succeeded", 50), "input": {"actionTypeId": {"category": "Test"}}},
    ]
    assert deploy_runs(details, "Deploy") == [
        DeployRun(LIVE, Status.FAILED, START + timedelta(minutes=30)),
        DeployRun(OLD, Status.SUCCEEDED, START + timedelta(minutes=10)),
    ]


def test_a_valid_pipeline_target_pins_every_source() -> None:
    info = PipelineInfo(
        "web-prod",
        sources=(SourceAction("Source", "CodeCommit"), SourceAction("Image", "ECR")),
        deploy_stage="Deploy",
    )
    found = _summary(OLD, GOOD)
    found["sourceRevisions"].append({"actionName": "Image", "revisionId": "sha256:" + "c" * 64})
    runs = [DeployRun(LIVE, Status.SUCCEEDED)]
    check = check_pipeline(TARGET, info, [_summary(LIVE, BAD), found], runs)
    assert check.refusal == ""
    assert check.pins == (
        Pin("Source", "COMMIT_ID", GOOD),
        Pin("Image", "IMAGE_DIGEST", "sha256:" + "c" * 64),
    )
    assert (check.stage, check.live) == ("Deploy", LIVE)


@pytest.mark.parametrize(
    ("summaries", "runs", "reason"),
    [
        pytest.param(
            [_summary(OLD, GOOD)],
            [DeployRun(OLD, Status.SUCCEEDED)],
            f"execution {OLD} is what stage Deploy runs already",
            id="the-target-runs",
        ),
        pytest.param(
            [_summary(LIVE, GOOD), _summary(OLD, GOOD)],
            [DeployRun(LIVE, Status.SUCCEEDED)],
            f"commit 9f86d08 is what stage Deploy runs already (execution {LIVE})",
            id="its-commit-runs",
        ),
        pytest.param(
            [_summary(LIVE, BAD), _summary(OLD, GOOD, "Failed")],
            [],
            "is Failed, not Succeeded",
            id="target-failed",
        ),
        pytest.param([_summary(LIVE, BAD)], [], "is not among the 1 latest", id="too-old"),
        pytest.param(
            [
                _summary(NEW, GOOD, "InProgress", executionType="ROLLBACK"),
                *HISTORY,
            ],
            [],
            f"already rolling back (execution {NEW})",
            id="rolling-back",
        ),
        pytest.param(
            [_summary(LIVE, BAD), _summary(OLD, BAD)],
            [],
            "did not ship commit 9f86d08",
            id="other-commit",
        ),
    ],
)
def test_a_stale_pipeline_target_is_refused(
    summaries: list[Any], runs: list[DeployRun], reason: str
) -> None:
    assert reason in check_pipeline(TARGET, INFO, summaries, runs).refusal


def test_after_a_failed_deploy_nothing_counts_as_live() -> None:
    # GIVEN the newest deploy failed (CodeDeploy without automatic rollback): half deployed
    runs = [DeployRun(LIVE, Status.FAILED), DeployRun(OLD, Status.SUCCEEDED)]
    # THEN going back to the last good one, even the one that ran before, is allowed
    assert check_pipeline(TARGET, INFO, HISTORY, runs).refusal == ""


def test_a_deploy_in_progress_does_not_hide_what_ran_before() -> None:
    runs = [DeployRun(NEW, Status.IN_PROGRESS), DeployRun(OLD, Status.SUCCEEDED)]
    assert "runs already" in check_pipeline(TARGET, INFO, HISTORY, runs).refusal


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (PipelineInfo("web-prod", deploy_stage="Deploy"), "shows no source action to pin"),
        (
            PipelineInfo(
                "web-prod", sources=(SourceAction("Source", "Bitbucket"),), deploy_stage="Deploy"
            ),
            "source action Source (Bitbucket) cannot be pinned",
        ),
        (
            PipelineInfo(
                "web-prod",
                sources=(SourceAction("Source", "CodeCommit"), SourceAction("Config", "S3")),
                deploy_stage="Deploy",
            ),
            "names no revision of source action Config",
        ),
        (PipelineInfo("web-prod"), "has no stage with a Deploy action"),
    ],
)
def test_a_pipeline_whose_sources_cannot_all_be_pinned_is_refused(
    info: PipelineInfo, reason: str
) -> None:
    assert reason in check_pipeline(TARGET, info, HISTORY, []).refusal


@pytest.mark.parametrize(
    ("found", "mode", "reason"),
    [
        ({"executionType": "ROLLBACK"}, "SUPERSEDED", "itself a rollback"),
        ({}, "PARALLEL", "not available in PARALLEL execution mode"),
    ],
)
def test_rollback_stage_targets_follow_aws_rules(
    found: dict[str, str], mode: str, reason: str
) -> None:
    target = Target(STAGE, sha=GOOD, pipeline="web-prod", execution_id=OLD, stage="Deploy")
    info = PipelineInfo("web-prod", execution_mode=mode, deploy_stage="Deploy")
    summaries = [_summary(LIVE, BAD), _summary(OLD, GOOD, **found)]
    assert reason in check_pipeline(target, info, summaries, []).refusal


DEPLOYMENT_TARGET = Target(
    CODEDEPLOY, application="a", deployment_group="g", deployment_id="d-OLD000000"
)
V1 = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "version": "1"}}
V2 = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "version": "2"}}


def _info(deployment_id: str, revision: dict[str, Any], status: str = "Succeeded") -> Any:
    return {
        "deploymentInfo": {
            "applicationName": "a",
            "deploymentGroupName": "g",
            "deploymentId": deployment_id,
            "status": status,
            "revision": revision,
        }
    }


def _group(successful: str, attempted: str = "", status: str = "Succeeded") -> Any:
    info: dict[str, Any] = {"lastSuccessfulDeployment": {"deploymentId": successful}}
    info["lastAttemptedDeployment"] = {"deploymentId": attempted or successful, "status": status}
    return {"deploymentGroupInfo": info}


@pytest.mark.parametrize(
    ("group", "live", "reason"),
    [
        (_group("d-NEW000000"), _info("d-NEW000000", V2), ""),
        (_group("d-OLD000000"), None, "d-OLD000000 is what runs already"),
        (_group("d-RB0000000"), _info("d-RB0000000", V1), "is what runs already (deployment d-RB"),
        # The newest attempt failed: its revision may be half deployed, the old one is wanted.
        (_group("d-OLD000000", "d-BAD000000", "Failed"), None, ""),
        (_group("d-OLD000000", "d-X00000000", "InProgress"), None, "d-X00000000 is still running"),
    ],
)
def test_a_codedeploy_target_is_rechecked_against_what_runs(
    group: Any, live: Any, reason: str
) -> None:
    refusal = check_deployment(DEPLOYMENT_TARGET, _info("d-OLD000000", V1), group, live)
    assert (reason in refusal) if reason else refusal == ""


def test_a_group_that_rolls_back_by_itself_offers_nothing_to_go_back_to() -> None:
    group = _group("d-GOOD00000", "d-BAD000000", "Failed")
    assert group_good(group, "d-BAD000000") == "d-GOOD00000"
    group["deploymentGroupInfo"]["autoRollbackConfiguration"] = {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE"],
    }
    assert group_good(group, "d-BAD000000") == ""


def test_the_last_good_execution_is_older_than_the_failure_and_no_stage_rollback() -> None:
    failed = _summary(NEW, BAD, "Failed", startTime=START + timedelta(hours=2))
    newer = _summary(
        "44444444-4444-4444-8444-444444444444", GOOD, startTime=START + timedelta(hours=3)
    )
    rolled = _summary(LIVE, GOOD, executionType="ROLLBACK", startTime=START + timedelta(hours=1))
    good = _summary(OLD, GOOD, startTime=START)
    summaries = [newer, failed, rolled, good]
    found = last_good(summaries, NEW)
    assert found is not None and found.execution_id == LIVE
    found = last_good(summaries, NEW, stage_rollback=True)
    assert found is not None and found.execution_id == OLD


# --- what a lost answer started ------------------------------------------------------------------


def test_a_lost_start_is_recognised_by_its_trigger_time_and_pins() -> None:
    since = START.timestamp()
    mine = _summary(
        NEW, GOOD, "InProgress", trigger={"triggerType": "StartPipelineExecution"}, startTime=START
    )
    push = _summary(LIVE, GOOD, trigger={"triggerType": "Webhook"}, startTime=START)
    before = {**mine, "startTime": START - timedelta(minutes=5)}
    pins = {"Source": GOOD}
    assert started_execution([mine, push], TARGET, since, pins) == NEW
    assert started_execution([push, before], TARGET, since, pins) == ""
    assert started_execution([mine], TARGET, since, {"Source": BAD}) == ""


def test_a_lost_stage_rollback_is_recognised_by_its_rollback_metadata() -> None:
    target = Target(STAGE, pipeline="web-prod", execution_id=OLD, stage="Deploy")
    mine = _summary(
        NEW,
        GOOD,
        "InProgress",
        executionType="ROLLBACK",
        rollbackMetadata={"rollbackTargetPipelineExecutionId": OLD},
        startTime=START,
    )
    other = {**mine, "rollbackMetadata": {"rollbackTargetPipelineExecutionId": LIVE}}
    assert started_execution([other, mine], target, START.timestamp(), {}) == NEW
    assert started_execution([other], target, START.timestamp(), {}) == ""


def test_a_lost_create_deployment_is_recognised_by_its_description() -> None:
    marked = {
        "deploymentId": "d-MINE00000",
        "description": "x [deploybot:abc]",
        "createTime": START,
    }
    other = {"deploymentId": "d-OTHER0000", "description": "by hand", "createTime": START}
    assert started_deployment([other, marked], "deploybot:abc", START.timestamp()) == "d-MINE00000"
    assert started_deployment([other], "deploybot:abc", START.timestamp()) == ""


# --- one claim per environment -------------------------------------------------------------------


def test_one_claim_per_environment() -> None:
    claim = Claim("rollback", "U1", "U1:1", 1000.0)
    assert verdict(None, "U1:1", 1000) == claims.FREE
    # The same click delivered twice while its first run may still be sending: do nothing.
    assert verdict(claim, "U1:1", 1001) == claims.RERUN
    # Its listener run again after that run must have ended (a Lambda retry): read, go on.
    assert verdict(claim, "U1:1", 1000 + claims.RUN_SECONDS + 1) == claims.RESUME
    assert verdict(claim, "U2:2", 1001) == claims.BUSY  # its write is being sent now
    started = claims.started(claim, "exec")
    assert verdict(started, "U1:1", 1001) == claims.RERUN
    assert verdict(started, "U2:2", 1001) == claims.RESOLVE  # read AWS: does it still run?
    assert verdict(claims.failed(claim, "no"), "U2:2", 1001) == claims.FREE
    assert verdict(claims.released(started, "done"), "U2:2", 1001) == claims.FREE
    # A claim still "sending" long after its run must have ended is unknown: read AWS.
    assert claim.state_at(1000 + claims.SENDING_SECONDS + 1) == claims.UNKNOWN
    assert verdict(claim, "U2:2", 1000 + claims.SENDING_SECONDS + 1) == claims.RESOLVE


def test_an_outcome_once_known_is_not_overwritten_by_a_slower_run() -> None:
    # Two runs of one click (Lambda delivered it twice): the one that saw AWS start it wins.
    started = claims.started(Claim("rollback", "U1", "U1:1", 1000.0), "exec")
    assert claims.unknown(started, "timeout") == started
    assert claims.failed(started, "refused") == started
    assert claims.unknown(Claim("rollback", "U1", "U1:1", 1.0), "lost").state == claims.UNKNOWN


def test_a_claim_round_trips_through_the_store_body() -> None:
    claim = Claim("rollback", "U1", "U1:1", 1000.5, token="t", facts={"pin:Source": GOOD})
    assert load_claim(dump_claim(claim)) == claim
    assert load_claim("{}") is None
    assert load_claim('{"unexpected": 1}') is None


# --- what people see ----------------------------------------------------------------------------


def test_the_freeze_reason_names_the_user_and_the_rollback_in_awss_alphabet() -> None:
    target = Target(STAGE, sha=GOOD, pipeline="web-prod", execution_id=OLD)
    reason = freeze_reason("U0ALLOWED", "ada_lovelace+ops/<x>", target, NEW)
    assert "U0ALLOWED" in reason and "9f86d08" in reason and NEW in reason
    assert len(reason) <= 300
    assert set(reason) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@ ().*?-"
    )
    assert len(freeze_reason("U0ALLOWED", "x" * 500, target, NEW)) == 300


def test_the_confirm_dialog_says_what_runs_and_how_long(snapshot: SnapshotAssertion) -> None:
    event = _execution(
        Status.SUCCEEDED, started_at=START, finished_at=START + timedelta(minutes=12)
    )
    target = target_for(event, SETTINGS)
    assert target is not None
    button = rollback_button(target, event)
    assert button["style"] == "danger"
    assert button["confirm"]["style"] == "danger"
    assert "production" in button["confirm"]["title"]["text"]
    text = button["confirm"]["text"]["text"]
    assert "9f86d08 Fix checkout" in text
    assert "build, tests and approvals, ~12 min like that run" in text
    message = build_message(event, rollback=target)
    assert violations(message) == []
    assert button == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    ("target", "words"),
    [
        (
            Target(STAGE, pipeline="api", execution_id=OLD, stage="Deploy", freeze=True),
            "Rolls Deploy of api back to the already-built artifacts of execution 22222222: no "
            "build, no tests. Then freezes Deploy",
        ),
        (
            Target(
                CODEDEPLOY,
                application="a",
                deployment_group="g",
                deployment_id="d-OLD000000",
                minutes=4,
            ),
            "CodeDeploy deploys the revision of d-OLD000000 again to a/g, ~4 min like that run.",
        ),
    ],
)
def test_the_confirm_dialog_names_each_strategy(target: Target, words: str) -> None:
    button = rollback_button(target, _execution(Status.SUCCEEDED))
    assert words in button["confirm"]["text"]["text"]


def test_the_confirm_dialog_stays_within_limits_with_huge_names() -> None:
    long = "x" * 400
    target = Target(
        PIPELINE, sha=GOOD, pipeline=long, execution_id=NEW, title=long, environment=long
    )
    button = rollback_button(target, _execution(Status.SUCCEEDED))
    assert violations({"blocks": [{"type": "actions", "elements": [button]}]}) == []
    assert json.loads(button["value"])["p"] == long


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"channels": ["#deploys"]}, "rollback.channels: '#deploys' is not a channel id"),
        ({"users": ["bob"]}, "rollback.users: 'bob' is not a user id"),
        ({"pipelines": [{"pipeline": "p", "strategy": "x"}]}, "rollback.pipelines[0].strategy"),
        ({"pipelines": [{"pipeline": "p", "strategy": "stage"}]}, "rollback.pipelines[0].stage"),
        ({"pipelines": [{"pipeline": "p", "stage": "De ploy"}]}, "is not a CodePipeline stage"),
        (
            {"pipelines": [{"pipeline": "p", "freeze_after_rollback": True}]},
            'freeze_after_rollback: needs strategy = "stage"',
        ),
        (
            {"pipelines": [{"pipeline": "p", "freeze_after_rollback": "yes"}]},
            "freeze_after_rollback: must be true or false",
        ),
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


def test_a_stage_rollback_may_freeze_its_stage() -> None:
    entry = {"pipeline": "p", "strategy": "stage", "stage": "Deploy", "freeze_after_rollback": True}
    config = config_from_mapping({"rollback": {"pipelines": [entry]}}, {})
    assert config.rollback.pipelines[0].freeze_after_rollback is True
