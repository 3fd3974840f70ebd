"""The sweep: lost final events healed, orphan deployment messages folded, stuck runs noted.

Real notification flows go through the real delivery (WebClient against the fake Slack, an
SQLite store); AWS is the loopback fake over HTTP with real boto3 clients, so every read the
sweep makes is checked against botocore's model of the API.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from blocks.living import build_moved_message, build_stuck_reply
from bot import aws, lambda_function
from bot.aws import limits
from bot.aws.accounts import Clients
from bot.domain.config import Config, SweepSettings
from bot.domain.events import parse_payload
from bot.domain.living import SWEEP, build_view, message_key
from bot.domain.model import Deployment, Scope, Status
from bot.store import SqliteStore, StoreError
from handlers.living import LivingDelivery
from handlers.notifications import deliver_events
from handlers.sweep import Sweeper
from tests.aws_data import actions_page, deploy_execution, pipeline_definition
from tests.blockkit import violations
from tests.conftest import load_fixture, load_sample
from tests.fake_aws import FakeAws, Fault
from tests.fake_slack import FakeSlack
from tests.test_living import CHANNEL, SUCCESS, flow, web_poster

REGION = "ap-southeast-2"
EXECUTION = "f17023e4-eac9-4a52-8e9f-212e7a8d0d6e"
CONFIG = Config(failure_mentions=("S0PLATFORM",), sweep=SweepSettings(seconds=5))
MINUTE = 60.0


class Clock:
    """Wall-clock seconds the test moves forward."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _summary(status: str) -> dict[str, Any]:
    """The meerkat execution as list_pipeline_executions reports it."""
    return {
        "pipelineExecutionId": EXECUTION,
        "status": status,
        "startTime": "2022-03-29T22:38:40Z",
        "lastUpdateTime": "2022-03-29T23:04:19Z",
        "trigger": {"triggerType": "Webhook", "triggerDetail": "push"},
    }


def _answers(status: str = "Succeeded") -> dict[str, Any]:
    return {
        "ListPipelineExecutions": lambda p: {"pipelineExecutionSummaries": [_summary(status)]},
        "ListPipelines": {"pipelines": [{"name": "meerkat"}]},
        "GetPipeline": lambda p: pipeline_definition("meerkat", "meerkat-app", "red"),
        "ListApplications": {"applications": []},
    }


@pytest.fixture
def fake_aws() -> Iterator[FakeAws]:
    fake = FakeAws.start(_answers())
    yield fake
    fake.close()


def _clients(fake: FakeAws) -> tuple[Any, Any]:
    keys = {
        "region_name": REGION,
        "endpoint_url": fake.url,
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    return boto3.client("codepipeline", **keys), boto3.client("codedeploy", **keys)


@pytest.fixture
def world(
    fake_slack: FakeSlack, fake_aws: FakeAws, tmp_path: Path
) -> tuple[Clock, SqliteStore, LivingDelivery, Sweeper]:
    clock = Clock()
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    delivery = LivingDelivery(CONFIG, web_poster(fake_slack), store, clock=clock)
    sweeper = Sweeper(CONFIG, delivery, store, Clients(*_clients(fake_aws)), clock=clock)
    return clock, store, delivery, sweeper


def _deliver(events: list[Deployment], delivery: LivingDelivery, store: SqliteStore) -> None:
    _, failures = deliver_events(events, CONFIG, delivery._poster, store, delivery=delivery)
    assert failures == []


def test_a_flow_whose_final_event_was_lost_is_healed_by_one_sweep(
    world: tuple[Clock, SqliteStore, LivingDelivery, Sweeper], fake_slack: FakeSlack
) -> None:
    clock, store, delivery, sweeper = world
    # GIVEN a successful run whose last two notifications (execution and stage succeeded) were
    # lost: its message still says "in progress"
    events = flow(SUCCESS)
    kept, lost = events[:13], events[13:]
    assert [e.status for e in lost] == [Status.SUCCEEDED, Status.SUCCEEDED]
    _deliver(kept, delivery, store)
    [message] = fake_slack.messages[CHANNEL]
    assert message["text"].startswith(":arrows_counterclockwise: Pipeline meerkat in progress")
    # WHEN the sweep runs before the message is due THEN it leaves it alone
    assert sweeper.run().looked_at == 0
    # WHEN it runs once the message is older than sweep.after_minutes
    clock.now += 11 * MINUTE
    updates = len(fake_slack.calls_to("chat.update"))
    report = sweeper.run()
    # THEN AWS's word was folded in and the message updated once, to "succeeded"
    assert (report.looked_at, report.healed, report.failed) == (1, 1, 0)
    assert len(fake_slack.calls_to("chat.update")) == updates + 1
    [message] = fake_slack.messages[CHANNEL]
    assert message["text"].startswith(":white_check_mark: Pipeline meerkat succeeded")
    assert fake_slack.posts == [fake_slack.posts[0]]  # nothing new was posted
    # AND the lost events arriving late change nothing: no Slack call at all
    calls = len(fake_slack.calls)
    _deliver(lost, delivery, store)
    assert len(fake_slack.calls) == calls
    # AND the message has left the sweep's list
    assert store.query(SWEEP) == []
    clock.now += 60 * MINUTE
    assert sweeper.run().looked_at == 0


def _trigger(deployment_id: str, status: str = "SUCCEEDED") -> Deployment:
    """A CodeDeploy trigger for one of meerkat's deployments, before its pipeline is known."""
    event = parse_payload(load_sample("codedeploy-trigger-success.json"))[0]
    return replace(
        event,
        region=REGION,
        application="meerkat-app",
        deployment_group="red",
        deployment_id=deployment_id,
        status=Status(status),
        event_id=f"sns-{deployment_id}-{status}",
    )


def test_a_deployment_message_folds_into_its_execution_when_an_action_names_it(
    world: tuple[Clock, SqliteStore, LivingDelivery, Sweeper], fake_slack: FakeSlack
) -> None:
    _, store, delivery, _ = world
    # GIVEN a deployment that got its own message: its trigger came before any pipeline event
    _deliver([_trigger("d-PXMGWFFK3", "IN_PROGRESS")], delivery, store)
    [orphan] = fake_slack.messages[CHANNEL]
    # WHEN the pipeline's notifications follow, one action naming that deployment
    _deliver(flow(SUCCESS), delivery, store)
    # THEN the deployment's message says where it went, with a link to the execution's message
    orphan, execution = fake_slack.messages[CHANNEL]
    assert orphan["blocks"][0]["text"]["text"].startswith(
        ":arrow_right: Deployment `d-PXMGWFFK3` (meerkat-app → red) is part of pipeline "
        "execution `f17023e4`: <https://example.slack.com/archives/"
    )
    assert execution["text"].startswith(":white_check_mark: Pipeline meerkat succeeded")
    # AND the deployment's later events update the execution's message, not its own
    before = copy.deepcopy(orphan)
    _deliver([_trigger("d-PXMGWFFK3", "SUCCEEDED")], delivery, store)
    assert fake_slack.messages[CHANNEL][0] == before
    state = json.loads(store.get(f"execution#{EXECUTION}").body)  # type: ignore[union-attr]
    assert any("d-PXMGWFFK3" in k and "SUCCEEDED" in k for k in state["events"])
    assert len(fake_slack.posts) == 2  # no third message


def test_the_sweep_folds_a_deployment_message_once_it_finds_the_execution(
    world: tuple[Clock, SqliteStore, LivingDelivery, Sweeper],
    fake_slack: FakeSlack,
    fake_aws: FakeAws,
) -> None:
    clock, store, delivery, sweeper = world
    # GIVEN pipeline-level notifications only (no action events), and a deployment trigger
    # that came when its pipeline was not known
    pipeline_only = [e for e in flow(SUCCESS) if e.scope is Scope.PIPELINE]
    _deliver([_trigger("d-PXMGWFFK3")], delivery, store)
    _deliver(pipeline_only, delivery, store)
    assert len(fake_slack.messages[CHANNEL]) == 2
    # AND CodePipeline knows which action ran the deployment
    deploy = deploy_execution(EXECUTION, "d-PXMGWFFK3")
    deploy["input"]["configuration"] = {
        "ApplicationName": "meerkat-app",
        "DeploymentGroupName": "red",
    }
    fake_aws.answers["ListActionExecutions"] = actions_page(deploy)
    # WHEN the sweep runs
    clock.now += 11 * MINUTE
    report = sweeper.run()
    # THEN it found the execution (its pipeline discovered, its actions searched) and folded
    assert report.folded == 1
    orphan, execution = fake_slack.messages[CHANNEL]
    assert "is part of pipeline execution `f17023e4`" in orphan["blocks"][0]["text"]["text"]
    assert "d-PXMGWFFK3" in json.dumps(execution["blocks"])
    assert {"ListPipelines", "GetPipeline", "ListActionExecutions"} <= set(fake_aws.operations())
    # AND the ledger keeps the mapping: nothing is searched again
    key = message_key(_trigger("d-PXMGWFFK3"))
    assert json.loads(store.get(key).body)["moved_to"] == f"execution#{EXECUTION}"  # type: ignore[union-attr]


def test_a_run_that_takes_too_long_gets_one_reply_saying_what_it_waits_on(
    world: tuple[Clock, SqliteStore, LivingDelivery, Sweeper],
    fake_slack: FakeSlack,
    fake_aws: FakeAws,
) -> None:
    clock, store, delivery, sweeper = world
    # GIVEN a run started (by its notification's own clock) and still running in AWS, waiting
    # on a deploy action
    started = flow(SUCCESS)[:3]
    clock.now = started[0].occurred_at.timestamp()  # type: ignore[union-attr]
    _deliver(started, delivery, store)
    fake_aws.answers["ListPipelineExecutions"] = {
        "pipelineExecutionSummaries": [_summary("InProgress")]
    }
    state = load_fixture("api/get-pipeline-state-codestar.json")
    stage = state["stageStates"][1]
    stage["latestExecution"] = {"pipelineExecutionId": EXECUTION, "status": "InProgress"}
    stage["actionStates"][0]["latestExecution"] = {
        "status": "InProgress",
        "summary": "Waiting for 3 hosts",
    }
    fake_aws.answers["GetPipelineState"] = state
    # WHEN the sweep looks after 30 minutes THEN nothing is said: not stuck yet (60 by default)
    clock.now += 30 * MINUTE
    assert sweeper.run().stuck == 0
    # WHEN it looks again after two hours
    clock.now += 90 * MINUTE
    report = sweeper.run()
    # THEN one thread reply (not broadcast) says how long and on what it waits
    assert report.stuck == 1
    [reply] = [p for p in fake_slack.posts if p.get("thread_ts")]
    assert "reply_broadcast" not in reply
    text = reply["blocks"][0]["text"]["text"]
    assert "takes longer than usual" in text
    assert "Running for 2h" in text
    assert f"It waits on stage {stage['stageName']}" in text
    assert "Waiting for 3 hosts" in text
    # AND a later sweep says nothing more
    clock.now += 60 * MINUTE
    sweeper.run()
    assert len([p for p in fake_slack.posts if p.get("thread_ts")]) == 1


SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2015-10-08T16:53:06Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/deploybot-sweep"],
    "detail": {},
}


@pytest.mark.parametrize("source", ["aws.events", "aws.scheduler"])
def test_the_scheduled_event_runs_the_sweep_instead_of_being_posted(
    source: str,
    fake_aws: FakeAws,
    fake_slack: FakeSlack,
    aws_env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the function's Slack and AWS settings, and an EventBridge (rule or Scheduler) tick
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", fake_aws.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", fake_aws.url)
    # WHEN it reaches the handler
    result = lambda_function.handler({**SCHEDULED, "source": source}, None)
    # THEN the sweep ran (nothing was due) and nothing was posted to Slack
    assert result["looked_at"] == 0
    assert fake_slack.posts == []


def test_a_lost_post_is_found_250_messages_back(fake_slack: FakeSlack, tmp_path: Path) -> None:
    from tests.test_living import Crash, CrashAfterPost

    store = SqliteStore(str(tmp_path / "state.db"))
    poster = web_poster(fake_slack)
    # GIVEN a post that reached Slack but whose answer was lost (the invocation died)...
    first = flow(SUCCESS)[0]
    with pytest.raises(Crash):
        LivingDelivery(CONFIG, CrashAfterPost(poster), store).deliver(first)
    # ...and a busy channel: 250 messages posted since
    for n in range(250):
        poster.post({"channel": CHANNEL, "text": f"chatter {n}"})
    # WHEN the event is retried after the lease expired
    LivingDelivery(CONFIG, poster, store, lease_seconds=0).deliver(first)
    # THEN the post was found by paging back through history: nothing was posted twice
    assert fake_slack.posted_by_key()[(f"execution#{EXECUTION}", "main")] == 1
    pages = fake_slack.calls_to("conversations.history")
    assert len(pages) == 2 and pages[1]["cursor"]


def test_the_moved_message_and_the_stuck_reply_as_slack_shows_them(
    snapshot: SnapshotAssertion,
) -> None:
    # GIVEN a deployment's own message and a run's, as their views
    orphan = _trigger("d-PXMGWFFK3")
    deployment_view = build_view(message_key(orphan), [orphan])
    run = flow(SUCCESS)[:3]
    run_view = build_view(message_key(run[0]), run)
    # WHEN the sweep's two messages are built THEN they stay within Block Kit's limits
    moved = build_moved_message(
        deployment_view,
        execution_id=EXECUTION,
        link_url="https://example.slack.com/archives/C0DEPLOYS/p1700000000000100",
    )
    stuck = build_stuck_reply(
        run_view,
        note="Running for 2h 1m; it usually takes 25m 39s. It waits on stage Deploy, action "
        "Deploy-RED: Waiting for 3 hosts.",
    )
    assert violations(moved) == [] and violations(stuck) == []
    assert {"moved": moved, "stuck": stuck} == snapshot.use_extension(JSONSnapshotExtension)


def test_a_run_aws_will_not_show_is_tried_again_later_not_at_once(
    world: tuple[Clock, SqliteStore, LivingDelivery, Sweeper],
    fake_slack: FakeSlack,
    fake_aws: FakeAws,
) -> None:
    clock, store, delivery, sweeper = world
    # GIVEN a message still in progress, and a role that may not list the pipeline's executions
    _deliver(flow(SUCCESS)[:3], delivery, store)

    def denied(params: dict[str, Any]) -> dict[str, Any]:
        raise Fault(400, "AccessDeniedException", "not authorized")

    fake_aws.answers["ListPipelineExecutions"] = denied
    # WHEN the sweep reaches it THEN the failure is counted and the message left as it was
    clock.now += 11 * MINUTE
    updates = len(fake_slack.calls_to("chat.update"))
    report = sweeper.run()
    assert (report.looked_at, report.failed) == (1, 1)
    assert len(fake_slack.calls_to("chat.update")) == updates
    # AND it is not first in line again at once: it waits its turn, after_minutes later
    assert sweeper.run().looked_at == 0
    clock.now += 11 * MINUTE
    assert sweeper.run().looked_at == 1


def _reminding(
    fake_slack: FakeSlack, fake_aws: FakeAws, tmp_path: Path
) -> tuple[Clock, SqliteStore, LivingDelivery, Sweeper, list[str]]:
    """A sweeper whose approvals' reminders are only noted: the keys it asked for."""
    clock = Clock()
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    delivery = LivingDelivery(CONFIG, web_poster(fake_slack), store, clock=clock)
    reminded: list[str] = []

    def remind(key: str) -> int:
        reminded.append(key)
        return 1

    sweeper = Sweeper(
        CONFIG, delivery, store, Clients(*_clients(fake_aws)), clock=clock, remind=remind
    )
    return clock, store, delivery, sweeper, reminded


def test_a_run_waiting_for_an_approval_gets_its_reminders_not_a_stuck_reply(
    fake_slack: FakeSlack, fake_aws: FakeAws, tmp_path: Path
) -> None:
    # GIVEN a run that waits for a manual approval, and still does in AWS, two hours on
    clock, store, delivery, sweeper, reminded = _reminding(fake_slack, fake_aws, tmp_path)
    approval = load_sample("eventbridge-codepipeline-action-approval-started.json")
    approval["detail"].update(pipeline="meerkat", **{"execution-id": EXECUTION})
    started = flow(SUCCESS)[:3]
    clock.now = started[0].occurred_at.timestamp()  # type: ignore[union-attr]
    _deliver([*started, *parse_payload(approval)], delivery, store)
    fake_aws.answers["ListPipelineExecutions"] = {
        "pipelineExecutionSummaries": [_summary("InProgress")]
    }
    # WHEN the sweep looks
    clock.now += 120 * MINUTE
    report = sweeper.run()
    # THEN it asked for the approval's reminders (handlers/approvals.py sends them) and posted
    # no stuck reply of its own: a person is what the run waits on
    assert reminded == [f"execution#{EXECUTION}"]
    assert (report.reminded, report.stuck) == (1, 0)
    assert [p for p in fake_slack.posts if p.get("thread_ts")] == []


def test_an_approval_whose_execution_was_never_found_is_swept_for_its_reminders(
    fake_slack: FakeSlack, fake_aws: FakeAws, tmp_path: Path
) -> None:
    # GIVEN the approval action's own SNS message, whose execution was never found: it has a
    # message of its own (approval#...), and its request expires in 7 days
    clock, store, delivery, sweeper, reminded = _reminding(fake_slack, fake_aws, tmp_path)
    [legacy] = parse_payload(load_sample("codepipeline-manual-approval-sns-legacy.json"))
    assert legacy.approval is not None and legacy.approval.expires_at is not None
    expires = legacy.approval.expires_at
    asked = expires - timedelta(days=7)
    clock.now = asked.timestamp()
    _deliver([replace(legacy, occurred_at=asked)], delivery, store)
    key = message_key(legacy)
    assert key.startswith("approval#")
    # WHEN the sweep looks, two hours on THEN it asks for the approval's reminders
    clock.now += 120 * MINUTE
    assert sweeper.run().reminded == 1
    assert reminded == [key]
    # AND once the request has expired, the sweep lets the message go
    clock.now = expires.timestamp() + 60 * MINUTE
    sweeper.run()
    clock.now += 60 * MINUTE
    assert sweeper.run().looked_at == 0


def test_a_message_is_looked_at_only_within_the_time_the_sweep_has_left(
    fake_slack: FakeSlack, fake_aws: FakeAws, tmp_path: Path
) -> None:
    # GIVEN a message still in progress, and an API the rate limit lets read again only in 4 s
    clock = Clock()
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    config = replace(CONFIG, sweep=SweepSettings(seconds=1))
    delivery = LivingDelivery(config, web_poster(fake_slack), store, clock=clock)
    codepipeline, codedeploy = _clients(fake_aws)
    limits.RateLimiter(rate=0.25).attach(codepipeline)
    _deliver(flow(SUCCESS)[:3], delivery, store)
    aws.call(codepipeline, "list_pipeline_executions", pipelineName="meerkat")
    sweeper = Sweeper(config, delivery, store, Clients(codepipeline, codedeploy), clock=clock)
    # WHEN a sweep of one second reaches it
    clock.now += 11 * MINUTE
    report = sweeper.run()
    # THEN no request waited past the sweep's time: the message is left for the next sweep
    assert (report.looked_at, report.left, report.healed, report.failed) == (1, 1, 0, 0)
    assert fake_aws.operations().count("ListPipelineExecutions") == 1
    # AND it waits its turn behind the others, after_minutes later
    assert sweeper.run().looked_at == 0


def test_a_store_that_cannot_say_what_is_due_skips_this_sweep(
    fake_slack: FakeSlack, fake_aws: FakeAws, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a store whose list of due messages cannot be read (DynamoDB throttles the query)
    class Unreadable(SqliteStore):
        def query(self, *args: Any, **kwargs: Any) -> Any:
            raise StoreError("ProvisionedThroughputExceededException")

    store = Unreadable(str(tmp_path / "state.db"))
    delivery = LivingDelivery(CONFIG, web_poster(fake_slack), store)
    sweeper = Sweeper(CONFIG, delivery, store, Clients(*_clients(fake_aws)))
    # WHEN the schedule runs the sweep THEN it is skipped this time, with an error in the log
    report = sweeper.run()
    assert (report.looked_at, report.failed) == (0, 0)
    [line] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "skipped" in line.getMessage()
    assert fake_aws.calls == [] and fake_slack.calls == []
