"""Delivery through the real WebClient and WebhookClient to a local fake Slack over HTTP."""

from __future__ import annotations

import pytest

from bot.domain.config import Config
from bot.domain.events import parse_payload
from bot.plan import build_post
from bot.slack import DeliveryError, make_poster
from tests.conftest import load_sample
from tests.fake_slack import TOKEN, FakeSlack


def _config(fake: FakeSlack, **overrides: str) -> Config:
    values = {"slack_bot_token": TOKEN, "slack_api_url": fake.api_url, **overrides}
    return Config(**values)  # type: ignore[arg-type]


def _message() -> dict[str, object]:
    event = parse_payload(load_sample("codedeploy-trigger-failure.json"))[0]
    return build_post(event, Config())


def test_post_arrives_with_channel_text_and_blocks(fake_slack: FakeSlack) -> None:
    # GIVEN a poster aimed at the fake
    poster = make_poster(_config(fake_slack))
    message = _message()
    # WHEN it posts
    poster.post(message)
    # THEN Slack got exactly that message, authenticated with the bot token
    [post] = fake_slack.posts
    assert post["channel"] == "#deployments"
    assert post["text"] == message["text"]
    assert post["blocks"] == message["blocks"]
    assert fake_slack.calls[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "fault", [("429", 1), ("500", None), ("reset", None)], ids=["429", "500", "reset"]
)
def test_transient_failures_are_retried(fake_slack: FakeSlack, fault: tuple[str, object]) -> None:
    fake_slack.fail_next(fault)
    make_poster(_config(fake_slack)).post(_message())
    assert len(fake_slack.calls) == 2
    assert len(fake_slack.posts) == 1


def test_retry_after_is_honoured(fake_slack: FakeSlack) -> None:
    import time

    fake_slack.fail_next(("429", 1))
    started = time.monotonic()
    make_poster(_config(fake_slack)).post(_message())
    # The retry waited for Retry-After (1 s) before the second request.
    assert time.monotonic() - started >= 0.9
    assert len(fake_slack.posts) == 1


def test_final_failure_raises(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(*[("500", None)] * 5)
    with pytest.raises(DeliveryError, match=r"chat\.postMessage failed"):
        make_poster(_config(fake_slack)).post(_message())
    assert fake_slack.posts == []


def test_slack_error_raises_with_its_code(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(("error", "channel_not_found"))
    with pytest.raises(DeliveryError, match="channel_not_found"):
        make_poster(_config(fake_slack)).post(_message())


def test_rejected_blocks_fall_back_to_text(fake_slack: FakeSlack) -> None:
    # GIVEN a message whose blocks break a limit (a header over 150 characters)
    message = _message()
    message["blocks"] = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    # WHEN it is posted
    make_poster(_config(fake_slack)).post(message)
    # THEN Slack said invalid_blocks once, and the text alone got through
    assert fake_slack.calls[0].args["_problems"]
    [post] = fake_slack.posts
    assert "blocks" not in post
    assert post["text"] == message["text"]


def test_webhook_posts_text_and_blocks(fake_slack: FakeSlack) -> None:
    poster = make_poster(Config(slack_webhook_url=fake_slack.webhook_url))
    message = _message()
    poster.post(message)
    [call] = fake_slack.calls_to("webhook")
    assert call["text"] == message["text"]
    assert call["blocks"] == message["blocks"]


def test_webhook_failure_raises(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(*[("500", None)] * 5)
    poster = make_poster(Config(slack_webhook_url=fake_slack.webhook_url))
    with pytest.raises(DeliveryError, match="500"):
        poster.post(_message())
