"""The shared life of the local fake servers: serve on a free loopback port, stop, name the URL."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# serve_forever() checks for shutdown() between polls; its default 0.5 s poll made every fake's
# close() wait up to half a second, about a minute of the whole suite.
POLL_SECONDS = 0.01


class Loopback:
    """Mixin for a fake that serves HTTP on 127.0.0.1 (never any other address)."""

    server: ThreadingHTTPServer | None

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        """Start answering with `handler` on a free port, in a daemon thread."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True
        ).start()

    def close(self) -> None:
        """Stop serving and free the port."""
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        """The server's base URL."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"
