"""The loopback fakes' server: real HTTP over a real socket on 127.0.0.1, each request
recorded (`Seen`) and answered (`Reply`) by a subclass's `handle`, with failures injected per
request (`fail`, `lose_answer`) or by stopping the server. Standard library only (no pytest):
tests, and an integrator at the command line (``python -m mandate_rules.adapters.testing``),
use the same fakes."""

from __future__ import annotations

import abc
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

__all__ = ["FakeServer", "Reply", "Seen", "query_of", "utc"]


@attrs.define
class Seen:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


@attrs.define
class Reply:
    """An answer the fake sends."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, **headers: str) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json",
                                                       **headers})


class FakeServer(abc.ABC):
    """A threaded HTTP server on 127.0.0.1 whose answers come from `handle`.

    `adapter` names the adapter that reads it; `settings` and `env` are that adapter's
    settings and credentials' environment pointed at this server."""

    adapter = ""
    env: Mapping[str, str] = {}

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Seen] = []
        self.handled: list[Seen] = []  # the requests the source acted on (not `fail`ed)
        self.failures: list[tuple[Callable[[Seen], bool], Reply]] = []
        self.lost_answers: list[tuple[Callable[[Seen], bool], Reply | float]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path, query = query_of(self.path)
                seen = Seen(self.command, path, query,
                            {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"")
                reply = owner._dispatch(seen)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: a test's output should show its own failures, not every request."""

        self._handler = Handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self._serve()

    def _serve(self) -> None:
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def go_down(self) -> None:
        """Stop listening: connections are refused until `come_back`."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port, with the same data."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self._serve()

    def fail(self, reply: Reply, when: Callable[[Seen], bool] = lambda s: True,
             times: int = 1) -> None:
        """Answer the next `times` requests that match `when` with `reply`."""
        for _ in range(times):
            self.failures.append((when, reply))

    def lose_answer(self, reply: Reply | float, when: Callable[[Seen], bool] = lambda s: True,
                    times: int = 1) -> None:
        """Act on the next `times` requests that match `when`, then lose the answer: send
        `reply` instead, or, given a number of seconds, answer only that much later.

        This is what a client sees when a source behind a reverse proxy is slow or restarts
        mid-request. Primero's nginx (``docker/nginx/root/etc/nginx/conf.d/
        primero.conf.template``, primeroIMS/primero@001bde2b) proxies the API with
        ``proxy_read_timeout``: past it nginx answers 504 while Rails goes on and saves; a
        worker that dies after saving gives a 502. KoboToolbox and CommCare HQ are served
        behind nginx the same way. The write happened; the answer says it failed (or none
        comes before the client's read timeout)."""
        for _ in range(times):
            self.lost_answers.append((when, reply))

    def _dispatch(self, seen: Seen) -> Reply:
        lost: Reply | float | None = None
        with self._lock:
            self.requests.append(seen)
            for index, (when, reply) in enumerate(self.failures):
                if when(seen):
                    del self.failures[index]
                    return reply
            for index, (when, instead) in enumerate(self.lost_answers):
                if when(seen):
                    del self.lost_answers[index]
                    lost = instead
                    break
        answer = self.handle(seen)
        with self._lock:
            self.handled.append(seen)
        if isinstance(lost, Reply):
            return lost
        if lost is not None:
            time.sleep(lost)  # the client has given up by now
        return answer

    @abc.abstractmethod
    def handle(self, seen: Seen) -> Reply:
        """The answer to `seen` (the source's behaviour)."""

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The adapter's settings pointed at this server (`extra` added or overriding).

        Only a fake of a source has them; a bare scripted server (as HTTP client tests use)
        serves no adapter."""
        raise TypeError(f"{type(self).__name__} fakes no source: it has no adapter settings")

    def stop(self) -> None:
        """Stop listening and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def writes(self) -> list[Seen]:
        """The requests that change something (write-back)."""
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def applied(self) -> list[Seen]:
        """The writes the source acted on (those `fail` answered are not among them; those
        whose answer was lost are)."""
        with self._lock:
            return [r for r in self.handled if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def utc(text: str) -> dt.datetime:
    """An ISO 8601 time as the servers that parse one read it (no zone: UTC)."""
    value = text[:-1] + "+00:00" if text.endswith("Z") else text
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def query_of(url: str) -> tuple[str, dict[str, str]]:
    """The path of `url` and its query parameters (the last value of each)."""
    parts = urlsplit(url)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
