"""The function as `sam build` packages it (Makefile), run in a clean virtual environment that
holds only what the Lambda runtime provides (boto3 and its dependencies) plus the package."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.fake_slack import FakeSlack

UV = os.environ.get("UV") or shutil.which("uv")


def _locked_version(name: str) -> str:
    match = re.search(rf'\nname = "{name}"\nversion = "([^"]+)"', (ROOT / "uv.lock").read_text())
    assert match is not None
    return match.group(1)


def _bootstrapped_uv(where: Path) -> Path:
    """What scripts/uv.py leaves behind on a machine with no uv on PATH: a uv in its own
    directory (DEPLOYBOT_UV_DIR/bin). Here it hands over to the uv this test runs with, so the
    build stays offline (uv's cache) and fast."""
    assert UV is not None, "uv is needed to build the package (pip install uv)"
    binary = where / "bin" / "uv"
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!/bin/sh\nPATH='{os.environ['PATH']}' exec '{UV}' \"$@\"\n")
    binary.chmod(0o755)
    return where


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built the way `sam build` does it (aws-lambda-builders' CustomMakeBuilder): the source is
    copied to a scratch directory without .aws-sam and .git, and `make --makefile
    <source>/Makefile build-DeployBotFunction` runs there with ARTIFACTS_DIR in the environment;
    here with no uv on PATH, as on a machine where scripts/uv.py installed it."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    scratch = tmp_path_factory.mktemp("scratch") / "source"
    shutil.copytree(
        ROOT,
        scratch,
        ignore=shutil.ignore_patterns(
            ".aws-sam", ".git", ".venv", ".uv-bootstrap", "*_cache", "__pycache__", "docs", "tests"
        ),
    )
    env = {
        **{name: value for name, value in os.environ.items() if name != "UV"},
        "PATH": "/usr/bin:/bin",
        "ARTIFACTS_DIR": str(artifacts),
        "DEPLOYBOT_UV_DIR": str(_bootstrapped_uv(tmp_path_factory.mktemp("uv-bootstrap"))),
    }
    result = subprocess.run(
        ["make", "--silent", "--makefile", str(ROOT / "Makefile"), "build-DeployBotFunction"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return artifacts


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the Lambda runtime's own packages only: boto3 at the locked version."""
    assert UV is not None
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    boto3 = f"boto3=={_locked_version('boto3')}"
    subprocess.run([UV, "pip", "install", "--quiet", "--python", str(python), boto3], check=True)
    return python


def test_package_holds_our_code_and_not_what_the_runtime_provides(package: Path) -> None:
    names = {p.name for p in package.iterdir()}
    assert {"bot", "handlers", "blocks", "slack_bolt", "slack_sdk", "deploybot.toml"} <= names
    assert not names & {"boto3", "botocore", "tests", "samples", ".venv"}
    size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    assert size < 20 * 1024 * 1024


def test_packaged_function_handles_a_sample_event(
    package: Path, runtime_python: Path, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # GIVEN the packaged function in a clean runtime, told to post through a webhook
    event = (SAMPLES / "codedeploy-trigger-failure.json").read_text()
    script = (
        "import json, sys\n"
        "import bot.lambda_function as f\n"
        "print(json.dumps(f.handler(json.loads(sys.stdin.read()), None)))\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(package),
        "PYTHONNOUSERSITE": "1",
        "DEPLOYBOT_CONFIG": str(package / "deploybot.toml"),
        "SLACK_WEBHOOK_URL": fake_slack.webhook_url,
    }
    # WHEN Lambda hands it an SNS event
    result = subprocess.run(
        [str(runtime_python), "-c", script],
        input=event,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    # THEN it posts the notification
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"posted": 1, "skipped": 0}
    [post] = fake_slack.calls_to("webhook")
    assert post["text"].startswith(":x: Deployment failed")
