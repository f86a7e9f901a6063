"""HTTP for adapters: one `requests.Session` with explicit timeouts, retries with backoff on
429 and 5xx that honour ``Retry-After``, errors translated into `SourceError`s, and a guard
that refuses any address off this machine when the loopback flag is set.

Credentials travel only in the session's auth object, whose ``repr`` hides them; log lines
and error messages name the method, the URL path and the status, never a header.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ipaddress
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
from requests.auth import AuthBase

from .errors import (
    AdapterConfigError,
    EgressRefusedError,
    SourceAuthError,
    SourceRejectedError,
    SourceUnavailableError,
)

__all__ = [
    "AMBIGUOUS_STATUSES",
    "LOOPBACK_ENV",
    "RETRY_AFTER_CAP",
    "BasicAuth",
    "HeaderAuth",
    "HttpClient",
    "Transport",
    "is_loopback_host",
    "loopback_only",
    "write_unless_there",
]

log = logging.getLogger("mandate_rules.adapters.http")

#: Set to 1 (tests, CI, offline demos) and no adapter request leaves this machine.
LOOPBACK_ENV = "MANDATE_RULES_LOOPBACK_ONLY"

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that mean the request was not acted on: safe to resend even a POST. Not 502 or
# 504: a reverse proxy answers those when the source was slow or dropped the connection,
# often after it saved (Primero's nginx, `proxy_read_timeout`); nor 500 or a read timeout.
_NOT_PROCESSED = frozenset({429, 503})
#: Answers to a write that leave open whether the source acted on it (None: no answer).
AMBIGUOUS_STATUSES = frozenset({None, 500, 502, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Delay-seconds as the sources send them: whole (RFC 9110) or decimal (CommCare's rate limiter
# computes a float and sends it as it is, e.g. ``1.5``). No sign, exponent, nan or inf.
_DELAY_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
#: What answers a request in place of the network (tests of an adapter's logic, as httpx's
#: ``MockTransport``): a callable from the prepared request to its response.
Transport = Callable[[requests.PreparedRequest], requests.Response]
#: The longest wait a ``Retry-After`` is taken to ask for (a day); a longer one, or a date
#: further off, is read as this, so a retry is never scheduled years ahead.
RETRY_AFTER_CAP = 86400.0


def loopback_only(env: Mapping[str, str] | None = None) -> bool:
    """Whether the loopback guard is on in `env` (default: the process environment)."""
    value = (os.environ if env is None else env).get(LOOPBACK_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1); no DNS lookup."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HeaderAuth(AuthBase):
    """``Authorization: <scheme> <credential>`` (Kobo ``Token``, CommCare ``ApiKey``, bearer)."""

    def __init__(self, scheme: str, credential: str) -> None:
        self._value = f"{scheme} {credential}"
        self.scheme = scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return f"HeaderAuth({self.scheme} ***)"


class BasicAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic whose ``repr`` shows the user only."""

    def __repr__(self) -> str:
        return f"BasicAuth({self.username!r}, ***)"


class _GuardedTransport(requests.adapters.HTTPAdapter):
    """Checks every request it sends (redirects and ``next`` links included) against the
    loopback guard before any socket is opened."""

    def __init__(self, guard: bool, answer: Transport | None = None) -> None:
        super().__init__(max_retries=0)
        self.guard = guard
        self.answer = answer

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        host = urlsplit(request.url or "").hostname
        if self.guard and not is_loopback_host(host):
            raise EgressRefusedError(
                f"refused a request to {host!r}: {LOOPBACK_ENV} is set, so adapters may only "
                f"reach this machine (localhost, 127.0.0.0/8, ::1)")
        if self.answer is not None:
            return self.answer(request)
        return super().send(request, *args, **kwargs)


class HttpClient:
    """JSON over HTTP to one source system at `base_url`.

    `timeout` is (connect, read) seconds. Requests that fail with 429 or 5xx, or cannot
    connect, are tried again up to `retries` times, waiting `backoff` * 2^n seconds (with
    jitter, at most `max_backoff`), or the ``Retry-After`` the source asked for (whole or
    decimal seconds, or a date; read as at most a day) when that
    is longer; a ``Retry-After`` beyond `max_retry_after` ends the attempts at once with a
    `SourceUnavailableError` carrying it. A POST or PATCH is resent only after an answer that
    says it was not processed (429, 503) or when no connection was made, unless the call says
    it is `idempotent` (it sets a value); after 500, 502, 504 or a read timeout it may have
    been written, so the caller reads back before sending it again (`AMBIGUOUS_STATUSES`).

    `transport`, when given, answers every request in place of the network (after the
    loopback guard), so a test of an adapter's logic needs no server; a raised
    ``requests.RequestException`` stands for a network failure.
    """

    def __init__(self, base_url: str, *, auth: AuthBase | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0), retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 30.0,
                 max_retry_after: float = 120.0, guard: bool | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 user_agent: str = "mandate-rules-adapter",
                 transport: Transport | None = None) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdapterConfigError(f"expected an http(s) base URL, got {base_url!r}")
        self.base_url = base_url
        self.origin = (parts.scheme, parts.hostname, parts.port)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.guard = loopback_only() if guard is None else guard
        self._sleep = sleep
        self._random = random.Random()
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept"] = "application/json"
        if self.guard:
            # No proxy from the environment may carry a request off the machine either.
            self.session.trust_env = False
        guarded = _GuardedTransport(self.guard, transport)
        self.session.mount("http://", guarded)
        self.session.mount("https://", guarded)

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    def url(self, path_or_url: str) -> str:
        """An absolute URL for `path_or_url`, which must stay on the source's origin."""
        url = urljoin(self.base_url, path_or_url.lstrip("/")) if "://" not in path_or_url \
            else path_or_url
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname, parts.port) != self.origin:
            raise SourceRejectedError(
                f"the source pointed at {parts.scheme}://{parts.hostname} outside "
                f"{self.base_url}; not followed")
        return url

    def close(self) -> None:
        self.session.close()

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request_json("GET", path_or_url, params=params)

    def get_listing(self, path_or_url: str, *, classify: Callable[[Any], str], expected: str,
                    what: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one page of a listing: its JSON body, which `classify` (the adapter's parser;
        it may raise `ValueError`) must call `expected`, else `SourceRejectedError` saying it
        is not `what` and what it is; and its ``next`` link, when it has one, must stay on
        the source's origin, so no later page is fetched from elsewhere."""
        body = self.get_json(path_or_url, params=params)
        try:
            kind = classify(body)
        except ValueError:
            kind = "unknown"
        if kind != expected:
            path = urlsplit(self.url(path_or_url)).path
            raise SourceRejectedError(f"GET {path}: not {what} ({kind})")
        following = body.get("next") if isinstance(body, Mapping) else None
        if following:
            self.url(str(following))
        return body

    def request_json(self, method: str, path_or_url: str, *,
                     params: Mapping[str, Any] | None = None, body: Any = None,
                     idempotent: bool | None = None) -> Any:
        """Send one request and return its JSON body (None for an empty body)."""
        response = self.request(method, path_or_url, params=params, body=body,
                                idempotent=idempotent)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise SourceRejectedError(
                f"{method} {urlsplit(response.url).path}: the answer is not JSON "
                f"({response.headers.get('Content-Type', 'no content type')})",
                status=response.status_code) from exc

    def request(self, method: str, path_or_url: str, *,
                params: Mapping[str, Any] | None = None, body: Any = None,
                idempotent: bool | None = None) -> requests.Response:
        """Send one request, retried as the class says. `idempotent` overrides what the
        method implies (True for a PATCH that sets a value: sending it twice is harmless)."""
        url = self.url(path_or_url)
        path = urlsplit(url).path
        method = method.upper()
        repeatable = method in _IDEMPOTENT if idempotent is None else idempotent
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, params=params, data=data,
                                                headers=headers, timeout=self.timeout,
                                                allow_redirects=method == "GET")
            except EgressRefusedError:
                raise
            except requests.RequestException as exc:
                # A connection never made carried nothing: any method may be sent again.
                connect_failed = isinstance(exc, requests.exceptions.ConnectionError) and \
                    not isinstance(exc, requests.ReadTimeout)
                reason = type(exc).__name__
                if self._wait_to_resend(attempt, f"{method} {path}: {reason}",
                                        resendable=repeatable or connect_failed):
                    attempt += 1
                    continue
                raise SourceUnavailableError(
                    f"{method} {path}: no answer from the source ({reason})") from exc
            status = response.status_code
            log.debug("%s %s -> %d", method, path, status)
            if status < 400:
                return response
            retry_after = _retry_after(response.headers.get("Retry-After"))
            summary = _summary(response)
            message = f"{method} {path}: {status} {response.reason or ''}".rstrip()
            if summary:
                message += f": {summary}"
            if status in (401, 403):
                raise SourceAuthError(message, status=status)
            if status not in _RETRY_STATUSES:
                raise SourceRejectedError(message, status=status)
            too_long = retry_after is not None and retry_after > self.max_retry_after
            if not too_long and self._wait_to_resend(
                    attempt, f"{method} {path}: {status}", retry_after=retry_after,
                    resendable=repeatable or status in _NOT_PROCESSED):
                attempt += 1
                continue
            raise SourceUnavailableError(message, status=status, retry_after=retry_after)

    def _wait_to_resend(self, attempt: int, what: str, *, resendable: bool,
                        retry_after: float | None = None) -> bool:
        """Whether attempt number `attempt` (from 0) that failed as `what` is sent again; if
        it is, after the backoff (or the ``Retry-After``, when longer) has passed."""
        if not resendable or attempt >= self.retries:
            return False
        delay = self._delay(attempt, retry_after)
        log.warning("%s; try %d of %d in %.1f s", what, attempt + 2, self.retries + 1, delay)
        self._sleep(delay)
        return True

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay: float = min(self.max_backoff, self.backoff * float(2 ** attempt))
        delay *= 0.5 + self._random.random() / 2
        return max(delay, retry_after or 0.0)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds, whole or decimal (``1.5``), or an
    HTTP date; between 0 and `RETRY_AFTER_CAP`. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses without a zone
        when = when.replace(tzinfo=dt.UTC)
    return min(max(0.0, float(when.timestamp()) - time.time()), RETRY_AFTER_CAP)


_Found = TypeVar("_Found")


def write_unless_there(find: Callable[[], _Found | None], write: Callable[[], _Found], *,
                       resends: int = 2) -> _Found:
    """A write that is not idempotent (a POST that adds a flag, a PATCH that appends a note
    or makes a new version), done once: `write` unless `find` shows it done already.

    `HttpClient` never resends such a write after an answer that leaves open whether the
    source acted on it (`AMBIGUOUS_STATUSES`: 500, a proxy's 502 or 504, no answer before the
    read timeout); this reads back with `find` and sends again only if it is still absent,
    at most `resends` more times, then lets the `SourceUnavailableError` through.
    """
    attempt = 0
    while True:
        found = find()
        if found is not None:
            return found
        try:
            return write()
        except SourceUnavailableError as exc:
            if exc.status not in AMBIGUOUS_STATUSES or attempt >= resends:
                raise
            attempt += 1
            log.warning("%s; reading back before sending it again", exc)


def _summary(response: requests.Response) -> str:
    """What the source said, from the error shapes the three systems use (at most 200 chars)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    text = ""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            text = str(first.get("message") or "")
            if first.get("detail"):
                text += f" ({first['detail']})"
        else:
            for key in ("detail", "error", "message"):
                if isinstance(body.get(key), str):
                    text = body[key]
                    break
    return text[:200]
