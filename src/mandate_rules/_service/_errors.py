"""Errors the API answers with: an HTTP status, a stable code, a message and the field at fault.

Every error body has the same shape::

    {"error": {"code": "invalid-event", "message": "...", "path": "data.armed", ...}}

`code` is stable (clients may branch on it); `message` is for people; `path` names the
field, the query parameter (``query.limit``), the batch item (``[3].time``) or the part of
the request (``body``, ``header.content-type``) at fault. Some codes carry more detail
(`problems` of an event, `items` of a batch, the rule-pack `problems` of a reload).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from starlette.responses import JSONResponse

from .._errors import MandateRulesError

# code -> (HTTP status, what it means). The OpenAPI document lists these codes.
CODES: Mapping[str, tuple[int, str]] = MappingProxyType({
    "malformed-request": (400, "the request is not valid HTTP/1.1; the connection is closed"),
    "malformed-json": (400, "the body is not valid JSON (or not UTF-8)"),
    "invalid-query": (400, "a query parameter has a value of the wrong kind"),
    "invalid-cursor": (400, "the pagination cursor was not one this server handed out"),
    "not-a-record": (400, "a push's body is not a record its adapter reads"),
    "unauthorized": (401, "no bearer token, or one that is not configured; a push without "
                     "its connection's shared secret"),
    "push-not-configured": (401, "the adapter connection has no push secret, so no push can "
                            "be authenticated"),
    "forbidden": (403, "the token's role does not allow this request"),
    "not-found": (404, "no such route"),
    "advisory-not-found": (404, "no advisory with this id for this tenant"),
    "rule-not-found": (404, "no rule with this id in the running rule packs"),
    "shadow-not-configured": (404, "the server runs no candidate rule packs (--shadow)"),
    "unknown-connection": (404, "no adapter connection of this name"),
    "outbox-row-not-found": (404, "no dead write-back of this advisory for this tenant"),
    "method-not-allowed": (405, "the route does not take this method"),
    "request-timeout": (408, "the request's headers or body did not arrive in time "
                        "(header_timeout, body_timeout); the connection is closed"),
    "payload-too-large": (413, "the body is larger than the configured limit"),
    "batch-too-large": (413, "the batch has more events than the configured limit"),
    "uri-too-long": (414, "the URL is longer than the request's head may be (max_header_bytes)"),
    "unsupported-media-type": (415, "the Content-Type is not one this route reads"),
    "invalid-event": (422, "the event does not fit the CloudEvents envelope or its type"),
    "invalid-batch": (422, "one or more events of a batch are invalid; nothing was stored"),
    "invalid-resolution": (422, "the resolution is not one of the allowed decisions"),
    "engine-refused": (422, "the matching engine refused the event; nothing was stored"),
    "rule-pack-invalid": (422, "the new rule packs have problems; the running ones stay"),
    "conflicting-redelivery": (409, "an event with this source and id is stored with other "
                               "content; nothing was stored"),
    "headers-too-large": (431, "the request's line and headers are larger than "
                          "max_header_bytes; the connection is closed"),
    "engine-failure": (500, "the engine failed on this event; nothing was stored"),
    "reload-failed": (500, "rebuilding state for the new rule packs failed; nothing changed"),
    "internal": (500, "an unexpected error; nothing half-done was kept"),
    "overloaded": (503, "the engine's queue is full; retry after the Retry-After delay"),
    "too-many-connections": (503, "the server holds max_connections open connections; this "
                             "one is closed; retry after the Retry-After delay"),
    "store-unavailable": (503, "the database could not be read or written; nothing was stored"),
    "not-owner": (503, "another replica judges this operation and could not be reached, or "
                  "took it over meanwhile; retry after the Retry-After delay"),
    "not-ready": (503, "the server is starting or stopping"),
    "busy": (503, "a push was not answered in time (a reload or a backlog); send it again"),
    "push-failed": (503, "a push could not be taken; nothing was kept, send it again"),
})


class ApiError(MandateRulesError):
    """An error answered to the client: never a traceback, always a code.

    Raised by the sidecar's request handlers and its engine thread when a request cannot be
    served (bad input, an unknown id, a full queue, a store that cannot be written); the
    route answers it with its HTTP status and the JSON body of `body()`.
    """

    def __init__(self, code: str, message: str, path: str | None = None, *,
                 headers: Mapping[str, str] | None = None, **details: Any) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.status = CODES[code][0]
        self.message = message
        self.path = path
        self.headers = dict(headers or {})
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "path": self.path}
        error.update(self.details)
        return {"error": error}

    def response(self) -> JSONResponse:
        return _ErrorResponse(self.body(), status_code=self.status, headers=self.headers)


class _ErrorResponse(JSONResponse):
    """JSONResponse, but a message or path that quotes a lone surrogate the client sent is
    written as a JSON escape rather than failing to encode (and turning a 422 into a 500)."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False,
                              separators=(",", ":")).encode("ascii")


class StoreFailure(MandateRulesError):
    """Raised in the engine thread when a write fails or is refused (fenced): the whole
    group is rolled back, and each of its jobs answered `error`."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def internal_error(log: logging.Logger, what: str, exc: BaseException,
                   code: str = "internal", path: str | None = None) -> ApiError:
    """A 5xx for an unexpected failure, with an error id that is also in the log (with the
    traceback), so an operator can find what a client saw."""
    error_id = secrets.token_hex(8)
    log.error("error %s: %s: %r", error_id, what, exc, exc_info=exc)
    return ApiError(code, f"{what} (error id {error_id}; the server log has the details); "
                    "nothing was stored", path, error_id=error_id)
