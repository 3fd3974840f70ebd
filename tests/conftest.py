"""Shared fixtures: sample payloads, the fake Slack server, a clean environment."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from bot import aws, lambda_function
from bot.aws import accounts, limits
from tests.fake_lambda import FakeLambda
from tests.fake_slack import TOKEN, FakeSlack
from tests.fake_sts import FakeSts
from tests.slack_requests import SECRET

if TYPE_CHECKING:
    from tests.aws_responses import Aws

# The property tests draw the same examples on every run: a CI run must not pass or fail by
# luck. Exploring new examples is bench/fuzz_notifications.py's job (--seed), and what it finds
# becomes a regression test. HYPOTHESIS_PROFILE=explore draws anew, for a local hunt.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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
        "GITHUB_TOKEN",
        "GITHUB_TOKEN_PARAMETER",
    ):
        monkeypatch.delenv(key, raising=False)
    # No test reaches GitHub: release diffs of github.com repositories get their link only
    # (this API is not github.com's, so it is not asked), and a test that wants commits points
    # the GitHub client at tests/fake_github.py.
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DEPLOYBOT_STORE_PATH", str(tmp_path / "state.db"))


def cold_start() -> None:
    """From now on the Lambda runs in a new container: no cached config, Slack app, AWS client,
    assumed role or rate limit."""
    caches = (
        aws._client,
        accounts._accounts,
        aws._session,
        aws.unavailable_reason,
        lambda_function._file_config,
        lambda_function._config,
        lambda_function._poster,
        lambda_function._enrich,
        lambda_function._store,
        lambda_function._slack_handler,
    )
    for cached in caches:
        cached.cache_clear()
    limits.reset_all()


@pytest.fixture(autouse=True)
def _fresh_containers() -> Iterator[None]:
    """Each test starts a cold container: no cached config, Slack app or AWS client."""
    cold_start()
    yield
    cold_start()


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots as JSON files a reviewer reads in the diff (tests/__snapshots__/)."""
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack.start()
    yield fake
    fake.close()


@pytest.fixture
def fake_lambda() -> Iterator[FakeLambda]:
    fake = FakeLambda.start()
    yield fake
    fake.close()


# The account most samples name (the AWS documentation's example): the tests' deploybot runs
# in it, as sts:GetCallerIdentity tells (without [[accounts]], an event of another account is
# not read).
OWN_ACCOUNT = "123456789012"


@pytest.fixture
def fake_sts() -> Iterator[FakeSts]:
    """STS on loopback: GetCallerIdentity says the fake credentials are OWN_ACCOUNT's (set
    `fake_sts.accounts["testing"]` for a test whose events name another)."""
    fake = FakeSts.start({}, {"testing": OWN_ACCOUNT})
    yield fake
    fake.close()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, fake_sts: FakeSts) -> None:
    """Fake credentials and region eu-west-1, and no profile or config file of the developer's;
    STS answers from `fake_sts`."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fake_sts.url)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture
def aws_env(
    monkeypatch: pytest.MonkeyPatch, aws_credentials: None, fake_lambda: FakeLambda
) -> FakeLambda:
    """Fake credentials and region; Lambda invokes go to the local stand-in."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", fake_lambda.url)
    return fake_lambda


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack) -> FakeSlack:
    """The Lambda's Slack settings, aimed at the fake Slack."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    return fake_slack


@pytest.fixture
def stubs(aws_env: FakeLambda, slack_env: FakeSlack) -> Iterator[Aws]:
    """Stubber on the real shared CodePipeline and CodeDeploy clients."""
    from tests.aws_responses import Aws  # it loads fixtures through this module

    stubs = Aws()
    with stubs.pipeline, stubs.deploy, stubs.pipeline_writes, stubs.deploy_writes:
        yield stubs
