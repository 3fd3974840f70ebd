"""Config that must fail loudly and in one line: files that are not UTF-8, ids with a trailing
newline, bad site URLs, and the `[slack] team_id` key; and a broken config stops the Lambda
function at its first invocation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.domain.config import ConfigError, config_from_mapping
from tests.conftest import ROOT


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    # GIVEN a config file saved as Latin-1
    path = tmp_path / "deploybot.toml"
    path.write_bytes('[slack]\nchannel = "#déploiements"\n'.encode("latin-1"))
    # WHEN loaded THEN one ConfigError names the file and the problem (not a traceback)
    with pytest.raises(
        ConfigError, match=r"deploybot.toml is not UTF-8 \(byte 0xe9 at offset 21\)"
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"slack": {"failure_mentions": ["U0123ABC\n"]}}, "slack.failure_mentions"),
        ({"slack": {"channel": "C0123ABC\n"}}, "slack.channel"),
        ({"slack": {"channel": "#deploys\n"}}, "slack.channel"),
        ({"routes": [{"channel": "#ops\n"}]}, "routes[0].channel"),
        ({"rollback": {"users": ["U0123ABC\n"]}}, "rollback.users"),
        ({"rollback": {"usergroups": ["S0123\n"]}}, "rollback.usergroups"),
        ({"rollback": {"channels": ["C0123\n"]}}, "rollback.channels"),
        ({"slack": {"team_id": "T0123ABC\n"}}, "slack.team_id"),
    ],
)
def test_an_id_with_a_trailing_newline_is_refused(data: dict[str, object], key: str) -> None:
    # A pattern ending in $ lets "U0123ABC\n" through; ids are matched whole
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}:"):
        config_from_mapping(data, {})


@pytest.mark.parametrize(
    "url",
    [
        "https://[x",
        "https://user@example.com/",
        "https://exa mple.com",
        "https://a\\@b.com",
        "ftp://x",
    ],
)
def test_a_site_url_that_does_not_parse_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^sites\.web: must be an http\(s\) URL"):
        config_from_mapping({"sites": {"web": url}}, {})


def test_team_id_takes_one_workspace_or_several() -> None:
    assert config_from_mapping({"slack": {"team_id": "T0123ABC"}}, {}).slack_team_ids == (
        "T0123ABC",
    )
    config = config_from_mapping({"slack": {"team_id": ["T0123ABC", "T0456DEF"]}}, {})
    assert config.slack_team_ids == ("T0123ABC", "T0456DEF")
    assert config_from_mapping({}, {}).slack_team_ids == ()


@pytest.mark.parametrize("value", ["E0123ABC", "t0123abc", "", ["T1", 5], "U0123ABC"])
def test_team_id_must_be_workspace_ids(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^slack\.team_id"):
        config_from_mapping({"slack": {"team_id": value}}, {})


def _import_handler(config_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DEPLOYBOT_"))}
    env.update(DEPLOYBOT_CONFIG=str(config_path), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", "import bot.lambda_function"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=ROOT,
    )


def test_a_broken_config_stops_the_function_when_it_starts(tmp_path: Path) -> None:
    # GIVEN a config with a bad key, deployed with the function
    path = tmp_path / "deploybot.toml"
    path.write_text('[notify]\npipeline = "sometimes"\n')
    # WHEN Lambda loads the handler module (its init phase)
    result = _import_handler(path)
    # THEN the init fails, so the very first invocation fails loudly, naming the key
    assert result.returncode != 0
    assert "ConfigError: notify.pipeline: must be one of all, final, failures, none" in (
        result.stderr
    )
    # AND the log line says so as one JSON object
    lines = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert any("notify.pipeline" in line["message"] for line in lines)


def test_a_good_config_is_read_once_at_start_without_the_network(tmp_path: Path) -> None:
    # GIVEN a valid config WHEN the handler module is loaded THEN it loads (no Slack, no AWS)
    path = tmp_path / "deploybot.toml"
    path.write_text('[slack]\nchannel = "#deploys"\n')
    result = _import_handler(path)
    assert result.returncode == 0, result.stderr
