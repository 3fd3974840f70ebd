"""A local fake of the CodePipeline and CodeDeploy APIs (AWS JSON 1.1) over real HTTP on loopback.

Point real boto3 clients at it with `endpoint_url` or `AWS_ENDPOINT_URL_CODEPIPELINE` /
`AWS_ENDPOINT_URL_CODEDEPLOY`. It dispatches on the `X-Amz-Target` header
(`CodePipeline_20150709.ListActionExecutions`) to canned answers (or to callables, such as the
stateful world of tests/fake_deploys.py), records every call with its start and end time
(botocore's retries are calls too), and can add a delay per call. A callable answer can fail
like AWS does: `Fault` (an error answer), `Hangup` (the work is done, the connection drops) or
`Late` (the work is done, the answer comes after the client stopped waiting). POSTs to
`/api/<method>` get a Slack-style `{"ok": true}`, so one server can stand in for both sides of
a benchmark.

Each call records who signed it: the access key id and the region of the SigV4 `Authorization`
header's credential scope (`Credential=AKID/20260101/eu-west-1/codepipeline/aws4_request`). With
a `router`, the answers depend on that: it gives the answers of the account whose credentials
signed the call (tests/fake_sts.py issues them), and a key it does not know is refused as AWS
refuses one: HTTP 400 `UnrecognizedClientException`, "The security token included in the
request is invalid." (AWS "Common Errors").

With `throttle(rate, burst)` each operation gets its own token bucket, as AWS limits each API
of an account; a request beyond it is answered the way AWS's JSON 1.1 protocol does (and
botocore's parser reads): HTTP 400, `{"__type": "ThrottlingException", "message": "Rate
exceeded"}` (AWS "Common Errors": ThrottlingException, HTTP 400).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.loopback import Loopback

Answer = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


class Fault(Exception):
    """Raised by a callable answer: the fake replies with this status and AWS JSON error body."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class Hangup(Exception):
    """Raised by a callable answer after doing its work: the connection closes, no answer."""


class Late(Exception):
    """Raised by a callable answer after doing its work: `body` comes after `seconds`, when the
    client has given up waiting (its read timeout is shorter)."""

    def __init__(self, body: dict[str, Any], seconds: float) -> None:
        super().__init__("late")
        self.body, self.seconds = body, seconds


@dataclass
class Call:
    """One request: the operation ("ListActionExecutions", "chat.postMessage"), its body, when."""

    operation: str
    params: dict[str, Any]
    started: float
    ended: float = 0.0
    throttled: bool = False
    access_key: str = ""  # who signed it (SigV4 credential scope)
    region: str = ""  # the region it was signed for


def signed_by(authorization: str) -> tuple[str, str]:
    """(access key id, region) of a SigV4 Authorization header; ("", "") when unsigned."""
    _, _, rest = authorization.partition("Credential=")
    scope = rest.split(",", 1)[0].split("/")
    return (scope[0], scope[2]) if len(scope) >= 5 else ("", "")


@dataclass
class FakeAws(Loopback):
    """Start with `FakeAws.start(answers, delay=...)`; stop with `close()`."""

    answers: dict[str, Answer]
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rate: float = 0.0  # requests per second per operation; 0: no throttling
    burst: float = 1.0
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # (tokens, when)
    # (access key, region) -> that account's answers, or None for a key AWS would not know
    router: Callable[[str, str], dict[str, Answer] | None] | None = None

    @classmethod
    def start(
        cls,
        answers: dict[str, Answer],
        delay: float = 0.0,
        router: Callable[[str, str], dict[str, Answer] | None] | None = None,
    ) -> FakeAws:
        fake = cls(answers=answers, delay=delay, router=router)
        fake.serve(_make_handler(fake))
        return fake

    def signers(self, operation: str = "") -> list[tuple[str, str]]:
        """(access key, region) of every call (of `operation`), in order."""
        with self.lock:
            return [
                (c.access_key, c.region)
                for c in self.calls
                if not operation or c.operation == operation
            ]

    def answers_for(self, call: Call) -> dict[str, Answer] | None:
        """The answers for whoever signed `call` (None: credentials AWS would not know)."""
        if self.router is None:
            return self.answers
        return self.router(call.access_key, call.region)

    def operations(self) -> list[str]:
        with self.lock:
            return [c.operation for c in self.calls]

    def throttle(self, rate: float, burst: float = 1.0) -> None:
        """Throttle each operation beyond `rate` requests per second (bursts of `burst`)."""
        with self.lock:
            self.rate, self.burst, self.buckets = rate, burst, {}

    def throttled(self) -> int:
        """How many requests were answered with ThrottlingException."""
        with self.lock:
            return sum(1 for c in self.calls if c.throttled)

    def admit(self, operation: str) -> bool:
        """Take a token from the operation's bucket; False when it is empty (throttled)."""
        with self.lock:
            if not self.rate:
                return True
            now = time.monotonic()
            tokens, when = self.buckets.get(operation, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            admitted = tokens >= 1
            self.buckets[operation] = (tokens - 1 if admitted else tokens, now)
            return admitted


def _make_handler(fake: FakeAws) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep output quiet
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK hold a large body back ~40 ms, which AWS does not do.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, body: dict[str, Any], content_type: str) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            target = self.headers.get("X-Amz-Target", "")
            if target:
                operation = target.rsplit(".", 1)[-1]
                params = json.loads(raw or b"{}")
            else:
                operation = self.path.split("?")[0].removeprefix("/api/")
                params = {}
            key, region = signed_by(self.headers.get("Authorization", ""))
            call = Call(operation, params, started, access_key=key, region=region)
            with fake.lock:
                fake.calls.append(call)
            time.sleep(fake.delay)
            answers = fake.answers_for(call) if target else fake.answers
            body: dict[str, Any]
            if answers is None:
                status = 400
                body = {
                    "__type": "UnrecognizedClientException",
                    "message": "The security token included in the request is invalid.",
                }
                content_type = "application/x-amz-json-1.1"
            elif not target:
                status, body = 200, {"ok": True, "ts": f"{time.time():.6f}"}
                content_type = "application/json; charset=utf-8"
            elif not fake.admit(operation):
                call.throttled = True
                status = 400
                body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
                content_type = "application/x-amz-json-1.1"
            elif operation in answers:
                answer = answers[operation]
                try:
                    status, body = 200, answer(params) if callable(answer) else answer
                except Fault as fault:
                    status, body = fault.status, {"__type": fault.code, "message": fault.message}
                except Hangup:
                    call.ended = time.monotonic()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                except Late as late:
                    time.sleep(late.seconds)
                    status, body = 200, late.body
                content_type = "application/x-amz-json-1.1"
            else:
                status = 400
                body = {"__type": "ValidationException", "message": f"no answer for {operation}"}
                content_type = "application/x-amz-json-1.1"
            call.ended = time.monotonic()
            with contextlib.suppress(OSError):  # after a late answer the client has gone
                self._reply(status, body, content_type)

    return Handler


def critical_path(calls: list[Call]) -> int:
    """The longest chain of calls where each starts after the previous one ended."""
    ordered = sorted(calls, key=lambda c: c.started)
    depth: list[int] = []
    for i, call in enumerate(ordered):
        before = [depth[j] for j in range(i) if ordered[j].ended <= call.started]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)
