"""Config keys the Slack door added: watched pipelines and the Slack secrets."""

from __future__ import annotations

import pytest

from bot.domain.config import ConfigError, config_from_mapping


def test_watched_pipelines_and_secrets_are_read() -> None:
    # GIVEN a config file naming the pipelines to watch, and the Slack secrets in the env
    env = {"SLACK_SIGNING_SECRET": "sign-me", "SLACK_APP_TOKEN": "xapp-1-secret"}
    config = config_from_mapping({"status": {"pipelines": ["web", "api"]}}, env)
    # THEN they are in the config, and the secrets never show in its repr (logs)
    assert config.watched_pipelines == ("web", "api")
    assert config.slack_signing_secret == "sign-me"
    assert config.slack_app_token == "xapp-1-secret"
    assert "sign-me" not in repr(config)
    assert "xapp-1-secret" not in repr(config)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"status": {"pipeline": ["web"]}}, "status.pipeline"),
        ({"status": {"pipelines": [""]}}, "status.pipelines"),
        ({"status": "web"}, "status"),
    ],
)
def test_bad_status_keys_are_named(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}:"):
        config_from_mapping(data, {})
