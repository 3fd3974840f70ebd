"""The [[pipelines]] mapping and [enrich] settings: parsed, defaulted, errors name the key."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.config import ConfigError, EnrichSettings, PipelineMapping, config_from_mapping


def test_every_key_is_optional() -> None:
    # GIVEN an empty document, WHEN validated, THEN lookups are on with the defaults
    config = config_from_mapping({}, {})
    assert config.pipelines == ()
    assert config.enrich == EnrichSettings()
    assert config.enrich.enabled


def test_mapping_and_settings_are_read() -> None:
    # GIVEN a mapping with a source action and tuned settings
    config = config_from_mapping(
        {
            "pipelines": [
                {
                    "pipeline": "web",
                    "application": "web-app",
                    "deployment_group": ["blue", "green"],
                    "source_action": "AppSource",
                },
                {"pipeline": "api", "application": "api-app"},
            ],
            "enrich": {
                "timeout_seconds": 3,
                "cache_seconds": 60,
                "discover": False,
                "max_pages": 5,
                "source_action": "Source",
            },
        },
        {},
    )
    # THEN lookups find the pipeline per application/group and the source action per pipeline
    assert config.pipelines[0] == PipelineMapping(
        "web", ("web-app",), ("blue", "green"), "AppSource"
    )
    assert config.pipelines_for("web-app", "green") == ("web",)
    assert config.pipelines_for("web-app", "staging") == ()
    assert config.pipelines_for("api-app", "anything") == ("api",)
    assert config.source_action_for("web") == "AppSource"
    assert config.source_action_for("api") == "Source"
    assert config.enrich == EnrichSettings(True, 3.0, 60.0, False, 5, "Source")


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"pipelines": {"pipeline": "x"}}, "pipelines: must be an array of tables"),
        ({"pipelines": [{"application": "a"}]}, "pipelines[0].pipeline: is required"),
        ({"pipelines": [{"pipeline": "p", "app": "a"}]}, "pipelines[0].app: unknown key"),
        ({"pipelines": [{"pipeline": "p", "source_action": 1}]}, "pipelines[0].source_action"),
        (
            {"pipelines": [{"pipeline": "p", "deployment_group": 3}]},
            "pipelines[0].deployment_group",
        ),
        ({"enrich": {"timeout_seconds": 0}}, "enrich.timeout_seconds: must be a number from 0.1"),
        ({"enrich": {"timeout_seconds": "5"}}, "enrich.timeout_seconds"),
        ({"enrich": {"cache_seconds": -1}}, "enrich.cache_seconds"),
        ({"enrich": {"max_pages": 0}}, "enrich.max_pages: must be a whole number from 1 to 20"),
        ({"enrich": {"max_pages": True}}, "enrich.max_pages"),
        ({"enrich": {"discover": "yes"}}, "enrich.discover: must be true or false"),
        ({"enrich": {"enabled": 1}}, "enrich.enabled: must be true or false"),
        ({"enrich": {"timeout": 5}}, "enrich.timeout: unknown key"),
        ({"enrich": "on"}, "enrich: must be a table"),
    ],
)
def test_errors_name_the_key(document: dict[str, Any], error: str) -> None:
    # GIVEN a bad value, WHEN validated, THEN the error names its key
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(document, {})
    assert str(raised.value).startswith(error)
