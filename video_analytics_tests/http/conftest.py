"""A real HTTP server on 127.0.0.1 whose replies are scripted per test.

Runs in a background thread (``ThreadingHTTPServer``), speaks HTTP/1.1 keep-alive, records every
request, and tracks how many requests are in flight at once.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # real seconds to hold the request (keep to milliseconds)
    content_length: int | None = None  # lie about the length to simulate a cut-off transfer

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body.encode() if isinstance(self.body, str) else self.body
        return json.dumps(self.json if self.json is not None else {}).encode()


@dataclass
class Seen:
    method: str
    target: str  # the raw request target (absolute-form when sent through a proxy)
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


Handler = Callable[[Seen], Reply]


class ScriptedServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.routes: dict[tuple[str, str], deque[Reply | Handler]] = {}
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, *replies: Reply | Handler) -> None:
        """Replies are used in order; the last one repeats for any further request."""
        with self._lock:
            self.routes[(method.upper(), path)] = deque(replies)

    def hits(self, path: str, method: str | None = None) -> list[Seen]:
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def reset(self) -> None:
        with self._lock:
            self.routes.clear()
            self.requests.clear()
            self.in_flight = self.max_in_flight = 0

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            queue = self.routes.get((seen.method, seen.path))
            if not queue:
                return Reply(404, {"message": f"no script for {seen.method} {seen.path}"})
            item = queue.popleft() if len(queue) > 1 else queue[0]
        return item(seen) if callable(item) else item

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # avoid 40 ms delayed-ACK stalls per request

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            path = self.path if self.command == "CONNECT" else split.path  # CONNECT target is host:port
            seen = Seen(self.command, self.path, path, parse_qs(split.query), dict(self.headers), body)
            server._enter()
            try:
                reply = server._next(seen)
                if reply.delay:
                    time.sleep(reply.delay)
            finally:
                server._leave()
            self._write(reply)

        def _write(self, reply: Reply) -> None:
            payload = reply.payload()
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(reply.content_length or len(payload)))
            if reply.content_length:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_CONNECT = _handle

    return _Handler


@pytest.fixture(scope="session")
def _server_instance() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def server(_server_instance: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """The shared scripted server, wiped clean for this test; proxies from the environment are unset."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    _server_instance.reset()
    return _server_instance


@pytest.fixture
def sleeps() -> list[float]:
    """Recorded waits; pass ``sleeps.append`` as the client's ``sleep``."""
    return []


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_client(server: ScriptedServer, sleeps: list[float]) -> Iterator[Callable[..., Any]]:
    """Build ``ApiClient``s against the scripted server with recorded sleeps and neutral jitter."""
    from video_analytics.http import ApiClient

    clients: list[ApiClient] = []

    def build(name: str = "test-api", **kwargs: Any) -> ApiClient:
        kwargs.setdefault("sleep", sleeps.append)
        kwargs.setdefault("random", lambda: 0.5)
        kwargs.setdefault("timeout", 5.0)
        client = ApiClient(name, kwargs.pop("base_url", server.url), **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
