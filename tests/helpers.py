"""Test helpers: local stand-ins for the outside world (never the internet)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str]
    rewrite: Callable[[str], str] | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.requests.append(self.path)
        if self.path.startswith("/fail500/"):
            self.send_error(500, "simulated server error")
            return
        if self.rewrite is not None:
            self.path = self.rewrite(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_directory(
    root: Path, rewrite: Callable[[str], str] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Serve `root` on 127.0.0.1 (a free port); yield the base URL and the request log.

    Paths under /fail500/ answer 500, to exercise retries. `rewrite` maps a request path to
    a file path (for URL schemes whose layout differs from the folder's).
    """
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests, "rewrite": staticmethod(rewrite)
                                             if rewrite else None})  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
