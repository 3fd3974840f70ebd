"""What users see of a release diff: snapshots of the deployment message, the failure reply, the
rollback confirm dialog and the lines on their own; hostile git text; Block Kit limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from blocks.living import build_failure_reply
from blocks.release import release_line, release_section, undo_text
from bot.domain.codec import dump_event, load_event
from bot.domain.commits import build_commit
from bot.domain.config import Config, ReleaseSettings, RollbackPipeline, RollbackSettings
from bot.domain.model import (
    Approval,
    Change,
    Deployment,
    Execution,
    Person,
    ReleaseDiff,
    Scope,
    Source,
    StartedBy,
    Status,
    View,
)
from bot.plan import build_post
from tests.blockkit import violations

BASE = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
HEAD = "f7e6d5c4b3a29180706f5e4d3c2b1a0998877665"
REPO = "acme/web"
COMPARE = f"https://github.com/{REPO}/compare/{BASE}...{HEAD}"
ALICE = Person(name="Alice Liddell", email="alice@example.com", login="alice", slack_id="U0ALICE")
BOB = Person(name="Bob Builder", email="bob@example.com", slack_id="U0BOB")
CAROL = Person(name="Carol", login="carol")
DAN = Person(name="Dan <!channel>", email="dan@example.com")
EVE = Person(name="Eve", email="eve@example.com")


def _change(n: int, title: str, author: Person) -> Change:
    sha = f"{n:02d}" + HEAD[2:]
    return Change(sha, title, author, f"https://github.com/{REPO}/commit/{sha}")


TWELVE = ReleaseDiff(
    BASE,
    HEAD,
    repository=REPO,
    compare_url=COMPARE,
    count=12,
    changes=(
        _change(12, "Fix the login page", ALICE),
        _change(11, "Bump boto3 to 1.35", BOB),
        _change(10, "<!channel> *urgent* `rm -rf` & <https://evil.example|docs>", DAN),
        _change(9, "Cache the pipeline list", CAROL),
        _change(8, "Add a health check", EVE),
        _change(7, "Refactor the poster", ALICE),
    ),
    authors=(ALICE, BOB, CAROL, DAN, EVE),
    author_count=5,
    base_run="11111111-0000-4000-8000-000000000001",
)


def _execution(status: Status, diff: ReleaseDiff | None) -> Deployment:
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=status,
        region="eu-west-1",
        account="111111111111",
        pipeline="web-prod",
        execution_id="22222222-0000-4000-8000-000000000002",
        started_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        commit=build_commit(
            sha=HEAD, message="Fix the login page", repository=REPO, provider="GitHub"
        ),
        started_by=StartedBy("WebhookV2", ALICE),
        diff=diff,
    )


# --- the lines on their own --------------------------------------------------------------------


def test_the_collapsed_line_names_two_authors_then_how_many_others() -> None:
    assert release_line(TWELVE) == (
        ":twisted_rightwards_arrows: *12 commits* by <@U0ALICE>, <@U0BOB> and 3 others since "
        f"`{BASE[:7]}` — <{COMPARE}|compare>"
    )


def test_two_or_three_authors_are_all_named() -> None:
    diff = replace(TWELVE, authors=(ALICE, CAROL, EVE), author_count=3)
    assert "by <@U0ALICE>, @carol and Eve since" in release_line(diff)
    one = replace(TWELVE, count=1, authors=(CAROL,), author_count=1)
    assert "*1 commit* by @carol since" in release_line(one)


def test_a_redeploy_says_no_changes() -> None:
    same = ReleaseDiff(BASE, BASE, repository=REPO, count=0)
    assert release_line(same) == (
        f":repeat: *No changes*: `{BASE[:7]}` was live already (a redeploy)"
    )
    assert release_section(same, 5) == release_line(same)


def test_without_a_list_the_link_and_the_note_remain() -> None:
    bare = ReleaseDiff(BASE, HEAD, compare_url=COMPARE, note="Commit list unavailable: <!here>")
    assert release_section(bare, 5) == (
        f":twisted_rightwards_arrows: *Changes* since `{BASE[:7]}` — <{COMPARE}|compare>\n"
        ":information_source: Commit list unavailable: &lt;!here&gt;"
    )


def test_an_unsafe_compare_url_is_left_out() -> None:
    evil = replace(TWELVE, compare_url="javascript:alert(1)")
    assert "compare" not in release_line(evil).split(" since ")[1]


def test_a_rollback_takes_commits_out() -> None:
    back = replace(TWELVE, backwards=True, base=HEAD, head=BASE)
    assert release_line(back).startswith(
        ":rewind: *Takes out 12 commits* by <@U0ALICE>, <@U0BOB> and 3 others, back from "
    )


def test_an_incomplete_walk_says_plus() -> None:
    partial = replace(TWELVE, count=100, complete=False)
    assert "*100+ commits*" in release_line(partial)
    assert release_section(partial, 2).endswith("…and 98+ more")


def test_the_list_is_escaped_and_cut() -> None:
    long_title = replace(TWELVE, changes=(_change(1, "x" * 500, Person(name="<@U999>")),))
    section = release_section(long_title, 5)
    assert "<@U999>" not in section
    assert "&lt;@U999&gt;" in section
    assert max(len(line) for line in section.split("\n")) < 400


def test_the_rollback_dialog_says_what_it_undoes_only_when_it_goes_back_to_the_base() -> None:
    assert undo_text(TWELVE, BASE) == "This undoes 12 commits by @alice, Bob Builder and 3 others."
    assert undo_text(TWELVE, HEAD) == ""  # "roll back to this": what comes after is not known
    assert undo_text(replace(TWELVE, count=None), BASE) == ""
    assert undo_text(None, BASE) == ""


# --- in the messages ---------------------------------------------------------------------------


def test_the_deployment_message_shows_the_diff(snapshot_json: SnapshotAssertion) -> None:
    message = build_post(_execution(Status.SUCCEEDED, TWELVE), Config(default_channel="C0DEPLOY"))
    assert violations(message) == []
    assert message == snapshot_json


def test_commits_shown_sets_how_many_titles(snapshot_json: SnapshotAssertion) -> None:
    config = Config(default_channel="C0DEPLOY", release=ReleaseSettings(commits_shown=0))
    message = build_post(_execution(Status.STARTED, TWELVE), config)
    text = str(message["blocks"])
    assert "*12 commits*" in text
    assert "Fix the login page —" not in text
    assert message == snapshot_json


def test_a_redeploy_message(snapshot_json: SnapshotAssertion) -> None:
    same = ReleaseDiff(HEAD, HEAD, repository=REPO, count=0, compare_url="")
    message = build_post(_execution(Status.SUCCEEDED, same), Config(default_channel="C0DEPLOY"))
    assert violations(message) == []
    assert message == snapshot_json


def test_the_failure_reply_pings_the_authors_when_asked(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN failure_mentions = ["S0ONCALL", "authors"] and a failed execution
    failed = _execution(Status.FAILED, TWELVE)
    view = View(head=failed, failures=(failed,))
    # WHEN the thread reply is built
    reply = build_failure_reply(view, mentions=("S0ONCALL", "authors"))
    # THEN it says what changed, and pings the on-call group and the two mapped authors
    assert violations(reply) == []
    assert reply["text"].endswith("cc <!subteam^S0ONCALL> <@U0ALICE> <@U0BOB>")
    assert reply == snapshot_json
    # AND the diff's line names the authors without mentioning them: pinging is the config's
    assert "by @alice, Bob Builder and 3 others" in reply["blocks"][0]["text"]["text"]


def test_without_authors_in_failure_mentions_no_author_is_pinged() -> None:
    failed = _execution(Status.FAILED, TWELVE)
    reply = build_failure_reply(View(head=failed, failures=(failed,)), mentions=("S0ONCALL",))
    assert "<@U0ALICE>" not in json.dumps(reply)
    assert "<@U0BOB>" not in json.dumps(reply)


def test_the_rollback_button_says_what_it_undoes(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN a failed execution whose last good run shipped the diff's base
    good = Execution(
        "11111111-0000-4000-8000-000000000001",
        Status.SUCCEEDED,
        commit=build_commit(sha=BASE, message="Last good", repository=REPO, provider="GitHub"),
    )
    failed = replace(_execution(Status.FAILED, TWELVE), last_good=good)
    config = Config(
        default_channel="C0DEPLOY",
        rollback=RollbackSettings(
            pipelines=(RollbackPipeline("web-prod", environment="production"),),
        ),
    )
    # WHEN its message is built
    message = build_post(failed, config)
    # THEN the confirm dialog names the commits the rollback undoes, within Slack's 300
    [button] = [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "rollback"
    ]
    text = button["confirm"]["text"]["text"]
    assert "This undoes 12 commits by @alice, Bob Builder and 3 others." in text
    assert len(text) <= 300
    assert violations(message) == []
    assert button == snapshot_json


def test_a_huge_diff_stays_within_block_kit_limits() -> None:
    # GIVEN ten long titles by people with long names, and every other section full
    people = tuple(Person(name="N" * 300, email=f"{i}@x.example") for i in range(10))
    diff = replace(
        TWELVE,
        count=9999,
        changes=tuple(_change(i, "T" * 300, people[i]) for i in range(10)),
        authors=people,
        author_count=10,
        note="n" * 2000,
    )
    config = Config(release=ReleaseSettings(commits_shown=10))
    message = build_post(_execution(Status.FAILED, diff), config)
    # THEN Slack would accept it
    assert violations(message) == []


def test_a_stored_event_keeps_its_diff_and_who_started_it() -> None:
    # GIVEN an event as the living-message store keeps it (JSON text)
    event = _execution(Status.SUCCEEDED, TWELVE)
    stored = json.dumps(dump_event(event))
    # WHEN read back, THEN nothing is lost; an event stored before the diff existed still loads
    assert load_event(json.loads(stored)) == event
    older = {k: v for k, v in dump_event(event).items() if k not in ("diff", "started_by")}
    assert load_event(older).diff is None


people_text = st.text(max_size=120)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.text(max_size=400), people_text, people_text), max_size=12),
    st.integers(min_value=0, max_value=10),
)
def test_any_git_text_renders_escaped_and_within_limits(
    commits: list[tuple[str, str, str]], shown: int
) -> None:
    # GIVEN commits whose titles, names and logins are anything at all
    changes = tuple(
        _change(i, title, Person(name=name, login=login))
        for i, (title, name, login) in enumerate(commits)
    )
    authors = tuple(c.author for c in changes)
    diff = replace(
        TWELVE, count=len(changes), changes=changes, authors=authors, author_count=len(authors)
    )
    config = Config(release=ReleaseSettings(commits_shown=shown))
    # WHEN the deployment message and the failure reply are built
    message = build_post(_execution(Status.FAILED, diff), config)
    failed = _execution(Status.FAILED, diff)
    reply = build_failure_reply(View(head=failed, failures=(failed,)), mentions=("authors",))
    # THEN Slack would take both, and no git text made a mention or a link of its own
    for built in (message, reply):
        assert violations(built) == []
        text = json.dumps(built)
        assert "<!" not in text.replace("<!date^", "").replace("<!subteam^", "")
        assert "<@" not in text.replace("<@U0ALICE>", "").replace("<@U0BOB>", "")


def test_a_lone_approval_request_shows_the_diff(snapshot_json: SnapshotAssertion) -> None:
    # GIVEN an approval request with its execution's diff, and no living message (store "none")
    approval = replace(
        _execution(Status.STARTED, TWELVE),
        scope=Scope.APPROVAL,
        stage="Approve",
        action="Release",
        approval=Approval(custom_data="Ship the login fix?"),
    )
    message = build_post(approval, Config(default_channel="C0DEPLOY", store_backend="none"))
    # THEN the request says what the approver lets through, within Block Kit's limits
    assert violations(message) == []
    assert "*12 commits*" in json.dumps(message["blocks"])
    assert message == snapshot_json
