"""Small pieces the bundled adapters share (JSON bodies, cursors, origin naming)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from requests.auth import AuthBase

from mandate_rules.adapters import (
    AdapterConfigError,
    AdapterError,
    FieldMapping,
    HttpClient,
    PayloadError,
    Settings,
    load_mapping,
)

__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "format_time",
    "host_of",
    "json_body",
    "later",
    "make_client",
    "mapping_for",
    "overlap_seconds",
    "parse_time",
    "read_cursor",
    "shift_time",
    "since_setting",
    "source_setting",
    "write_cursor",
]

# How far back each run re-reads (seconds): a record that becomes readable later than this
# after a newer one was read is missed. Generous on purpose: the records re-read cost a
# request, and come out as unchanged.
DEFAULT_OVERLAP_SECONDS = 3600.0


def json_body(body: bytes) -> Any:
    """The JSON in a pushed body, or `PayloadError`."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the pushed body is not JSON: {exc}") from exc


def host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return parts.netloc or base_url


def read_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except json.JSONDecodeError as exc:
        raise AdapterError(f"not a cursor of this adapter: {cursor!r}") from exc
    if not isinstance(value, Mapping):
        raise AdapterError(f"not a cursor of this adapter: {cursor!r}")
    return dict(value)


def write_cursor(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True)


def make_client(settings: Settings, auth: AuthBase | None) -> HttpClient:
    """The HTTP client for `settings`: ``base_url``, ``timeout: {connect, read}`` and
    ``retry: {attempts, backoff, max_backoff, max_retry_after}``."""
    timeout = settings.section("timeout")
    retry = settings.section("retry")
    return HttpClient(
        settings.text("base_url"), auth=auth,
        timeout=(timeout.number("connect", 5.0), timeout.number("read", 30.0)),
        retries=retry.integer("attempts", 4, low=0, high=20),
        backoff=retry.number("backoff", 0.5), max_backoff=retry.number("max_backoff", 30.0),
        max_retry_after=retry.number("max_retry_after", 120.0))


def mapping_for(settings: Settings, bundled: Path) -> FieldMapping:
    """The mapping the settings name (``mapping: FILE``), else the adapter's bundled one."""
    path = settings.path("mapping") or bundled
    return load_mapping(path)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time as an aware UTC datetime: ``Z``, an offset, or none (taken as UTC,
    as KoboToolbox writes ``_submission_time``); a date alone is its midnight. `ValueError`
    when it is not one."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_time(moment: dt.datetime, style: str) -> str:
    """`moment` in UTC, written as a source writes its own times: ``kobo``
    (``2026-11-20T04:52:44``, no zone), ``millis`` (``…T04:52:44.123Z``, Primero) or
    ``micros`` (``…T04:52:44.123456Z``, CommCare)."""
    utc = moment.astimezone(dt.UTC)
    if style == "kobo":
        return utc.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "millis":
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def since_setting(settings: Settings, style: str) -> str | None:
    """The ``since`` setting normalised to UTC in the source's own format (a user may write
    ``Z``, an offset, or a date), or `AdapterConfigError` naming it."""
    text = settings.optional_text("since")
    if text is None:
        return None
    try:
        return format_time(parse_time(text), style)
    except ValueError:
        raise AdapterConfigError(
            f"{settings.where}: since: expected an ISO 8601 time such as "
            f"2026-01-01T00:00:00Z (or with an offset, or a date), got {text!r}") from None


def overlap_seconds(settings: Settings) -> float:
    """The ``overlap_seconds`` setting: how far below its cursor each run re-reads."""
    return settings.number("overlap_seconds", DEFAULT_OVERLAP_SECONDS)


def shift_time(text: str, seconds: float, style: str) -> str:
    """The source time `text` moved back by `seconds`, in the source's format."""
    return format_time(parse_time(text) - dt.timedelta(seconds=seconds), style)


def later(a: str | None, b: str | None) -> str | None:
    """The later of two source times (None is earliest); compared as times, not as text
    (as text only when one is not a time: the mapping rejects such a record anyway)."""
    if a is None or b is None:
        return a if b is None else b
    try:
        return a if parse_time(a) >= parse_time(b) else b
    except ValueError:
        return max(a, b)


_URI_RE = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


def source_setting(settings: Settings) -> str | None:
    """The ``source`` setting: the connection's stable identity (the CloudEvents `source` of
    its events, and the key of its state); None when unset (the adapter makes one from its
    address)."""
    value = settings.optional_text("source")
    if value is not None and not _URI_RE.fullmatch(value):
        raise AdapterConfigError(f"{settings.where}: source: expected a URI (scheme://name/"
                                 f"path, e.g. kobotoolbox://kobo-somalia/assets/aBc123), got "
                                 f"{value!r}")
    return value
