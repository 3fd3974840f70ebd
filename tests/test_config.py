"""Config loading: every key optional, every error names its key, secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.domain.config import DEFAULT_CHANNEL, Config, ConfigError, config_from_mapping
from bot.domain.events import parse_payload
from bot.domain.model import Scope, Status
from tests.conftest import load_sample

FULL = """
[slack]
channel = "#deploys"
failure_mentions = ["U012ABC", "S0PLATFORM", "here"]

[[routes]]
channel = "#prod-alerts"
deployment_group = "production"
status = ["failed"]

[[routes]]
channel = "C0123456"
pipeline = ["meerkat", "other"]

[sites]
production = "https://www.example.com"

[notify]
stage = "none"
pipeline = "final"
"""


def test_empty_config_has_sensible_defaults() -> None:
    config = load_config(None)
    assert config.default_channel == DEFAULT_CHANNEL
    assert config.notify[Scope.PIPELINE] == "all"
    assert config.notify[Scope.ACTION] == "failures"
    assert config.slack_api_url == "https://slack.com/api/"


def test_full_config_routes_and_sites(tmp_path: Path) -> None:
    path = tmp_path / "deploybot.toml"
    path.write_text(FULL)
    config = load_config(path)
    [failed] = parse_payload(load_sample("codedeploy-trigger-docs-deployment.json"))
    [succeeded] = parse_payload(load_sample("codedeploy-trigger-succeeded-lyssna.json"))
    [pipeline] = parse_payload(
        load_sample("codepipeline-notification-execution-succeeded-meerkat.json")
    )
    assert config.channel_for(succeeded) == "#deploys"  # production, but not failed
    assert config.channel_for(pipeline) == "C0123456"
    assert config.site_for(succeeded) == "https://www.example.com"
    assert config.failure_mentions == ("U012ABC", "S0PLATFORM", "here")
    assert config.notify[Scope.STAGE] == "none"
    assert config.skip_reason(failed) == ""
    assert failed.status is Status.FAILED


def test_failed_production_deploy_routes_to_alerts() -> None:
    config = config_from_mapping(
        {
            "routes": [
                {"channel": "#prod-alerts", "deployment_group": "production", "status": "FAILED"}
            ]
        },
        {},
    )
    [event] = parse_payload(load_sample("codedeploy-trigger-failed-health-constraints-lyssna.json"))
    assert config.channel_for(event) == "#prod-alerts"


def test_environment_supplies_secrets_and_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("SLACK_API_URL", "https://slack-gov.com/api")
    config = load_config(None)
    assert config.slack_bot_token == "xoxb-secret"
    assert config.slack_api_url == "https://slack-gov.com/api/"
    assert "xoxb-secret" not in repr(config)


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[slack]\nchannel = "#x"\n')
    monkeypatch.setenv("DEPLOYBOT_CONFIG", str(path))
    assert load_config().default_channel == "#x"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[slak]\n", "slak: unknown key"),
        ('[slack]\nchanel = "#x"\n', "slack.chanel: unknown key"),
        ('[slack]\nchannel = "deploys"\n', "slack.channel: 'deploys' is not a channel"),
        ('[slack]\nfailure_mentions = ["bob"]\n', "slack.failure_mentions: 'bob'"),
        ('[[routes]]\napplication = "x"\n', r"routes\[0\]\.channel: is required"),
        ('[[routes]]\nchannel = "#a"\nstatus = ["done"]\n', r"routes\[0\]\.status: 'done'"),
        ('[[routes]]\nchannel = "#a"\nteam = "x"\n', r"routes\[0\]\.team: unknown key"),
        ('[sites]\nprod = "ftp://x"\n', "sites.prod: must be an http"),
        ('[notify]\nstage = "sometimes"\n', "notify.stage: must be one of"),
        ('[notify]\nstages = "all"\n', "notify.stages: unknown key"),
        ("routes = 3\n", "routes: must be an array"),
        ("[slack\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("rule", "status", "posted"),
    [
        ("all", Status.STARTED, True),
        ("final", Status.STARTED, False),
        ("final", Status.SUCCEEDED, True),
        ("failures", Status.SUCCEEDED, False),
        ("failures", Status.FAILED, True),
        ("none", Status.FAILED, False),
    ],
)
def test_noise_policy(rule: str, status: Status, posted: bool) -> None:
    from dataclasses import replace

    [event] = parse_payload(load_sample("codedeploy-trigger-success.json"))
    config = Config(notify={Scope.DEPLOYMENT: rule})
    assert (config.skip_reason(replace(event, status=status)) == "") is posted


def test_store_defaults_to_sqlite_and_env_chooses_dynamodb() -> None:
    local = config_from_mapping({}, {})
    assert (local.store_backend, local.store_path) == ("sqlite", ".deploybot/state.db")
    env = {"DEPLOYBOT_TABLE": "deploybot", "DEPLOYBOT_STORE_PATH": "/tmp/x.db"}
    aws = config_from_mapping({"store": {"ttl_days": 7}}, env)
    assert (aws.store_backend, aws.store_table, aws.store_ttl_days) == ("dynamodb", "deploybot", 7)
    assert aws.store_path == "/tmp/x.db"


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ({"backend": "redis"}, "store.backend: must be one of sqlite, dynamodb, none"),
        ({"backend": "dynamodb"}, "store.table: is required"),
        ({"ttl_days": 0}, "store.ttl_days: must be a whole number"),
        ({"path": 5}, "store.path: must be a string"),
        ({"tabel": "x"}, "store.tabel: unknown key"),
    ],
)
def test_bad_store_config_names_the_key(store: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping({"store": store}, {})


def test_on_lambda_the_store_is_dynamodb_or_none_never_sqlite() -> None:
    # A Lambda container's SQLite file is its own: it would dedupe nothing across containers.
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "deploybot"}
    assert config_from_mapping({}, lambda_env).store_backend == "none"
    with_table = {**lambda_env, "DEPLOYBOT_TABLE": "state"}
    assert config_from_mapping({}, with_table).store_backend == "dynamodb"
    with pytest.raises(ConfigError, match=r"store\.backend: sqlite is not shared"):
        config_from_mapping({"store": {"backend": "sqlite"}}, lambda_env)
    assert config_from_mapping({}, {}).store_backend == "sqlite"  # a laptop keeps its file
