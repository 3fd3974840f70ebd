"""The deploybot command line, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import SAMPLES
from tests.fake_slack import TOKEN, FakeSlack

FAILURE = str(SAMPLES / "codedeploy-trigger-failure.json")


def test_render_prints_a_preview_and_builder_link(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", FAILURE, "--offline"]) == 0
    out = capsys.readouterr().out
    assert ":x: Deployment failed: temporary-status → temporary-status-deployment" in out
    assert "ECS_UPDATE_ERROR" in out
    assert "Block Kit Builder: https://app.slack.com/block-kit-builder/#" in out


def test_render_json_is_postmessage_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", FAILURE, "--json", "--offline"]) == 0
    [message] = json.loads(capsys.readouterr().out)
    assert message["channel"] == "#deployments"
    assert message["text"].startswith(":x: Deployment failed")
    assert message["blocks"][0]["type"] == "header"


def test_render_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(Path(FAILURE).read_text()))
    assert main(["render", "-", "--json", "--offline"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_skipped_event_exits_zero_with_reason(capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(SAMPLES / "codepipeline-notification-docs-action-started-codedeploy.json")
    assert main(["render", sample, "--json", "--offline"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "skipped: action is STARTED, not a failure" in captured.err


def test_config_is_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[slack]\nchannel = "#ops"\n')
    assert main(["render", FAILURE, "--json", "--offline", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["channel"] == "#ops"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not a recognised AWS notification"),
        (None, "cannot read"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, content: str | None, error: str
) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "render", str(path), "--offline"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert error in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[slack]\nchannel = 5\n")
    assert main(["render", FAILURE, "--config", str(config), "--offline"]) == 2
    assert "slack.channel: must be a string" in capsys.readouterr().err


def test_send_posts_one_living_message(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a real pipeline run's notifications, sent twice (the second send is a redelivery)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    flow = str(SAMPLES / "codepipeline-notification-flow-success.json")
    assert main(["send", flow]) == 0
    assert main(["send", flow]) == 0
    # THEN one message, updated in place, ends as succeeded; the SQLite state made that so
    [post] = fake_slack.posts
    assert post["text"].startswith(":arrow_forward: Pipeline meerkat started")
    [message] = fake_slack.messages["#deployments"]
    assert message["text"].startswith(":white_check_mark: Pipeline meerkat succeeded")
    out = capsys.readouterr().out
    assert "delivered 15 of 15 notifications" in out
    assert "(0 changed a message in Slack" in out


def test_send_without_store_posts_each_notification(
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    config = tmp_path / "c.toml"
    config.write_text('[store]\nbackend = "none"\n')
    flow = str(SAMPLES / "codepipeline-notification-flow-success.json")
    assert main(["send", flow, "--config", str(config)]) == 0
    assert len(fake_slack.posts) == 2
    assert "posted 2 of 2 messages" in capsys.readouterr().out


def test_send_without_credentials_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", FAILURE]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


def test_send_failure_exits_1(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    fake_slack.fail_next(("error", "not_in_channel"))
    assert main(["send", FAILURE]) == 1


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe{}", b'{"Records": [{"Sns": "x"}]}', b"[" * 100_000, b'"\\ud800"', b"\x00"],
    ids=["not-utf8", "record-without-sns", "nested-deep", "a-lone-surrogate", "nul"],
)
def test_bad_stdin_exits_2_with_one_line(data: bytes) -> None:
    # GIVEN bytes on stdin that are no notification (or not even UTF-8), read strictly as
    # UTF-8 (as in a UTF-8 locale; the C locale would smuggle them in as surrogates)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "render", "-", "--offline"],
        input=data,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    # THEN exit 2 with one line on stderr, never a traceback
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("deploybot: ")
    assert len(err.strip().splitlines()) == 1
