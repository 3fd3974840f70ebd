"""A request to the Slack door as a Lambda Function URL delivers it, checked before anything
reads its body, and the shape of what it carries. Pure: the clock is passed in.

Slack signs `v0:{X-Slack-Request-Timestamp}:{raw body}` with HMAC-SHA256 and the app's signing
secret, and a request older than five minutes is refused (slack_sdk's SignatureVerifier, and
Slack's "Verifying requests from Slack"). The signature covers the body's bytes, so it is
checked on them: before decoding them as UTF-8 and before any parser sees them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

MAX_AGE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What the signature check needs from a Function URL event."""

    method: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes | None  # None: not base64 or text as the event says, so it cannot be verified


def raw_request(event: Mapping[str, object]) -> RawRequest | None:
    """The method, headers and body bytes of a Function URL (or API Gateway) event.

    None when the event has no HTTP method (then it is no HTTP request at all).
    """
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    http = context.get("http")
    method = http.get("method") if isinstance(http, Mapping) else context.get("httpMethod")
    if not isinstance(method, str):
        return None
    headers = event.get("headers")
    names = (
        {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}
        if isinstance(headers, Mapping)
        else {}
    )
    return RawRequest(method=method.upper(), headers=names, body=_body(event))


def _body(event: Mapping[str, object]) -> bytes | None:
    body = event.get("body")
    encoded = event.get("isBase64Encoded")
    if not isinstance(body, str | None) or not isinstance(encoded, bool):
        return None  # Bolt's adapter needs isBase64Encoded (a KeyError without it)
    try:
        return base64.b64decode(body or "", validate=True) if encoded else (body or "").encode()
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def is_signed(request: RawRequest, secret: str, now: float) -> bool:
    """True when Slack signed this body with `secret` in the last five minutes."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if request.body is None or not secret:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + request.body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def is_ssl_check(request: RawRequest) -> bool:
    """Slack's `ssl_check=1` form, which only checks the certificate and runs nothing."""
    if request.body is None or len(request.body) > 1000:
        return False
    try:
        form = parse_qs(request.body.decode("ascii"))
    except UnicodeDecodeError:
        return False
    return form.get("ssl_check") == ["1"]


# The fields of Slack's payloads that Bolt and deploybot's listeners index into, as Slack's
# references describe them (interaction payloads: block_actions, view_submission; the Events
# API's event_callback): field -> (the string fields it must have, the ones it may have, the
# objects it may have). `team` may be null (an org-wide install); `actions` is a list of them.
_SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "user": (("id",), ("team_id", "username", "name"), ()),
    "team": ((), ("id", "domain", "enterprise_id"), ()),
    "view": (("type",), ("id", "callback_id", "private_metadata", "hash"), ("state",)),
    "event": (("type",), (), ()),
    "actions": (("action_id",), ("type", "value", "block_id", "action_ts"), ()),
}


def misshapen(body: Mapping[str, object]) -> str:
    """The field of a parsed Slack payload that is not of the shape Slack sends ("" if none).

    Bolt's middleware and the listeners read these fields as Slack documents them; a signed
    body that holds something else (a string `user`, a `view` with no type) made them raise.
    """
    for name, shape in _SHAPES.items():
        value = body.get(name)
        if name not in body or (name == "team" and value is None):
            continue
        if name == "actions":
            if not isinstance(value, list) or not all(_fits(item, *shape) for item in value):
                return name
        elif not _fits(value, *shape):
            return name
    return ""


def _fits(
    value: object, needed: tuple[str, ...], strings: tuple[str, ...], objects: tuple[str, ...]
) -> bool:
    if not isinstance(value, Mapping):
        return False
    if not all(isinstance(value.get(field), str) for field in needed):
        return False
    if not all(isinstance(value.get(field, ""), str) for field in strings):
        return False
    return all(isinstance(value.get(field, {}), Mapping) for field in objects)
