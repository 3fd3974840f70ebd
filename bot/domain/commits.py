"""Pure helpers for commits: message splitting, summary parsing and provider links."""

from __future__ import annotations

from urllib.parse import quote

from bot.domain.coerce import maybe_json
from bot.domain.model import Commit
from bot.domain.urls import is_branch, is_region, is_repository, is_sha

_WEB_HOSTS = {
    "github": "https://github.com/{repo}/commit/{sha}",
    "bitbucket": "https://bitbucket.org/{repo}/commits/{sha}",
    "gitlab": "https://gitlab.com/{repo}/-/commit/{sha}",
}
_BRANCH_URLS = {
    "github": "https://github.com/{repo}/tree/{branch}",
    "bitbucket": "https://bitbucket.org/{repo}/branch/{branch}",
    "gitlab": "https://gitlab.com/{repo}/-/tree/{branch}",
}
# How many path segments a repository has on each host: owner/name, group[/subgroup...]/project.
_SEGMENTS = {"github": (2, 2), "bitbucket": (2, 2), "gitlab": (2, 6), "codecommit": (1, 1)}
_CODECOMMIT = "https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repo}"


def split_message(message: str) -> tuple[str, str]:
    """Split a commit message into its title (first line) and body (the rest, trimmed)."""
    text = message.replace("\r\n", "\n").strip("\n")
    title, _, body = text.partition("\n")
    return title.strip(), body.strip("\n")


def parse_revision_summary(summary: str) -> tuple[str, str]:
    """Return (provider, commit message) from a revision or execution summary.

    CodeStar-connection sources give a JSON string
    (``{"ProviderType":"GitHub","CommitMessage":"..."}``); GitHub v1 and CodeCommit give the
    message as plain text.
    """
    data = maybe_json(summary)
    if isinstance(data, dict):
        return str(data.get("ProviderType") or ""), str(data.get("CommitMessage") or "")
    return "", summary


def _provider_key(provider: str) -> str:
    lowered = provider.lower()
    for key in ("github", "bitbucket", "gitlab", "codecommit"):
        # GitHubEnterpriseServer and GitLabSelfManaged live on hosts we cannot know.
        if lowered == key:
            return key
    return ""


def commit_links(
    provider: str, repository: str, sha: str, branch: str, region: str = ""
) -> tuple[str, str]:
    """Return (commit URL, branch URL) for a repository on a known host, else empty strings.

    Every part comes from a notification, so each is checked before it goes into a link: the
    region becomes part of the host, the others one path segment each (bot/domain/urls.py).
    """
    key = _provider_key(provider)
    if not key or not is_repository(repository):
        return "", ""
    fewest, most = _SEGMENTS[key]
    if not fewest <= repository.count("/") + 1 <= most:
        return "", ""
    repo = quote(repository, safe="/")
    commit_q = quote(sha, safe="") if is_sha(sha) else ""
    branch_q = quote(branch, safe="/") if is_branch(branch) else ""
    if key == "codecommit":
        if not is_region(region):
            return "", ""
        base = _CODECOMMIT.format(region=region, repo=repo)
        commit = f"{base}/commit/{commit_q}?region={region}" if commit_q else ""
        branch_url = f"{base}/browse/refs/heads/{branch_q}?region={region}" if branch_q else ""
        return commit, branch_url
    commit = _WEB_HOSTS[key].format(repo=repo, sha=commit_q) if commit_q else ""
    branch_url = _BRANCH_URLS[key].format(repo=repo, branch=branch_q) if branch_q else ""
    return commit, branch_url


def build_commit(
    *,
    sha: str,
    message: str = "",
    author: str = "",
    branch: str = "",
    repository: str = "",
    provider: str = "",
    region: str = "",
    commit_url: str = "",
    confirmed: bool = True,
) -> Commit:
    """Assemble a Commit, deriving title, body and links from what the source gave."""
    title, body = split_message(message)
    derived_commit_url, branch_url = commit_links(provider, repository, sha, branch, region)
    return Commit(
        sha=sha,
        title=title,
        body=body,
        author=author,
        branch=branch,
        repository=repository,
        commit_url=commit_url or derived_commit_url,
        branch_url=branch_url,
        confirmed=confirmed,
        provider=provider,
    )
