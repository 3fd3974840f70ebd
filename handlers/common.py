"""What every Slack listener needs: the config from Bolt's context, a private answer."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext

from bot.domain.config import Config
from bot.slack import DeliveryError, make_responder

logger = logging.getLogger(__name__)

CONFIG_KEY = "deploybot_config"  # where bot/app.py's middleware puts the config


def config_of(context: BoltContext) -> Config:
    """The config the app was built with (lazy listeners get a fresh context, with it again)."""
    config = context[CONFIG_KEY]
    assert isinstance(config, Config)
    return config


def respond(response_url: str, message: dict[str, Any]) -> None:
    """Answer through an interaction's `response_url`; a failure is logged, never raised."""
    try:
        make_responder(response_url).post(message)
    except DeliveryError:
        logger.exception("could not answer through the response_url")
