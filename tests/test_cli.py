"""The deploybot command line, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT, SAMPLES
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


def test_a_reader_that_stops_early_ends_it_quietly() -> None:
    # GIVEN `deploybot render ... | head` where head has already read all it wanted and exited:
    # deploybot's stdout is a pipe whose reading end is closed
    read_end, write_end = os.pipe()
    os.close(read_end)
    # WHEN deploybot prints the preview there
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "render", FAILURE, "--offline"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    # THEN it stops without a word, with the status of a command that SIGPIPE ended (128 + 13),
    # as `seq 100000 | head` and deploybot's own Ctrl-C (130) report
    assert (result.returncode, result.stderr) == (141, "")


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
    # AND the second send says that the message is there already, and where
    ts = message["ts"]
    assert f"already posted in #deployments (ts {ts}); nothing new to post" in out


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


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`deploybot ARGS` in a new process, as a user runs it (its own logging, no pytest)."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    base["DEPLOYBOT_STORE_PATH"] = str(tmp_path / "state.db")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_send_with_a_revoked_token_is_one_line_naming_the_fix(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # GIVEN a token Slack no longer accepts
    env = {"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_API_URL": fake_slack.api_url}
    flow = str(SAMPLES / "codepipeline-notification-flow-success.json")
    # WHEN the pipeline's 15 notifications are sent
    result = _run(["send", flow], env, tmp_path)
    # THEN exit 1, and stderr is one line: what Slack said and what to do, no traceback
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("deploybot: Slack refused the bot token (invalid_auth): copy the Bot")
    assert "SLACK_BOT_TOKEN" in line
    assert "(15 notifications not delivered)" in line
    # AND --verbose shows what happened, tracebacks included
    verbose = _run(["send", flow, "--verbose"], env, tmp_path)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr


def test_send_to_a_missing_channel_names_it(fake_slack: FakeSlack, tmp_path: Path) -> None:
    fake_slack.fail_next(("error", "channel_not_found"))
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake_slack.api_url}
    result = _run(["send", FAILURE, "--channel", "#nosuch"], env, tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("deploybot: channel #nosuch: Slack cannot find it (channel_not_found)")
    assert "/invite @deploybot" in line


def test_send_channel_and_fresh(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    # GIVEN one notification sent to a channel of the user's choosing
    assert main(["send", FAILURE, "--channel", "C0TEST"]) == 0
    assert list(fake_slack.messages) == ["C0TEST"]
    # WHEN it is sent again: nothing new; with --fresh: a new message, whatever the store says
    assert main(["send", FAILURE, "--channel", "C0TEST"]) == 0
    assert "already posted in C0TEST" in capsys.readouterr().out
    assert main(["send", FAILURE, "--channel", "C0TEST", "--fresh"]) == 0
    posts = [m for m in fake_slack.messages["C0TEST"] if "thread_ts" not in m]
    assert len(posts) == 2
    assert "state in memory (--fresh)" in capsys.readouterr().out


def test_send_refuses_a_malformed_channel(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", FAILURE, "--channel", "deployments"]) == 2
    assert "--channel: 'deployments' is not a channel id" in capsys.readouterr().err


def test_send_through_a_gone_webhook(fake_slack: FakeSlack, tmp_path: Path) -> None:
    # GIVEN an incoming webhook Slack has removed (it answers 404 no_service)
    env = {"SLACK_WEBHOOK_URL": fake_slack.webhook_url + "-gone"}
    result = _run(["send", FAILURE, "--config", str(_no_store(tmp_path))], env, tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "the incoming webhook" in line
    assert "secret" not in line  # the webhook's path is its secret: never printed


def _no_store(tmp_path: Path) -> Path:
    config = tmp_path / "c.toml"
    config.write_text('[store]\nbackend = "none"\n')
    return config


def test_an_unexpected_failure_is_one_line_that_points_to_verbose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.cli.plan", broken)
    assert main(["render", FAILURE, "--offline"]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == "deploybot: unexpected RuntimeError: boom (run again with --verbose for the traceback)\n"
    )


def test_serve_on_a_busy_port_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert capsys.readouterr().err == (
        f"deploybot: port {port} is in use: stop what listens there, or use --port N\n"
    )


def test_serve_does_not_warn_about_its_own_client(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN SLACK_BOT_TOKEN in the environment, which Bolt reads on its own
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    from bot.app import create_app
    from bot.domain.config import Config

    with caplog.at_level("WARNING"):
        create_app(Config(slack_bot_token=TOKEN, slack_signing_secret="s"))
    assert [r.getMessage() for r in caplog.records if "unused" in r.getMessage()] == []


def test_render_html_writes_a_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "failure.html"
    assert main(["render", FAILURE, "--offline", "--html", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    assert "ECS_UPDATE_ERROR" in text
    assert main(["render", FAILURE, "--offline", "--html", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!doctype html>")


def test_render_html_to_an_unwritable_place_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "page.html"
    assert main(["render", FAILURE, "--offline", "--html", str(target)]) == 2
    assert f"cannot write {target}" in capsys.readouterr().err


def test_a_slack_refusal_outside_send_is_one_line() -> None:
    # GIVEN Slack refusing a token where no delivery is involved (serve in Socket Mode)
    from slack_sdk.errors import SlackApiError

    from bot.cli import _explain

    refused = SlackApiError("refused", {"ok": False, "error": "invalid_auth"})
    # THEN the line names both tokens that could be wrong
    status, line = _explain(refused, None)
    assert status == 1
    assert line.startswith("Slack refused a token (invalid_auth): check SLACK_BOT_TOKEN")
    assert "SLACK_APP_TOKEN" in line


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
