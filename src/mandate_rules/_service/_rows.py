"""What the store writes and reads back, as frozen rows, and the JSON text it stores."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import attrs

from .._models import RulesVersion

# The encoding of Starlette's JSONResponse, so that texts encoded here can be stored and
# then spliced into a response unchanged. Values come from `to_json()` methods, which build
# trees, never cycles: skipping the cycle check saves a quarter of the time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False,
                            separators=(",", ":"))


def json_text(value: Any) -> str:
    """`value` as compact JSON, byte for byte as JSONResponse renders it."""
    return _ENCODER.encode(value)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.frozen
class AdvisoryRow:
    """An advisory as the store writes it."""

    id: str
    rule_id: str
    severity: str
    subject: str | None
    source: str
    country: str
    raised_at: str
    raised_ts: float
    rules_version: RulesVersion
    match_key: str
    body: str


@attrs.frozen
class ShadowOutcome:
    """What the candidate rule packs made of an event: their advisories, or why they failed."""

    version: RulesVersion
    advisories: tuple[AdvisoryRow, ...] | None
    error: str | None


@attrs.frozen
class Evaluated:
    """An event (or a clock tick) just evaluated, as the store writes it."""

    kind: str
    body: Mapping[str, Any]  # the event as JSON: the log's columns are read from it
    body_text: str  # the same, encoded once
    advisories: tuple[AdvisoryRow, ...]
    duration_ms: float
    shadow: ShadowOutcome | None = None
    missing_keys: tuple[str, ...] = ()  # see Engine.evaluate_detailed
    content_hash: str | None = None  # an event's (`Event.content_hash`); None for a tick


@attrs.frozen
class Duplicate:
    """A re-delivery: only its decision-log row is written. It points at the stored event
    (`seq`), or at the entry of the same `Store.record` call that evaluated it (`earlier`)."""

    ref: Mapping[str, str]  # source, id, type
    rules_version: RulesVersion
    advisory_ids: tuple[str, ...]
    seq: int | None = None
    earlier: int | None = None


@attrs.frozen
class StoredEvent:
    seq: int
    rules_version: RulesVersion
    advisory_ids: tuple[str, ...]
    content_hash: str


@attrs.frozen
class LogRow:
    """One entry of the event log, for replay (`body` as stored: JSON text)."""

    seq: int
    kind: str
    country: str
    time: str
    body: str
    rules_hash: str
    advisory_ids: tuple[str, ...]


@attrs.frozen
class SnapshotRow:
    """An operation's last snapshot: its state holds every stored event of the operation up
    to `seq`."""

    country: str
    seq: int
    rules_hash: str
    taken_at: str
    clocks: str
    body: str


@attrs.frozen
class AdvisoryFilter:
    subject: str | None = None
    source: str | None = None
    country: str | None = None
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    area: str | None = None  # the console's queue filters by it (json_extract on the body)
