"""GitHub's "Compare two commits" API, on github.com or GitHub Enterprise Server. The I/O edge.

`GET /repos/{owner}/{repo}/compare/{base}...{head}?per_page=100&page=N` (GitHub REST docs,
"Compare two commits"): commits oldest first, `total_commits`, `status` (ahead, behind,
diverged, identical); with `per_page`/`page` at most 100 commits per page, and a `link` header
naming the next and last pages ("Using pagination in the REST API"). Errors as the docs describe
them ("Troubleshooting the REST API", "Rate limits for the REST API"): 404 for a private
repository the token cannot see, 401 for a bad token, 403 or 429 with `x-ratelimit-remaining: 0`
for the primary rate limit (until `x-ratelimit-reset`), 403 or 429 naming a secondary rate limit
(`retry-after`). Every failure is a GitHubError whose `reason` a message can show.

stdlib urllib, one short timeout per call and no retry: the diff is looked up under the
notification's deadline, and a failure only costs the commit list (the compare link stays).
The token is read on first use and kept for an hour (a token that could not be read: a minute);
it never reaches a log or a reason.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from bot.domain.coerce import as_count, well_formed

logger = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum for a paginated compare
TIMEOUT_SECONDS = 4.0
TOKEN_SECONDS = 3600.0  # a rotated token is picked up within the hour
RETRY_TOKEN_SECONDS = 60.0  # a token that could not be read is asked for again this soon
USER_AGENT = "deploybot"
_RESET_MAX = 4_102_444_800  # 2100-01-01: x-ratelimit-reset is within the hour, not centuries
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class GitHubError(Exception):
    """GitHub gave no usable answer; `reason` says why, in words a message can show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a compare answer, and the number of the last page (1 when there is one)."""

    body: Mapping[str, Any]
    last: int


def last_page(link: str, page: int) -> int:
    """The last page a `link` header names (rel="last", else rel="next"), at least `page`."""
    pages = {rel: url for url, rel in _LINK.findall(link)}
    url = pages.get("last") or pages.get("next")
    if not url:
        return page
    numbers = parse_qs(urlsplit(url).query).get("page") or ["0"]
    return max(page, as_count(numbers[0]))


class GitHub:
    """A client of one GitHub API root (https://api.github.com, or https://HOST/api/v3)."""

    def __init__(
        self,
        api_url: str,
        token: Callable[[], str | None],
        *,
        timeout: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._read_token = token
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[float, str] | None = None

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or self._token[0] <= self._clock():
                token = self._read_token()  # None: configured, but could not be read now
                keep = TOKEN_SECONDS if token is not None else RETRY_TOKEN_SECONDS
                self._token = (self._clock() + keep, token or "")
            return self._token[1]

    def compare(
        self, repository: str, base: str, head: str, page: int = 1, *, timeout: float = 0
    ) -> Page:
        """One page of base...head (oldest commits first); GitHubError when GitHub says no."""
        if not _REPOSITORY.fullmatch(repository):
            raise GitHubError(f"{repository!r} is not an owner/repository name")
        owner, name = repository.split("/")
        url = (
            f"{self.api_url}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/compare/"
            f"{quote(base, safe='')}...{quote(head, safe='')}?per_page={PER_PAGE}&page={page}"
        )
        token = self._bearer()
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (an http(s) URL)
        wait = min(timeout or self._timeout, self._timeout)
        try:
            with urllib.request.urlopen(request, timeout=max(wait, 0.1)) as answer:  # noqa: S310
                body = well_formed(json.loads(answer.read()))  # no lone surrogate goes on
                link = answer.headers.get("link") or ""
        except urllib.error.HTTPError as exc:
            raise GitHubError(_refusal(exc, repository, has_token=bool(token))) from None
        except (OSError, ValueError) as exc:  # timeouts, resets, refused, bad JSON
            raise GitHubError(f"GitHub did not answer ({type(exc).__name__})") from None
        if not isinstance(body, dict):
            raise GitHubError("GitHub's answer was not a comparison")
        return Page(body, last_page(link, page))


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = well_formed(json.loads(exc.read() or b"{}"))
    except (OSError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else ""
    return " ".join(str(message or "").split())[:200]


def _refusal(exc: urllib.error.HTTPError, repository: str, *, has_token: bool) -> str:
    """Why GitHub refused, as its docs tell the cases apart."""
    status, headers, message = exc.code, exc.headers, _message(exc)
    if status in (403, 429):
        limited = _rate_limited(headers, message)
        if limited:
            return limited
    if status == 404:
        if has_token:
            return f"GitHub answered 404: the token cannot see {repository}, or a commit is gone"
        return f"{repository} is private or gone: GitHub needs a token (GITHUB_TOKEN) to list it"
    if status == 401:
        return "GitHub refused the token (401 Bad credentials)"
    said = f": {message}" if message else ""
    return f"GitHub answered {status}{said}"


def _rate_limited(headers: Message, message: str) -> str:
    if headers.get("x-ratelimit-remaining") == "0":
        reset = as_count(headers.get("x-ratelimit-reset"))
        when = ""
        if 0 < reset < _RESET_MAX:
            when = datetime.fromtimestamp(reset, tz=UTC).strftime(" until %H:%M UTC")
        return f"GitHub's rate limit is used up{when}"
    if "secondary rate limit" in message.lower() or headers.get("retry-after"):
        after = headers.get("retry-after")
        return "GitHub's secondary rate limit" + (f" (retry after {after} s)" if after else "")
    return ""
