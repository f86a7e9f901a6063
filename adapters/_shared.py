"""Small pieces the bundled adapters share: JSON bodies, cursors, and times written as each
source writes them. What every adapter of an HTTP source holds in common (settings, source,
push secret, the write-back guard) is the SDK's `SourceAdapter`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from mandate_rules.adapters import AdapterError, PayloadError, parse_source_time

__all__ = [
    "format_time",
    "json_body",
    "later",
    "read_cursor",
    "shift_time",
    "since_text",
    "write_cursor",
]


def json_body(body: bytes) -> Any:
    """The JSON in a pushed body, or `PayloadError`."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the pushed body is not JSON: {exc}") from exc


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


def since_text(since: dt.datetime | None, style: str) -> str | None:
    """The ``since`` setting in the source's own format (None when unset)."""
    return None if since is None else format_time(since, style)


def shift_time(text: str, seconds: float, style: str) -> str:
    """The source time `text` moved back by `seconds`, in the source's format."""
    return format_time(parse_source_time(text) - dt.timedelta(seconds=seconds), style)


def later(a: str | None, b: str | None) -> str | None:
    """The later of two source times (None is earliest); compared as times, not as text
    (as text only when one is not a time: the mapping rejects such a record anyway)."""
    if a is None or b is None:
        return a if b is None else b
    try:
        return a if parse_source_time(a) >= parse_source_time(b) else b
    except ValueError:
        return max(a, b)
