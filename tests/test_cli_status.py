"""`deploybot status` and `deploybot serve`: the /deploy-status answer in a terminal."""

from __future__ import annotations

import pytest

from bot.cli import main
from tests import aws_responses as r
from tests.aws_responses import Aws


def _stub_detail(stubs: Aws) -> None:
    stubs.pipeline.add_response(
        "list_pipelines", {"pipelines": [{"name": r.PIPELINE}]}, {"maxResults": 1000}
    )
    stubs.pipeline.add_response("get_pipeline_state", r.pipeline_state(), {"name": r.PIPELINE})
    stubs.pipeline.add_response(
        "list_pipeline_executions", r.executions(), {"pipelineName": r.PIPELINE, "maxResults": 5}
    )


def test_status_prints_the_same_answer_as_text(
    stubs: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a pipeline with a failed self-mutation
    _stub_detail(stubs)
    # WHEN `deploybot status NAME` runs
    code = main(["status", r.PIPELINE])
    # THEN it prints the stages and history as readable text, with no Share button
    out = capsys.readouterr().out
    stubs.done()
    assert code == 0
    assert out.startswith(":x: SentinelAwsMonitorCI: failed\n")
    assert "UpdatePipeline* failed" in out
    assert "2026-09-06 14:23 UTC" in out  # date tokens shown by their fallback text
    assert "&amp;" not in out
    assert "Share in channel" not in out


def test_status_json_prints_the_block_kit_message(
    stubs: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    _stub_detail(stubs)
    assert main(["status", r.PIPELINE, "--json"]) == 0
    assert '"type": "header"' in capsys.readouterr().out


def test_status_exits_1_when_aws_says_no(stubs: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a role without codepipeline:ListPipelines
    stubs.pipeline.add_client_error("list_pipelines", service_error_code="AccessDeniedException")
    # WHEN the overview is asked for
    code = main(["status"])
    # THEN the terminal says what to grant and the exit status says it failed
    assert code == 1
    assert "Grant `codepipeline:ListPipelines`" in capsys.readouterr().out


def test_serve_refuses_to_start_without_a_signing_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN no SLACK_SIGNING_SECRET and no SLACK_APP_TOKEN (conftest clears them)
    # WHEN `deploybot serve` starts, THEN it stops with a one-line reason, not a traceback
    assert main(["serve"]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err
