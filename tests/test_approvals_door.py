"""Approve and Reject end to end: approval notifications folded into the execution's living
message, really signed clicks and modal submissions through the Lambda handler, Bolt's lazy
invocations replayed, and the stateful CodePipeline stand-in (tests/fake_deploys.py) answering
GetPipelineState and PutApprovalResult as the API reference says."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from blocks import ids
from bot.config import load_config
from bot.domain.events import parse_payload
from bot.domain.model import Deployment
from bot.lambda_function import handler
from bot.slack import WebApiPoster, make_web_client
from handlers import approvals
from handlers.notifications import deliver_events
from tests.blockkit import violations
from tests.conftest import load_sample
from tests.doors import CHANNEL, Door, buttons, click, later, open_door, refusals, submit
from tests.doors import thread as thread_of
from tests.doors import thread_text as thread_text_of
from tests.fake_aws import Fault
from tests.fake_deploys import gated
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack
from tests.slack_requests import LambdaContext

PIPELINE = "web-prod"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
CONFIG = """
[slack]
channel = "C0DEPLOYS"

[approvals]
users = ["U0ALLOWED", "U0SECOND"]
usergroups = ["S0RELEASE"]
channels = ["C0DEPLOYS"]
remind_after = "1h"

[[approvals.pipelines]]
pipeline = "locked-prod"
users = ["U0SECOND"]
usergroups = []
"""
APPROVAL_TIME = datetime(2020, 1, 31, 19, 2, 11, tzinfo=UTC)  # the approval sample's time


@pytest.fixture
def door(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_env: FakeLambda, slack_env: FakeSlack
) -> Iterator[Door]:
    yield from open_door(monkeypatch, tmp_path, aws_env, slack_env, CONFIG)


def _pipeline_started(execution: str, author: str = "ada") -> dict[str, Any]:
    event = load_sample("eventbridge-codepipeline-execution-started.json")
    event["region"] = "eu-west-1"  # the AWS clients' region: the approval is answered there
    event["detail"].update(pipeline=PIPELINE, **{"execution-id": execution})
    event["detail"]["execution-trigger"] = {
        "trigger-type": "Webhook",
        "author-id": author,
        "commit-id": SHA,
        "commit-message": "Fix checkout",
        "provider-type": "GitHub",
        "full-repository-name": "acme/web",
    }
    return event


def _approval_started(execution: str) -> dict[str, Any]:
    event = load_sample("eventbridge-codepipeline-action-approval-started.json")
    event["region"] = "eu-west-1"
    event["detail"].update(
        pipeline=PIPELINE, stage="Approve", action="Release", **{"execution-id": execution}
    )
    return event


def _legacy(token: str, at: datetime = APPROVAL_TIME, message_id: str = "") -> dict[str, Any]:
    """The approval action's own SNS message, in the AWS clients' region (enrichment reads), as
    SNS delivers it to the Lambda (published `at`: its Timestamp)."""
    message = load_sample("codepipeline-manual-approval-sns-legacy.json")
    message["region"] = "eu-west-1"
    message["approval"].update(
        pipelineName=PIPELINE, stageName="Approve", actionName="Release", token=token
    )
    expires = at + timedelta(days=7)
    message["approval"]["expires"] = expires.strftime("%Y-%m-%dT%H:%MZ")
    envelope = load_sample("sns-lambda-event-envelope.json")
    sns = envelope["Records"][0]["Sns"]
    sns.pop("Subject")
    sns.update(
        Message=json.dumps(message),
        Timestamp=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        MessageId=message_id or f"sns-{token}",
    )
    return dict(envelope)


def _deliver(door: Door, *payloads: dict[str, Any], enrich: bool = False) -> None:
    """Deliver notifications as the notification door does, into living messages."""
    config = load_config()
    events: list[Deployment] = [e for p in payloads for e in parse_payload(p)]
    if enrich:
        from bot import aws
        from bot.aws.enrich import Enricher

        enricher = Enricher(aws.client("codepipeline"), aws.client("codedeploy"), config)
        events = [enricher(e) for e in events]
    poster = WebApiPoster(make_web_client(config))
    _, failures = deliver_events(events, config, poster, door.store())
    assert failures == []


def _waiting(door: Door, author: str = "ada") -> tuple[str, str, dict[str, Any]]:
    """web-prod's execution waits for approval Release: (execution id, token, its message)."""
    door.world.add(gated(PIPELINE))
    execution = door.world.run(PIPELINE, SHA, ago=600, running_at="Approve").id
    token = door.world.await_approval(execution, "Approve", "Release")
    _deliver(door, _pipeline_started(execution, author), _approval_started(execution))
    return execution, token, _message(door)


def _message(door: Door) -> dict[str, Any]:
    [message] = [m for m in door.slack.messages[CHANNEL] if not m.get("thread_ts")]
    return dict(message)


def _answer(
    door: Door,
    message: dict[str, Any],
    action_id: str,
    reason: str = "",
    *,
    user: str = "U0ALLOWED",
    action_ts: str = "1700000100.000100",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Click Approve or Reject, then submit the modal it opened with `reason` typed."""
    opened = len(door.slack.views)
    click(door, message, _button(message, action_id), user=user, action_ts=action_ts)
    assert len(door.slack.views) == opened + 1, refusals(door.slack)
    view = door.slack.views[-1]
    values = {"reason": {"text": {"type": "plain_text_input", "value": reason or None}}}
    return submit(door, view, f"V{action_ts.replace('.', '')}", values=values, user=user)


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(b for b in buttons(message, "approval_") if b["action_id"] == action_id)


def _thread(door: Door, message: dict[str, Any]) -> list[dict[str, Any]]:
    return thread_of(door.slack, message["ts"])


def _thread_text(door: Door, message: dict[str, Any]) -> str:
    return thread_text_of(door.slack, message["ts"])


# --- the message -------------------------------------------------------------------------------


def test_an_approval_joins_its_execution_message_with_approve_and_reject(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    # GIVEN an execution that waits for a manual approval, notified by EventBridge
    _, token, message = _waiting(door)
    # THEN its one message shows the approval, with Approve (primary) and Reject (danger)
    assert len([m for m in door.slack.messages[CHANNEL] if not m.get("thread_ts")]) == 1
    approve, reject = buttons(message, "approval_")
    assert (approve["style"], reject["style"]) == ("primary", "danger")
    assert violations(message) == []
    # AND no button, text or metadata carries the token
    assert token not in json.dumps(message)
    assert message["blocks"] == snapshot_json


def test_the_legacy_message_folds_into_the_same_execution_and_keeps_its_token_private(
    door: Door,
) -> None:
    # GIVEN the EventBridge events and the approval action's own SNS message (with its token)
    execution, token, _ = _waiting(door)
    _deliver(door, _legacy(token), enrich=True)
    # THEN enrichment found its execution: still one message, now with the expiry
    message = _message(door)
    text = json.dumps(message)
    assert "Expires <!date^" in text
    assert token not in text
    assert execution in text


# --- answering ---------------------------------------------------------------------------------


def test_approve_sends_one_put_approval_result_and_the_buttons_become_the_answer(
    door: Door, snapshot_json: SnapshotAssertion
) -> None:
    _, token, message = _waiting(door)
    # WHEN an allowed user approves with a comment
    response, lazy = _answer(door, message, ids.APPROVE, "lgtm, numbers look fine")
    assert json.loads(response.get("body") or "{}") == {}
    assert len(lazy) == 1
    # THEN CodePipeline got one answer, with the current token and a summary naming the user
    [sent] = door.world.started("PutApprovalResult")
    assert sent["token"] == token
    assert sent["result"] == {
        "status": "Approved",
        "summary": "Approved from Slack by dev (U0ALLOWED): lgtm, numbers look fine",
    }
    # AND the message says who approved, without buttons; the thread has the audit reply
    shown = _message(door)
    assert buttons(shown, "approval_") == []
    assert "*approved* by <@U0ALLOWED>" in json.dumps(shown)
    [reply] = _thread(door, message)
    assert "<@U0ALLOWED> approved *Release* in Approve of *web-prod* from Slack" in reply["text"]
    assert refusals(door.slack) == []
    assert {"message": shown["blocks"], "reply": reply["blocks"]} == snapshot_json


def test_reject_needs_a_reason_and_sends_it(door: Door) -> None:
    _, _, message = _waiting(door)
    # WHEN Reject is submitted without a reason: the modal says why, nothing is sent
    response, _ = _answer(door, message, ids.REJECT, "   ")
    answer = json.loads(response["body"])
    assert answer["response_action"] == "errors"
    assert "reason" in answer["errors"]
    assert door.world.calls("PutApprovalResult") == []
    # WHEN it is submitted with one
    _answer(door, message, ids.REJECT, "breaks checkout", action_ts="1700000200.000100")
    [sent] = door.world.started("PutApprovalResult")
    assert sent["result"]["status"] == "Rejected"
    assert sent["result"]["summary"].endswith("(U0ALLOWED): breaks checkout")
    shown = json.dumps(_message(door))
    assert "*rejected* by <@U0ALLOWED>" in shown and "breaks checkout" in shown


def test_the_reject_modal_requires_the_reason_in_slack_too(door: Door) -> None:
    _, _, message = _waiting(door)
    click(door, message, _button(message, ids.REJECT))
    click(door, message, _button(message, ids.APPROVE), action_ts="1700000101.000100")
    reject, approve = door.slack.views
    assert reject["blocks"][1]["optional"] is False
    assert approve["blocks"][1]["optional"] is True


def test_a_double_click_a_second_user_and_replays_send_one_answer(door: Door) -> None:
    _, _, message = _waiting(door)
    # GIVEN two modals opened by a double click, and a second user's
    opened = []
    for user, ts in (("U0ALLOWED", "1.1"), ("U0ALLOWED", "1.2"), ("U0SECOND", "1.3")):
        click(door, message, _button(message, ids.APPROVE), user=user, action_ts=ts)
        opened.append((user, door.slack.views[-1]))
    # WHEN all are submitted, and Lambda runs the first submission's listener again
    _, lazy = submit(door, opened[0][1], "V1", user="U0ALLOWED")
    reads = door.calls().count("GetPipelineState")
    for payload in lazy:
        assert handler(copy.deepcopy(payload), LambdaContext())["statusCode"] == 200
    submit(door, opened[1][1], "V2", user="U0ALLOWED")
    submit(door, opened[2][1], "V3", user="U0SECOND")
    # THEN CodePipeline got exactly one answer; the others read nothing and sent nothing
    assert len(door.world.calls("PutApprovalResult")) == 1
    assert door.calls().count("GetPipelineState") == reads
    told = refusals(door.slack)
    assert len(told) == 2
    assert all("already approved by <@U0ALLOWED> at " in t for t in told)
    assert len(_thread(door, message)) == 1


def test_a_click_from_another_channel_gets_no_modal_and_sends_nothing(door: Door) -> None:
    _, _, message = _waiting(door)
    click(door, message, _button(message, ids.APPROVE), channel="C0RANDOM")
    assert door.slack.views == []
    [refusal] = refusals(door.slack)
    assert "not allowed from this channel (approvals.channels)" in refusal
    assert door.calls() == []


def test_user_groups_are_checked_when_the_modal_is_submitted(door: Door) -> None:
    door.slack.usergroups["S0RELEASE"] = ["U0RELEASE"]
    _, _, message = _waiting(door)
    # WHEN someone outside the group submits: refused, nothing read or sent
    _answer(door, message, ids.APPROVE, user="U0OUTSIDE")
    assert "you are not in approvals.users" in refusals(door.slack)[-1]
    assert door.calls() == []
    # WHEN a member does: answered
    _answer(door, message, ids.APPROVE, user="U0RELEASE", action_ts="1700000200.000100")
    assert len(door.world.started("PutApprovalResult")) == 1


PEOPLE = """
[people]
ada = "U0ALLOWED"
"""


def test_nobody_approves_their_own_change(door: Door) -> None:
    # GIVEN a change pushed by "ada", who is U0ALLOWED in Slack ([people])
    door.config.write_text(CONFIG + PEOPLE)
    _, _, message = _waiting(door, author="ada")
    # WHEN she approves it: refused, nothing sent
    _answer(door, message, ids.APPROVE)
    assert "you started this change (ada)" in refusals(door.slack)[-1]
    assert door.world.calls("PutApprovalResult") == []
    # WHEN someone else does: answered
    _answer(door, message, ids.APPROVE, user="U0SECOND", action_ts="1700000200.000100")
    assert len(door.world.started("PutApprovalResult")) == 1


def test_self_approval_may_be_allowed(door: Door) -> None:
    allowed = CONFIG.replace('remind_after = "1h"', "allow_self_approval = true")
    door.config.write_text(allowed + PEOPLE)
    _, _, message = _waiting(door, author="ada")
    _answer(door, message, ids.APPROVE)
    assert len(door.world.started("PutApprovalResult")) == 1


def test_a_pipeline_entry_names_its_own_approvers(door: Door) -> None:
    door.world.add(gated("locked-prod"))
    execution = door.world.run("locked-prod", SHA, ago=600, running_at="Approve").id
    door.world.await_approval(execution, "Approve", "Release")
    event = _approval_started(execution)
    event["detail"]["pipeline"] = "locked-prod"
    _deliver(door, event)
    message = _message(door)
    click(door, message, _button(message, ids.APPROVE))
    [refusal] = refusals(door.slack)
    assert "approvals.pipelines entry names who may" in refusal
    _answer(door, message, ids.APPROVE, user="U0SECOND", action_ts="1700000200.000100")
    assert len(door.world.started("PutApprovalResult")) == 1


def test_a_stale_token_is_refused_clearly_and_nothing_is_sent(door: Door) -> None:
    # GIVEN the legacy message's token, then the request replaced (the stage was retried)
    execution, token, _ = _waiting(door)
    _deliver(door, _legacy(token), enrich=True)
    door.world.await_approval(execution, "Approve", "Release")
    message = _message(door)
    _answer(door, message, ids.APPROVE)
    assert "replaced by a newer one" in refusals(door.slack)[-1]
    assert door.world.calls("PutApprovalResult") == []


def test_an_approval_answered_in_the_console_is_refused_and_shown_from_its_events(
    door: Door,
) -> None:
    execution, _, message = _waiting(door)
    door.world.answer(PIPELINE, "Approve", "Release", "Succeeded", "arn:aws:iam::1:user/bo")
    _answer(door, message, ids.APPROVE)
    assert "no longer waiting: AWS shows it Succeeded" in refusals(door.slack)[-1]
    assert door.world.calls("PutApprovalResult") == []
    # WHEN the approval's next event arrives, THEN the message shows it answered
    done = _approval_started(execution)
    done["detail"]["state"] = "SUCCEEDED"
    done["id"] = "done-event"
    done["time"] = "2030-01-01T00:00:00Z"
    _deliver(door, done)
    shown = _message(door)
    assert buttons(shown, "approval_") == []
    assert "*approved* in AWS" in json.dumps(shown)


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("ApprovalAlreadyCompletedException", "already approved or rejected (in AWS)"),
        ("InvalidApprovalTokenException", "no longer current"),
    ],
)
def test_awss_approval_errors_are_told_as_what_they_mean(
    door: Door, code: str, meaning: str
) -> None:
    _, _, message = _waiting(door)

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise Fault(400, code, "as AWS says it")

    assert door.world.server is not None
    door.world.server.answers["PutApprovalResult"] = refuse
    _answer(door, message, ids.APPROVE)
    assert meaning in refusals(door.slack)[-1]
    assert _thread(door, message) == []


def test_any_other_aws_error_reaches_the_thread_in_full(door: Door) -> None:
    _, _, message = _waiting(door)

    def denied(params: dict[str, Any]) -> dict[str, Any]:
        raise Fault(400, "AccessDeniedException", "not authorized to perform: PutApprovalResult")

    assert door.world.server is not None
    door.world.server.answers["PutApprovalResult"] = denied
    _answer(door, message, ids.APPROVE)
    [reply] = _thread(door, message)
    assert "could not approve" in reply["text"]
    assert "not authorized to perform: PutApprovalResult" in reply["blocks"][0]["text"]["text"]
    assert buttons(_message(door), "approval_")  # still waiting: the buttons stay


def test_a_lost_answer_is_read_back_and_never_sent_twice(door: Door) -> None:
    _, _, message = _waiting(door)
    door.world.fail("PutApprovalResult", "lose")
    _answer(door, message, ids.APPROVE, "ok")
    assert len(door.world.calls("PutApprovalResult")) == 1
    assert "AWS's answer was lost; deploybot read AWS and found it recorded" in _thread_text(
        door, message
    )
    assert "*approved* by <@U0ALLOWED>" in json.dumps(_message(door))


def test_a_submission_whose_lazy_run_comes_too_late_sends_nothing(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, message = _waiting(door)
    click(door, message, _button(message, ids.APPROVE))
    _, [lazy] = submit(door, door.slack.views[-1], "V9", replay=False)
    later(monkeypatch, 400)
    assert handler(lazy, LambdaContext())["statusCode"] == 200
    assert door.world.calls("PutApprovalResult") == []
    assert "after Slack's 5-minute window, so nothing was sent" in refusals(door.slack)[-1]


# --- a retried stage asks again ----------------------------------------------------------------
# What AWS's documentation says (docs search; not run against an account): a rejected approval
# fails, and "the pipeline status changes to Failed" (User Guide, "Approve or reject an approval
# action"); RetryStageExecution "resumes the pipeline execution by retrying the last failed
# actions in a stage" - the same pipeline execution, "failed actions are triggered again" (API
# reference, "Retry a failed action in a stage"). So the approval action runs again: a new
# approval request, whose token is new (PutApprovalResult: "the system-generated token used to
# identify a unique approval request"; "the token for each open approval request can be obtained
# using GetPipelineState"), a new STARTED Action Execution State Change, and, with the approvals
# JSON format, a new SNS message ("published to Amazon SNS when the pipeline stops").


def _told(execution: str, state: str, event_id: str, at: datetime) -> dict[str, Any]:
    """The approval action's EventBridge event in `state` at `at` (after the rejection)."""
    event = _approval_started(execution)
    event["detail"]["state"] = state
    event["id"] = event_id
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _rejected_then_retried(
    door: Door, execution: str, message: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> str:
    """Reject from Slack; AWS tells the action failed, a minute later the stage is retried; a
    minute after that, people look again (the clock moves). The new request's token."""
    _answer(door, message, ids.REJECT, "breaks checkout")
    assert len(door.world.started("PutApprovalResult")) == 1
    now = datetime.now(UTC)
    token = door.world.await_approval(execution, "Approve", "Release")  # RetryStageExecution
    failed = _told(execution, "FAILED", "rejected", now + timedelta(seconds=2))
    again = _told(execution, "STARTED", "retried", now + timedelta(minutes=1))
    _deliver(door, failed, again)
    later(monkeypatch, 120)
    return token


def test_a_retried_approval_shows_as_waiting_again(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an approval rejected from Slack, and its stage retried: a new request waits
    execution, _, message = _waiting(door)
    _rejected_then_retried(door, execution, message, monkeypatch)
    # THEN the message shows the new request waiting, with Approve and Reject again
    shown = _message(door)
    assert [b["action_id"] for b in buttons(shown, "approval_")] == [ids.APPROVE, ids.REJECT]
    assert "rejected* by" not in json.dumps(shown)
    assert "Approval needed" in json.dumps(shown)


def test_a_retried_approval_can_be_answered_again_with_its_new_token(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the first request's own SNS message (its token kept), rejected from Slack, and the
    # stage retried: only the EventBridge event of the new request has come
    execution, old, message = _waiting(door)
    _deliver(door, _legacy(old), enrich=True)
    new = _rejected_then_retried(door, execution, message, monkeypatch)
    # WHEN an allowed user approves the new request (the button names the same approval)
    _answer(door, message, ids.APPROVE, "fixed now", action_ts="1700000300.000100")
    # THEN it is not "already rejected": CodePipeline gets the answer, with the new token
    assert refusals(door.slack) == []
    rejected, approved = door.world.started("PutApprovalResult")
    assert (rejected["token"], approved["token"]) == (old, new)
    assert approved["result"]["status"] == "Approved"
    shown = json.dumps(_message(door))
    assert "*approved* by <@U0ALLOWED>" in shown and "rejected* by" not in shown
    # AND a second click on the new request is told it was answered, and sends nothing
    _answer(door, message, ids.REJECT, "oops", action_ts="1700000400.000100")
    assert "already approved by <@U0ALLOWED>" in refusals(door.slack)[-1]
    assert len(door.world.calls("PutApprovalResult")) == 2


# --- reminders ---------------------------------------------------------------------------------


def test_a_waiting_approval_is_reminded_once_then_an_hour_before_it_expires(door: Door) -> None:
    execution, token, message = _waiting(door)
    _deliver(door, _legacy(token), enrich=True)
    config = replace(load_config(), default_channel=CHANNEL)
    client = make_web_client(config)
    key = f"execution#{execution}"
    now = APPROVAL_TIME + timedelta(minutes=30)
    # WHEN the sweep runs before remind_after, after it, and again

    def sweep(at: datetime) -> int:
        return approvals.send_reminders(key, config, door.store(), client, at)

    assert sweep(now) == 0
    assert sweep(now + timedelta(hours=2)) == 1
    assert sweep(now + timedelta(hours=3)) == 0
    # AND an hour before it expires (7 days), once
    expiring = APPROVAL_TIME + timedelta(days=7) - timedelta(minutes=30)
    assert sweep(expiring) == 1
    assert sweep(expiring + timedelta(minutes=10)) == 0
    waited, expires = _thread(door, message)
    assert ":hourglass: *Release* in Approve of *web-prod* has waited" in waited["text"]
    assert "<!subteam^S0RELEASE> <@U0ALLOWED> <@U0SECOND>" in waited["text"]
    assert ":alarm_clock:" in expires["text"] and "expires <!date^" in expires["text"]


def test_no_reminder_once_answered(door: Door) -> None:
    execution, _, message = _waiting(door)
    _answer(door, message, ids.APPROVE)
    config = load_config()
    later_on = APPROVAL_TIME + timedelta(hours=2)
    sent = approvals.send_reminders(
        f"execution#{execution}", config, door.store(), make_web_client(config), later_on
    )
    assert sent == 0
