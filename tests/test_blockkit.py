"""The Block Kit validator the fake Slack and the property tests rely on can fail: each limit
from fixtures/slack/blockkit-limits.json, and slack_sdk's model checks, catch a bad payload."""

from __future__ import annotations

from typing import Any

import pytest

from tests.blockkit import violations


def _button(**extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": "Go"},
        "action_id": "a",
        **extra,
    }


def _actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"text": "x", "blocks": [{"type": "actions", "elements": list(elements)}]}


def _confirm(text: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "mrkdwn", "text": text},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "No"},
    }


def test_a_good_message_passes() -> None:
    assert violations(_actions(_button(url="https://x.example", confirm=_confirm("ok")))) == []


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        (_actions(_button(value="v" * 2001)), "value"),
        (_actions(_button(url="https://x/" + "a" * 3000)), "url"),
        (_actions(_button(style="red")), "style"),
        (_actions(_button(confirm=_confirm("t" * 301))), "confirm.text"),
        (_actions(_button(text={"type": "mrkdwn", "text": "Go"})), "plain_text"),
        (_actions(*[_button(action_id=str(i)) for i in range(26)]), "elements"),
        (
            {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]},
            "plain_text",
        ),
        (
            {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]},
            "text length 0",
        ),
        ({"text": "a\ud800"}, "not UTF-8"),
        (
            {"text": "x", "blocks": [{"type": "context", "elements": [{"type": "image"}]}]},
            "slack_sdk",
        ),
        (
            {
                "text": "x",
                "blocks": [
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "s"},
                        "block_id": "b" * 256,
                    }
                ],
            },
            "block_id",
        ),
    ],
)
def test_each_broken_limit_is_found(payload: dict[str, Any], found: str) -> None:
    assert any(found in problem for problem in violations(payload)), violations(payload)
