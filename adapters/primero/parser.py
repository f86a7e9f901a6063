"""Primero v2 payloads: what each shape is, and the records in it.

Record-bearing shapes (see shared/fixtures/external/primero/README.md):

* a list ``{"data": [record, ...], "metadata": {total, per, page}}`` (``GET /api/v2/cases``;
  the incidents of a case and a case's referrals come as ``{"data": [...]}``);
* one record ``{"data": {record}}`` (``GET /api/v2/cases/:id``, a PATCH answer);
* a bare record (a record as integrations store it);
* a webhook POST ``{"data": {"record_id", "record_type", "hostname", ...fields...,
  "last_updated_at"}}`` (no real example exists; the shape is from the server code).

Not records: an error envelope ``{"errors": [...]}`` or ``{"error": "..."}``, flag objects
(``{"data": {"id": 4, "record_id": ..., "message": ...}}``; write-back reads them), record
history and alerts lists, changed fields without an ``id`` (a PATCH body or its answer,
``{"data": {...}}``) and the old JWT login body ``{"user": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from mandate_rules.adapters import PayloadError

__all__ = ["classify", "flag_messages", "meta", "records"]

RECORD, RECORD_LIST, WEBHOOK, FLAG, FLAG_LIST, ERROR, HISTORY, ALERTS, CHANGES, LOGIN = (
    "record", "record_list", "webhook", "flag", "flag_list", "error", "history", "alerts",
    "changes", "login")
RECORD_KINDS = frozenset({RECORD, RECORD_LIST, WEBHOOK})

_FLAG_KEYS = frozenset({"record_id", "message", "flagged_by"})


def _is_flag(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.keys() >= _FLAG_KEYS


def _is_record(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "id" in obj and not _is_flag(obj) and (
        "record_id" not in obj or "type" in obj)


def classify(obj: Any) -> str:
    """The shape of a Primero payload, or `PayloadError` when it is none of them."""
    if not isinstance(obj, Mapping):
        raise PayloadError("not a Primero payload: expected a JSON object")
    if "errors" in obj or (set(obj) == {"error"}):
        return ERROR
    if "user" in obj and "data" not in obj:
        return LOGIN
    data = obj.get("data", obj if "id" in obj else None)
    if isinstance(data, list):
        if all(_is_flag(item) for item in data) and data:
            return FLAG_LIST
        if data and all(isinstance(i, Mapping) and "record_changes" in i for i in data):
            return HISTORY
        if data and all(isinstance(i, Mapping) and "alert_for" in i for i in data):
            return ALERTS
        if all(_is_record(item) for item in data):
            return RECORD_LIST
    if isinstance(data, Mapping):
        if _is_flag(data):
            return FLAG
        if "record_id" in data and "record_type" in data:
            return WEBHOOK
        if _is_record(data):
            return RECORD
        if "data" in obj:
            return CHANGES
    raise PayloadError("not a Primero record, record list, webhook or known response")


def records(obj: Any) -> list[dict[str, Any]]:
    """The records in a record-bearing payload; a webhook record gets ``id`` = ``record_id``."""
    kind = classify(obj)
    if kind not in RECORD_KINDS:
        raise PayloadError(f"a Primero {kind.replace('_', ' ')} payload holds no record")
    data = obj.get("data", obj)
    if kind == RECORD_LIST:
        return [dict(item) for item in data]
    record = dict(data)
    if kind == WEBHOOK:
        record.setdefault("id", record["record_id"])
    return [record]


@attrs.frozen
class RecordMeta:
    id: str
    version: str | None
    created: str | None
    updated: str | None
    record_type: str | None


def meta(record: Mapping[str, Any]) -> RecordMeta:
    def text(key: str) -> str | None:
        value = record.get(key)
        return None if value in (None, "") else str(value)

    return RecordMeta(id=str(record.get("id") or record.get("record_id")),
                      version=text("last_updated_at"), created=text("created_at"),
                      updated=text("last_updated_at"), record_type=text("record_type"))


def flag_messages(obj: Any) -> list[tuple[Any, str, bool]]:
    """(id, message, removed) of each flag in a flags list or a single flag answer."""
    kind = classify(obj)
    if kind == FLAG:
        items = [obj["data"]]
    elif kind == FLAG_LIST:
        items = list(obj["data"])
    elif kind == RECORD_LIST and not obj.get("data"):
        items = []
    else:
        raise PayloadError(f"expected Primero flags, got a {kind.replace('_', ' ')}")
    return [(item.get("id"), str(item.get("message") or ""), bool(item.get("removed")))
            for item in items]
