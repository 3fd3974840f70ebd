"""[release], [people], failure_mentions = ["authors"] and the GitHub environment: parsed,
defaulted, and every error names the key."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from bot.domain.config import ConfigError, ReleaseSettings, config_from_mapping


def test_the_release_diff_is_on_by_default_and_github_is_github_com() -> None:
    release = config_from_mapping({}, {}).release
    assert release == ReleaseSettings()
    assert release.enabled
    assert release.commits_shown == 3
    assert release.github_api_url == "https://api.github.com"
    assert release.people == {}


def test_release_people_and_the_environment_are_read() -> None:
    # GIVEN the README's example, as TOML, and a GitHub Enterprise environment
    document = tomllib.loads(
        """
        [slack]
        failure_mentions = ["S0PLATFORM", "authors"]

        [release]
        commits_shown = 3
        max_commits = 500
        lookup_emails = false
        gitlab_url = "https://gitlab.example.com/"

        [people]
        "Alice@Example.com" = "U012ABC"
        octocat = "W034DEF"
        "@hubot" = "U056GHI"
        """
    )
    env = {
        "GITHUB_API_URL": "https://github.example.com/api/v3/",
        "GITHUB_TOKEN": "ghp_x",
        "GITHUB_TOKEN_PARAMETER": "/deploybot/github-token",
    }
    config = config_from_mapping(document, env)
    # THEN every value is there; keys are compared in lower case, without a leading @
    assert config.failure_mentions == ("S0PLATFORM", "authors")
    assert config.release == ReleaseSettings(
        commits_shown=3,
        max_commits=500,
        lookup_emails=False,
        gitlab_url="https://gitlab.example.com",
        people={"alice@example.com": "U012ABC", "octocat": "W034DEF", "hubot": "U056GHI"},
        github_api_url="https://github.example.com/api/v3",
        github_token="ghp_x",
        github_token_parameter="/deploybot/github-token",
    )
    assert "ghp_x" not in repr(config.release)


@pytest.mark.parametrize(
    ("document", "env", "error"),
    [
        ({"release": {"colour": 1}}, {}, "release.colour: unknown key"),
        ({"release": {"enabled": "yes"}}, {}, "release.enabled: must be true or false"),
        ({"release": {"commits_shown": 11}}, {}, "release.commits_shown: must be a whole"),
        ({"release": {"commits_shown": True}}, {}, "release.commits_shown: must be a whole"),
        ({"release": {"max_commits": 0}}, {}, "release.max_commits: must be a whole"),
        ({"release": {"gitlab_url": "gitlab.local"}}, {}, "release.gitlab_url: must be an http"),
        ({"people": {"alice": "alice"}}, {}, "people.alice: must be a Slack user id"),
        ({"people": {"alice": "U012ABC\n"}}, {}, "people.alice: must be a Slack user id"),
        ({"people": {"alice": "S0TEAM"}}, {}, "people.alice: must be a Slack user id"),
        ({"people": {"two words": "U012ABC"}}, {}, "people.two words: is not a git e-mail"),
        (
            {"people": {"Alice": "U012ABC", "alice": "U034DEF"}},
            {},
            "people.alice: is given twice",
        ),
        ({"release": []}, {}, "release: must be a table"),
        ({}, {"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL: 'api.github.com' is not"),
        (
            {"slack": {"failure_mentions": ["author"]}},
            {},
            "'author' is not a user id (U…/W…), a user group id (S…), 'here', 'channel' or "
            "'authors'",
        ),
    ],
)
def test_bad_values_name_the_key(document: dict[str, Any], env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace(")", r"\)")):
        config_from_mapping(document, env)
