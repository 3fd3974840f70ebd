"""The release diff: what changed between the revision that was live before a run and the one it
ships. Pure: AWS and provider answers in, a ReleaseDiff out.

- The revision that was live before an execution is the one the newest execution that
  succeeded before it shipped (`live_before`, from list_pipeline_executions); a deployment
  group's is its last successful deployment's revision (`last_success`, `revision_of`).
  bot/aws/release.py reads those answers; a ledger of deployments can answer first.
- The compare link is built from the provider and repository alone, no token needed
  (`compare_url`); the commit list comes from GitHub's compare API (`from_github`) or from
  CodeCommit's commits (`from_codecommit`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bot.domain.codepipeline import pick_revision, revisions_from_summary
from bot.domain.coerce import as_count, as_map, as_str, mappings, parse_time
from bot.domain.commits import split_message
from bot.domain.model import Change, Person, ReleaseDiff
from bot.domain.people import identity

CHANGES_KEPT = 10  # commit titles kept per diff (what any message can show)
AUTHORS_KEPT = 10  # authors kept per diff; `author_count` says how many there were
TITLE_KEPT = 200
GITHUB_WEB = "https://github.com"

Response = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The revision that was live before a run: the base of its release diff."""

    sha: str
    run_id: str = ""  # the execution or deployment that made it live
    repository: str = ""  # "" when the answer does not say (then the run's own is assumed)


# --- compare links ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hosts:
    """Web roots the provider name alone does not tell: GitHub Enterprise, self-managed GitLab."""

    github_enterprise: str = ""  # e.g. https://github.example.com (from GITHUB_API_URL)
    gitlab_self_managed: str = ""  # e.g. https://gitlab.example.com ([release] gitlab_url)


def _provider_key(provider: str) -> str:
    return provider.replace(" ", "").lower()


def _valid_region(region: str) -> bool:
    return bool(region) and region.replace("-", "").isalnum()


def compare_url(
    provider: str,
    repository: str,
    base: str,
    head: str,
    *,
    region: str = "",
    hosts: Hosts = Hosts(),
) -> str:
    """The web page that shows base..head for a repository on a known host, else ""."""
    if not repository or not base or not head:
        return ""
    repo = quote(repository, safe="/")
    old, new = quote(base, safe=""), quote(head, safe="")
    roots = {
        "github": GITHUB_WEB,
        "githubenterpriseserver": hosts.github_enterprise,
        "gitlab": "https://gitlab.com",
        "gitlabselfmanaged": hosts.gitlab_self_managed,
    }
    key = _provider_key(provider)
    root = roots.get(key, "").rstrip("/")
    if key.startswith("github") and root:
        return f"{root}/{repo}/compare/{old}...{new}"
    if key.startswith("gitlab") and root:
        return f"{root}/{repo}/-/compare/{old}...{new}"
    if key == "bitbucket":  # Bitbucket Cloud names the newer revision first, with two dots
        return f"https://bitbucket.org/{repo}/branches/compare/{new}..{old}"
    if key == "codecommit" and _valid_region(region):
        console = f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories"
        return f"{console}/{repo}/compare/{old}/.../{new}?region={region}"
    return ""


def web_root(api_url: str) -> str:
    """GitHub's web root for its API URL: api.github.com -> github.com; GHE: drop /api/v3."""
    stripped = api_url.rstrip("/")
    if stripped in ("", "https://api.github.com"):
        return GITHUB_WEB
    return stripped.removesuffix("/api/v3")


# --- the revision that was live before ----------------------------------------------------


def live_before(
    summaries: Iterable[Response], execution_id: str, started_at: datetime | None = None
) -> Response | None:
    """The newest execution that succeeded before `execution_id` started, from a page of
    list_pipeline_executions (newest first), or None when the page cannot tell."""
    listed = list(summaries)
    ids = [s.get("pipelineExecutionId") for s in listed]
    if execution_id in ids:
        earlier = listed[ids.index(execution_id) + 1 :]
    elif started_at is not None:
        earlier = [
            s
            for s in listed
            if s.get("pipelineExecutionId") != execution_id
            and (parse_time(s.get("startTime")) or started_at) < started_at
        ]
    else:
        return None
    return next((s for s in earlier if s.get("status") == "Succeeded"), None)


def own_summary(summaries: Iterable[Response], execution_id: str) -> Response | None:
    """The entry of `execution_id` itself in a page of list_pipeline_executions."""
    return next((s for s in summaries if s.get("pipelineExecutionId") == execution_id), None)


def execution_baseline(summary: Response, source_action: str = "") -> Baseline | None:
    """The commit a succeeded execution shipped, on the source action that names the commit."""
    revision = pick_revision(revisions_from_summary(summary), source_action)
    if revision is None:
        return None
    return Baseline(revision.sha, as_str(summary.get("pipelineExecutionId")))


def last_success(group: Response) -> str:
    """The id of a get_deployment_group answer's lastSuccessfulDeployment, or ""."""
    info = as_map(group.get("deploymentGroupInfo"))
    return as_str(as_map(info.get("lastSuccessfulDeployment")).get("deploymentId"))


def revision_of(deployment: Response, key: str = "revision") -> Mapping[str, Any]:
    """A get_deployment answer's `revision` (or `previousRevision`: what was there before)."""
    return as_map(as_map(deployment.get("deploymentInfo")).get(key))


def revision_baseline(revision: Response, run_id: str) -> Baseline | None:
    """The commit of a CodeDeploy revision (GitHub revisions only; S3 bundles name none)."""
    github = as_map(revision.get("gitHubLocation"))
    sha = as_str(github.get("commitId"))
    if not sha:
        return None
    return Baseline(sha, run_id, as_str(github.get("repository")))


# --- commit lists ----------------------------------------------------------------------------


def _change(sha: str, message: str, author: Person, url: str = "") -> Change:
    title = split_message(message)[0]
    return Change(sha=sha, title=title[:TITLE_KEPT], author=author, url=url)


def summarize(base: str, head: str, newest_first: Sequence[Change], **facts: Any) -> ReleaseDiff:
    """A diff from its commits (newest first): the first few, and who wrote them, most first."""
    people: dict[str, Person] = {}
    counts: Counter[str] = Counter()
    for change in reversed(newest_first):  # ties go to whoever wrote first
        key = identity(change.author)
        if key:
            people.setdefault(key, change.author)
            counts[key] += 1
    ranked = sorted(people, key=lambda k: -counts[k])  # sorted() is stable: first-come on ties
    facts.setdefault("count", len(newest_first))
    return ReleaseDiff(
        base=base,
        head=head,
        changes=tuple(newest_first[:CHANGES_KEPT]),
        authors=tuple(people[k] for k in ranked[:AUTHORS_KEPT]),
        author_count=len(ranked),
        **facts,
    )


def github_status(page: Response) -> tuple[str, int, int]:
    """(status, ahead_by, behind_by) of a compare answer: ahead, behind, diverged or identical."""
    return (
        as_str(page.get("status")),
        as_count(page.get("ahead_by")),
        as_count(page.get("behind_by")),
    )


def github_changes(pages: Iterable[Response]) -> list[Change]:
    """The commits of compare answers (pages in order), newest first.

    GitHub lists them oldest first; `author` is the GitHub account (None when the e-mail is not
    linked to one), `commit.author` what git recorded.
    """
    changes = []
    for page in pages:
        for item in mappings(page.get("commits")):
            commit = as_map(item.get("commit"))
            git_author = as_map(commit.get("author"))
            account = as_map(item.get("author"))
            author = Person(
                name=as_str(git_author.get("name")),
                email=as_str(git_author.get("email")),
                login=as_str(account.get("login")),
            )
            changes.append(
                _change(
                    as_str(item.get("sha")),
                    as_str(commit.get("message")),
                    author,
                    as_str(item.get("html_url")),
                )
            )
    changes.reverse()
    return changes


def codecommit_changes(commits: Iterable[Response]) -> list[Change]:
    """BatchGetCommits answers' commits (in the order given) as changes."""
    changes = []
    for commit in commits:
        author = as_map(commit.get("author"))
        changes.append(
            _change(
                as_str(commit.get("commitId")),
                as_str(commit.get("message")),
                Person(name=as_str(author.get("name")), email=as_str(author.get("email"))),
            )
        )
    return changes


def commit_time(commit: Response) -> int:
    """When a CodeCommit commit was made, in epoch seconds ("1484167798 -0800"); 0 if unknown."""
    for who in ("committer", "author"):
        stamp = as_count(as_str(as_map(commit.get(who)).get("date")).split(" ")[0])
        if stamp:
            return stamp
    return 0


def parents(commit: Response) -> list[str]:
    """The parent commit ids of one CodeCommit commit."""
    return [p for p in commit.get("parents", []) if isinstance(p, str)]


def best_diff(diffs: Iterable[ReleaseDiff | None]) -> ReleaseDiff | None:
    """The most complete of the diffs several events of one run carry (they name one diff)."""
    known = [d for d in diffs if d is not None]
    return max(
        known,
        key=lambda d: (d.count is not None, d.complete, not d.note, len(d.changes)),
        default=None,
    )
