"""`MockTransport`: a source's answers without a socket, for unit tests of an adapter's logic
(its cursor, its parsing, its write-back decisions), as httpx's ``MockTransport`` does.

The loopback fakes stay the test of the boundary itself (a real socket, timeouts, a server
that goes down, answers lost mid-write); this is for the tests where a socket adds nothing.
"""

from __future__ import annotations

import http
import io
from collections.abc import Callable

import requests
from requests.structures import CaseInsensitiveDict

from .server import Reply, Seen, query_of

__all__ = ["MockTransport"]


class MockTransport:
    """Answers each request an `HttpClient` sends with `handler(seen)`, in place of the
    network: ``HttpClient(url, transport=MockTransport(handler))``, or an adapter's
    ``from_config(..., transport=MockTransport(handler))``. `handler` takes and gives what a
    `FakeServer`'s ``handle`` does (`Seen`, `Reply`); to stand for a network failure it
    raises a ``requests.RequestException`` (``requests.ConnectionError``, ``ReadTimeout``).
    Every request is kept in `requests`."""

    def __init__(self, handler: Callable[[Seen], Reply]) -> None:
        self.handler = handler
        self.requests: list[Seen] = []

    def __call__(self, request: requests.PreparedRequest) -> requests.Response:
        url = request.url or ""
        body = request.body or b""
        path, query = query_of(url)
        seen = Seen(request.method or "GET", path, query,
                    {k.lower(): v for k, v in request.headers.items()},
                    body.encode("utf-8") if isinstance(body, str) else body)
        self.requests.append(seen)
        reply = self.handler(seen)
        response = requests.Response()
        response.status_code = reply.status
        try:
            response.reason = http.HTTPStatus(reply.status).phrase
        except ValueError:
            response.reason = ""
        response.headers = CaseInsensitiveDict(reply.headers)
        response.raw = io.BytesIO(reply.body)
        response._content = reply.body
        response.url = url
        response.request = request
        return response
