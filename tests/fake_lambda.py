"""A local stand-in for the Lambda Invoke API, so Bolt's lazy runner really calls out over HTTP.

Point boto3 at it with `AWS_ENDPOINT_URL_LAMBDA`. It records each invocation (function, type,
payload) and answers 202 like an asynchronous invoke; a test then replays the payload into
`bot.lambda_function.handler`, which is what AWS would do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.loopback import Loopback


@dataclass
class Invocation:
    function: str
    invocation_type: str
    payload: dict[str, Any]


@dataclass
class FakeLambda(Loopback):
    invocations: list[Invocation] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @classmethod
    def start(cls) -> FakeLambda:
        fake = cls()
        fake.serve(_make_handler(fake))
        return fake


def _make_handler(fake: FakeLambda) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            # POST /2015-03-31/functions/{FunctionName}/invocations
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            function = unquote(self.path.split("/functions/", 1)[1].split("/invocations")[0])
            fake.invocations.append(
                Invocation(
                    function=function,
                    invocation_type=self.headers.get("X-Amz-Invocation-Type", ""),
                    payload=json.loads(body or b"{}"),
                )
            )
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
