"""A local fake of Slack's Web API and incoming webhooks, served over real HTTP on loopback.

Tests point the real `WebClient` at it with `base_url`. It records every call, checks Block Kit
limits like Slack (`invalid_blocks`), and can be told to fail the next requests: 429 with
Retry-After, 500, a dropped connection, or a Slack error such as `channel_not_found`.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.blockkit import violations

TOKEN = "xoxb-test-token"


@dataclass
class Call:
    """One request the fake received."""

    method: str  # "chat.postMessage", or "webhook" / "response_url"
    args: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeSlack:
    """Start with `FakeSlack.start()`; stop with `close()`."""

    calls: list[Call] = field(default_factory=list)
    faults: deque[tuple[str, Any]] = field(default_factory=deque)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # What auth.test reports in x-oauth-scopes, and the workspace's channels by id.
    scopes: str = "chat:write,chat:write.public,commands,channels:read,groups:read"
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def start(cls) -> FakeSlack:
        fake = cls()
        fake.server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(fake))
        threading.Thread(target=fake.server.serve_forever, daemon=True).start()
        return fake

    def close(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook/T000/B000/secret"

    def fail_next(self, *faults: tuple[str, Any]) -> None:
        """Queue faults: ("429", retry_after), ("500", None), ("reset", None), ("error", code)."""
        self.faults.extend(faults)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Messages Slack accepted through chat.postMessage (rejected ones are not here)."""
        return [c.args for c in self.calls if c.method == "chat.postMessage" and c.args["_ok"]]

    def _next_fault(self) -> tuple[str, Any] | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None


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

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            args = _decode(self.rfile.read(length), self.headers.get("Content-Type", ""))
            path = self.path.split("?")[0]
            if path.startswith("/api/"):
                method = path.removeprefix("/api/")
            elif path.startswith("/webhook/"):
                method = "webhook"
            else:
                method = "response_url"
            call = Call(method, args, dict(self.headers.items()))
            with fake.lock:
                fake.calls.append(call)
            fault = fake._next_fault()
            args["_ok"] = False
            if fault is not None:
                kind, value = fault
                if kind == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
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
            problems = violations(args)
            if method in ("webhook", "response_url"):
                if problems:
                    self._reply(400, b"invalid_blocks")
                    return
                args["_ok"] = True
                self._reply(200, b"ok")
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(200, {"ok": False, "error": "invalid_auth"})
                return
            if problems and method.startswith("chat."):
                args["_problems"] = problems
                self._reply(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
                return
            args["_ok"] = True
            headers = {"x-oauth-scopes": fake.scopes} if method == "auth.test" else None
            self._reply(200, _answer(fake, method, args), headers)

    return Handler


def _answer(fake: FakeSlack, method: str, args: dict[str, Any]) -> dict[str, Any]:
    ts = f"1700000000.{next(fake.ts):06d}"
    if method in ("chat.postMessage", "chat.update"):
        return {"ok": True, "channel": args.get("channel", "C000"), "ts": args.get("ts", ts)}
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
    if method == "conversations.list":
        return {"ok": True, "channels": list(fake.channels.values()), "response_metadata": {}}
    return {"ok": True, "ts": ts}
