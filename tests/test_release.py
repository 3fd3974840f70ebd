"""The release diff's edges: AWS history under Stubber, GitHub's compare API as a local fake
over HTTP, CodeCommit's commits under Stubber, and what a failure leaves on the message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from slack_sdk import WebClient

from bot.aws.enrich import Enricher
from bot.aws.release import ReleaseLookup
from bot.aws.run import Run
from bot.directory import SlackDirectory
from bot.domain.config import DEFAULT_GITHUB_API_URL, Config, EnrichSettings, ReleaseSettings
from bot.domain.model import Deployment, Person, ReleaseDiff, Scope, Source, Status
from bot.domain.release import Baseline
from bot.github import GitHub, GitHubError, last_page
from tests.aws_data import CONNECTION, PIPELINE, REGION, REPO, InlineExecutor, clients
from tests.fake_github import TOKEN, Author, FakeGitHub
from tests.fake_slack import TOKEN as SLACK_TOKEN
from tests.fake_slack import FakeSlack, slack_user
from tests.release_data import (
    CODECOMMIT_REPO,
    codecommit_commit,
    commit_id,
    execution_event,
    execution_id,
    history,
    summary,
)

ALICE = Author("Alice Liddell", "alice@example.com", "alice")
BOB = Author("Bob Builder", "bob@example.com", None)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub.start()
    yield fake
    fake.close()


def _repo(fake: FakeGitHub, commits: int, *, private: bool = False) -> list[str]:
    """`commits` commits in REPO, alternating Alice and Bob; their shas, oldest first."""
    repo = fake.repository(REPO, private=private)
    return [
        repo.add(f"Change {i}\n\nDetails of change {i}.", ALICE if i % 2 else BOB)
        for i in range(commits)
    ]


@dataclass
class Setup:
    cp: Any
    cd: Any
    cc: Any
    pipeline: Stubber
    deploy: Stubber
    commits: Stubber

    def lookup(
        self,
        api_url: str,
        *,
        token: str = "",
        release: ReleaseSettings | None = None,
        threads: bool = False,
        configured: str = DEFAULT_GITHUB_API_URL,
        **kwargs: Any,
    ) -> ReleaseLookup:
        """The lookup, its GitHub client at `api_url` (the fake) playing the API that
        GITHUB_API_URL names (`configured`); on InlineExecutor (Stubber's order), or with
        `threads` on its own thread pools, as in production."""
        settings = release or ReleaseSettings()
        config = Config(release=replace(settings, github_api_url=configured))
        return ReleaseLookup(
            self.cp,
            self.cd,
            config,
            codecommit=lambda: self.cc,
            github=GitHub(api_url, lambda: token),
            executor=None if threads else InlineExecutor(),
            **kwargs,
        )

    def history(self, *summaries: dict[str, Any]) -> None:
        self.pipeline.add_response(
            "list_pipeline_executions",
            history(*summaries),
            {"pipelineName": PIPELINE, "maxResults": 50},
        )


@pytest.fixture
def aws() -> Iterator[Setup]:
    cp, cd = clients()
    keys = {"region_name": REGION, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    cc = boto3.client("codecommit", **keys)
    with Stubber(cp) as pipeline, Stubber(cd) as deploy, Stubber(cc) as commits:
        yield Setup(cp, cd, cc, pipeline, deploy, commits)
        # THEN (every test) each stubbed AWS call was made, with exactly these parameters
        pipeline.assert_no_pending_responses()
        deploy.assert_no_pending_responses()
        commits.assert_no_pending_responses()


def _run(seconds: float = 5.0) -> Run:
    return Run(InlineExecutor(), time.monotonic() + seconds, seconds, time.monotonic)


def _diff(lookup: ReleaseLookup, event: Deployment, run: Run | None = None) -> Deployment:
    run = run or _run()
    pending = lookup.start(event, run)
    assert pending is not None
    return lookup.finish(event, pending, run)


# --- GitHub -------------------------------------------------------------------------------------


def test_a_pipeline_execution_lists_the_commits_since_the_last_successful_run(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN runs 1 (failed) and 2 (succeeded, commit 3) before run 3, which ships commit 7
    shas = _repo(github, 8)
    aws.history(
        summary(1, shas[5], status="Failed"),
        summary(2, shas[3]),
        summary(3, shas[7], status="InProgress"),
    )
    # WHEN run 3's success is looked up
    event = _diff(aws.lookup(github.url), execution_event(3, shas[7]))
    # THEN the diff goes from what run 2 made live (not run 1, which failed) to commit 7
    diff = event.diff
    assert diff is not None
    assert (diff.base, diff.head, diff.base_run) == (shas[3], shas[7], execution_id(2))
    assert diff.count == 4
    assert [c.title for c in diff.changes] == ["Change 7", "Change 6", "Change 5", "Change 4"]
    assert diff.compare_url == f"https://github.com/{REPO}/compare/{shas[3]}...{shas[7]}"
    # AND authors come with their GitHub login when the e-mail is linked, most commits first
    assert [(p.login, p.name) for p in diff.authors] == [
        ("", "Bob Builder"),
        ("alice", "Alice Liddell"),
    ]
    assert diff.author_count == 2
    assert diff.note == ""
    # AND one request was made, with GitHub's version header, our user agent and no token
    [request] = github.requests()
    assert request["path"] == f"/repos/{REPO}/compare/{shas[3]}...{shas[7]}"
    assert request["query"] == {"per_page": "100", "page": "1"}
    assert (request["version"], request["user_agent"], request["authorization"]) == (
        "2022-11-28",
        "deploybot",
        "",
    )


def test_a_redeploy_of_the_live_commit_says_no_changes_without_asking_github(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN run 2 ships the commit run 1 made live
    shas = _repo(github, 3)
    aws.history(summary(1, shas[2]), summary(2, shas[2], status="InProgress"))
    # WHEN looked up
    diff = _diff(aws.lookup(github.url), execution_event(2, shas[2])).diff
    # THEN "no changes", and GitHub was not asked
    assert diff is not None
    assert diff.same
    assert diff.count == 0
    assert github.requests() == []


def test_more_than_250_commits_are_read_page_by_page(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN 260 commits between what was live and the new commit
    shas = _repo(github, 262)
    aws.history(summary(1, shas[1]), summary(2, shas[261], status="InProgress"))
    # WHEN looked up (300 commits at most: three pages of 100)
    diff = _diff(aws.lookup(github.url), execution_event(2, shas[261])).diff
    # THEN pages 1 to 3 were read and every commit counted; the newest are listed first
    assert diff is not None
    pages = sorted(r["query"]["page"] for r in github.requests())
    assert pages == ["1", "2", "3"]
    assert diff.count == 260
    assert diff.changes[0].title == "Change 261"
    assert diff.note == ""
    assert diff.author_count == 2


def test_a_longer_diff_than_max_commits_reads_the_first_and_newest_pages(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN 450 commits and max_commits 200 (two pages)
    shas = _repo(github, 452)
    aws.history(summary(1, shas[1]), summary(2, shas[451], status="InProgress"))
    settings = ReleaseSettings(max_commits=200)
    # WHEN looked up
    diff = _diff(aws.lookup(github.url, release=settings), execution_event(2, shas[451])).diff
    # THEN page 1 (for the count) and the last page (for the newest titles) were read
    assert diff is not None
    assert sorted(r["query"]["page"] for r in github.requests()) == ["1", "5"]
    assert diff.count == 450
    assert diff.changes[0].title == "Change 451"
    assert "only the first and the newest 100 commits are listed" in diff.note


def test_a_private_repository_without_a_token_shows_the_link_and_why(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN a private repository and no GitHub token
    shas = _repo(github, 5, private=True)
    aws.history(summary(1, shas[1]), summary(2, shas[4], status="InProgress"))
    # WHEN looked up
    diff = _diff(aws.lookup(github.url), execution_event(2, shas[4])).diff
    # THEN the compare link is there, the count is unknown, and the note says what to set
    assert diff is not None
    assert diff.compare_url.startswith(f"https://github.com/{REPO}/compare/")
    assert diff.count is None
    assert diff.note == (
        f"Commit list unavailable: {REPO} is private or gone: GitHub needs a token "
        "(GITHUB_TOKEN) to list it"
    )


def test_a_private_repository_with_a_token_is_listed(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN the same private repository and a token that can see it
    shas = _repo(github, 5, private=True)
    aws.history(summary(1, shas[1]), summary(2, shas[4], status="InProgress"))
    # WHEN looked up with the token
    diff = _diff(aws.lookup(github.url, token=TOKEN), execution_event(2, shas[4])).diff
    # THEN its commits are listed, and the token went as a Bearer header
    assert diff is not None
    assert diff.count == 3
    assert github.requests()[0]["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("fault", "token", "note"),
    [
        ("rate_limit", "", "GitHub's rate limit is used up until 11:06 UTC"),
        ("secondary", TOKEN, "GitHub's secondary rate limit (retry after 60 s)"),
        ("server", TOKEN, "GitHub answered 502: Server Error"),
        ("", "ghp_revoked", "GitHub refused the token (401 Bad credentials)"),
    ],
    ids=["rate-limit", "secondary-rate-limit", "server-error", "bad-token"],
)
def test_a_github_refusal_is_a_note_beside_the_link(
    aws: Setup, github: FakeGitHub, fault: str, token: str, note: str
) -> None:
    # GIVEN GitHub answers with one of its documented refusals
    shas = _repo(github, 4)
    github.fault = fault
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    # WHEN looked up
    diff = _diff(aws.lookup(github.url, token=token), execution_event(2, shas[3])).diff
    # THEN the link stays and the note says what GitHub said
    assert diff is not None
    assert diff.compare_url
    assert diff.count is None
    assert diff.note == f"Commit list unavailable: {note}"


def test_a_slow_github_costs_the_list_not_the_deadline(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN GitHub answers after 2 s, and the event's deadline is 0.5 s away
    shas = _repo(github, 4)
    github.delay = 2.0
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    started = time.monotonic()
    # WHEN looked up
    diff = _diff(aws.lookup(github.url), execution_event(2, shas[3]), _run(0.5)).diff
    # THEN it gave up at the deadline, with the link and a note
    assert time.monotonic() - started < 1.5
    assert diff is not None
    assert diff.compare_url
    assert diff.note == "Commit list unavailable: GitHub did not answer (TimeoutError)"


def test_a_rollback_lists_the_commits_it_takes_out(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN commit 5 is live and run 3 (a manual rollback) ships commit 2
    shas = _repo(github, 6)
    aws.history(
        summary(2, shas[5]),
        summary(3, shas[2], status="InProgress", trigger=("ManualRollback", "arn:x")),
    )
    # WHEN looked up
    diff = _diff(aws.lookup(github.url), execution_event(3, shas[2])).diff
    # THEN GitHub was asked the other way round, and the diff says it goes backwards
    assert diff is not None
    assert diff.backwards
    assert diff.count == 3
    assert [c.title for c in diff.changes] == ["Change 5", "Change 4", "Change 3"]
    assert len(github.requests()) == 2


def test_the_run_is_found_by_start_time_when_it_is_not_in_the_page(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN the page does not list run 9 itself, only runs before and after it
    shas = _repo(github, 4)
    aws.history(summary(8, shas[1]), summary(10, shas[3]))
    # WHEN run 9 is looked up
    diff = _diff(aws.lookup(github.url), execution_event(9, shas[2])).diff
    # THEN the last success that started before it (run 8) is the base, not run 10
    assert diff is not None
    assert (diff.base, diff.base_run) == (shas[1], execution_id(8))


def test_no_earlier_success_is_a_note_and_no_diff(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN the first run of a pipeline
    aws.history(summary(1, "a" * 40, status="InProgress"))
    run = _run()
    # WHEN looked up
    event = _diff(aws.lookup(github.url), execution_event(1, "a" * 40), run)
    # THEN there is no diff, and the note (which the enricher puts on the event) says why
    assert event.diff is None
    assert run.notes == [
        f"Changes unknown: no successful execution before this one among the last 1 "
        f"executions of {PIPELINE}"
    ]


def test_a_history_that_cannot_be_read_is_a_note(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN list_pipeline_executions is denied
    aws.pipeline.add_client_error(
        "list_pipeline_executions", "AccessDeniedException", "not authorized", 400
    )
    run = _run()
    # WHEN looked up
    event = _diff(aws.lookup(github.url), execution_event(2, "b" * 40), run)
    # THEN no diff, and the note names the IAM action
    assert event.diff is None
    assert run.notes == ["Changes unknown: access denied to codepipeline:ListPipelineExecutions"]


def test_the_ledger_answers_first(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN a ledger that knows what was live before run 3 (commit 1), and a history that
    # would say commit 2
    shas = _repo(github, 5)
    aws.history(summary(2, shas[2]), summary(3, shas[4], status="InProgress"))
    asked: list[str] = []

    def ledger(event: Deployment) -> Baseline | None:
        asked.append(event.execution_id)
        return Baseline(shas[1], "from-the-ledger")

    # WHEN looked up
    diff = _diff(aws.lookup(github.url, live_before=ledger), execution_event(3, shas[4])).diff
    # THEN the ledger's answer is the base
    assert asked == [execution_id(3)]
    assert diff is not None
    assert (diff.base, diff.base_run, diff.count) == (shas[1], "from-the-ledger", 3)


def test_the_diff_of_a_run_is_kept_for_its_next_event(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN run 2's STARTED event was looked up
    shas = _repo(github, 4)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    lookup = aws.lookup(github.url)
    first = _diff(lookup, execution_event(2, shas[3], status=Status.STARTED)).diff
    # WHEN its SUCCEEDED event comes (no second history page is stubbed)
    second = _diff(lookup, execution_event(2, shas[3])).diff
    # THEN the same diff, without asking AWS or GitHub again
    assert second == first
    assert len(github.requests()) == 1


def test_who_started_the_run_comes_from_the_history_when_the_event_does_not_say(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN run 2 was started by an SSO user; its notification has no execution-trigger
    shas = _repo(github, 3)
    role = "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Deployers_0a1b/dana@example.com"
    aws.history(
        summary(1, shas[1]),
        summary(2, shas[2], status="InProgress", trigger=("StartPipelineExecution", role)),
    )
    # WHEN looked up
    event = _diff(aws.lookup(github.url), execution_event(2, shas[2]))
    # THEN the started-by names the session (an e-mail) and the role
    assert event.started_by is not None
    assert event.started_by.how == "StartPipelineExecution"
    assert event.started_by.who == Person(name="dana@example.com", email="dana@example.com")
    assert event.started_by.detail == "AWSReservedSSO_Deployers_0a1b"


# --- the client on its own ---------------------------------------------------------------------


def test_the_link_header_names_the_last_page() -> None:
    link = (
        '<https://api.github.com/repositories/1/compare/a...b?per_page=100&page=2>; rel="next", '
        '<https://api.github.com/repositories/1/compare/a...b?per_page=100&page=3>; rel="last"'
    )
    assert last_page(link, 1) == 3
    assert last_page("", 1) == 1
    assert last_page(link.split(", ", maxsplit=1)[0], 1) == 2  # only "next": at least that one


def test_a_repository_name_that_is_not_owner_slash_name_is_refused(github: FakeGitHub) -> None:
    client = GitHub(github.url, lambda: "")
    with pytest.raises(GitHubError, match="is not an owner/repository name"):
        client.compare("../../users", "a", "b")
    assert github.requests() == []


def test_the_token_is_read_once_and_kept(github: FakeGitHub) -> None:
    # GIVEN a token getter that counts
    shas = _repo(github, 2)
    reads: list[int] = []

    def token() -> str:
        reads.append(1)
        return TOKEN

    client = GitHub(github.url, token)
    # WHEN two pages are read
    client.compare(REPO, shas[0], shas[1])
    client.compare(REPO, shas[0], shas[1])
    # THEN the secret was read once
    assert len(reads) == 1


# --- CodeCommit ---------------------------------------------------------------------------------


def _codecommit_event(head: int) -> Deployment:
    event = execution_event(9, commit_id(head), provider="CodeCommit")
    assert event.commit is not None
    return replace(event, commit=replace(event.commit, repository=CODECOMMIT_REPO))


def _codecommit_history(base: int) -> dict[str, Any]:
    """Run 8 made commit `base` of a CodeCommit source live (a plain-text summary, the
    console's commit page as its URL)."""
    live = summary(8, commit_id(base))
    live["sourceRevisions"][0].update(
        revisionSummary=f"Change {base}",
        revisionUrl=f"https://{REGION}.console.aws.amazon.com/codesuite/codecommit/"
        f"repositories/{CODECOMMIT_REPO}/commit/{commit_id(base)}?region={REGION}",
    )
    return live


def _expect_commits(aws: Setup, ask: list[int], commits: list[dict[str, Any]]) -> None:
    aws.commits.add_response(
        "batch_get_commits",
        {"commits": commits, "errors": []},
        {"repositoryName": CODECOMMIT_REPO, "commitIds": [commit_id(n) for n in ask]},
    )


def test_codecommit_walks_the_parents_back_to_what_was_live(aws: Setup) -> None:
    # GIVEN commits 1 <- 2 <- 3 <- 4 (4 is the head), and 1 was live
    aws.history(_codecommit_history(1))
    _expect_commits(aws, [4, 1], [codecommit_commit(4, [3]), codecommit_commit(1, [0])])
    _expect_commits(aws, [3], [codecommit_commit(3, [2])])
    _expect_commits(aws, [2], [codecommit_commit(2, [1])])
    # WHEN looked up
    diff = _diff(aws.lookup("http://127.0.0.1:9"), _codecommit_event(4)).diff
    # THEN three commits, newest first, and the console's compare page
    assert diff is not None
    assert diff.count == 3
    assert diff.complete
    assert [c.title for c in diff.changes] == ["Change 4", "Change 3", "Change 2"]
    assert diff.compare_url == (
        f"https://{REGION}.console.aws.amazon.com/codesuite/codecommit/repositories/"
        f"{CODECOMMIT_REPO}/compare/{commit_id(1)}/.../{commit_id(4)}?region={REGION}"
    )
    assert [p.email for p in diff.authors] == ["mary@example.com"]


def test_codecommit_does_not_count_old_work_merged_in(aws: Setup) -> None:
    # GIVEN head 6 merges 5 (on top of live commit 4) and 2, a branch older than commit 4
    aws.history(_codecommit_history(4))
    _expect_commits(aws, [6, 4], [codecommit_commit(6, [5, 2]), codecommit_commit(4, [3])])
    _expect_commits(aws, [5, 2], [codecommit_commit(5, [4]), codecommit_commit(2, [1])])
    # WHEN looked up
    diff = _diff(aws.lookup("http://127.0.0.1:9"), _codecommit_event(6)).diff
    # THEN 6 and 5 are the new commits; 2 is older than what was live and ends its branch
    assert diff is not None
    assert [c.sha for c in diff.changes] == [commit_id(6), commit_id(5)]
    assert diff.complete


def test_codecommit_stops_at_max_commits_and_says_there_are_more(aws: Setup) -> None:
    # GIVEN max_commits = 2 and a long history
    aws.history(_codecommit_history(1))
    _expect_commits(aws, [9, 1], [codecommit_commit(9, [8]), codecommit_commit(1, [0])])
    _expect_commits(aws, [8], [codecommit_commit(8, [7])])
    settings = ReleaseSettings(max_commits=2)
    # WHEN looked up
    diff = _diff(aws.lookup("http://127.0.0.1:9", release=settings), _codecommit_event(9)).diff
    # THEN two commits and "more": the count is a lower bound
    assert diff is not None
    assert (diff.count, diff.complete) == (2, False)


def test_codecommit_refusal_is_a_note(aws: Setup) -> None:
    aws.history(_codecommit_history(1))
    aws.commits.add_client_error(
        "batch_get_commits", "EncryptionKeyAccessDeniedException", "KMS says no", 400
    )
    diff = _diff(aws.lookup("http://127.0.0.1:9"), _codecommit_event(3)).diff
    assert diff is not None
    assert diff.count is None
    assert diff.note.startswith("Commit list unavailable: EncryptionKeyAccessDeniedException")


# --- CodeDeploy deployment groups ---------------------------------------------------------------


def _group_deployment() -> Deployment:
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=Status.SUCCEEDED,
        region=REGION,
        application="legacy",
        deployment_group="prod",
        deployment_id="d-NEW",
    )


def _github_revision(sha: str) -> dict[str, Any]:
    return {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": REPO, "commitId": sha},
    }


def test_a_deployment_group_compares_with_its_last_successful_deployment(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN d-NEW deploys commit 3 of a GitHub revision; d-OLD (commit 1) was the last success
    shas = _repo(github, 4)
    aws.deploy.add_response(
        "get_deployment",
        {
            "deploymentInfo": {
                "deploymentId": "d-NEW",
                "creator": "user",
                "revision": _github_revision(shas[3]),
            }
        },
        {"deploymentId": "d-NEW"},
    )
    aws.deploy.add_response(
        "get_deployment_group",
        {"deploymentGroupInfo": {"lastSuccessfulDeployment": {"deploymentId": "d-OLD"}}},
        {"applicationName": "legacy", "deploymentGroupName": "prod"},
    )
    aws.deploy.add_response(
        "get_deployment",
        {"deploymentInfo": {"deploymentId": "d-OLD", "revision": _github_revision(shas[1])}},
        {"deploymentId": "d-OLD"},
    )
    # WHEN looked up
    event = _diff(aws.lookup(github.url), _group_deployment())
    # THEN the diff is commit 1..3, and the creator says who started it
    assert event.diff is not None
    assert (event.diff.base, event.diff.head, event.diff.count) == (shas[1], shas[3], 2)
    assert event.diff.base_run == "d-OLD"
    assert event.started_by is not None
    assert event.started_by.how == "user"


def test_a_succeeded_deployment_compares_with_its_previous_revision(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN d-NEW is itself the group's last success: its previousRevision was live before
    shas = _repo(github, 3)
    aws.deploy.add_response(
        "get_deployment",
        {
            "deploymentInfo": {
                "deploymentId": "d-NEW",
                "creator": "CodeDeployAutoUpdate",
                "revision": _github_revision(shas[2]),
                "previousRevision": _github_revision(shas[0]),
            }
        },
        {"deploymentId": "d-NEW"},
    )
    aws.deploy.add_response(
        "get_deployment_group",
        {"deploymentGroupInfo": {"lastSuccessfulDeployment": {"deploymentId": "d-NEW"}}},
        {"applicationName": "legacy", "deploymentGroupName": "prod"},
    )
    # WHEN looked up
    event = _diff(aws.lookup(github.url), _group_deployment())
    # THEN 0..2, started by CodeDeploy's auto-update
    assert event.diff is not None
    assert (event.diff.base, event.diff.count) == (shas[0], 2)
    assert event.started_by is not None
    assert event.started_by.how == "CodeDeployAutoUpdate"


# --- inside the enricher ------------------------------------------------------------------------


def test_the_enricher_adds_the_diff_beside_the_commit_under_one_deadline(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN an execution whose notification names no commit: the enricher reads it, and the
    # release lookup reads the history
    shas = _repo(github, 4)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    aws.pipeline.add_response(
        "get_pipeline_execution",
        {
            "pipelineExecution": {
                "pipelineExecutionId": execution_id(2),
                "artifactRevisions": [
                    {
                        "name": "SourceArtifact",
                        "revisionId": shas[3],
                        "revisionSummary": '{"ProviderType":"GitHub","CommitMessage":"Change 3"}',
                        "revisionUrl": f"https://{REGION}.console.aws.amazon.com/codesuite/settings/"
                        f"connections/redirect?connectionArn={CONNECTION}&referenceType=COMMIT"
                        f"&FullRepositoryId={REPO}&Commit={shas[3]}",
                    }
                ],
            }
        },
        {"pipelineName": PIPELINE, "pipelineExecutionId": execution_id(2)},
    )
    aws.pipeline.add_client_error("get_pipeline", "AccessDeniedException", "no", 400)
    config = Config(enrich=EnrichSettings(timeout_seconds=5))
    enricher = Enricher(
        aws.cp, aws.cd, config, executor=InlineExecutor(), release=aws.lookup(github.url)
    )
    event = replace(execution_event(2, shas[3]), commit=None)
    # WHEN enriched
    enriched = enricher.enrich(event)
    # THEN it has both the commit and the diff
    assert enriched.commit is not None
    assert enriched.commit.sha == shas[3]
    assert enriched.diff is not None
    assert enriched.diff.count == 2
    assert all(not note.startswith("Changes") for note in enriched.notes)


def test_release_off_makes_no_call(aws: Setup, github: FakeGitHub) -> None:
    lookup = aws.lookup(github.url, release=ReleaseSettings(enabled=False))
    assert lookup.start(execution_event(2, "c" * 40), _run()) is None


def test_parts_of_a_run_have_no_diff_of_their_own(aws: Setup, github: FakeGitHub) -> None:
    stage = replace(execution_event(2, "c" * 40), scope=Scope.STAGE, stage="Deploy")
    assert aws.lookup(github.url).start(stage, _run()) is None


def test_a_diff_that_failed_is_not_kept(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN a first lookup that hit GitHub's rate limit
    shas = _repo(github, 3)
    github.fault = "rate_limit"
    aws.history(summary(1, shas[1]), summary(2, shas[2], status="InProgress"))
    lookup = aws.lookup(github.url)
    assert _diff(lookup, execution_event(2, shas[2])).diff == ReleaseDiff(
        shas[1],
        shas[2],
        repository=REPO,
        compare_url=f"https://github.com/{REPO}/compare/{shas[1]}...{shas[2]}",
        note="Commit list unavailable: GitHub's rate limit is used up until 11:06 UTC",
        base_run=execution_id(1),
    )
    # WHEN the run's next event comes, with GitHub back
    github.fault = ""
    aws.history(summary(1, shas[1]), summary(2, shas[2]))
    # THEN it is looked up again, and listed this time
    diff = _diff(lookup, execution_event(2, shas[2])).diff
    assert diff is not None
    assert diff.count == 1


# --- people -------------------------------------------------------------------------------------


def test_authors_become_slack_users_through_people_then_lookup_by_email(
    aws: Setup, github: FakeGitHub, fake_slack: FakeSlack
) -> None:
    # GIVEN Alice is in [people] by her login, Bob only in Slack (by e-mail), Carol nowhere
    repo = github.repository(REPO)
    carol = Author("Carol", "carol@example.com", "carol")
    shas = [repo.add(f"Change {i}", author) for i, author in enumerate([ALICE, BOB, carol, ALICE])]
    aws.history(summary(1, shas[0]), summary(2, shas[3], status="InProgress"))
    fake_slack.scopes += ",users:read.email"
    fake_slack.users = {"bob@example.com": slack_user("U0BOB", "bob@example.com")}
    directory = SlackDirectory(WebClient(token=SLACK_TOKEN, base_url=fake_slack.api_url))
    settings = ReleaseSettings(people={"alice": "U0ALICE"})
    lookup = aws.lookup(github.url, release=settings, people=directory)
    # WHEN looked up
    diff = _diff(lookup, execution_event(2, shas[3])).diff
    # THEN Alice and Bob are Slack users, Carol stays her login (one commit each: first
    # come first); the titles' authors too
    assert diff is not None
    assert [(p.login or p.name, p.slack_id) for p in diff.authors] == [
        ("Bob Builder", "U0BOB"),
        ("carol", ""),
        ("alice", "U0ALICE"),
    ]
    assert [c.author.slack_id for c in diff.changes] == ["U0ALICE", "", "U0BOB"]
    # AND Slack was asked about Bob and Carol (Alice is mapped), once each
    asked = sorted(call["email"] for call in fake_slack.calls_to("users.lookupByEmail"))
    assert asked == ["bob@example.com", "carol@example.com"]


# --- comparing early, on the base this container saw last ---------------------------------


def test_the_next_run_is_compared_early_with_the_last_success_seen(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN the lookup saw run 2 succeed (commit 3) in run 2's history
    shas = _repo(github, 8)
    lookup = aws.lookup(github.url)
    aws.history(summary(1, shas[1]), summary(2, shas[3]))
    _diff(lookup, execution_event(2, shas[3]))
    before = len(github.requests())
    # WHEN run 3 (commit 6, named by its notification) starts, and its history agrees
    aws.history(summary(2, shas[3]), summary(3, shas[6], status="InProgress"))
    diff = _diff(lookup, execution_event(3, shas[6], status=Status.STARTED)).diff
    # THEN the comparison started on the guess is the one used: one GitHub call, not two
    assert diff is not None
    assert (diff.base, diff.count) == (shas[3], 3)
    assert len(github.requests()) - before == 1


def test_a_wrong_guess_is_dropped_for_what_the_history_says(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN the lookup last saw run 1 succeed, but run 2 succeeded since (in another container)
    shas = _repo(github, 8)
    lookup = aws.lookup(github.url)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    _diff(lookup, execution_event(2, shas[3], status=Status.STARTED))
    before = len(github.requests())
    # WHEN run 3 comes, and its history names run 2 as the last success
    aws.history(summary(2, shas[3]), summary(3, shas[6], status="InProgress"))
    diff = _diff(lookup, execution_event(3, shas[6])).diff
    # THEN the diff starts at run 2's commit (the guess from run 1 cost one call, unused)
    assert diff is not None
    assert (diff.base, diff.base_run, diff.count) == (shas[3], execution_id(2), 3)
    assert len(github.requests()) - before == 2


# --- on real threads, past the deadline -----------------------------------------------------------
# Production runs the diff on the lookup's own pools while `finish` waits until the event's
# deadline: what the diff found by then stays on the message.


def _diff_on_threads(
    lookup: ReleaseLookup, event: Deployment, run: Run
) -> tuple[Deployment, Future[Any] | None]:
    pending = lookup.start(event, run)
    assert pending is not None
    return lookup.finish(event, pending, run), pending.branch


def test_a_late_github_on_real_threads_leaves_the_link_and_a_note(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN GitHub answers after 2 s and the event's deadline is 0.5 s away
    shas = _repo(github, 4)
    github.delay = 2.0
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    # WHEN looked up on the lookup's own threads
    lookup = aws.lookup(github.url, threads=True)
    event, _ = _diff_on_threads(lookup, execution_event(2, shas[3]), _run(0.5))
    # THEN the compare link is there (it needs no network), with a note instead of the list
    diff = event.diff
    assert diff is not None
    assert diff.compare_url == f"https://github.com/{REPO}/compare/{shas[1]}...{shas[3]}"
    assert (diff.base, diff.head, diff.count) == (shas[1], shas[3], None)
    assert diff.note.startswith("Commit list unavailable: ")


def test_a_slow_slack_lookup_keeps_the_commits_without_mentions(
    aws: Setup, github: FakeGitHub, fake_slack: FakeSlack
) -> None:
    # GIVEN GitHub answers at once, but users.lookupByEmail takes 3 s and the deadline is 1 s
    shas = _repo(github, 4)
    aws.history(summary(1, shas[0]), summary(2, shas[3], status="InProgress"))
    fake_slack.delay = 3.0
    fake_slack.users = {"bob@example.com": slack_user("U0BOB", "bob@example.com")}
    directory = SlackDirectory(WebClient(token=SLACK_TOKEN, base_url=fake_slack.api_url))
    lookup = aws.lookup(github.url, threads=True, people=directory)
    # WHEN looked up on the lookup's own threads
    event, _ = _diff_on_threads(lookup, execution_event(2, shas[3]), _run(1.0))
    # THEN the commits GitHub listed are there; the authors stay plain text
    diff = event.diff
    assert diff is not None
    assert diff.count == 3
    assert [c.title for c in diff.changes] == ["Change 3", "Change 2", "Change 1"]
    assert diff.note == ""
    assert [p.slack_id for p in diff.authors] == ["", ""]


def test_a_codecommit_walk_past_the_deadline_keeps_the_commits_it_walked(aws: Setup) -> None:
    # GIVEN commits 0 <- 1 <- ... <- 49, commit 0 live, and CodeCommit's 5th answer is held
    # back until the event's deadline (1 s) has passed
    aws.history(_codecommit_history(0))
    _expect_commits(aws, [49, 0], [codecommit_commit(49, [48]), codecommit_commit(0, [])])
    for n in (48, 47, 46, 45):
        _expect_commits(aws, [n], [codecommit_commit(n, [n - 1])])
    held = threading.Event()
    asked: list[int] = []

    def hold(**_: Any) -> None:
        asked.append(1)
        if len(asked) == 5:
            held.wait(10)

    aws.cc.meta.events.register("before-parameter-build.codecommit.BatchGetCommits", hold)
    lookup = aws.lookup("http://127.0.0.1:9", threads=True)
    # WHEN looked up on the lookup's own threads
    event, branch = _diff_on_threads(lookup, _codecommit_event(49), _run(1.0))
    held.set()
    assert branch is not None
    branch.result(timeout=10)  # the walk ends (the held answer is used): Stubber's queue empties
    # THEN the four commits walked by the deadline are there, as "4+ commits"
    diff = event.diff
    assert diff is not None
    assert (diff.count, diff.complete) == (4, False)
    assert [c.title for c in diff.changes] == ["Change 49", "Change 48", "Change 47", "Change 46"]
    assert diff.compare_url.endswith(f"{commit_id(0)}/.../{commit_id(49)}?region={REGION}")


def test_a_late_second_page_on_real_threads_keeps_the_first(aws: Setup, github: FakeGitHub) -> None:
    # GIVEN 150 commits (two pages of 100); page 1 answers at once, page 2 after 2 s, and the
    # event's deadline is 1 s away
    shas = _repo(github, 152)
    github.later_pages_delay = 2.0
    aws.history(summary(1, shas[1]), summary(2, shas[151], status="InProgress"))
    # WHEN looked up on the lookup's own threads
    lookup = aws.lookup(github.url, threads=True)
    event, _ = _diff_on_threads(lookup, execution_event(2, shas[151]), _run(1.0))
    # THEN the count and page 1's commits are there, with a note that some are not listed
    diff = event.diff
    assert diff is not None
    assert diff.count == 150
    assert diff.changes[0].title == "Change 101"
    assert diff.note.startswith("some commits are not listed: ")


def test_a_token_that_could_not_be_read_is_asked_for_again_within_a_minute(
    github: FakeGitHub,
) -> None:
    # GIVEN a token getter that fails once (None: configured, but AWS refused), then answers
    shas = _repo(github, 2)
    answers: list[str | None] = [None, TOKEN]
    now = [0.0]
    client = GitHub(github.url, lambda: answers.pop(0), clock=lambda: now[0])
    # WHEN a page is read, then another a minute later
    client.compare(REPO, shas[0], shas[1])
    now[0] = 61.0
    client.compare(REPO, shas[0], shas[1])
    # THEN the first went without a token, and the second asked again and had it
    assert [r["authorization"] for r in github.requests()] == ["", f"Bearer {TOKEN}"]


# --- which GitHub GITHUB_API_URL serves ---------------------------------------------------------

GHE_API = "https://ghe.example/api/v3"


def test_a_github_enterprise_repository_is_not_sent_to_github_com(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN a GitHub Enterprise Server repository, and GITHUB_API_URL left at api.github.com
    shas = _repo(github, 4)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    event = execution_event(2, shas[3], provider="GitHubEnterpriseServer")
    # WHEN looked up (the client that would go to api.github.com is the fake)
    diff = _diff(aws.lookup(github.url, configured=DEFAULT_GITHUB_API_URL), event).diff
    # THEN GitHub.com was not asked (no internal repository name or SHA leaves), and the note
    # says what to set
    assert github.requests() == []
    assert diff is not None
    assert diff.count is None
    assert "set GITHUB_API_URL" in diff.note
    assert "private or gone" not in diff.note


def test_a_github_com_repository_is_not_sent_to_github_enterprise(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN a github.com repository, and GITHUB_API_URL naming a GitHub Enterprise Server
    shas = _repo(github, 4)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    # WHEN looked up
    diff = _diff(aws.lookup(github.url, configured=GHE_API), execution_event(2, shas[3])).diff
    # THEN the Enterprise server was not asked; the github.com link stays, with the note
    assert github.requests() == []
    assert diff is not None
    assert diff.compare_url == f"https://github.com/{REPO}/compare/{shas[1]}...{shas[3]}"
    assert "set GITHUB_API_URL" in diff.note


def test_a_github_enterprise_repository_is_asked_at_its_own_api(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN a GitHub Enterprise Server repository, and GITHUB_API_URL naming that server
    shas = _repo(github, 4)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    event = execution_event(2, shas[3], provider="GitHubEnterpriseServer")
    # WHEN looked up
    diff = _diff(aws.lookup(github.url, configured=GHE_API), event).diff
    # THEN its API was asked, and the link goes to the server
    assert diff is not None
    assert diff.count == 2
    assert diff.compare_url == f"https://ghe.example/{REPO}/compare/{shas[1]}...{shas[3]}"


# --- the approval request ------------------------------------------------------------------------


def test_an_approval_request_gets_the_diff_of_the_execution_it_waits_in(
    aws: Setup, github: FakeGitHub
) -> None:
    # GIVEN run 2 (commit 3) waits at a manual approval; run 1 made commit 1 live
    shas = _repo(github, 4)
    aws.history(summary(1, shas[1]), summary(2, shas[3], status="InProgress"))
    approval = replace(
        execution_event(2, shas[3], status=Status.STARTED),
        scope=Scope.APPROVAL,
        stage="Approve",
        action="Release",
    )
    # WHEN the approval request is looked up
    diff = _diff(aws.lookup(github.url), approval).diff
    # THEN it carries what the approver is asked to let through
    assert diff is not None
    assert (diff.base, diff.head, diff.count) == (shas[1], shas[3], 2)
