"""A local fake of Slack's Web API and incoming webhooks, served over real HTTP on loopback.

Tests point the real `WebClient` at it with `base_url`. It records every call, checks Block Kit
limits like Slack (`invalid_blocks`), and can be told to fail the next requests: 429 with
Retry-After, 500, a dropped connection, or a Slack error such as `channel_not_found`; or to
fail a share of all requests at random (seeded), including the worst kinds: a post that Slack
made but whose answer was lost or came too late. It keeps the channel's messages, so
chat.update edits them and conversations.history finds them by metadata, and it can enforce
chat.postMessage's rate limit (about one post per second per channel) with 429s.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.blockkit import modal_violations, violations
from tests.loopback import Loopback

TOKEN = "xoxb-test-token"
PAGE_MAX = 999  # conversations.history's largest page, per Slack's docs
PERMALINK = "https://example.slack.com/archives"
# Faults that strike after Slack did the work: the caller cannot tell whether it happened.
AFTER_WORK = ("lost", "timeout")
FAULT_KINDS = ("429", "500", "reset", "lost", "timeout")


@dataclass
class Call:
    """One request the fake received."""

    method: str  # "chat.postMessage", or "webhook" / "response_url"
    args: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeSlack(Loopback):
    """Start with `FakeSlack.start()`; stop with `close()`."""

    calls: list[Call] = field(default_factory=list)
    faults: deque[tuple[str, Any]] = field(default_factory=deque)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # What auth.test reports in x-oauth-scopes, and the workspace's channels by id.
    scopes: str = (  # manifest.yml's bot scopes
        "chat:write,chat:write.public,commands,channels:read,groups:read,channels:history,"
        "groups:history,usergroups:read,users:read,users:read.email"
    )
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by channel
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # members by user group id
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user objects by e-mail
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    rng: random.Random = field(default_factory=random.Random)
    retry_after: int = 0  # what a random 429 asks for
    timeout_delay: float = 0.0  # how long a "timeout" fault holds the answer back
    posts_per_second: float = 0.0  # 0: no rate limit
    delay: float = 0.0  # seconds every Web API answer takes (a round trip to Slack)
    last_post: dict[str, float] = field(default_factory=dict)
    last_ts: float = 0.0
    # An interaction's response_url works for 30 minutes (and 5 uses); after that Slack answers
    # 404 "expired_url".
    response_urls_expired: bool = False
    views: list[dict[str, Any]] = field(default_factory=list)  # modals opened with views.open

    @classmethod
    def start(cls) -> FakeSlack:
        fake = cls()
        fake.serve(_make_handler(fake))
        return fake

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook/T000/B000/secret"

    def fail_next(self, *faults: tuple[str, Any]) -> None:
        """Queue faults: ("429", retry_after), ("500", None), ("reset", None), ("error", code)."""
        self.faults.extend(faults)

    def chaos(
        self,
        rate: float,
        seed: int,
        *,
        kinds: tuple[str, ...] = FAULT_KINDS,
        retry_after: int = 0,
        timeout_delay: float = 0.3,
    ) -> None:
        """Fail `rate` of all requests at random (seeded) with one of `kinds`."""
        self.fault_rate = rate
        self.fault_kinds = kinds
        self.rng = random.Random(seed)
        self.retry_after = retry_after
        self.timeout_delay = timeout_delay

    def rate_limit(self, posts_per_second: float) -> None:
        """Answer 429 + Retry-After to posts that come faster than this in one channel."""
        self.posts_per_second = posts_per_second

    def posted_by_key(self) -> dict[tuple[str, str], int]:
        """How many messages are in the channels per (metadata key, slot)."""
        counts: dict[tuple[str, str], int] = {}
        for messages in self.messages.values():
            for message in messages:
                payload = (message.get("metadata") or {}).get("event_payload", {})
                ident = (payload.get("key", ""), payload.get("slot", ""))
                counts[ident] = counts.get(ident, 0) + 1
        return counts

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The message as the channel shows it now."""
        return next(m for m in self.messages[channel] if m["ts"] == ts)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Messages Slack accepted through chat.postMessage (rejected ones are not here)."""
        return [c.args for c in self.calls if c.method == "chat.postMessage" and c.args["_ok"]]

    def _next_fault(self) -> tuple[str, Any] | None:
        with self.lock:
            if self.faults:
                return self.faults.popleft()
            if self.fault_rate and self.rng.random() < self.fault_rate:
                kind = self.rng.choice(self.fault_kinds)
                return (kind, self.retry_after if kind == "429" else None)
            return None

    def _rate_limited(self, method: str, channel: str) -> int | None:
        """Seconds to wait when this post comes too soon after the last one, else None."""
        if method != "chat.postMessage" or not self.posts_per_second:
            return None
        with self.lock:
            now = time.monotonic()
            gap = 1 / self.posts_per_second
            wait = self.last_post.get(channel, -math.inf) + gap - now
            if wait > 0:
                return math.ceil(wait)
            self.last_post[channel] = now
            return None

    def _new_ts(self) -> str:
        with self.lock:  # Slack's ts is a time, and unique in a channel
            self.last_ts = max(time.time(), self.last_ts + 0.000001)
            return f"{self.last_ts:.6f}"


def _decode(body: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(body or b"{}")
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    for key in ("blocks", "metadata"):
        if isinstance(form.get(key), str):
            form[key] = json.loads(form[key])
    return form


def _make_handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            self._handle(query)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._handle(_decode(self.rfile.read(length), self.headers.get("Content-Type", "")))

        def _handle(self, args: dict[str, Any]) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/api/"):
                method = path.removeprefix("/api/")
            elif path.startswith("/webhook/"):
                method = "webhook"
            else:
                method = "response_url"
            if fake.delay and path.startswith("/api/"):
                time.sleep(fake.delay)
            call = Call(method, args, dict(self.headers.items()))
            with fake.lock:
                fake.calls.append(call)
            fault = fake._next_fault()
            args["_ok"] = False
            if fault is not None and fault[0] not in AFTER_WORK:
                kind, value = fault
                if kind == "reset":
                    self._drop()
                    return
                if kind == "429":
                    self._reply(
                        429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(value)}
                    )
                    return
                if kind == "500":
                    self._reply(500, b"server error")
                    return
                self._reply(200, {"ok": False, "error": value})
                return
            wait = fake._rate_limited(method, str(args.get("channel", "")))
            if wait is not None:
                self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)})
                return
            status, body = self._work(method, args)
            if fault is not None and fault[0] == "lost":
                self._drop()
                return
            if fault is not None and fault[0] == "timeout":
                time.sleep(fake.timeout_delay)
            # Slack names the token's scopes on every Web API answer.
            headers = {"x-oauth-scopes": fake.scopes} if path.startswith("/api/") else None
            with contextlib.suppress(OSError):  # after a timeout the client has gone: the point
                self._reply(status, body, headers)

        def _drop(self) -> None:
            self.close_connection = True
            self.connection.shutdown(2)

        def _work(self, method: str, args: dict[str, Any]) -> tuple[int, Any]:
            problems = violations(args)
            if method in ("views.open", "views.update"):
                problems = modal_violations(args.get("view") or {})
            if method == "webhook" and self.path.split("?")[0] != urlsplit(fake.webhook_url).path:
                return 404, b"no_service"  # Slack's answer for a removed incoming webhook
            if method == "response_url" and fake.response_urls_expired:
                return 404, b"expired_url"
            if method in ("webhook", "response_url"):
                if problems:
                    return 400, b"invalid_blocks"
                args["_ok"] = True
                return 200, b"ok"
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return 200, {"ok": False, "error": "invalid_auth"}
            if problems and method.startswith(("chat.", "views.")):
                args["_problems"] = problems
                return 200, {"ok": False, "error": "invalid_blocks", "errors": problems}
            answer = _answer(fake, method, args)
            args["_ok"] = answer["ok"]
            return 200, answer

    return Handler


def _history(fake: FakeSlack, channel: str, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.history as Slack pages it: newest first, at most `limit` (and never more
    than PAGE_MAX) a page, `has_more` and `response_metadata.next_cursor` while more are left
    (an empty cursor on the last page), the cursor being opaque to the caller."""
    oldest = float(args.get("oldest") or 0)
    with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    with fake.lock:
        shown = [
            {k: v for k, v in m.items() if with_metadata or k != "metadata"}
            for m in fake.messages.get(channel, [])
            if float(m["ts"]) > oldest and (not m.get("thread_ts") or m.get("reply_broadcast"))
        ]
    newest_first = shown[::-1]
    cursor = str(args.get("cursor") or "")
    start = int(base64.b64decode(cursor).decode().removeprefix("next_ts:")) if cursor else 0
    limit = min(int(args.get("limit") or 100), PAGE_MAX)
    page = newest_first[start : start + limit]
    more = start + limit < len(newest_first)
    token = base64.b64encode(f"next_ts:{start + limit}".encode()).decode() if more else ""
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": token},
    }


def _answer(fake: FakeSlack, method: str, args: dict[str, Any]) -> dict[str, Any]:
    channel = str(args.get("channel", "C000"))
    if method == "chat.postMessage":
        ts = fake._new_ts()
        shown = {k: v for k, v in args.items() if not k.startswith("_") and k != "channel"}
        with fake.lock:
            fake.messages.setdefault(channel, []).append({**shown, "ts": ts})
        return {"ok": True, "channel": channel, "ts": ts}
    if method == "chat.update":
        with fake.lock:
            found = [m for m in fake.messages.get(channel, []) if m["ts"] == args.get("ts")]
            if not found:
                return {"ok": False, "error": "message_not_found"}
            for key in ("text", "blocks", "metadata"):
                if key in args:
                    found[0][key] = args[key]
        return {"ok": True, "channel": channel, "ts": args["ts"]}
    if method == "conversations.history":
        return _history(fake, channel, args)
    if method == "chat.getPermalink":
        with fake.lock:
            found = any(m["ts"] == args.get("message_ts") for m in fake.messages.get(channel, []))
        if not found:
            return {"ok": False, "error": "message_not_found"}
        ts = str(args["message_ts"]).replace(".", "")
        return {"ok": True, "channel": channel, "permalink": f"{PERMALINK}/{channel}/p{ts}"}
    if method == "auth.test":
        return {
            "ok": True,
            "user_id": "UBOT",
            "team": "Example",
            "team_id": "T000",
            "bot_id": "B000",
        }
    if method == "conversations.info":
        info = fake.channels.get(args.get("channel", ""))
        return (
            {"ok": True, "channel": info} if info else {"ok": False, "error": "channel_not_found"}
        )
    if method == "usergroups.users.list":
        members = fake.usergroups.get(args.get("usergroup", ""))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": members}
    if method == "views.open":
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        with fake.lock:
            fake.views.append(dict(args["view"]))
            number = len(fake.views)
        return {"ok": True, "view": {**args["view"], "id": f"V{number:09d}"}}
    if method == "users.lookupByEmail":
        return _lookup_by_email(fake, str(args.get("email", "")))
    if method == "conversations.list":
        return {"ok": True, "channels": list(fake.channels.values()), "response_metadata": {}}
    return {"ok": True, "ts": fake._new_ts()}


def _lookup_by_email(fake: FakeSlack, email: str) -> dict[str, Any]:
    """users.lookupByEmail as Slack's docs show it: the user, users_not_found, missing_scope."""
    if "users:read.email" not in fake.scopes.split(","):
        return {
            "ok": False,
            "error": "missing_scope",
            "needed": "users:read.email",
            "provided": fake.scopes,
        }
    user = fake.users.get(email.lower())
    if user is None:
        return {"ok": False, "error": "users_not_found"}
    return {"ok": True, "user": user}


def slack_user(user_id: str, email: str, *, deleted: bool = False) -> dict[str, Any]:
    """A user object shaped like the users.lookupByEmail example in Slack's docs."""
    name = email.split("@", maxsplit=1)[0]
    return {
        "id": user_id,
        "team_id": "T000",
        "name": name,
        "deleted": deleted,
        "real_name": name.title(),
        "tz": "Europe/Berlin",
        "profile": {"email": email, "display_name": name, "real_name": name.title()},
        "is_admin": False,
        "is_bot": False,
    }
