"""Small pieces the bundled adapters share (JSON bodies, cursors, origin naming)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from requests.auth import AuthBase

from mandate_rules.adapters import (
    AdapterError,
    FieldMapping,
    HttpClient,
    PayloadError,
    Settings,
    load_mapping,
)

__all__ = ["host_of", "json_body", "make_client", "mapping_for", "read_cursor", "write_cursor"]


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
