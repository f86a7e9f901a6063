"""The sidecar's HTTP/1.1 connection: uvicorn's httptools protocol with limits at its edge.

uvicorn's httptools protocol bounds neither the size of a request's head nor the time it may
take to arrive, and httptools joins a header's value piece by piece until it ends: a 256 MiB
``Authorization`` header took minutes and hundreds of MiB, and sockets that send nothing (or
half a head) stayed open for ever. `GuardedProtocol` adds, per connection:

* a cap on the request line and headers together (``max_header_bytes``): past it the request
  is answered ``414 uri-too-long`` (the URL alone is too long) or ``431 headers-too-large``,
  without reading further;
* a deadline for the head (``header_timeout``, from the connection or the request's first
  byte) and one for the body (``body_timeout``, from the end of the head): past it the
  connection is closed, with ``408 request-timeout`` if any of the request had come;
* a cap on open connections (``max_connections``): one more is answered ``503
  too-many-connections`` at once and closed, so that idle sockets cannot use up the process's
  descriptors and starve the requests already being served.

It also answers an offer to switch protocols (``Connection: Upgrade`` with ``Upgrade: h2c``,
sent on every request by Java's default ``HttpClient``) in HTTP/1.1, as RFC 9110 section 7.8
allows: llhttp treats such a request as switching at the end of its head and skips its body,
so the head is read again without the offer and the body is read as usual.

Every answer given here is JSON of the same shape as the app's errors (`ApiError`), and is
counted by its code as the app's are (``mandate_rules_errors_total``), through `on_refused`.

This subclasses uvicorn's `HttpToolsProtocol` and relies on its attributes (`parser`, `url`,
`headers`, `cycle`, `connections`); pyproject.toml pins the uvicorn and httptools releases
this was checked against.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import attrs
import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ._errors import ApiError

log = logging.getLogger("mandate_rules.service")

# The request line's bytes besides the URL: the longest method, two spaces, "HTTP/1.1\r\n".
_REQUEST_LINE_EXTRA = 32
# How long a refused connection stays half-open after its answer, so that the client reads
# the answer before the socket closes (closing with unread input resets the connection).
_LINGER_SECONDS = 1.0


@attrs.frozen
class Limits:
    """What one connection may take: bytes of head, seconds for head and body, connections."""

    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000


class _Refuse(Exception):
    """Raised in a parser callback: answer `error` and close the connection."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def error_bytes(error: ApiError) -> bytes:
    """A whole HTTP/1.1 response carrying `error`, that closes the connection."""
    body = json.dumps(error.body(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = [STATUS_LINE[error.status], b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]
    head += [f"{name}: {value}\r\n".encode("latin-1") for name, value in error.headers.items()]
    return b"".join([*head, b"\r\n", body])


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the sidecar's limits (see the module's docstring).

    `guarded_protocol(limits)` makes the class uvicorn is given.
    """

    limits = Limits()
    #: Called with the code of each refusal answered here (the app's error counter).
    on_refused: Callable[[str], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._in_head = False         # between a request's first byte and the end of its head
        self._head_bytes = 0          # the head's bytes the parser has handed over
        self._head_arrived = 0        # the head's bytes that arrived (a lower bound)
        self._began_in_chunk = False  # the current request began in the data being parsed
        self._upgrade_offered = False  # the head just parsed offers to switch protocols
        self._refused = False

    # ------------------------------------------------------------ the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            log.warning("%d connections open, more than max_connections (%d): refused one",
                        len(self.connections), self.limits.max_connections)
            self._refuse(ApiError(
                "too-many-connections", f"the server holds its maximum of "
                f"{self.limits.max_connections} open connections; retry later", None,
                headers={"Retry-After": "1"}))
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._began_in_chunk = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as switch:
            self._read_without_upgrade(data[switch.args[0]:])
            return
        except httptools.HttpParserError as exc:
            refusal = exc.__context__ if isinstance(exc.__context__, _Refuse) else None
            if refusal is None:
                refusal = _Refuse(ApiError("malformed-request", f"the request is not valid "
                                           f"HTTP/1.1 ({exc})", None))
            self._refuse(refusal.error)
            return
        if self._in_head:
            # httptools holds a header's value until it ends, so a head still coming is also
            # counted by what arrived: all of this data, unless the request began within it.
            if self._began_in_chunk:
                self._head_arrived = self._head_bytes
            else:
                self._head_arrived += len(data)
            if max(self._head_arrived, self._head_bytes) > self.limits.max_header_bytes:
                self._refuse(self._head_too_large())

    def _refuse(self, error: ApiError) -> None:
        """Answer `error` (if the connection can still take an answer) and close."""
        self._refused = True
        self._cancel_timers()
        if self.on_refused is not None:
            self.on_refused(error.code)
        if self.cycle is not None and not self.cycle.response_complete:
            # The app is working on a request of this connection: it must stop reading and
            # writing, as if the client had gone.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(error_bytes(error))
        self.transport.pause_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)

    # ------------------------------------------------------------ the head

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._began_in_chunk = True
        self._head_bytes = self._head_arrived = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes + _REQUEST_LINE_EXTRA > self.limits.max_header_bytes:
            raise _Refuse(self._head_too_large())

    def _head_too_large(self) -> ApiError:
        limit = self.limits.max_header_bytes
        if len(self.url) + _REQUEST_LINE_EXTRA > limit:
            return ApiError("uri-too-long", f"the request's URL is longer than the "
                            f"{limit} bytes the server reads of a request's head", "url")
        return ApiError("headers-too-large", f"the request's line and headers are larger "
                        f"than {limit} bytes (max_header_bytes)", "headers")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        if self.parser.should_upgrade():
            if self.parser.get_method() == b"CONNECT":
                raise _Refuse(ApiError("method-not-allowed", "CONNECT is not allowed: this "
                                       "server is not a proxy", "method"))
            # llhttp will skip this request's body and stop; `_read_without_upgrade` reads
            # the head again without the offer, then the body.
            self._upgrade_offered = True
            return
        super().on_headers_complete()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_late)

    def _read_without_upgrade(self, rest: bytes) -> None:
        self._upgrade_offered = False
        version = self.parser.get_http_version()
        lines = [self.parser.get_method() + b" " + self.url + b" HTTP/" +
                 version.encode("ascii") + b"\r\n"]
        for name, value in self.headers:
            kept = value
            if name in (b"upgrade", b"http2-settings"):
                continue
            if name == b"connection":
                tokens = [t.strip() for t in value.split(b",")]
                kept = b", ".join(t for t in tokens
                                  if t.lower() not in (b"upgrade", b"http2-settings", b""))
                if not kept:
                    continue
            lines.append(name + b": " + kept + b"\r\n")
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self._feed(b"".join([*lines, b"\r\n", rest]))

    # ------------------------------------------------------------ the body

    def on_body(self, body: bytes) -> None:
        if not self._upgrade_offered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._upgrade_offered:
            return
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # ------------------------------------------------------------ deadlines

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request waits while the one before it is served; its time
            # starts again once it may be read.
            self._arm_head_timer()
            return
        if not self._in_head:
            # Nothing came: there is no request to answer.
            self._refused = True
            self._cancel_timers()
            self.transport.close()
            return
        self._refuse(ApiError("request-timeout", f"the request's headers did not arrive "
                              f"within {self.limits.header_timeout:g} s (header_timeout)",
                              "headers"))

    def _body_late(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        self._refuse(ApiError("request-timeout", f"the request's body did not arrive within "
                              f"{self.limits.body_timeout:g} s (body_timeout)", "body"))


def guarded_protocol(limits: Limits,
                     on_refused: Callable[[str], None] | None = None) -> type[GuardedProtocol]:
    """The protocol class to hand uvicorn (``uvicorn.Config(http=...)``) for `limits`;
    `on_refused` is told the code of each refusal (`Metrics.errors.inc`)."""
    return type("GuardedProtocol", (GuardedProtocol,),
                {"limits": limits, "on_refused": staticmethod(on_refused)
                 if on_refused is not None else None})
