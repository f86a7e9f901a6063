"""Declarative field mapping, per deployment, in YAML: which records become which event type,
which source field fills which event field, value maps, defaults, and the record's identity.

The format (see docs/writing-an-adapter.md for the whole of it)::

    name: kobo-escort-request             # for people
    country: {field: location/country}    # or a constant: {value: SOM}
    area: {field: location/admin1}        # optional
    record:                               # the record's identity, for every rule below
      id: [_id, meta/instanceID]          # the first field present wins
      version: [meta/instanceID, _uuid]
      time: [_submission_time, end]       # times without a zone are UTC
    ignore:                               # skipped on purpose, counted, never an event
      - when: {field: case_type, in: [mandate_advisory]}
        reason: our own advisory cases
    records:
      - name: escort request
        when: {field: request_type, equals: escort}   # all conditions of a list must hold
        type: escort.request
        fields:
          org.id: org/org_id              # short form: the source field
          armed: {field: escort/armed, map: {"yes": true, "no": false}}
          alternatives_considered: {field: escort/alternatives, map: {...}, otherwise: other}
          criteria.programme_criticality: {field: criteria/pc, default: na}
          vehicles: {each: movement/vehicle, fields: {id: movement/vehicle/plate}}
          source_system: {value: kobotoolbox}

A source field is a key of the record (Kobo's ``group/question`` is one key), or a dotted path
into nested objects (CommCare's ``properties.route_id``). Values are converted to the kind the
event schema gives the target field (text, number, yes/no, time, list: a select_multiple
answer ``"a b c"`` becomes a list); a value that does not fit rejects the record.

Loading the YAML (`load_mapping`, in mappingload) checks the file against the event schema and
reports every problem with the file and line; this module applies a loaded mapping. Mapping a
record never raises for the record's content: it returns the `Event`, or a
`Rejected` with the reason (naming the mapping line of the field at fault), or an `Ignored`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from typing import Any

import attrs

from .._errors import EventValidationError
from .._models import Event, format_time
from .._schema import (
    BOOL,
    BOOL_OR_TEXT,
    ENUM,
    INTEGER,
    LIST,
    NUMBER,
    TEXT,
    TIME,
    Kind,
    ObjectList,
    load_schema,
    parse_time,
)
from .contract import Batch, Ignored, Rejected
from .recordurl import RECORD_URL_ATTRIBUTE

__all__ = [
    "COUNTRY_RE",
    "FILLED_BY_THE_MAPPING",
    "MISSING",
    "Condition",
    "FieldMapping",
    "FieldSpec",
    "IgnoreRule",
    "RecordRule",
    "get_source",
]

#: A record's web address from its id (None: not known); see `SourceAdapter.record_url`.
RecordAddress = Callable[[str], str | None]
#: A source field absent, null or "" (and a spec key not given).
MISSING: Any = object()
COUNTRY_RE = re.compile(r"^[A-Z]{3}$")
# Event fields every mapped event gets without a spec (see `FieldMapping._apply`).
FILLED_BY_THE_MAPPING = frozenset({"entity_id", "source_system"})
_NAIVE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def get_source(record: Any, path: str) -> Any:
    """The value at `path` in a record: a key as it stands (``group/question``), else a dotted
    path into nested objects (``properties.route_id``). Absent, null and "" are all missing."""
    if not isinstance(record, MappingABC):
        return MISSING
    if path in record:
        value = record[path]
        return MISSING if value is None or value == "" else value
    head, dot, rest = path.partition(".")
    if dot and head in record:
        return get_source(record[head], rest)
    return MISSING


@attrs.frozen
class Condition:
    field: str
    op: str
    value: Any
    line: int

    def holds(self, record: Any) -> bool:
        found = get_source(record, self.field)
        if self.op == "exists":
            return (found is not MISSING) == bool(self.value)
        if found is MISSING:
            return self.op == "not_in"
        if self.op == "equals":
            return _same(found, self.value)
        hit = any(_same(found, v) for v in self.value)
        return hit if self.op == "in" else not hit

    def describe(self) -> str:
        return f"{self.field} {self.op} {self.value!r}"


def _same(found: Any, wanted: Any) -> bool:
    return bool(found == wanted or str(found) == str(wanted))


@attrs.frozen
class FieldSpec:
    """How to fill one event field."""

    target: str
    line: int
    kind: Kind | ObjectList
    fields: tuple[str, ...] = ()
    value: Any = MISSING
    map: MappingABC[Any, Any] | None = None
    otherwise: Any = MISSING
    default: Any = MISSING
    split: str | None = None
    each: tuple[str, ...] = ()
    item_specs: tuple[FieldSpec, ...] = ()


@attrs.frozen
class RecordRule:
    name: str
    line: int
    type: str
    when: tuple[Condition, ...]
    specs: tuple[FieldSpec, ...]
    ids: tuple[str, ...]
    versions: tuple[str, ...]
    times: tuple[str, ...]
    country: FieldSpec | None
    area: FieldSpec | None


@attrs.frozen
class IgnoreRule:
    when: tuple[Condition, ...]
    reason: str


@attrs.frozen
class FieldMapping:
    """A loaded mapping: `map_record` turns one source record into an event (or says why not)."""

    file: str
    name: str
    rules: tuple[RecordRule, ...]
    ignores: tuple[IgnoreRule, ...]

    @property
    def source_fields(self) -> frozenset[str]:
        """The top-level source fields the mapping reads (to ask a source for these only)."""
        out: set[str] = set()

        def add(specs: Sequence[FieldSpec]) -> None:
            for spec in specs:
                out.update(f.split(".")[0] for f in spec.fields + spec.each)
                add(spec.item_specs)

        for rule in self.rules:
            out.update(f.split(".")[0] for f in rule.ids + rule.versions + rule.times)
            out.update(c.field.split(".")[0] for c in rule.when)
            add(rule.specs)
            add([s for s in (rule.country, rule.area) if s is not None])
        for ignore in self.ignores:
            out.update(c.field.split(".")[0] for c in ignore.when)
        return frozenset(out)

    def map_batch(self, records: Sequence[MappingABC[str, Any]], *, source: str,
                  system: str, record_url: RecordAddress | None = None) -> Batch:
        """Every record mapped: events, rejected records with reasons, ignored records;
        `record_url` gives a record's web address from its id (see `map_record`)."""
        events: list[Event] = []
        rejected: list[Rejected] = []
        ignored: list[Ignored] = []
        for record in records:
            outcome = self.map_record(record, source=source, system=system,
                                      record_url=record_url)
            if isinstance(outcome, Event):
                events.append(outcome)
            elif isinstance(outcome, Rejected):
                rejected.append(outcome)
            else:
                ignored.append(outcome)
        return Batch(events, rejected, ignored)

    def map_record(self, record: MappingABC[str, Any], *, source: str, system: str,
                   record_url: RecordAddress | None = None) -> Event | Rejected | Ignored:
        """The event for `record`, or why there is none. Never raises for the record's content.

        The event carries ``recordurl``, the address `record_url` gives for the record's id,
        unless it gives None (the source's addresses are not known)."""
        ids = self.rules[0].ids if self.rules else ()
        for ignore in self.ignores:
            if all(c.holds(record) for c in ignore.when):
                return Ignored(_first_text(record, ids), ignore.reason)
        rule = next((r for r in self.rules if all(c.holds(record) for c in r.when)), None)
        if rule is None:
            return Rejected(source, _first_text(record, ids),
                            f"no record rule of {self.file} matches this record (tried: "
                            + "; ".join(f"{r.name}: " + (" and ".join(c.describe() for c in r.when)
                                                          or "every record") for r in self.rules)
                            + ")", dict(record))
        return self._apply(rule, record, source, system, record_url)

    def _apply(self, rule: RecordRule, record: MappingABC[str, Any], source: str,
               system: str, record_url: RecordAddress | None) -> Event | Rejected:
        record_id = _first_text(record, rule.ids)
        problems: list[str] = []
        if record_id is None:
            found = _first(record, rule.ids)
            problems.append(f"no usable record id in any of {', '.join(rule.ids)}"
                            + ("" if found is MISSING else f" (found {found!r})"))
        version = _first_text(record, rule.versions)
        when = _first(record, rule.times)
        when_text = _time_text(when) if when is not MISSING else None
        if when_text is None:
            problems.append(f"no usable time in any of {', '.join(rule.times)} "
                            f"(found {None if when is MISSING else when!r})")
        data: dict[str, Any] = {}
        for spec in rule.specs:
            value = _fill(spec, record, self.file, problems)
            if value is not MISSING:
                _put(data, spec.target, value)
        data.setdefault("entity_id", record_id)
        if "source_system" in load_schema().types[rule.type].tree:
            data.setdefault("source_system", system)
        country = _fill(rule.country, record, self.file, problems) if rule.country else MISSING
        area = _fill(rule.area, record, self.file, problems) if rule.area else MISSING
        if country is MISSING:
            problems.append("no country: set `country` in the mapping or fill it from a field")
        elif isinstance(country, str) and COUNTRY_RE.match(country.strip().upper()):
            country = country.strip().upper()  # forms often keep ISO codes in lower case
        if problems:
            return Rejected(source, record_id, f"{rule.name}: " + "; ".join(problems),
                            dict(record))
        event_id = f"{record_id}@{version}" if version else str(record_id)
        obj: dict[str, Any] = {"specversion": "1.0", "id": event_id, "source": source,
                               "type": rule.type, "time": when_text, "subject": record_id,
                               "country": country, "data": data}
        if area is not MISSING:
            obj["area"] = area
        address = record_url(str(record_id)) if record_url is not None else None
        if address is not None:
            obj[RECORD_URL_ATTRIBUTE] = address
        try:
            return Event.from_json(obj)
        except EventValidationError as exc:
            return Rejected(source, record_id, f"{rule.name}: {exc}", dict(record))


def _first(record: Any, paths: Sequence[str]) -> Any:
    for path in paths:
        value = get_source(record, path)
        if value is not MISSING:
            return value
    return MISSING


def _first_text(record: Any, paths: Sequence[str]) -> str | None:
    value = _first(record, paths)
    if value is MISSING or isinstance(value, (dict, list, bool)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON's 1e400 reads as inf: no record is called "inf"
    return str(value)


def _time_text(value: Any) -> str | None:
    """RFC 3339 text for a source time; a time without a zone is UTC (Kobo, CommCare v1)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _NAIVE_TIME_RE.match(text):
        text = text.replace(" ", "T") + "Z"
    parsed = parse_time(text)
    return None if parsed is None else format_time(parsed.astimezone(dt.UTC))


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    head, dot, rest = path.partition(".")
    if not dot:
        data[head] = value
        return
    node = data.setdefault(head, {})
    _put(node, rest, value)


def _where(file: str, spec: FieldSpec) -> str:
    return f"({file}:{spec.line})"


def _fill(spec: FieldSpec, record: Any, file: str, problems: list[str]) -> Any:
    """The value for one event field, or MISSING; a problem is appended when it cannot be."""
    if spec.value is not MISSING:
        return spec.value
    if spec.each:
        items = _first(record, spec.each)
        if items is MISSING:
            return spec.default
        if not isinstance(items, list):
            problems.append(f"{spec.each[0]}: expected a list (a repeat or subform), got "
                            f"{type(items).__name__} {_where(file, spec)}")
            return MISSING
        out = []
        for index, item in enumerate(items):
            obj: dict[str, Any] = {}
            before = len(problems)
            for sub in spec.item_specs:
                value = _fill(sub, item, file, problems)
                if value is not MISSING:
                    _put(obj, sub.target, value)
            for i in range(before, len(problems)):
                problems[i] = f"{spec.target}[{index}].{problems[i]}"
            out.append(obj)
        return out
    raw = _first(record, spec.fields)
    if raw is MISSING:
        return spec.default
    name = spec.fields[0] if len(spec.fields) == 1 else "/".join(spec.fields)
    assert isinstance(spec.kind, Kind)
    try:
        return _convert(spec, raw)
    except ValueError as exc:
        problems.append(f"{spec.target} from {name}: {exc} {_where(file, spec)}")
        return MISSING


def _convert(spec: FieldSpec, raw: Any) -> Any:
    kind = spec.kind
    assert isinstance(kind, Kind)
    if kind.name == LIST:
        assert kind.item is not None
        if isinstance(raw, str):
            items: list[Any] = raw.split(spec.split) if spec.split else raw.split()
        elif isinstance(raw, list):
            items = raw
        else:
            items = [raw]
        return [_coerce(kind.item, _mapped(spec, item)) for item in items if item != ""]
    return _coerce(kind, _mapped(spec, raw))


def _mapped(spec: FieldSpec, value: Any) -> Any:
    if spec.map is None:
        return value
    for key in (value, str(value)):
        if isinstance(key, (str, int, float, bool)) and key in spec.map:
            return spec.map[key]
    if spec.otherwise is not MISSING:
        return spec.otherwise
    raise ValueError(f"{value!r} is not in the value map (known: "
                     f"{', '.join(repr(k) for k in spec.map)})")


def _coerce(kind: Kind, value: Any) -> Any:
    """`value` as the kind the schema wants, or ValueError saying what was wrong."""
    name = kind.name
    if name in (TEXT, ENUM) and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    elif name == BOOL and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    elif name in (NUMBER, INTEGER) and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        value = int(number) if number.is_integer() else number
    elif name == TIME and isinstance(value, str):
        text = _time_text(value) if "T" in value or " " in value.strip() else value
        value = text if text is not None else value
    elif name == BOOL_OR_TEXT:
        return value
    problem = kind.check(value)
    if problem is not None:
        raise ValueError(problem)
    return value
