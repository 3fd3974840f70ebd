"""People, not strings: [people] in the config, Slack's users.lookupByEmail (a local fake over
HTTP), and who started a run, from every way AWS says it."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.directory import SlackDirectory, make_directory, store_key
from bot.domain.config import Config, ReleaseSettings
from bot.domain.model import (
    Change,
    Deployment,
    Person,
    ReleaseDiff,
    RollbackRequest,
    Scope,
    Source,
    StartedBy,
    Status,
)
from bot.domain.people import (
    deployment_starter,
    expand_mentions,
    git_person,
    mapped_id,
    pipeline_starter,
    principal,
    started_by,
)
from bot.store import SqliteStore
from tests.fake_slack import TOKEN, FakeSlack, slack_user

ALICE = Person(name="Alice Liddell", email="Alice@Example.com", login="alice")
BOB = Person(name="Bob Builder", email="bob@example.com")


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    assert "users:read.email" in fake_slack.scopes.split(",")  # the manifest has it
    fake_slack.users = {
        "bob@example.com": slack_user("U0BOB", "bob@example.com"),
        "gone@example.com": slack_user("U0GONE", "gone@example.com", deleted=True),
        "dana@example.com": slack_user("W0DANA", "dana@example.com"),
    }
    return fake_slack


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(str(tmp_path / "people.db"))


def _directory(slack: FakeSlack, store: SqliteStore | None = None) -> SlackDirectory:
    return SlackDirectory(WebClient(token=TOKEN, base_url=slack.api_url), store)


# --- users.lookupByEmail -----------------------------------------------------------------------


def test_an_email_slack_knows_is_its_user_id_and_asked_once(slack: FakeSlack) -> None:
    directory = _directory(slack)
    # WHEN the same author is looked up twice (in any letter case)
    assert directory.user_for_email("bob@example.com") == "U0BOB"
    assert directory.user_for_email("Bob@Example.com") == "U0BOB"
    # THEN Slack was asked once, with the e-mail, as its docs say (GET, bot token)
    [call] = slack.calls_to("users.lookupByEmail")
    assert call["email"] == "bob@example.com"


def test_an_unknown_or_deactivated_user_stays_plain_text(slack: FakeSlack) -> None:
    directory = _directory(slack)
    assert directory.user_for_email("nobody@example.com") == ""  # users_not_found
    assert directory.user_for_email("gone@example.com") == ""  # deleted: true
    assert directory.user_for_email("nobody@example.com") == ""
    # THEN a "not found" is remembered for the container too
    assert len(slack.calls_to("users.lookupByEmail")) == 2


def test_a_missing_scope_stops_the_lookups_for_the_container(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an app installed without users:read.email
    fake_slack.scopes = fake_slack.scopes.replace(",users:read.email", "")
    fake_slack.users = {"bob@example.com": slack_user("U0BOB", "bob@example.com")}
    directory = _directory(fake_slack)
    # WHEN two authors are looked up
    assert directory.user_for_email("bob@example.com") == ""
    assert directory.user_for_email("dana@example.com") == ""
    # THEN Slack was asked once, and the log says which scope to add
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1
    assert "users:read.email" in caplog.text
    assert "missing_scope" in caplog.text


def test_a_found_user_is_kept_in_the_store_for_the_next_container(
    slack: FakeSlack, store: SqliteStore
) -> None:
    # GIVEN one container found Bob
    assert _directory(slack, store).user_for_email("bob@example.com") == "U0BOB"
    # WHEN a cold container asks for Bob
    assert _directory(slack, store).user_for_email("bob@example.com") == "U0BOB"
    # THEN Slack was asked only by the first, and the store key does not hold the e-mail
    assert len(slack.calls_to("users.lookupByEmail")) == 1
    record = store.get(store_key("bob@example.com"))
    assert record is not None
    assert "bob" not in record.key
    assert "U0BOB" in record.body


def test_slack_failing_leaves_the_author_unmapped(slack: FakeSlack) -> None:
    slack.fail_next(("500", None))
    assert _directory(slack).user_for_email("bob@example.com") == ""


@pytest.mark.parametrize(
    "fault",
    [("429", 1), ("500", None), ("error", "internal_error")],
    ids=["ratelimited", "server-error", "internal-error"],
)
def test_a_failed_lookup_is_not_kept_as_not_found(
    slack: FakeSlack, fault: tuple[str, object]
) -> None:
    # GIVEN Slack fails the first lookup (rate limit, 5xx, or an error that is not an answer)
    slack.fail_next(fault)
    directory = _directory(slack)
    # WHEN the same author is looked up twice
    first = directory.user_for_email("bob@example.com")
    second = directory.user_for_email("bob@example.com")
    # THEN the failure left them plain text once, and the second lookup asked Slack again
    assert (first, second) == ("", "U0BOB")
    assert len(slack.calls_to("users.lookupByEmail")) == 2


def test_no_directory_without_a_bot_token_or_with_lookups_off() -> None:
    assert make_directory(Config(), None) is None
    off = Config(slack_bot_token=TOKEN, release=ReleaseSettings(lookup_emails=False))
    assert make_directory(off, None) is None
    assert make_directory(Config(slack_bot_token=TOKEN), None) is not None


# --- [people] ----------------------------------------------------------------------------------


def test_people_maps_an_email_or_a_login_whatever_the_case() -> None:
    people = {"alice": "U0ALICE", "bob@example.com": "U0BOB"}
    assert mapped_id(ALICE, people) == "U0ALICE"  # by login
    assert mapped_id(BOB, people) == "U0BOB"  # by e-mail
    assert mapped_id(Person(email="ALICE@example.com", login="Alice"), people) == "U0ALICE"
    assert mapped_id(Person(name="Alice Liddell"), people) == ""  # a name is not a key


# --- who started it ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "who", "role"),
    [
        (
            "arn:aws:sts::123456789012:assumed-role/Admin/my-user",
            Person(name="my-user"),
            "Admin",
        ),
        (
            "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_x/user@host.com",
            Person(name="user@host.com", email="user@host.com"),
            "AWSReservedSSO_Admin_x",
        ),
        ("arn:aws:iam::123456789012:user/ops/deployer", Person(name="deployer"), ""),
        ("arn:aws:iam::123456789012:root", Person(name="root"), ""),
        ("`trigger_ARN`", None, ""),
        ("arn:aws:codestar-connections:eu-west-1:1:connection/abc", None, ""),
    ],
    ids=["role-session", "sso-email", "iam-user", "root", "docs-placeholder", "connection"],
)
def test_the_principal_an_arn_names(arn: str, who: Person | None, role: str) -> None:
    assert principal(arn) == (who, role)


def test_each_trigger_type_says_who_or_what() -> None:
    author = git_person("Github User", "github-user", "user@host.com")
    assert pipeline_starter("Webhook", "arn:connection", author=author) == StartedBy(
        "Webhook", Person(name="Github User", login="github-user", email="user@host.com")
    )
    assert pipeline_starter("WebhookV2", "arn:connection") == StartedBy("WebhookV2")
    assert pipeline_starter(
        "CloudWatchEvent", "arn:aws:events:eu-west-1:1:rule/nightly-deploy"
    ) == StartedBy("CloudWatchEvent", detail="nightly-deploy")
    assert pipeline_starter("ManualRollback", "arn:aws:sts::1:assumed-role/Ops/kim") == StartedBy(
        "ManualRollback", Person(name="kim"), "Ops"
    )
    assert pipeline_starter("AutomatedRollback", "") == StartedBy("AutomatedRollback")
    assert pipeline_starter("", "") is None
    assert deployment_starter("codeDeployRollback") == StartedBy("codeDeployRollback")
    assert deployment_starter("") is None


def test_a_placeholder_is_not_an_email_and_a_name_is_not_a_login() -> None:
    # The docs' sample execution-trigger: "author-email": "email_address", "author-id": a name.
    assert git_person("Mary Major", "Mary Major", "email_address") == Person(name="Mary Major")


def test_deploybots_own_rollback_is_started_by_its_slack_user() -> None:
    event = Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=Status.STARTED,
        started_by=StartedBy("StartPipelineExecution", Person(name="deploybot-role")),
        requested=RollbackRequest(user="U0KIM", environment="prod", sha="abc", target_id="x"),
    )
    assert started_by(event) == StartedBy("deploybot", Person(slack_id="U0KIM"))


def test_failure_mentions_authors_pings_the_mapped_authors_once() -> None:
    diff = ReleaseDiff(
        "a" * 40,
        "b" * 40,
        count=3,
        changes=(Change("c", author=Person(login="alice", slack_id="U0ALICE")),),
        authors=(
            Person(login="alice", slack_id="U0ALICE"),
            Person(name="Unmapped"),
            Person(email="bob@example.com", slack_id="U0BOB"),
        ),
    )
    assert expand_mentions(("S0PLATFORM", "authors", "U0ALICE"), diff) == (
        "S0PLATFORM",
        "U0ALICE",
        "U0BOB",
    )
    assert expand_mentions(("authors",), None) == ()


def test_only_slack_user_ids_become_mentions_of_authors() -> None:
    # GIVEN authors whose Slack id is not one (a store record or a lookup answer gone wrong)
    diff = ReleaseDiff(
        "a" * 40,
        "b" * 40,
        count=4,
        authors=(
            Person(login="a", slack_id="here"),
            Person(login="b", slack_id="!channel"),
            Person(login="c", slack_id="U0OK|x>"),
            Person(login="d", slack_id="W0DANA"),
        ),
    )
    # THEN only the real user id is pinged
    assert expand_mentions(("authors",), diff) == ("W0DANA",)


def test_the_cc_line_never_makes_a_special_mention_from_an_unchecked_id() -> None:
    from blocks.deployment import mention_section

    failed = Deployment(
        source=Source.CODEPIPELINE, scope=Scope.PIPELINE, status=Status.FAILED, pipeline="web"
    )
    # WHEN the mentions hold something that is not a configured shape
    line = mention_section(failed, ("U0ALICE", "S0OPS", "here", "everyone", "U0X>|<!channel"))
    # THEN users, groups and the configured specials render, nothing else does
    assert line == "cc <@U0ALICE> <!subteam^S0OPS> <!here>"
