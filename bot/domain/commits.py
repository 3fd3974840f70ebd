"""Pure helpers for commits: message splitting, summary parsing and provider links."""

from __future__ import annotations

import json
from urllib.parse import quote

from bot.domain.model import Commit

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
    stripped = summary.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return "", summary
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
    """Return (commit URL, branch URL) for a repository on a known host, else empty strings."""
    key = _provider_key(provider)
    if not key or not repository:
        return "", ""
    repo = quote(repository, safe="/")
    branch_q = quote(branch, safe="/")
    sha_q = quote(sha, safe="")
    if key == "codecommit":
        if not region:
            return "", ""
        base = _CODECOMMIT.format(region=region, repo=repo)
        commit = f"{base}/commit/{sha_q}?region={region}" if sha else ""
        branch_url = f"{base}/browse/refs/heads/{branch_q}?region={region}" if branch else ""
        return commit, branch_url
    commit = _WEB_HOSTS[key].format(repo=repo, sha=sha_q) if sha else ""
    branch_url = _BRANCH_URLS[key].format(repo=repo, branch=branch_q) if branch else ""
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
