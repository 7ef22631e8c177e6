"""Test helpers: local stand-ins for the outside world (never the internet)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


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
    handler = type(
        "Handler",
        (_Handler,),
        {"requests": requests, "rewrite": staticmethod(rewrite) if rewrite else None},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Recorded:
    """One request a stand-in server was sent."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def json(self) -> object:
        return json.loads(self.body)


#: What a stand-in answers a request with: (status, JSON-able body or None, extra headers).
Reply = tuple[int, object, Mapping[str, str]]


@contextlib.contextmanager
def recording_server(answer: Callable[[Recorded], Reply]) -> Iterator[tuple[str, list[Recorded]]]:
    """A local stand-in for a service outside this machine, on 127.0.0.1 (a free port):
    records every request (GET and POST) and answers as `answer` says. Yields the base URL
    and the record."""
    seen: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            request = Recorded(self.command, self.path, dict(self.headers.items()), body)
            seen.append(request)
            status, payload, headers = answer(request)
            raw = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


#: What a garbage file is made of: blanks, text where numbers belong, impossible dates and
#: prices, stray codes. Every field of every row is drawn from these.
GARBAGE_TOKENS = (
    b"",
    b"x",
    b"NaN",
    b"-1",
    b"0",
    b"1.01",
    b"3.5",
    b"999",
    b"abc",
    b"E0",
    b"31/02/2023",
    b"12/08/2023",
    b"H",
    b"Z",
    b"Arsenal",
    b"1e300",
    b"?",
    b"2.2",
    b"10",
    b"7",
)


def garbage_football_data(header: bytes, n_bytes: int, seed: int = 12) -> bytes:
    """A file with a real football-data header and about `n_bytes` of garbage rows (seeded):
    random tokens, a few fields more or fewer than the header, CRLF line ends."""
    import numpy as np

    rng = np.random.default_rng(seed)
    width = header.count(b",") + 1
    lines, size = [header], len(header)
    while size < n_bytes:
        picks = rng.integers(0, len(GARBAGE_TOKENS), size=(1000, width + 2))
        widths = rng.integers(width - 2, width + 3, size=1000)
        for row, n_fields in zip(picks, widths, strict=True):
            line = b",".join(GARBAGE_TOKENS[i] for i in row[:n_fields])
            lines.append(line)
            size += len(line) + 2
            if size >= n_bytes:
                break
    return b"\r\n".join(lines) + b"\r\n"
