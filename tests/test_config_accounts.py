"""[[accounts]] and the routes that match an account or region: each key validated whole, every
error naming its key; where a button's target and a claim live (bot/domain/places.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain.config import Account, ConfigError, config_from_mapping
from bot.domain.model import Deployment, Scope, Source, Status
from bot.domain.places import environment, parse_environment, read_value, value_fields
from bot.domain.rollback import Target, decode, encode
from bot.domain.traffic import Steer, button_value
from bot.domain.traffic import decode as decode_steer

HUB = {"id": "111111111111", "name": "tools"}
ROLE_333 = "arn:aws:iam::333333333333:role/deploybot-spoke"
PROD = {
    "id": "222222222222",
    "name": "prod",
    "role_arn": "arn:aws:iam::222222222222:role/deploybot-spoke",
    "regions": ["us-east-1", "eu-west-1"],
    "external_id": "deploybot-7f3a",
}


def _config(*accounts: dict[str, Any], **rest: Any) -> Any:
    return config_from_mapping({"accounts": list(accounts), **rest}, {})


def test_accounts_are_read_with_their_names_roles_regions_and_external_id() -> None:
    config = _config(HUB, PROD)
    assert config.accounts == (
        Account("111111111111", "tools"),
        Account(
            "222222222222",
            "prod",
            PROD["role_arn"],
            ("us-east-1", "eu-west-1"),
            "deploybot-7f3a",
        ),
    )
    assert config.account("PROD") == config.account("222222222222") == config.accounts[1]
    assert config.account_name("222222222222") == "prod" and config.account_name("9") == ""
    assert "deploybot-7f3a" not in repr(config.accounts[1])  # an external id stays out of logs


BAD = [
    ({**PROD, "id": "22222222222"}, "accounts[0].id: '22222222222' is not a 12-digit"),
    ({**PROD, "id": "222222222222\n"}, "accounts[0].id"),
    ({**PROD, "name": "1prod"}, "accounts[0].name: '1prod' must start with a letter"),
    ({**PROD, "name": "prod staging"}, "accounts[0].name"),
    ({**PROD, "role_arn": "arn:aws:iam::222222222222:user/x"}, "accounts[0].role_arn: 'arn:"),
    (
        {**PROD, "role_arn": "arn:aws:iam::333333333333:role/deploybot"},
        "accounts[0].role_arn: the role is in account 333333333333, not in 222222222222",
    ),
    ({**PROD, "regions": ["eu-west-1", "Europe"]}, "accounts[0].regions: 'Europe' is not"),
    ({**PROD, "regions": ["eu-west-1\n"]}, "accounts[0].regions"),
    ({**PROD, "external_id": "x"}, "accounts[0].external_id: must be 2 to 1224"),
    ({**HUB, "external_id": "deploybot-1"}, "accounts[0].external_id: needs role_arn"),
    (
        {**HUB, "regions": ["eu-west-1", "us-east-1"]},
        "accounts[0].regions: deploybot's own account (no role_arn) is read only in the region "
        "the function runs in",
    ),
    ({**PROD, "colour": "red"}, "accounts[0].colour: unknown key"),
    ({"name": "prod"}, "accounts[0].id: is required"),
]


@pytest.mark.parametrize(("entry", "error"), BAD)
def test_a_bad_account_is_refused_naming_its_key(entry: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match=None) as raised:
        _config(entry)
    assert str(raised.value).startswith(error)


def test_ids_and_names_are_unique_and_one_account_alone_goes_without_a_role() -> None:
    with pytest.raises(ConfigError, match=r"accounts\[1\].id: 222222222222 is configured twice"):
        _config(PROD, {**PROD, "name": "other"})
    with pytest.raises(ConfigError, match=r"accounts\[1\].name: 'PROD' is used twice"):
        _config(PROD, {**PROD, "id": "333333333333", "name": "PROD", "role_arn": ROLE_333})
    with pytest.raises(ConfigError, match=r"accounts\[1\].role_arn: is required"):
        _config(HUB, {"id": "333333333333", "name": "dev"})


def test_routes_match_an_account_by_id_or_name_and_a_region() -> None:
    routes = [
        {"channel": "#prod", "account": "prod", "region": "us-east-1"},
        {"channel": "#other", "account": ["444444444444"]},
    ]
    config = _config(HUB, PROD, routes=routes)
    assert config.routes[0].accounts == ("222222222222",)

    def event(account: str, region: str) -> Deployment:
        return Deployment(
            Source.CODEDEPLOY, Scope.DEPLOYMENT, Status.SUCCEEDED, "", region, account
        )

    assert config.channel_for(event("222222222222", "us-east-1")) == "#prod"
    assert config.channel_for(event("222222222222", "eu-west-1")) == "#deployments"
    assert config.channel_for(event("444444444444", "eu-west-1")) == "#other"
    with pytest.raises(ConfigError, match=r"routes\[0\].account: 'staging' is neither"):
        _config(HUB, routes=[{"channel": "#x", "account": "staging"}])
    with pytest.raises(ConfigError, match=r"routes\[0\].region: 'mars' is not"):
        _config(routes=[{"channel": "#x", "region": "mars"}])


def test_a_button_carries_its_targets_account_and_region_and_nothing_else_is_trusted() -> None:
    assert value_fields("222222222222", "us-east-1") == {"ac": "222222222222", "r": "us-east-1"}
    assert value_fields("x", "us-east-1\n") == {}
    assert read_value({"ac": "222222222222"}) == ("222222222222", "")
    assert read_value({"ac": "2222"}) is None and read_value({"r": "eu-west-1x"}) is None
    home = Target(
        "pipeline", pipeline="web-prod", execution_id="6513270e-269e-4d37-b2a7-4de452e6b438"
    )
    assert decode(encode(home)) == home  # a button of a message posted before [[accounts]]
    far = Target(
        "pipeline",
        pipeline="web-prod",
        execution_id="6513270e-269e-4d37-b2a7-4de452e6b438",
        account="222222222222",
        region="us-east-1",
    )
    assert decode(encode(far)) == far
    assert far.where == "pipeline:222222222222:us-east-1:web-prod" != home.where
    assert decode(encode(far).replace("us-east-1", "us-east-1/..")) is None


def test_a_claim_on_one_accounts_pipeline_is_not_another_accounts() -> None:
    prod = environment("pipeline", "web-prod", "222222222222", "us-east-1")
    dev = environment("pipeline", "web-prod", "333333333333", "us-east-1")
    assert prod != dev != environment("pipeline", "web-prod")
    assert parse_environment(prod) == ("pipeline", "222222222222", "us-east-1", "web-prod")
    assert parse_environment("group:legacy/prod") == ("group", "", "", "legacy/prod")


def test_blue_green_buttons_name_the_account_and_a_hostile_id_gets_none() -> None:
    waiting = Deployment(
        Source.CODEDEPLOY,
        Scope.DEPLOYMENT,
        Status.READY,
        region="us-east-1",
        account="222222222222",
        deployment_id="d-ABC123",
    )
    value = button_value(waiting, "reroute")
    assert value == {"d": "d-ABC123", "o": "reroute", "ac": "222222222222", "r": "us-east-1"}
    assert decode_steer(json.dumps(value)) == Steer(
        "d-ABC123", "reroute", "222222222222", "us-east-1"
    )
    huge = Deployment(
        Source.CODEDEPLOY, Scope.DEPLOYMENT, Status.READY, deployment_id="d-" + "A" * 3000
    )
    assert button_value(huge, "stop") == {}


def test_a_rollback_names_its_account_in_the_confirm_and_the_thread() -> None:
    from datetime import UTC, datetime

    from bot.domain.config import RollbackPipeline, RollbackSettings
    from bot.domain.model import Commit
    from bot.domain.rollback import target_for, with_config

    settings = RollbackSettings(pipelines=(RollbackPipeline("web-prod", "production"),))
    event = Deployment(
        Source.CODEPIPELINE,
        Scope.PIPELINE,
        Status.SUCCEEDED,
        region="us-east-1",
        account="222222222222",
        account_name="prod",
        pipeline="web-prod",
        execution_id="6513270e-269e-4d37-b2a7-4de452e6b438",
        started_at=datetime(2026, 9, 6, 10, 0, tzinfo=UTC),
        finished_at=datetime(2026, 9, 6, 10, 12, tzinfo=UTC),
        commit=Commit("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
    )
    target = target_for(event, settings)
    assert target is not None and target.environment == "production (prod)"
    assert (target.account, target.region) == ("222222222222", "us-east-1")
    clicked = decode(encode(target))
    assert clicked is not None
    assert with_config(clicked, settings, "prod").environment == "production (prod)"


def test_the_readmes_configuration_example_loads_with_its_accounts() -> None:
    import tomllib

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```toml\n[slack]") + len("```toml\n")
    config = config_from_mapping(tomllib.loads(readme[start : readme.index("```", start)]), {})
    assert [a.name for a in config.accounts] == ["tools", "prod"]
    assert config.accounts[1].role_arn.startswith("arn:aws:iam::222233334444:role/")


def test_check_says_when_deploybots_own_account_names_another_region_than_the_functions() -> None:
    from bot.check import check_own_region

    # GIVEN the hub's entry (no role) naming us-east-1, and the stack's function in eu-west-1
    config = _config({**HUB, "regions": ["us-east-1"]}, PROD)
    [wrong] = check_own_region(config, "eu-west-1", "deploybot")
    # THEN the check fails naming the key, the function's region and the fix
    assert wrong.ok is False and wrong.name == "account tools: regions"
    assert "accounts[0].regions names us-east-1" in wrong.detail and "eu-west-1" in wrong.detail
    assert 'set accounts[0].regions to ["eu-west-1"]' in wrong.fix and "spoke.yaml" in wrong.fix
    # AND the function's own region, or none, passes silently
    same = _config({**HUB, "regions": ["eu-west-1"]})
    assert list(check_own_region(same, "eu-west-1", "x")) == []
    assert list(check_own_region(_config(HUB, PROD), "eu-west-1", "x")) == []
