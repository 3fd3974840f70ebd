"""The Slack door refuses what it should, before Bolt reads it: unsigned or unreadable requests
(401, or 400 once the signature is good; never a 5xx or a stack trace), and signed requests
from a workspace that is not served (403), through `bot.lambda_function.handler`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from bot import lambda_function
from tests.fake_lambda import FakeLambda
from tests.fake_slack import FakeSlack
from tests.slack_requests import (
    SECRET,
    LambdaContext,
    block_actions,
    function_url_event,
    slash_command,
    view_submission,
)


def _invoke(event: Any) -> dict[str, Any]:
    response: dict[str, Any] = lambda_function.handler(event, LambdaContext())
    return response


def _signed_bytes(raw: bytes, *, content_type: str = "application/x-www-form-urlencoded") -> Any:
    """A Function URL event whose body is `raw` (any bytes), signed over those bytes as Slack
    signs them (SignatureVerifier only signs text)."""
    event = function_url_event("", content_type=content_type)
    ts = event["headers"]["x-slack-request-timestamp"]
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
    event["headers"]["x-slack-signature"] = "v0=" + mac.hexdigest()
    event["body"] = base64.b64encode(raw).decode()
    return event


def test_signing_bytes_matches_slack_sdk_on_text() -> None:
    # The helper above signs as slack_sdk does (so the 400s below are not signature failures)
    event = _signed_bytes(b"text=hi")
    ts = event["headers"]["x-slack-request-timestamp"]
    expected = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body="text=hi")
    assert event["headers"]["x-slack-signature"] == expected


FORM, JSON = "application/x-www-form-urlencoded", "application/json"
UNREADABLE = {
    "payload-not-json": (b"payload=x", FORM),
    "payload-a-list": (b"payload=%5B%5D", FORM),
    "payload-cut-short": (b"payload=%7B%22type%22%3A", FORM),
    "not-utf8": (b"text=\xff\xfe&command=%2Fdeploy-status", FORM),
    "json-a-list": (b"[]", JSON),
    "json-broken": (b'{"type": ', JSON),
    "json-a-string": (b'"x"', JSON),
    "team-a-number": (b'{"team": 5, "type": "block_actions"}', JSON),
    "authorizations-a-string": (b'{"authorizations": "x"}', JSON),
    "event-a-string": (b'{"type": "event_callback", "event": "type"}', JSON),
}


@pytest.fixture
def door(aws_env: FakeLambda, slack_env: FakeSlack) -> FakeSlack:
    return slack_env


def _assert_quiet(caplog: pytest.LogCaptureFixture, response: dict[str, Any]) -> None:
    assert "Traceback" not in str(response.get("body"))
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(("raw", "content_type"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_signed_body_bolt_cannot_read_gets_400(
    raw: bytes,
    content_type: str,
    door: FakeSlack,
    aws_env: FakeLambda,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a body Slack signed but Bolt's parser cannot read (it used to raise: 502)
    # WHEN it reaches the function
    with caplog.at_level(logging.INFO):
        response = _invoke(_signed_bytes(raw, content_type=content_type))
    # THEN 400, nothing run, no ERROR line and no stack trace
    assert response["statusCode"] == 400
    assert aws_env.invocations == []
    _assert_quiet(caplog, response)


@pytest.mark.parametrize(("raw", "content_type"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_the_same_bodies_unsigned_get_401(
    raw: bytes, content_type: str, door: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the same bodies with a signature that does not match
    event = _signed_bytes(raw, content_type=content_type)
    event["headers"]["x-slack-signature"] = "v0=" + "0" * 64
    # THEN the signature is checked first: 401, before anything parses them
    with caplog.at_level(logging.INFO):
        response = _invoke(event)
    assert response["statusCode"] == 401
    _assert_quiet(caplog, response)


def _click(action_id: str, door: FakeSlack, **change: Any) -> dict[str, Any]:
    payload = json.loads(
        parse_qs(block_actions(action_id, f"{door.url}/r", value="{}"))["payload"][0]
    )
    return {**payload, **change}


def _submission(*, drop: str = "", **view: Any) -> dict[str, Any]:
    modal = {"type": "modal", "callback_id": "approval_answer", "private_metadata": "{}"}
    payload = json.loads(parse_qs(view_submission(modal, "V1"))["payload"][0])
    shown = {k: v for k, v in {**payload["view"], **view}.items() if k != drop}
    return {**payload, "view": shown}


MISSHAPEN = {
    "user-a-string": lambda door: _click("approval_reject", door, user="U0DEVELOP"),
    "user-a-list": lambda door: _click("rollback", door, user=["U0DEVELOP"]),
    "user-id-a-number": lambda door: _click("rollback", door, user={"id": 5, "team_id": "T000"}),
    "team-a-list": lambda door: _click("rollback", door, team=["T000"]),
    "actions-an-object": lambda door: _click("rollback", door, actions={"action_id": "rollback"}),
    "action-a-string": lambda door: _click("rollback", door, actions=["rollback"]),
    "view-with-no-type": lambda door: _submission(drop="type"),
    "view-a-string": lambda door: {**_submission(), "view": "approval_answer"},
    "view-state-a-string": lambda door: _submission(state="x"),
    "view-metadata-a-list": lambda door: _submission(private_metadata=["x"]),
}


@pytest.mark.parametrize("build", MISSHAPEN.values(), ids=MISSHAPEN.keys())
def test_a_signed_payload_of_the_wrong_shape_gets_400(
    build: Any, door: FakeSlack, aws_env: FakeLambda, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a click or a modal submission, signed by Slack, whose user, team, actions or view
    # is not what Slack sends (a string user crashed the click handler; a view with no type,
    # Bolt's own middleware: 500 with a stack trace)
    payload = build(door)
    # WHEN it reaches the function, really signed
    with caplog.at_level(logging.INFO):
        response = _invoke(function_url_event(urlencode({"payload": json.dumps(payload)})))
    # THEN 400 before Bolt: nothing run, nothing posted (the app only learned its workspace
    # from auth.test while it was built), no ERROR line, no stack trace
    assert response["statusCode"] == 400
    assert aws_env.invocations == []
    assert [c.method for c in door.calls if c.method != "auth.test"] == []
    _assert_quiet(caplog, response)


def test_the_shapes_slack_sends_pass_the_door(door: FakeSlack) -> None:
    # GIVEN a click and a modal submission as Slack sends them (team null: an org-wide install)
    for payload in (_click("status_next", door, team=None), _submission()):
        # WHEN they reach the function THEN the shape check lets them through to Bolt
        response = _invoke(function_url_event(urlencode({"payload": json.dumps(payload)})))
        assert response["statusCode"] != 400, payload["type"]


@pytest.mark.parametrize(
    "view",
    [{"state": {"values": []}, "private_metadata": '{"k":5}'}, {"private_metadata": "[1]"}],
    ids=["values-a-list", "metadata-a-list"],
)
def test_a_well_shaped_submission_with_odd_contents_gets_no_server_error(
    view: dict[str, Any], door: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a modal submission of the right shape whose contents are not deploybot's
    payload = _submission(**view)
    # WHEN it reaches the function THEN the listener refuses it quietly: no 5xx, no ERROR
    with caplog.at_level(logging.INFO):
        response = _invoke(function_url_event(urlencode({"payload": json.dumps(payload)})))
    assert response["statusCode"] < 500
    _assert_quiet(caplog, response)


def _headers(**change: str) -> Any:
    return lambda event: event["headers"].update(change)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(_headers(**{"x-slack-request-timestamp": "soon"}), id="timestamp-a-word"),
        pytest.param(_headers(**{"x-slack-request-timestamp": "1e9"}), id="timestamp-exponent"),
        pytest.param(_headers(**{"x-slack-request-timestamp": "²"}), id="timestamp-superscript"),
        pytest.param(
            _headers(**{"x-slack-request-timestamp": "١٧٠٠٠٠٠٠٠٠"}), id="timestamp-arabic-digits"
        ),
        pytest.param(_headers(**{"x-slack-signature": "v1=abc"}), id="signature-other-version"),
        pytest.param(_headers(**{"x-slack-signature": ""}), id="signature-empty"),
        pytest.param(lambda e: e.pop("isBase64Encoded"), id="no-isBase64Encoded"),
        pytest.param(lambda e: e.update(body="%%%not base64"), id="body-not-base64"),
        pytest.param(lambda e: e.update(headers="x"), id="headers-not-an-object"),
        pytest.param(lambda e: e.update(body=5), id="body-a-number"),
    ],
)
def test_broken_signature_headers_or_event_get_401(
    mangle: Any, door: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a slash command whose signature headers or event shape cannot be verified
    event = function_url_event(slash_command("", f"{door.url}/r"))
    mangle(event)
    # THEN 401, quietly
    with caplog.at_level(logging.INFO):
        response = _invoke(event)
    assert response["statusCode"] == 401
    _assert_quiet(caplog, response)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"requestContext": "x"}, id="context-not-an-object"),
        pytest.param({"requestContext": {"http": {"method": 5}}}, id="method-not-a-string"),
        pytest.param({"foo": "bar"}, id="not-an-http-request"),
    ],
)
def test_an_event_that_is_no_http_request_gets_404(event: Any, door: FakeSlack) -> None:
    assert _invoke(event)["statusCode"] == 404


def test_a_get_request_gets_404(door: FakeSlack) -> None:
    event = function_url_event(slash_command("", f"{door.url}/r"))
    event["requestContext"]["http"]["method"] = "GET"
    assert _invoke(event)["statusCode"] == 404


def test_slacks_ssl_check_is_answered_without_running_anything(
    door: FakeSlack, aws_env: FakeLambda
) -> None:
    # GIVEN Slack's certificate check, which Bolt also answers before the signature
    event = function_url_event("ssl_check=1&token=legacy", secret=None)
    # THEN 200 and nothing else: no lazy run, no Slack call for the request (the container's
    # one auth.test, which learns the workspace in the background at cold start, may come
    # before or after: it is not the request's)
    assert _invoke(event)["statusCode"] == 200
    assert aws_env.invocations == []
    assert [c.method for c in door.calls if c.method != "auth.test"] == []


# --- only the workspaces served ----------------------------------------------------------------


def test_a_signed_request_from_another_workspace_gets_403(
    door: FakeSlack, aws_env: FakeLambda
) -> None:
    # GIVEN the bot token's workspace is T000 (auth.test), and a request signed for T999
    body = slash_command("", f"{door.url}/r").replace("team_id=T000", "team_id=T999")
    # WHEN it arrives THEN it is refused and nothing runs: no lazy invocation, no answer
    assert _invoke(function_url_event(body))["statusCode"] == 403
    assert aws_env.invocations == []
    assert door.calls_to("response_url") == []
    # AND the same command from T000 is served
    assert _invoke(function_url_event(slash_command("", f"{door.url}/r")))["statusCode"] == 200


def test_a_click_from_another_enterprise_gets_403(door: FakeSlack, aws_env: FakeLambda) -> None:
    # GIVEN the served workspace is in no Enterprise Grid (auth.test names none)
    form = parse_qs(block_actions("rollback", f"{door.url}/r", value="x"))
    data = json.loads(form["payload"][0])
    data["enterprise"] = {"id": "E999", "name": "elsewhere"}
    data["team"]["enterprise_id"] = "E999"
    body = urlencode({"payload": json.dumps(data)})
    # WHEN a correctly signed click names team T000 but another enterprise
    response = _invoke(function_url_event(body))
    # THEN it is refused
    assert response["statusCode"] == 403
    assert aws_env.invocations == []


def test_a_configured_team_is_served_without_asking_slack(
    door: FakeSlack, aws_env: FakeLambda, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN [slack] team_id in the config
    path = tmp_path / "deploybot.toml"
    path.write_text('[slack]\nteam_id = ["T000", "T111"]\n')
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(path))
    # WHEN requests arrive from a listed workspace and from another one
    ok = _invoke(function_url_event(slash_command("", f"{door.url}/r")))
    other = slash_command("", f"{door.url}/r").replace("team_id=T000", "team_id=T222")
    refused = _invoke(function_url_event(other))
    # THEN the first is served, the second refused, and auth.test was never called
    assert (ok["statusCode"], refused["statusCode"]) == (200, 403)
    assert door.calls_to("auth.test") == []


def test_when_auth_test_fails_requests_get_503_until_it_answers(
    door: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN Slack answering auth.test with an error once
    door.fail_next(("error", "invalid_auth"))
    event = function_url_event(slash_command("help", f"{door.url}/r"))
    # WHEN a request arrives THEN it cannot be placed: 503, logged without the token
    with caplog.at_level(logging.ERROR):
        assert _invoke(event)["statusCode"] == 503
    assert "auth.test failed, so no workspace is served yet: invalid_auth" in caplog.text
    assert "xoxb" not in caplog.text
    # AND the next request asks again and is served
    fresh = function_url_event(slash_command("help", f"{door.url}/r"))
    assert _invoke(fresh)["statusCode"] == 200
    assert len(door.calls_to("auth.test")) == 2


# --- any signed body: never a 5xx ----------------------------------------------------------------

form_values = st.text(max_size=30) | st.sampled_from(["[]", "{}", "x", "1", '{"type":', "null"])
form_bodies = st.dictionaries(
    st.sampled_from(["payload", "command", "team_id", "text", "type", "token", "ssl_check"])
    | st.text(max_size=8),
    form_values,
    max_size=5,
).map(urlencode)
json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "team", "team_id", "enterprise", "user", "actions", "view"]),
            c,
            max_size=4,
        )
    ),
    max_leaves=12,
).map(json.dumps)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=form_bodies | json_bodies | st.binary(max_size=40).map(lambda b: b.hex()))
def test_no_signed_body_gets_a_server_error(body: str, door: FakeSlack) -> None:
    # GIVEN any body, correctly signed
    response = _invoke(
        _signed_bytes(body.encode(), content_type="application/x-www-form-urlencoded")
    )
    # THEN the answer is a client error or a success, never a 5xx
    assert response["statusCode"] < 500, body


def test_a_stale_but_otherwise_good_request_gets_401(door: FakeSlack) -> None:
    event = function_url_event(slash_command("", f"{door.url}/r"), timestamp=int(time.time()) - 400)
    assert _invoke(event)["statusCode"] == 401
