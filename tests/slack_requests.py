"""Really signed Slack requests, shaped as Lambda Function URL events (payload format 2.0)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:deploybot"


@dataclass(frozen=True)
class LambdaContext:
    """The two attributes of Lambda's context object that Bolt reads."""

    function_name: str = "deploybot"
    invoked_function_arn: str = FUNCTION_ARN


def function_url_event(
    body: str,
    *,
    secret: str | None = SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
    encode: bool = True,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Function URL event carrying `body`, signed with `secret` (None: unsigned)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    all_headers = {
        "content-type": content_type,
        "host": "abc123.lambda-url.eu-west-1.on.aws",
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "x-forwarded-proto": "https",
    }
    if secret is not None:
        all_headers["x-slack-request-timestamp"] = ts
        all_headers["x-slack-signature"] = SignatureVerifier(secret).generate_signature(
            timestamp=ts, body=body
        )
    all_headers.update(headers or {})
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc123",
            "domainName": "abc123.lambda-url.eu-west-1.on.aws",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            },
            "requestId": "c0ffee00-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": int(ts) * 1000,
        },
        "body": base64.b64encode(body.encode()).decode() if encode else body,
        "isBase64Encoded": encode,
    }


def slash_command(text: str, response_url: str, *, user_id: str = "U0DEVELOP") -> str:
    """The form body Slack sends for `/deploy-status text`."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T000",
            "team_domain": "example",
            "channel_id": "C0DEPLOYS",
            "channel_name": "deployments",
            "user_id": user_id,
            "user_name": "dev",
            "command": "/deploy-status",
            "text": text,
            "api_app_id": "A0DEPLOYBOT",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def block_actions(
    action_id: str,
    response_url: str,
    *,
    value: str | None = None,
    user_id: str = "U0DEVELOP",
    channel_id: str = "C0DEPLOYS",
    message: dict[str, Any] | None = None,
    action_ts: str = "1700000000.000100",
) -> str:
    """The form body Slack sends when a button is clicked: in an ephemeral message, or in the
    channel `message` (as Slack sends it, with its ts and blocks)."""
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": "b1",
        "text": {"type": "plain_text", "text": "button"},
        "action_ts": action_ts,
    }
    if value is not None:
        action["value"] = value
    payload = {
        "type": "block_actions",
        "team": {"id": "T000", "domain": "example"},
        "user": {"id": user_id, "username": "dev", "team_id": "T000"},
        "api_app_id": "A0DEPLOYBOT",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"] if message else "1700000000.000001",
            "channel_id": channel_id,
            "is_ephemeral": message is None,
        },
        "trigger_id": "1.2.3",
        "channel": {"id": channel_id, "name": "deployments"},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:
        payload["message"] = message
    return urlencode({"payload": json.dumps(payload)})


def view_submission(
    view: dict[str, Any],
    view_id: str,
    *,
    values: dict[str, dict[str, Any]] | None = None,
    user_id: str = "U0DEVELOP",
) -> str:
    """The form body Slack sends when a modal (as opened with views.open) is submitted, with
    what was typed in its inputs (`values`: block_id -> action_id -> element state)."""
    payload = {
        "type": "view_submission",
        "team": {"id": "T000", "domain": "example"},
        "user": {"id": user_id, "username": "dev", "name": "dev", "team_id": "T000"},
        "api_app_id": "A0DEPLOYBOT",
        "token": "legacy-verification-token",
        "trigger_id": "2.3.4",
        "view": {
            **view,
            "id": view_id,
            "team_id": "T000",
            "state": {"values": values or {}},
            "hash": "1700000000.abcdef",
            "app_id": "A0DEPLOYBOT",
            "bot_id": "B000",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)})
