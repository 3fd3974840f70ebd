"""Shared fixtures: sample payloads, the fake Slack server, a clean environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))


def load_sample(name: str) -> Any:
    """A sample payload from samples/ by file name."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def load_fixture(name: str) -> Any:
    """An AWS API response from tests/fixtures/ by relative path."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's Slack or deploybot settings, or writes state in the repo."""
    for key in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_WEBHOOK_URL",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "DEPLOYBOT_CONFIG",
        "DEPLOYBOT_TABLE",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DEPLOYBOT_STORE_PATH", str(tmp_path / "state.db"))


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack.start()
    yield fake
    fake.close()
