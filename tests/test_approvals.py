"""Approvals, blue/green steps and their config, without the door: pure decisions over the model
and AWS's answers, and what the message shows."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blocks import ids
from blocks.approvals import CONSOLE_NOTE, approval_text, build_modal, reason_error
from blocks.deployment import build_message
from bot.domain import approvals, traffic
from bot.domain.config import ConfigError, config_from_mapping
from bot.domain.events import parse_payload
from bot.domain.living import MAIN, Slot, State, absorb, build_view, message_key, with_slot
from bot.domain.model import (
    Approval,
    Deployment,
    Person,
    ReleaseDiff,
    Scope,
    Source,
    StartedBy,
    Status,
)
from bot.domain.rollback import VALUE_MAX
from bot.plan import living_targets, plan
from tests.blockkit import modal_violations, violations
from tests.conftest import load_sample

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXECUTION = "12345678-1234-5678-abcd-12345678abcd"
TOKEN = "0c3e7e2a-6a4f-4b7e-9e3c-2f6d1c0b9a8e"


def _approval(status: Status = Status.STARTED, **extra: Any) -> Deployment:
    base = Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.APPROVAL,
        status=status,
        pipeline="web-prod",
        execution_id=EXECUTION,
        stage="Approve",
        action="Release",
        occurred_at=T0,
    )
    return replace(base, **extra)


# --- config -------------------------------------------------------------------------------------


def test_approvals_allow_nobody_by_default() -> None:
    settings = config_from_mapping({}, {}).approvals
    assert not settings.policy_for("web-prod").anyone
    assert settings.remind_after_seconds == 3600
    assert settings.allow_self_approval is False


def test_a_pipeline_entry_overrides_who_may_answer() -> None:
    config = config_from_mapping(
        {
            "approvals": {
                "users": ["U0ALL"],
                "usergroups": ["S0ALL"],
                "channels": ["C0DEPLOYS"],
                "remind_after": "1h30m",
                "pipelines": [{"pipeline": "web-prod", "users": ["U0WEB"]}],
            }
        },
        {},
    )
    web = config.approvals.policy_for("web-prod")
    assert (web.users, web.usergroups, web.overridden) == (("U0WEB",), ("S0ALL",), True)
    assert config.approvals.policy_for("api-prod").users == ("U0ALL",)
    assert config.approvals.remind_after_seconds == 5400


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"users": ["U0OK\n"]}, "approvals.users: 'U0OK\\n' is not a user id"),
        ({"channels": ["#deploys"]}, "approvals.channels: '#deploys' is not a channel id"),
        ({"usergroups": ["U0X"]}, "approvals.usergroups: 'U0X' is not a user group id"),
        ({"allow_self_approval": "no"}, "approvals.allow_self_approval: must be true or false"),
        ({"remind_after": "soon"}, "approvals.remind_after: must be a duration"),
        ({"remind_after": True}, "approvals.remind_after: must be a duration"),
        ({"pipelines": [{"users": ["U0A"]}]}, "approvals.pipelines[0].pipeline: is required"),
        (
            {"pipelines": [{"pipeline": "p", "channels": ["C0A"]}]},
            "approvals.pipelines[0].channels: unknown key",
        ),
        ({"who": 1}, "approvals.who: unknown key"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)):
        config_from_mapping({"approvals": table}, {})


def test_reminders_can_be_turned_off() -> None:
    assert config_from_mapping({"approvals": {"remind_after": "off"}}, {}).approvals == (
        config_from_mapping({"approvals": {"remind_after": 0}}, {}).approvals
    )


# --- the living message ---------------------------------------------------------------------------


def _parts() -> list[Deployment]:
    legacy = _approval(
        approval=Approval(token=TOKEN, expires_at=T0 + timedelta(days=7), custom_data="Ship?"),
        occurred_at=T0 + timedelta(seconds=1),
        event_id="legacy",
    )
    answered = T0 + timedelta(minutes=8)  # after the request, before AWS tells it succeeded
    decided = approvals.decision_event(_approval(), approvals.APPROVED, "U0ALICE", "fine", answered)
    done = _approval(Status.SUCCEEDED, occurred_at=T0 + timedelta(minutes=9), event_id="done")
    return [_approval(event_id="started"), legacy, decided, done]


@pytest.mark.parametrize("seed", range(6))
def test_an_approval_shows_the_same_whatever_order_its_parts_arrive_in(seed: int) -> None:
    # GIVEN the request (with its token), the action's events and the answer from Slack
    events = _parts()
    random.Random(seed).shuffle(events)
    keys = {message_key(e) for e in events}
    assert keys == {f"execution#{EXECUTION}"}
    state = State()
    for event in [*events, *events]:  # and every delivery twice
        state = absorb(state, event) or state
    [merged] = build_view(keys.pop(), state.events.values()).approvals
    # THEN one approval: the request's details, the answer from Slack
    assert merged.approval is not None
    assert (merged.approval.token, merged.approval.custom_data) == (TOKEN, "Ship?")
    assert (merged.approval.decision, merged.approval.decided_by) == ("Approved", "U0ALICE")
    assert merged.status is Status.SUCCEEDED
    assert not approvals.pending(merged)


def test_a_retried_stage_asks_again_and_the_earlier_answer_no_longer_applies() -> None:
    # GIVEN a request (its own SNS message with its token) rejected from Slack and failed in AWS,
    # then RetryStageExecution: the same execution runs the approval again, a new request with a
    # new token (README "Approvals and actions"; tests/test_approvals_door.py cites the docs)
    first = _approval(approval=Approval(token=TOKEN), occurred_at=T0, event_id="legacy")
    answered = T0 + timedelta(minutes=5)
    rejected = approvals.decision_event(first, approvals.REJECTED, "U0BOB", "no", answered)
    failed = _approval(Status.FAILED, occurred_at=answered + timedelta(seconds=2), event_id="f")
    retried = T0 + timedelta(hours=1)
    again = _approval(occurred_at=retried, event_id="again")
    key = f"execution#{EXECUTION}"
    [shown] = build_view(key, [first, rejected, failed, again]).approvals
    # THEN the message shows the new request waiting, without the earlier request's token
    assert approvals.pending(shown)
    assert shown.approval is not None and shown.approval.token == ""
    assert approvals.request_id(shown) == retried.isoformat()
    # AND an answer to the earlier request does not answer it; one to it does
    assert not approvals.answers_shown(shown, T0.isoformat(), answered)
    assert not approvals.answers_shown(shown, "", answered)  # a claim that names no request
    assert approvals.answers_shown(shown, retried.isoformat(), retried + timedelta(minutes=1))
    # AND its answer shows once given
    approved = approvals.decision_event(
        shown, approvals.APPROVED, "U0ALICE", "ok", retried + timedelta(minutes=1)
    )
    [done] = build_view(key, [first, rejected, failed, again, approved]).approvals
    assert (approvals.answered(done), done.approval and done.approval.decided_by) == (
        approvals.APPROVED,
        "U0ALICE",
    )


def test_a_request_naming_no_execution_gets_a_message_named_without_its_token() -> None:
    legacy = _approval(approval=Approval(token=TOKEN), execution_id="")
    key = message_key(legacy)
    assert key.startswith("approval#") and TOKEN not in key
    decided = approvals.decision_event(
        build_view(key, [legacy]).approvals[0], approvals.REJECTED, "U0BOB", "no", T0
    )
    assert message_key(decided) == key  # the answer joins that very message


def test_the_token_reaches_no_message() -> None:
    [planned] = plan([approvals_legacy()], config_from_mapping({}, {}))
    assert planned.message is not None
    assert "XAMPLETOKEN" not in json.dumps(planned.message)


def approvals_legacy() -> Deployment:
    from bot.domain.events import parse_payload

    [event] = parse_payload(load_sample("codepipeline-manual-approval-sns-legacy.json"))
    return event


def test_hostile_custom_data_and_links_stay_escaped_and_within_limits() -> None:
    hostile = "<!channel> <@U123> <http://evil|click> & " * 200
    event = _approval(
        approval=Approval(custom_data=hostile, external_link="https://x.example/a|b>c")
    )
    message = build_message(event)
    assert violations(message) == []
    text = json.dumps(message)
    assert "<!channel>" not in text and "<@U123>" not in text and "<http://evil" not in text
    assert "<https://x.example/a%7Cb%3Ec|x.example>" in approval_text(event)


def _living(sample: dict[str, Any]) -> dict[str, Any]:
    """The living message of a notification, posted, where [approvals] lets people answer."""
    config = config_from_mapping(
        {"approvals": {"users": ["U0123ABC"], "channels": ["C0DEPLOYS"]}}, {}
    )
    [event] = parse_payload(sample)
    key, state = message_key(event), absorb(State(), event)
    assert state is not None
    posted = with_slot(state, MAIN, Slot(channel="C0DEPLOYS", ts="1700000000.000100"))
    targets = living_targets(key, posted, build_view(key, [event]), config, editable=True)
    message: dict[str, Any] = targets[MAIN]
    assert violations(message) == []
    return message


def _approval_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id") in (ids.APPROVE, ids.REJECT)
    ]


@pytest.mark.parametrize(
    "names",
    [
        {"execution-id": "a" * 2100},
        {"pipeline": "é" * 3000, "stage": "é" * 3000, "action": "é" * 3000},
        {"stage": "x" * 700, "action": "x" * 700},
        {"action": "Release<!channel>"},
        {"execution-id": "12345678-1234-5678-abcd-12345678abcd/../x"},
    ],
    ids=["long-execution-id", "long-non-ascii-names", "long-ascii-names", "odd-name", "odd-id"],
)
def test_an_approval_whose_names_no_button_can_carry_is_answered_in_the_console(
    names: dict[str, str],
) -> None:
    # GIVEN an approval request whose names or execution id are not AWS's (too long for a
    # button's value, which Slack caps at 2,000 characters, or outside AWS's alphabets)
    sample = load_sample("eventbridge-codepipeline-action-approval-started.json")
    sample["detail"].update(names)
    # WHEN its living message is built
    message = _living(sample)
    # THEN it stays within Block Kit's limits, offers no Approve or Reject, and says where to
    # answer it instead
    assert _approval_buttons(message) == []
    assert CONSOLE_NOTE in json.dumps(message, ensure_ascii=False)


def test_an_approval_with_aws_names_gets_its_buttons_within_slacks_limit() -> None:
    # GIVEN the real sample, and one with names and an id at AWS's longest
    longest = {"pipeline": "p" * 100, "stage": "s" * 100, "action": "a" * 100}
    longest["execution-id"] = "e" * 100
    for names in ({}, longest):
        sample = load_sample("eventbridge-codepipeline-action-approval-started.json")
        sample["detail"].update(names)
        # WHEN its living message is built
        message = _living(sample)
        # THEN Approve and Reject are there, each value within 2,000 characters, and no note
        buttons = _approval_buttons(message)
        assert [b["action_id"] for b in buttons] == [ids.APPROVE, ids.REJECT]
        assert all(len(b["value"]) <= VALUE_MAX for b in buttons)
        assert CONSOLE_NOTE not in json.dumps(message, ensure_ascii=False)


def test_the_encoder_refuses_a_value_slack_would_refuse() -> None:
    # GIVEN an approval whose execution id is far longer than AWS's
    approval = _approval(execution_id="a" * 2100)
    # WHEN its button value is asked for THEN the encoder refuses rather than break the message
    with pytest.raises(AssertionError):
        approvals.encode(f"execution#{approval.execution_id}", approval)


def test_the_modal_stays_within_slacks_limits_and_a_reason_is_required_to_reject() -> None:
    long_names = _approval(pipeline="p" * 100, stage="s" * 100, action="a" * 100)
    for decision in (approvals.APPROVED, approvals.REJECTED):
        assert modal_violations(build_modal(decision, long_names, "{}")) == []
    assert reason_error(approvals.REJECTED, "  \n ") == {"reason": reason_error_text()}
    assert reason_error(approvals.APPROVED, "") == {}


def reason_error_text() -> str:
    return reason_error(approvals.REJECTED, "")["reason"]


# --- who may not answer, and is it still waiting --------------------------------------------------


def test_nobody_answers_their_own_change_unless_allowed() -> None:
    # GIVEN a change started by ada's push, one of whose commits Bo wrote
    change = _approval(
        started_by=StartedBy("Webhook", Person(login="ada")),
        diff=ReleaseDiff(base="a" * 40, head="b" * 40, authors=(Person(email="bo@example.com"),)),
    )
    people = {"ada": "U0ADA", "bo@example.com": "U0BO"}
    assert "you started this change (ada)" in approvals.self_approval_refusal(
        "U0ADA", change, people, allowed=False
    )
    assert "you wrote this change (bo@example.com)" in approvals.self_approval_refusal(
        "U0BO", change, people, allowed=False
    )
    assert approvals.self_approval_refusal("U0CY", change, people, allowed=False) == ""
    assert approvals.self_approval_refusal("U0ADA", change, people, allowed=True) == ""
    # AND a Slack id enrichment found counts as much as the config's mapping
    found = replace(change, started_by=StartedBy("Webhook", Person(login="x", slack_id="U0X")))
    assert approvals.self_approval_refusal("U0X", found, {}, allowed=False)


def _state(status: str = "InProgress", token: str = TOKEN, execution: str = EXECUTION) -> Any:
    latest: dict[str, Any] = {"status": status}
    if token:
        latest["token"] = token
    return {
        "stageStates": [
            {
                "stageName": "Approve",
                "latestExecution": {"pipelineExecutionId": execution, "status": "InProgress"},
                "actionStates": [{"actionName": "Release", "latestExecution": latest}],
            }
        ]
    }


@pytest.mark.parametrize(
    ("state", "known", "refusal"),
    [
        (_state(), "", ""),
        (_state(), TOKEN, ""),
        (_state(status="Succeeded", token=""), "", "no longer waiting: AWS shows it Succeeded"),
        (_state(execution="87654321-0000-0000-0000-000000000000"), "", "belongs to execution"),
        (_state(token="11111111-2222-3333-4444-555555555555"), TOKEN, "replaced by a newer one"),
        ({"stageStates": []}, "", "AWS shows no approval Release in Approve"),
    ],
)
def test_an_approval_is_answered_only_while_that_very_request_waits(
    state: Any, known: str, refusal: str
) -> None:
    checked = approvals.check_pending(_approval(), state, known)
    assert refusal in checked.refusal if refusal else checked.refusal == ""
    if not refusal:
        assert checked.token == TOKEN


def test_the_summary_names_the_slack_user_within_512_characters() -> None:
    text = approvals.summary(approvals.REJECTED, "U0ADA", "ada", "x" * 600)
    assert text.startswith("Rejected from Slack by ada (U0ADA): xxx")
    assert len(text) == 512


def test_a_tampered_button_names_no_approval() -> None:
    good = approvals.encode(f"execution#{EXECUTION}", _approval())
    assert approvals.decode(good) is not None
    for value in (
        good.replace('"Release"', '"Other"'),  # the id no longer matches the names
        good.replace("execution#", "claim#"),
        "[]",
        "not json",
        json.dumps({"k": f"execution#{EXECUTION}", "i": 12}),
    ):
        assert approvals.decode(value) is None


# --- reminders ------------------------------------------------------------------------------------


def _waiting(expires: datetime | None = None) -> Deployment:
    return replace(_approval(), started_at=T0, approval=Approval(expires_at=expires))


def test_a_reminder_after_remind_after_once() -> None:
    assert approvals.due_reminders([_waiting()], (), T0 + timedelta(minutes=59), 3600) == []
    [due] = approvals.due_reminders([_waiting()], (), T0 + timedelta(minutes=61), 3600)
    assert due.kind == "waiting"
    assert approvals.due_reminders([_waiting()], due.slots, T0 + timedelta(hours=5), 3600) == []


def test_a_reminder_an_hour_before_it_expires_and_none_after() -> None:
    expires = T0 + timedelta(days=7)
    [due] = approvals.due_reminders([_waiting(expires)], (), expires - timedelta(minutes=50), 3600)
    assert due.kind == "expiring" and len(due.slots) == 2  # it covers the waiting one too
    assert (
        approvals.due_reminders([_waiting(expires)], (), expires + timedelta(minutes=1), 3600) == []
    )


def test_no_reminder_once_answered_or_when_turned_off() -> None:
    answered = replace(_waiting(), status=Status.SUCCEEDED)
    assert approvals.due_reminders([answered], (), T0 + timedelta(days=1), 3600) == []
    assert approvals.due_reminders([_waiting()], (), T0 + timedelta(days=1), 0) == []


# --- blue/green -----------------------------------------------------------------------------------


def _deployment(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "deploymentInfo": {
            "deploymentId": "d-ABC123",
            "applicationName": "checkout",
            "deploymentGroupName": "production",
            "status": status,
            "deploymentStyle": {"deploymentType": "BLUE_GREEN"},
            **extra,
        }
    }


@pytest.mark.parametrize(
    ("operation", "answer", "method", "refusal"),
    [
        ("reroute", _deployment("Ready"), "continue_deployment", ""),
        ("reroute", _deployment("InProgress"), "", "not waiting for that step now"),
        (
            "finish",
            _deployment("InProgress", instanceTerminationWaitTimeStarted=True),
            "continue_deployment",
            "",
        ),
        ("finish", _deployment("Ready"), "", "it is READY_WAIT"),
        ("stop", _deployment("Ready"), "stop_deployment", ""),
        ("stop", _deployment("Succeeded"), "", "is already Succeeded"),
    ],
)
def test_each_step_is_sent_only_while_the_deployment_waits_for_it(
    operation: str, answer: dict[str, Any], method: str, refusal: str
) -> None:
    checked = traffic.check(traffic.Steer("d-ABC123", operation), answer)
    assert (checked.method, refusal in checked.refusal if refusal else not checked.refusal) == (
        method,
        True,
    )


def test_a_tampered_traffic_button_names_nothing() -> None:
    assert traffic.decode('{"d":"d-ABC123","o":"reroute"}') == traffic.Steer("d-ABC123", "reroute")
    for value in ('{"d":"x","o":"reroute"}', '{"d":"d-ABC123","o":"delete"}', "[]", "{"):
        assert traffic.decode(value) is None
