"""A local fake of GitHub's REST API "Compare two commits", over real HTTP on loopback.

Shapes from GitHub's docs (github/rest-api-docs-md `repos/{owner}/{repo}/compare/{basehead}`,
github/docs "Using pagination in the REST API", "Rate limits for the REST API",
"Troubleshooting the REST API"):

- `GET /repos/{owner}/{repo}/compare/{base}...{head}`: `status` (ahead, behind, diverged,
  identical), `ahead_by`, `behind_by`, `total_commits`, `commits` oldest first (each with `sha`,
  `html_url`, `commit.{author,committer,message}`, `author` = the GitHub account or null),
  `files` on the first page only. Without `per_page`/`page`: at most 250 commits, the newest
  last; with them: at most 100 per page and a `link` header (next, last, first, prev).
- A private repository answers 404 without a token that can see it; a bad token 401.
- The primary rate limit: 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`; a
  secondary rate limit: 403 or 429 with a message saying so and `retry-after`.

Each repository is a linear history (oldest first); a compare of two of its commits gives the
commits between them, as `git log BASE..HEAD` would, in chronological order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_aws import Call
from tests.loopback import Loopback

TOKEN = "ghp_testtoken"
DOCS = "https://docs.github.com/rest/commits/commits#compare-two-commits"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)


@dataclass
class Author:
    """Who wrote a commit: git's name and e-mail, and the GitHub login if the e-mail is linked."""

    name: str
    email: str
    login: str | None = None


def sha_of(repository: str, index: int) -> str:
    """A stable 40-hex commit id for the `index`-th commit of `repository`."""
    return hashlib.sha1(f"{repository}#{index}".encode()).hexdigest()


@dataclass
class Repository:
    """A linear history, oldest first, and whether it needs a token to be seen."""

    name: str
    history: list[tuple[str, str, Author]] = field(default_factory=list)  # (sha, message, author)
    private: bool = False

    def add(self, message: str, author: Author) -> str:
        sha = sha_of(self.name, len(self.history))
        self.history.append((sha, message, author))
        return sha

    def index(self, sha: str) -> int:
        return next(i for i, (s, _, _) in enumerate(self.history) if s == sha)


@dataclass
class FakeGitHub(Loopback):
    """Start with `FakeGitHub.start()`; stop with `close()`."""

    repositories: dict[str, Repository] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    fault: str = ""  # "rate_limit", "secondary", "server" for every request while set
    reset: str = "1795000000"  # x-ratelimit-reset: when the rate limit resets (epoch seconds)
    delay: float = 0.0
    later_pages_delay: float = 0.0  # more seconds for pages after the first
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, delay: float = 0.0) -> FakeGitHub:
        fake = cls(delay=delay)
        fake.serve(_make_handler(fake))
        return fake

    def repository(self, name: str, *, private: bool = False) -> Repository:
        repo = Repository(name, private=private)
        self.repositories[name.lower()] = repo
        return repo

    def requests(self) -> list[dict[str, Any]]:
        """What each request asked: path and query."""
        with self.lock:
            return [c.params for c in self.calls]


def _commit_item(api: str, web: str, repo: Repository, index: int) -> dict[str, Any]:
    sha, message, author = repo.history[index]
    person = {"name": author.name, "email": author.email, "date": "2026-11-20T10:00:00Z"}
    account = {"login": author.login, "id": 1000 + index, "type": "User"} if author.login else None
    parents = [repo.history[index - 1][0]] if index else []
    return {
        "url": f"{api}/repos/{repo.name}/commits/{sha}",
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "html_url": f"{web}/{repo.name}/commit/{sha}",
        "comments_url": f"{api}/repos/{repo.name}/commits/{sha}/comments",
        "commit": {
            "url": f"{api}/repos/{repo.name}/git/commits/{sha}",
            "author": person,
            "committer": person,
            "message": message,
            "tree": {"sha": sha[::-1], "url": f"{api}/repos/{repo.name}/git/trees/{sha[::-1]}"},
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
            },
        },
        "author": account,
        "committer": account,
        "parents": [{"sha": p, "url": f"{api}/repos/{repo.name}/commits/{p}"} for p in parents],
    }


def compare(
    api: str, repo: Repository, base: str, head: str, query: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """The compare answer and its `link` header, as GitHub builds them."""
    web = "https://github.com"
    old, new = repo.index(base), repo.index(head)
    ahead, behind = max(0, new - old), max(0, old - new)
    status = "identical" if old == new else ("ahead" if new > old else "behind")
    indexes = list(range(old + 1, new + 1))
    link = ""
    if "page" in query or "per_page" in query:
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        last = max(1, -(-len(indexes) // per_page))
        shown = indexes[(page - 1) * per_page : page * per_page]
        link = _link(
            f"{api}/repositories/{1300192}/compare/{base}...{head}",
            per_page,
            page,
            last,
        )
    else:
        shown = indexes[-250:]
    body = {
        "url": f"{api}/repos/{repo.name}/compare/{base}...{head}",
        "html_url": f"{web}/{repo.name}/compare/{base}...{head}",
        "permalink_url": f"{web}/{repo.name}/compare/{repo.name.split('/')[0]}:{base}..."
        f"{repo.name.split('/')[0]}:{head}",
        "diff_url": f"{web}/{repo.name}/compare/{base}...{head}.diff",
        "patch_url": f"{web}/{repo.name}/compare/{base}...{head}.patch",
        "base_commit": _commit_item(api, web, repo, old),
        "merge_base_commit": _commit_item(api, web, repo, min(old, new)),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [_commit_item(api, web, repo, i) for i in shown],
    }
    if query.get("page", "1") == "1":
        body["files"] = []
    return body, link


def _link(url: str, per_page: int, page: int, last: int) -> str:
    rels = []
    if page < last:
        rels += [(page + 1, "next"), (last, "last")]
    if page > 1:
        rels += [(page - 1, "prev"), (1, "first")]
    return ", ".join(f'<{url}?per_page={per_page}&page={n}>; rel="{rel}"' for n, rel in rels)


def _make_handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            started = time.monotonic()
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            call = Call(
                "compare",
                {
                    "path": unquote(parts.path),
                    "query": query,
                    "authorization": self.headers.get("Authorization", ""),
                    "user_agent": self.headers.get("User-Agent", ""),
                    "version": self.headers.get("X-GitHub-Api-Version", ""),
                },
                started,
            )
            with fake.lock:
                fake.calls.append(call)
            time.sleep(
                fake.delay + (fake.later_pages_delay if query.get("page", "1") != "1" else 0)
            )
            status, body, headers = self._answer(parts.path, query)
            call.ended = time.monotonic()
            with contextlib.suppress(OSError):  # the client gave up (a timeout test)
                self._reply(status, body, headers)

        def _answer(
            self, path: str, query: dict[str, str]
        ) -> tuple[int, dict[str, Any], dict[str, str]]:
            limits = {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "4999",
                "x-ratelimit-used": "1",
                "x-ratelimit-reset": fake.reset,
                "x-ratelimit-resource": "core",
            }
            if fake.fault == "rate_limit":
                body = {
                    "message": "API rate limit exceeded for 203.0.113.42. (But here's the good "
                    "news: Authenticated requests get a higher rate limit. Check out the "
                    "documentation for more details.)",
                    "documentation_url": RATE_LIMIT_DOCS,
                }
                return (
                    403,
                    body,
                    {
                        **limits,
                        "x-ratelimit-limit": "60",
                        "x-ratelimit-remaining": "0",
                        "x-ratelimit-used": "60",
                    },
                )
            if fake.fault == "secondary":
                body = {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again. If you reach out to GitHub Support for help, "
                    "please include the request ID 0000:0000:0000:0000:00000000.",
                    "documentation_url": SECONDARY_DOCS,
                }
                return 429, body, {"retry-after": "60"}
            if fake.fault == "server":
                return 502, {"message": "Server Error"}, {}
            auth = self.headers.get("Authorization", "")
            if auth and auth != f"Bearer {TOKEN}":
                return (
                    401,
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/rest",
                        "status": "401",
                    },
                    {},
                )
            prefix, _, basehead = unquote(path).partition("/compare/")
            name = prefix.removeprefix("/repos/").lower()
            repo = fake.repositories.get(name)
            not_found = {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
            if repo is None or (repo.private and not auth) or "..." not in basehead:
                return 404, not_found, limits
            base, head = basehead.split("...", 1)
            known = {sha for sha, _, _ in repo.history}
            if base not in known or head not in known:
                return (
                    404,
                    {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                    limits,
                )
            api = f"http://{self.headers.get('Host')}"
            body, link = compare(api, repo, base, head, query)
            return 200, body, {**limits, **({"link": link} if link else {})}

    return Handler
