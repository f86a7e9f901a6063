"""Reading requests: media types, bodies under a size limit, strict JSON, query parameters."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Collection
from typing import Any

from starlette.requests import Request

from .._content import shown
from ._errors import ApiError

JSON = "application/json"
CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENT_BATCH = "application/cloudevents-batch+json"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def charset(request: Request) -> str | None:
    """The `charset` parameter of the Content-Type, unquoted, or None."""
    for param in request.headers.get("content-type", "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"')
    return None


def require_media_type(request: Request, allowed: Collection[str]) -> str:
    """The request's media type if it is one of `allowed`, in UTF-8 (the only charset JSON
    is read in here: any other is refused rather than read as UTF-8 regardless)."""
    found = media_type(request)
    if found not in allowed:
        shown = f"{found!r}" if found else "none"
        raise ApiError("unsupported-media-type",
                       f"Content-Type {shown} is not read here; send one of: "
                       + ", ".join(sorted(allowed)), "header.content-type")
    declared = charset(request)
    if declared is not None and declared.lower() not in ("utf-8", "utf8"):
        raise ApiError("unsupported-media-type", f"charset {declared!r} is not read here; "
                       "send the body in UTF-8 (charset=utf-8, or no charset)",
                       "header.content-type")
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError("malformed-json", "Content-Length is not a number",
                           "header.content-length")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError("payload-too-large", f"the body is larger than {limit} bytes; split the "
                    f"batch or raise max_body_bytes", "body")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JSON leaves a repeated key's meaning open (Python keeps the last, other parsers the
    # first): a body that names one twice may mean to the sender what it does not mean here.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {shown(key)!r} appears twice in one object; "
                                 "expected each key once")
            seen.add(key)
    return obj


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, no key twice in an object, refused with where
    it went wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError("malformed-json", f"the body is not UTF-8 (byte {exc.start})",
                       "body") from exc
    if not text.strip():
        raise ApiError("malformed-json", "the body is empty; expected JSON", "body")
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ApiError("malformed-json", f"not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}", "body") from exc
    except ValueError as exc:
        raise ApiError("malformed-json", f"not valid JSON: {exc}", "body") from exc
    except RecursionError as exc:
        raise ApiError("malformed-json", "the JSON is nested too deeply", "body") from exc


def query_text(request: Request, name: str, *, max_length: int = 512) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_length:
        raise ApiError("invalid-query", f"{name} is longer than {max_length} characters",
                       f"query.{name}")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        # No stored text holds one (the edge refuses them in events), and PostgreSQL
        # cannot even be asked about a NUL.
        raise ApiError("invalid-query", f"{name} holds a control character", f"query.{name}")
    return value


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or not low <= int(raw) <= high:
        raise ApiError("invalid-query", f"{name} must be a whole number from {low} to {high}, "
                       f"got {raw!r}", f"query.{name}")
    return int(raw)


def query_choices(request: Request, name: str, choices: Collection[str]) -> tuple[str, ...]:
    """A comma-separated list of words from `choices` (empty when the parameter is absent)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return ()
    values = tuple(v.strip() for v in raw.split(","))
    bad = [v for v in values if v not in choices]
    if bad:
        raise ApiError("invalid-query", f"{name}: {', '.join(map(repr, bad))} not known; "
                       f"expected one or more of {', '.join(sorted(choices))}",
                       f"query.{name}")
    return values


def query_time(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ApiError("invalid-query", f"{name} must be an RFC 3339 date-time with a time "
                       f"zone, such as 2026-11-20T08:00:00Z; got {raw!r}", f"query.{name}")
    return when.timestamp()


def encode_cursor(seq: int | None) -> str | None:
    if seq is None:
        return None
    return base64.urlsafe_b64encode(f"v1:{seq}".encode()).decode().rstrip("=")


def decode_cursor(request: Request) -> int:
    raw = request.query_params.get("cursor")
    if raw is None or raw == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "v1" or not number.isdigit() or len(number) > 18:
        raise ApiError("invalid-cursor", "the cursor is not one this server handed out; "
                       "start again without it", "query.cursor")
    return int(number)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)

