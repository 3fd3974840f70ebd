"""Regression tests for the hostile inputs of issue 17: each site that raised, or built a link
that opens somewhere other than it says, reproduced on a real sample."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from blocks.actions import mention, section
from blocks.deploy_status import build_answer
from blocks.deployment import build_message
from blocks.text import safe_url, visible
from bot.domain.coerce import as_count
from bot.domain.config import Config
from bot.domain.events import parse_payload
from bot.domain.living import dump_state, message_key
from bot.domain.model import Deployment, StatusReport
from bot.domain.release import commit_time
from bot.github import GitHub, GitHubError, last_page
from bot.slack import WebApiPoster, make_poster
from tests.blockkit import violations
from tests.conftest import load_sample
from tests.fake_github import Author, FakeGitHub
from tests.fake_slack import TOKEN, FakeSlack

SOURCE_ACTION = "codepipeline-notification-action-source-succeeded-github.json"
GIT_FAILED = "codepipeline-notification-execution-failed-github.json"


def _render(payload: Any) -> list[dict[str, Any]]:
    """Parse and render, then check what Slack would refuse: bad UTF-8 or broken limits."""
    messages = [build_message(event, mentions=("U1",)) for event in parse_payload(payload)]
    for message in messages:
        json.dumps(message, ensure_ascii=False).encode("utf-8")  # Slack needs UTF-8
        assert violations(message) == []
    return messages


def _urls(message: dict[str, Any]) -> list[str]:
    return [
        element["url"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "url" in element
    ]


def _action_result(sample: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = sample["detail"]["execution-result"]
    return result


# --- lone surrogates, replaced once where a notification is parsed --------------------------


def test_a_lone_surrogate_in_a_name_is_replaced_where_the_payload_is_parsed() -> None:
    # GIVEN a notification whose pipeline name ends in half of a UTF-16 pair (valid JSON)
    sample = load_sample(SOURCE_ACTION)
    sample["detail"]["pipeline"] = "web\ud800"
    # WHEN it is parsed
    [event] = parse_payload(sample)
    # THEN the model holds the replacement character, and the message can be sent
    assert event.pipeline == "web\ufffd"
    _render(sample)


def test_a_lone_surrogate_inside_nested_json_is_replaced_too() -> None:
    # GIVEN the escape inside the JSON string of a CodeStar summary (decoded a second time)
    sample = load_sample(SOURCE_ACTION)
    _action_result(sample)["external-execution-summary"] = json.dumps(
        {"ProviderType": "GitHub", "CommitMessage": "fix \ud800 it"}, ensure_ascii=True
    )
    # WHEN it is parsed THEN the commit title is well-formed
    [event] = parse_payload(sample)
    assert event.commit is not None
    assert event.commit.title == "fix \ufffd it"
    _render(sample)


def test_a_lone_surrogate_in_a_repository_does_not_break_its_link() -> None:
    # GIVEN the repository of a Git-triggered execution with a lone surrogate (it used to raise
    # UnicodeEncodeError in URL quoting)
    sample = load_sample(GIT_FAILED)
    sample["detail"]["execution-trigger"]["full-repository-name"] = "my-org/re\udc00po"
    # WHEN it is rendered THEN nothing raises, and no link is made from a name that is not one
    [rendered] = _render(sample)
    assert not any("github.com" in url for url in _urls(rendered))


def test_a_lone_surrogate_does_not_break_the_store_key_or_state() -> None:
    # GIVEN a generic notification (its message key is a digest of the event) with a surrogate
    payload = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:eu-west-1:1:t",
        "Message": "a\ud800",
    }
    [event] = parse_payload(payload)
    # WHEN its key and state are computed THEN both encode (they go to DynamoDB or SQLite)
    message_key(event).encode("utf-8")
    dump_state_of(event).encode("utf-8")


def dump_state_of(event: Deployment) -> str:
    from bot.domain.living import State, absorb

    state = absorb(State(), event)
    assert state is not None
    return dump_state(state)


# --- numbers and URLs that used to raise -------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "١٢", "1²", " ", "-3", "1e3"])
def test_counts_accept_ascii_digits_only(value: str) -> None:
    # "²".isdigit() is true but int("²") raises; Arabic-Indic digits are not AWS's
    assert as_count(value) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://[x",
        "https://[::1",
        "https://host:port/",
        "https://user@console.aws.amazon.com/",
        "https://evil.example\\@console.aws.amazon.com/",
        "https://ev%69l.example/",
        "javascript:alert(1)",
        "https://exa\u0000mple.com/",
    ],
)
def test_an_action_url_that_does_not_parse_gives_no_link(url: str) -> None:
    # GIVEN a source action whose execution URL is malformed or deceptive
    sample = load_sample(SOURCE_ACTION)
    _action_result(sample)["external-execution-url"] = url
    # WHEN it is rendered THEN nothing raises and no button opens it
    [message] = _render(sample)
    assert url not in _urls(message)
    assert all(u.startswith("https://") for u in _urls(message))


# --- links that lie ----------------------------------------------------------------------------


def _codecommit_start(region: str) -> dict[str, Any]:
    sample = load_sample(GIT_FAILED)
    sample["region"] = region
    sample["detail"]["execution-trigger"].update(
        {"provider-type": "CodeCommit", "full-repository-name": "my-repo", "commit-id": "a1b2c3d"}
    )
    return sample


def test_a_codecommit_link_is_made_for_a_real_region() -> None:
    # GIVEN a CodeCommit-triggered execution in eu-west-1
    [message] = _render(_codecommit_start("eu-west-1"))
    # THEN the commit and branch buttons open eu-west-1's console (the test below can fail)
    hosts = {url.split("/")[2] for url in _urls(message)}
    assert hosts == {"eu-west-1.console.aws.amazon.com"}


@pytest.mark.parametrize(
    "region",
    ["evil.example/x#", "evil.example?", "eu-west-1.evil.example", "eu-west-1\n", "EU-WEST-1", "x"],
)
def test_a_region_that_is_not_one_builds_no_link(region: str) -> None:
    # GIVEN a CodeCommit-triggered execution whose region is crafted to become a host
    [message] = _render(_codecommit_start(region))
    # THEN no button, and no link in the text, leads anywhere but AWS's console or nowhere
    text = json.dumps(message)
    assert "evil.example" not in " ".join(_urls(message))
    assert "<https://evil" not in text
    for url in _urls(message):
        assert url.split("/")[2].endswith(".console.aws.amazon.com")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pipeline", "../../../iam/home#"),
        ("execution-id", "../../x"),
        ("execution-id", "<ID>"),
    ],
)
def test_a_name_or_id_outside_its_alphabet_gives_no_console_path_from_it(
    field: str, value: str
) -> None:
    # GIVEN an execution whose pipeline name or execution id tries to climb out of its page
    sample = load_sample("eventbridge-codepipeline-execution-failed.json")
    sample["detail"][field] = value
    # THEN the console button either is absent or opens a CodePipeline page of that region
    [message] = _render(sample)
    for url in _urls(message):
        assert "/codesuite/codepipeline/pipelines/" in url
        assert ".." not in url
        assert "%3CID%3E" not in url


def test_a_gov_cloud_region_gets_no_console_link_on_the_commercial_host() -> None:
    # GIVEN an execution in us-gov-west-1, whose console is not <region>.console.aws.amazon.com
    sample = load_sample("eventbridge-codepipeline-execution-failed.json")
    sample["region"] = "us-gov-west-1"
    # THEN no AWS console button is offered rather than a broken one
    [message] = _render(sample)
    assert not any("console.aws.amazon.com" in url for url in _urls(message))


def _button_texts(message: dict[str, Any]) -> dict[str, str]:
    return {
        element["action_id"]: element["text"]["text"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


def test_a_details_link_from_a_notification_names_its_host() -> None:
    # GIVEN an action whose details URL points off AWS
    sample = load_sample("codepipeline-notification-action-codedeploy-failed.json")
    sample["detail"]["execution-result"]["external-execution-url"] = "https://evil.example/d"
    # WHEN rendered THEN the button says where it goes
    [rendered] = _render(sample)
    assert _button_texts(rendered)["link_details"] == "Details (evil.example)"


def test_a_link_keeps_no_backtick_bidi_control_or_invisible_character() -> None:
    # GIVEN an action whose details URL hides a backtick, a bidi override, a zero-width space,
    # a space and non-ASCII letters in its path
    sample = load_sample("codepipeline-notification-action-codedeploy-failed.json")
    url = "https://eu-west-1.console.aws.amazon.com/x/`a`\u202eb\u200bc d/é?q=<|>"
    sample["detail"]["execution-result"]["external-execution-url"] = url
    # WHEN rendered
    [rendered] = _render(sample)
    # THEN the button opens it percent-encoded (UTF-8), with nothing outside printable ASCII
    encoded = (
        "https://eu-west-1.console.aws.amazon.com/x/%60a%60%E2%80%AEb%E2%80%8Bc%20d/%C3%A9"
        "?q=%3C%7C%3E"
    )
    assert encoded in _urls(rendered)
    assert safe_url(url) == encoded
    # AND a valid URL, already encoded, is left as it is
    plain_url = "https://github.com/o/r/compare/a...b?x=%20y&z=1#frag"
    assert safe_url(plain_url) == plain_url


def test_an_approval_message_links_the_console_but_never_the_token() -> None:
    # GIVEN the legacy manual-approval SNS message, whose review link carries the approval token
    [message] = _render(load_sample("codepipeline-manual-approval-sns-legacy.json"))
    # THEN no button opens that link (the token stays on deploybot's side: issue 13); the AWS
    # console button opens the pipeline's page instead
    buttons = _button_texts(message)
    assert "link_details" not in buttons
    assert "link_console" in buttons
    assert "XAMPLETOKEN" not in json.dumps(message)


# --- text that changes formatting or hides what a name says -----------------------------------


def _failed_deployment(**changes: Any) -> Deployment:
    from dataclasses import replace

    from bot.domain.model import FailureDetail

    [event] = parse_payload(load_sample("codedeploy-trigger-failure.json"))
    detail = FailureDetail(
        lifecycle_event="ApplicationStart",
        script="scripts/start.sh",
        message="Script at specified location: scripts/start.sh failed ```",
        log_tail="[stdout]starting\n[stderr]boom ``` done\n[stderr]exit 1",
    )
    return replace(event, failure_details=(detail,), **changes)


def _section_texts(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]


def test_a_fence_in_a_failure_message_cannot_close_deploybots_code_block() -> None:
    # GIVEN a failed lifecycle event whose message and log hold ``` (as shell output can)
    message = build_message(_failed_deployment())
    # WHEN rendered THEN the failure section holds exactly deploybot's two fences, so the log
    # tail stays inside its code block
    [failure] = [t for t in _section_texts(message) if t.startswith(":mag:")]
    assert failure.count("```") == 2
    assert failure.rstrip().endswith("[stderr]exit 1\n```")


def test_backticks_in_names_do_not_change_formatting() -> None:
    # GIVEN names holding backticks (a CodeDeploy application cannot, a commit author can)
    event = _failed_deployment(application="web`app", deployment_group="prod`")
    message = build_message(event)
    # THEN no untrusted backtick reaches the fields or the fallback text
    fields = [
        f["text"] for b in message["blocks"] if b["type"] == "section" for f in b.get("fields", [])
    ]
    assert any("webˋapp" in f for f in fields)
    assert not any("`" in f for f in fields)
    assert "`" not in message["text"]


@pytest.mark.parametrize(
    "trick",
    ["\u202e", "\u2066", "\u200f", "\u200b", "\u2060", "\ufeff", "\U000e0041\U000e0042"],
)
def test_bidi_and_invisible_characters_are_stripped_from_names_and_headers(trick: str) -> None:
    # GIVEN a deployment group that hides a character able to reorder or hide text
    event = _failed_deployment(deployment_group=f"prod{trick}uction")
    message = build_message(event)
    header = message["blocks"][0]["text"]["text"]
    # THEN the header, the fields and the fallback text show the plain name
    assert "production" in header
    assert "production" in message["text"]
    assert trick not in json.dumps(message, ensure_ascii=False)


def test_format_and_control_characters_and_hangul_fillers_leave_the_header() -> None:
    # GIVEN a CodeDeploy trigger whose application hides a soft hyphen, a combining grapheme
    # joiner, a Hangul filler, a deprecated format character, an invisible times, a terminal
    # escape sequence and a NUL (the audit's `deploybot render` case)
    sample = load_sample("codedeploy-trigger-failure.json")
    message = json.loads(sample["Records"][0]["Sns"]["Message"])
    message["applicationName"] = "pro\u00adduc\u034ftion\u3164\u206a\u2062x\x1b[2J\x00"
    sample["Records"][0]["Sns"]["Message"] = json.dumps(message)
    # WHEN it is rendered
    [rendered] = _render(sample)
    # THEN the header names the application as it reads, and none of them is anywhere
    assert "productionx[2J" in rendered["blocks"][0]["text"]["text"]
    shown = json.dumps(rendered, ensure_ascii=False)
    for hidden in "\u00ad\u034f\u3164\u206a\u2062\x1b\x00":
        assert hidden not in shown


_KEPT = {"\n", "\t", "\u200c", "\u200d"}  # newlines, tabs; joiners between two non-ASCII
_EVERY_HIDDEN = [
    ch
    for ch in map(chr, range(0x110000))
    if unicodedata.category(ch) in ("Cf", "Cc") and ch not in _KEPT
] + ["\u115f", "\u1160", "\u3164", "\uffa0", "\u034f"]


def test_every_format_and_control_character_is_stripped_where_no_script_needs_it() -> None:
    # GIVEN every format (Cf) and control (Cc) character this Python's Unicode database knows,
    # and the Hangul fillers (letters that show nothing)
    # WHEN each sits inside a name, THEN it is gone (tags outside a flag included)
    assert [ch for ch in _EVERY_HIDDEN if visible(f"a{ch}b") != "ab"] == []
    # AND what scripts and emoji need stays: joiners between non-ASCII letters, a flag's tags,
    # newlines and tabs
    flag = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    for kept in ("👨\u200d👩", "می\u200cخواهم", flag, "a\nb\tc"):
        assert visible(kept) == kept


def test_joiners_that_scripts_and_emoji_need_are_kept() -> None:
    # GIVEN a commit title with an emoji ZWJ sequence and Persian text with a ZWNJ, and a name
    # with a ZWJ between ASCII letters (no script needs one there)
    family, persian = "👨\u200d👩\u200d👧", "می\u200cخواهم"
    [event] = parse_payload(load_sample("codepipeline-notification-execution-failed-github.json"))
    from dataclasses import replace

    assert event.commit is not None
    event = replace(
        event,
        pipeline="we\u200db",
        commit=replace(event.commit, title=f"{family} {persian}"),
    )
    message = build_message(event)
    text = json.dumps(message, ensure_ascii=False)
    # THEN both joiners of the title survive, and the one inside "web" does not
    assert family in text
    assert persian in text
    assert "we\u200db" not in text
    assert "Pipeline web failed" in message["blocks"][0]["text"]["text"]


# --- what may go into a link (bot/domain/urls.py) ---------------------------------------------


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        ("is_region", ["eu-west-1", "ap-southeast-7", "il-central-1", "mx-central-1"],
         ["us-gov-west-1", "cn-north-1", "eu-west-1\n", "EU-WEST-1", "eu-west-x", "xx-west-1"]),
        ("is_pipeline_name", ["web-prod", "a.b@c_d"], ["a/b", "..", "x" * 101, "", "a b"]),
        ("is_codedeploy_name", ["web+blue=1,2"], ["a/b", "a b", "ü"]),
        ("is_deployment_id", ["d-C3XYEM1QF"], ["C3XYEM1QF", "d-", "d-../x", "d-a b"]),
        ("is_execution_id", ["7705a421-5549-4b28-a4ad-2150fee793e8", "xxxxxxxx-xxxx"],
         ["<ID>", "../x", "a/b"]),
        ("is_sha", ["f7ec852", "abcdefg"], ["`commit_ID`", "a" * 65, "a-b"]),
        ("is_repository", ["my-org/my-repo", "group/sub/project", "repo"],
         ["../x", "a/../b", "/a", "a//b", "a b/c", "a/b/c/d/e/f/g"]),
        ("is_branch", ["main", "feature/x", "v1.0", "ü"],
         ["../x", "a..b", "a b", "a~1", ".hidden", "a/.b", "x.lock", "a/", "@", "a\\b"]),
    ],
)  # fmt: skip
def test_link_parts_are_checked_whole(check: str, good: list[str], bad: list[str]) -> None:
    from bot.domain import urls

    predicate = getattr(urls, check)
    assert [v for v in good if not predicate(v)] == []
    assert [v for v in bad if predicate(v)] == []


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://console.aws.amazon.com/codesuite/x", "AWS console"),
        ("https://eu-west-1.console.aws.amazon.com/x", "AWS console"),
        ("https://console.aws.amazon.com.evil.example/x", "console.aws.amazon.com.evil.example"),
        ("https://evilconsole.aws.amazon.com/x", "evilconsole.aws.amazon.com"),
        ("https://github.com/a/b", "github.com"),
        ("https://bücher.example/", ""),
        ("https://[x", ""),
    ],
)
def test_a_links_host_is_named_as_it_opens(url: str, label: str) -> None:
    from blocks.links import host_label

    assert host_label(url) == label


# --- Slack ids are matched whole --------------------------------------------------------------


@pytest.mark.parametrize("user", ["U0123ABC\n", "U0123ABC\nx", "xU0123ABC"])
def test_an_id_with_a_trailing_newline_is_no_mention(user: str) -> None:
    # GIVEN a user id from a click or a Share button that ends in a newline (a `$` match takes it)
    # WHEN deploybot names who pressed, or who shared an answer
    said = mention(user)
    shared = build_answer(StatusReport(), query="", share=False, shared_by=user)
    # THEN neither is a mention: the id is shown as text, or not at all
    assert "<@" not in said
    assert "<@" not in json.dumps(shared)


# --- GitHub's answers: counts that are not ASCII digits, lone surrogates -----------------------


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub.start()
    yield fake
    fake.close()


def test_a_last_page_that_is_no_ascii_number_is_ignored() -> None:
    # GIVEN a link header whose last page is "²" ("²".isdigit() is true, int("²") raises)
    link = '<https://api.github.com/repos/o/r/compare/a...b?page=²>; rel="last"'
    # WHEN the last page is read, THEN the page asked for is the last one known
    assert last_page(link, 2) == 2


@pytest.mark.parametrize("reset", ["²", "99999999999999999", "999999999999999", "-1", ""])
def test_a_rate_limit_reset_that_is_no_time_still_says_the_limit_is_used_up(
    github: FakeGitHub, reset: str
) -> None:
    # GIVEN GitHub's rate limit is used up, and x-ratelimit-reset is no time Python can show
    github.repository("o/r")
    github.fault, github.reset = "rate_limit", reset
    # WHEN a comparison is asked for
    with pytest.raises(GitHubError) as refused:
        GitHub(github.url, lambda: "").compare("o/r", "a" * 40, "b" * 40)
    # THEN it is a GitHubError saying so, without a time
    assert refused.value.reason == "GitHub's rate limit is used up"


def test_a_lone_surrogate_in_a_compare_page_is_replaced(github: FakeGitHub) -> None:
    # GIVEN a commit whose message holds half of a UTF-16 pair ("fix \\ud800 thing" in JSON)
    repo = github.repository("o/r")
    base = repo.add("base", Author("A", "a@example.com"))
    head = repo.add("fix \ud800 thing", Author("A", "a@example.com"))
    # WHEN the comparison is read
    page = GitHub(github.url, lambda: "").compare("o/r", base, head)
    # THEN the message holds U+FFFD, and everything in the page can be sent as UTF-8
    assert page.body["commits"][0]["commit"]["message"] == "fix \ufffd thing"
    json.dumps(page.body, ensure_ascii=False).encode("utf-8")


def test_a_codecommit_commit_time_that_is_no_ascii_number_is_unknown() -> None:
    # GIVEN a committer date of "²" (and an author date that is a number)
    commit = {"committer": {"date": "² -0800"}, "author": {"date": "1484167798 -0800"}}
    # WHEN its time is read, THEN the readable one counts, and "²" alone is unknown (0)
    assert commit_time(commit) == 1484167798
    assert commit_time({"committer": {"date": "² -0800"}}) == 0


@pytest.mark.parametrize("door", ["bot token", "incoming webhook"])
def test_no_lone_surrogate_reaches_slack_whatever_path_built_the_message(
    fake_slack: FakeSlack, door: str
) -> None:
    # GIVEN a message that still holds a lone surrogate (built from text no parser cleaned)
    text = "fix \ud800 thing"
    message = {"channel": "C0DEPLOYS", "text": text, "blocks": [section(text)]}
    config = (
        Config(slack_bot_token=TOKEN, slack_api_url=fake_slack.api_url)
        if door == "bot token"
        else Config(slack_webhook_url=fake_slack.webhook_url)
    )
    # WHEN it is posted (and, with a bot token, updated)
    poster = make_poster(config)
    ref = poster.post(message)
    if isinstance(poster, WebApiPoster) and ref is not None:
        poster.update(ref, {**message, "text": "fixed \udfff"})
    # THEN Slack gets U+FFFD in its place, in the text and in the blocks
    [call, *update] = [c.args for c in fake_slack.calls]
    assert call["text"] == "fix \ufffd thing"
    assert call["blocks"][0]["text"]["text"] == "fix \ufffd thing"
    assert [u["text"] for u in update] == (["fixed \ufffd"] if door == "bot token" else [])
