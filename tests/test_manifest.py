"""manifest.yml against Slack's official manifest schema (copied under fixtures/slack/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from blocks.deploy_status import COMMAND
from tests.conftest import FIXTURES, ROOT

SCHEMAS = FIXTURES / "slack"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _validator() -> jsonschema.Draft7Validator:
    registry: Registry[Any] = Registry().with_resources(
        (
            f"{REMOTE}manifest.schema.{version}.json",
            Resource.from_contents(
                _load(SCHEMAS / "manifest-schema" / f"manifest.schema.{version}.json"),
                default_specification=DRAFT7,
            ),
        )
        for version in ("1.0.0", "2.0.0")
    )
    return jsonschema.Draft7Validator(_load(SCHEMAS / "manifest.schema.json"), registry=registry)


def _manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_the_copied_schema_accepts_slacks_own_example() -> None:
    # A validator that rejects Slack's example would make the next test meaningless.
    example = _load(SCHEMAS / "manifest-schema" / "example.v1.valid.json")
    assert list(_validator().iter_errors(example)) == []


def test_the_schema_can_reject_a_manifest() -> None:
    broken = _manifest()
    broken["features"]["slash_commands"][0]["command"] = "deploy-status"  # no leading slash
    assert list(_validator().iter_errors(broken)) != []


def test_manifest_is_a_valid_v1_manifest() -> None:
    # GIVEN the repository's manifest, WHEN validated, THEN Slack's schema accepts it as v1
    manifest = _manifest()
    assert "_metadata" not in manifest
    assert [e.message for e in _validator().iter_errors(manifest)] == []


def test_manifest_declares_what_the_code_uses_and_no_more() -> None:
    manifest = _manifest()
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["usage_hint"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"]
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "channels:history",  # living messages: find a post whose answer was lost
        "channels:read",  # deploybot check: is each configured channel reachable?
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:history",
        "groups:read",
        "usergroups:read",  # the Roll back button: rollback.usergroups membership
        "users:read",  # Slack: users:read.email "must be requested at the same time as" it
        "users:read.email",  # the release diff: authors by e-mail (users.lookupByEmail)
    ]
    assert "user" not in manifest["oauth_config"]["scopes"]


@pytest.mark.parametrize("where", ["slash_command", "interactivity"])
def test_request_urls_are_placeholders_to_fill_in(where: str) -> None:
    manifest = _manifest()
    url = (
        manifest["features"]["slash_commands"][0]["url"]
        if where == "slash_command"
        else manifest["settings"]["interactivity"]["request_url"]
    )
    assert url.startswith("https://REQUEST-URL.")
