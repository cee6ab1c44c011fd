"""Local replay servers that answer exactly like the platforms' APIs.

Used by ``archiver demo``, the test suite and the benchmarks — never the network. One
``ReplayServer`` (a threaded HTTP server on 127.0.0.1) mounts platform *simulators* under
path prefixes, e.g. ``http://127.0.0.1:PORT/facebook/v21.0/{page-id}/posts``. A simulator
holds a small mutable world (posts, comments, their edits, hides and deletions) and renders
it in the platform's recorded response shapes (``shared/research/platforms.md``), so a test
can change the world between two "nights" and run collect again.

Faults are injected generically: ``server.inject(pattern, status, body, headers, times)``
answers the next ``times`` requests whose path+query matches ``pattern`` with that canned
response (a 502, a throttle body, a malformed page...), before the simulator is consulted.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from ..textsafe import json_text


@dataclass
class Request:
    method: str
    path: str  # below the simulator's mount prefix, e.g. "/1000001/posts"
    query: dict[str, str]  # last value of each parameter
    headers: Mapping[str, str]
    base_url: str  # http://127.0.0.1:PORT/<prefix>, for building paging URLs
    raw_query: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json_text(body).encode("utf-8")  # lone surrogates go out as \u escapes
            headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body, headers


def json_reply(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, data, dict(headers or {}))


class Simulator:
    """A platform simulator: ``handle(request) -> Reply``; mounted at ``prefix``."""

    prefix: str = ""

    def handle(self, request: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class _Fault:
    pattern: re.Pattern
    reply: Reply
    times: int


class ReplayServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.simulators: dict[str, Simulator] = {}
        self.faults: list[_Fault] = []
        self.log: list[tuple[str, str, Mapping[str, str]]] = []  # (method, path?query, headers)
        self.delay = 0.0  # seconds before each answer: a slow platform, for kill/terminate tests
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without TCP_NODELAY every keep-alive
            # response stalls ~40 ms on Nagle + delayed ACK.
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802
                server._dispatch(self)

            def do_HEAD(self):  # noqa: N802
                server._dispatch(self)

            def do_POST(self):  # noqa: N802 - form parameters count as query parameters, as on Graph
                server._dispatch(self)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def mount(self, simulator: Simulator) -> str:
        """Mount a simulator; returns its base URL (use as the account's api_base)."""
        self.simulators[simulator.prefix.strip("/")] = simulator
        simulator.base_url = f"{self.url}/{simulator.prefix.strip('/')}"
        return simulator.base_url

    def inject(
        self,
        pattern: str,
        status: int = 200,
        body: Any = b"",
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self.faults.append(_Fault(re.compile(pattern), Reply(status, body, dict(headers or {})), times))

    def requests_matching(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        return [target for _, target, _ in self.log if rx.search(target)]

    def start(self) -> "ReplayServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="replay", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- dispatch ---------------------------------------------------------------------------
    def _take_fault(self, target: str) -> Reply | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.pattern.search(target):
                    fault.times -= 1
                    return fault.reply
        return None

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        target = handler.path
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.log.append((handler.command, target, dict(handler.headers.items())))
        parts = urlsplit(target)
        # A POST's form body (read whole, so the connection stays usable whatever answers it).
        form = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode("utf-8", "replace") \
            if handler.command == "POST" else ""
        reply = self._take_fault(target)
        if reply is None:
            prefix, _, rest = parts.path.lstrip("/").partition("/")
            sim = self.simulators.get(prefix)
            if sim is None:
                reply = json_reply({"error": f"no simulator mounted at /{prefix}"}, 404)
            else:
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                query.update({k: v[-1] for k, v in parse_qs(form, keep_blank_values=True).items()})
                request = Request(
                    method=handler.command,
                    path="/" + rest,
                    query=query,
                    headers=dict(handler.headers.items()),
                    base_url=f"{self.url}/{prefix}",
                    raw_query=parts.query,
                )
                try:
                    reply = sim.handle(request)
                except Exception as exc:  # a simulator bug must show up as a 500, not hang
                    reply = json_reply({"error": f"simulator error: {type(exc).__name__}: {exc}"}, 500)
        body, headers = reply.encoded()
        handler.send_response(reply.status, reply.reason)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


SimulatorFactory = Callable[..., Simulator]
