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

Loading checks the file against the event schema and reports every problem with the file and
line. Mapping a record never raises for the record's content: it returns the `Event`, or a
`Rejected` with the reason (naming the mapping line of the field at fault), or an `Ignored`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from .._errors import EventValidationError
from .._models import Event, format_time
from .._problems import Problem, suggestion
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
from .._yamlsrc import key_line, node_line, plain, read_yaml
from .contract import Batch, Ignored, Rejected
from .errors import MappingError

__all__ = ["FieldMapping", "get_source", "load_mapping"]

_MISSING: Any = object()
_TOP_KEYS = ("name", "country", "area", "record", "ignore", "records")
_RULE_KEYS = ("name", "when", "type", "fields", "record", "country", "area")
_SPEC_KEYS = ("field", "value", "map", "otherwise", "default", "split", "each", "fields")
_COND_OPS = ("equals", "in", "not_in", "exists")
_RECORD_KEYS = ("id", "version", "time")
_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")
# Event fields every mapped event gets without a spec (see `FieldMapping._apply`).
_FILLED_BY_THE_MAPPING = frozenset({"entity_id", "source_system"})
_NAIVE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def get_source(record: Any, path: str) -> Any:
    """The value at `path` in a record: a key as it stands (``group/question``), else a dotted
    path into nested objects (``properties.route_id``). Absent, null and "" are all missing."""
    if not isinstance(record, MappingABC):
        return _MISSING
    if path in record:
        value = record[path]
        return _MISSING if value is None or value == "" else value
    head, dot, rest = path.partition(".")
    if dot and head in record:
        return get_source(record[head], rest)
    return _MISSING


@attrs.frozen
class _Condition:
    field: str
    op: str
    value: Any
    line: int

    def holds(self, record: Any) -> bool:
        found = get_source(record, self.field)
        if self.op == "exists":
            return (found is not _MISSING) == bool(self.value)
        if found is _MISSING:
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
class _Spec:
    """How to fill one event field."""

    target: str
    line: int
    kind: Kind | ObjectList
    fields: tuple[str, ...] = ()
    value: Any = _MISSING
    map: MappingABC[Any, Any] | None = None
    otherwise: Any = _MISSING
    default: Any = _MISSING
    split: str | None = None
    each: tuple[str, ...] = ()
    item_specs: tuple[_Spec, ...] = ()


@attrs.frozen
class _Rule:
    name: str
    line: int
    type: str
    when: tuple[_Condition, ...]
    specs: tuple[_Spec, ...]
    ids: tuple[str, ...]
    versions: tuple[str, ...]
    times: tuple[str, ...]
    country: _Spec | None
    area: _Spec | None


@attrs.frozen
class _IgnoreRule:
    when: tuple[_Condition, ...]
    reason: str


@attrs.frozen
class FieldMapping:
    """A loaded mapping: `map_record` turns one source record into an event (or says why not)."""

    file: str
    name: str
    rules: tuple[_Rule, ...]
    ignores: tuple[_IgnoreRule, ...]

    @property
    def source_fields(self) -> frozenset[str]:
        """The top-level source fields the mapping reads (to ask a source for these only)."""
        out: set[str] = set()

        def add(specs: Sequence[_Spec]) -> None:
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
                  system: str) -> Batch:
        """Every record mapped: events, rejected records with reasons, ignored records."""
        events: list[Event] = []
        rejected: list[Rejected] = []
        ignored: list[Ignored] = []
        for record in records:
            outcome = self.map_record(record, source=source, system=system)
            if isinstance(outcome, Event):
                events.append(outcome)
            elif isinstance(outcome, Rejected):
                rejected.append(outcome)
            else:
                ignored.append(outcome)
        return Batch(events, rejected, ignored)

    def map_record(self, record: MappingABC[str, Any], *, source: str,
                   system: str) -> Event | Rejected | Ignored:
        """The event for `record`, or why there is none. Never raises for the record's content."""
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
        return self._apply(rule, record, source, system)

    def _apply(self, rule: _Rule, record: MappingABC[str, Any], source: str,
               system: str) -> Event | Rejected:
        record_id = _first_text(record, rule.ids)
        problems: list[str] = []
        if record_id is None:
            problems.append(f"no record id in any of {', '.join(rule.ids)}")
        version = _first_text(record, rule.versions)
        when = _first(record, rule.times)
        when_text = _time_text(when) if when is not _MISSING else None
        if when_text is None:
            problems.append(f"no usable time in any of {', '.join(rule.times)} "
                            f"(found {None if when is _MISSING else when!r})")
        data: dict[str, Any] = {}
        for spec in rule.specs:
            value = _fill(spec, record, self.file, problems)
            if value is not _MISSING:
                _put(data, spec.target, value)
        data.setdefault("entity_id", record_id)
        if "source_system" in load_schema().types[rule.type].tree:
            data.setdefault("source_system", system)
        country = _fill(rule.country, record, self.file, problems) if rule.country else _MISSING
        area = _fill(rule.area, record, self.file, problems) if rule.area else _MISSING
        if country is _MISSING:
            problems.append("no country: set `country` in the mapping or fill it from a field")
        elif isinstance(country, str) and _COUNTRY_RE.match(country.strip().upper()):
            country = country.strip().upper()  # forms often keep ISO codes in lower case
        if problems:
            return Rejected(source, record_id, f"{rule.name}: " + "; ".join(problems),
                            dict(record))
        event_id = f"{record_id}@{version}" if version else str(record_id)
        obj: dict[str, Any] = {"specversion": "1.0", "id": event_id, "source": source,
                               "type": rule.type, "time": when_text, "subject": record_id,
                               "country": country, "data": data}
        if area is not _MISSING:
            obj["area"] = area
        try:
            return Event.from_json(obj)
        except EventValidationError as exc:
            return Rejected(source, record_id, f"{rule.name}: {exc}", dict(record))


def _first(record: Any, paths: Sequence[str]) -> Any:
    for path in paths:
        value = get_source(record, path)
        if value is not _MISSING:
            return value
    return _MISSING


def _first_text(record: Any, paths: Sequence[str]) -> str | None:
    value = _first(record, paths)
    if value is _MISSING or isinstance(value, (dict, list, bool)):
        return None
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


def _where(file: str, spec: _Spec) -> str:
    return f"({file}:{spec.line})"


def _fill(spec: _Spec, record: Any, file: str, problems: list[str]) -> Any:
    """The value for one event field, or _MISSING; a problem is appended when it cannot be."""
    if spec.value is not _MISSING:
        return spec.value
    if spec.each:
        items = _first(record, spec.each)
        if items is _MISSING:
            return spec.default
        if not isinstance(items, list):
            problems.append(f"{spec.each[0]}: expected a list (a repeat or subform), got "
                            f"{type(items).__name__} {_where(file, spec)}")
            return _MISSING
        out = []
        for index, item in enumerate(items):
            obj: dict[str, Any] = {}
            before = len(problems)
            for sub in spec.item_specs:
                value = _fill(sub, item, file, problems)
                if value is not _MISSING:
                    _put(obj, sub.target, value)
            for i in range(before, len(problems)):
                problems[i] = f"{spec.target}[{index}].{problems[i]}"
            out.append(obj)
        return out
    raw = _first(record, spec.fields)
    if raw is _MISSING:
        return spec.default
    name = spec.fields[0] if len(spec.fields) == 1 else "/".join(spec.fields)
    assert isinstance(spec.kind, Kind)
    try:
        return _convert(spec, raw)
    except ValueError as exc:
        problems.append(f"{spec.target} from {name}: {exc} {_where(file, spec)}")
        return _MISSING


def _convert(spec: _Spec, raw: Any) -> Any:
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


def _mapped(spec: _Spec, value: Any) -> Any:
    if spec.map is None:
        return value
    for key in (value, str(value)):
        if isinstance(key, (str, int, float, bool)) and key in spec.map:
            return spec.map[key]
    if spec.otherwise is not _MISSING:
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


# ---------------------------------------------------------------------------- loading


def load_mapping(path: str | Path, *, shown: str | None = None) -> FieldMapping:
    """Read and check a mapping file; raise `MappingError` listing every problem."""
    path = Path(path)
    file = shown or str(path)
    problems: list[Problem] = []
    document = read_yaml(path, file, problems)
    if problems:
        raise MappingError(problems)
    loader = _Loader(file, problems)
    mapping = loader.mapping(document)
    if problems or mapping is None:
        raise MappingError(sorted(problems))
    return mapping


class _Loader:
    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        self.schema = load_schema()

    def problem(self, line: int, code: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, code, message))

    def unknown_keys(self, node: MappingABC[str, Any], known: Sequence[str], line: int,
                     what: str) -> None:
        for key in node:
            if key not in known:
                self.problem(key_line(node, key, line), "unknown-key",
                             f"{key!r} is not a key of {what}{suggestion(str(key), known)}; "
                             f"known: {', '.join(known)}")

    def mapping(self, doc: Any) -> FieldMapping | None:
        if not isinstance(doc, MappingABC):
            self.problem(1, "not-a-mapping", "expected a mapping with `records:`")
            return None
        self.unknown_keys(doc, _TOP_KEYS, 1, "a field mapping")
        record = doc.get("record") or {}
        if not isinstance(record, MappingABC):
            self.problem(key_line(doc, "record", 1), "bad-record", "`record` must be a mapping")
            record = {}
        self.unknown_keys(record, _RECORD_KEYS, node_line(record, 1), "`record`")
        rules_node = doc.get("records")
        if not isinstance(rules_node, list) or not rules_node:
            self.problem(key_line(doc, "records", 1), "no-records",
                         "`records` must list at least one record rule (type and fields)")
            rules_node = []
        rules = []
        for index, node in enumerate(rules_node):
            rule = self.rule(node, index, record, doc)
            if rule is not None:
                rules.append(rule)
        ignores = []
        ignore_node = doc.get("ignore") or []
        if not isinstance(ignore_node, list):
            self.problem(key_line(doc, "ignore", 1), "bad-ignore",
                         "`ignore` must be a list of {when, reason}")
            ignore_node = []
        for node in ignore_node:
            line = node_line(node, key_line(doc, "ignore", 1))
            if not isinstance(node, MappingABC) or "reason" not in node or "when" not in node:
                self.problem(line, "bad-ignore", "each `ignore` item needs `when` and `reason`")
                continue
            self.unknown_keys(node, ("when", "reason"), line, "an `ignore` item")
            ignores.append(_IgnoreRule(self.conditions(node["when"], line),
                                       str(node["reason"])))
        name = str(doc.get("name") or Path(self.file).stem)
        return FieldMapping(self.file, name, tuple(rules), tuple(ignores))

    def paths(self, node: Any, line: int, what: str) -> tuple[str, ...]:
        values = node if isinstance(node, list) else [node]
        if not values or not all(isinstance(v, str) and v for v in values):
            self.problem(line, "bad-field", f"{what}: expected a source field or a list of "
                                            f"them, got {plain(node)!r}")
            return ()
        return tuple(str(v) for v in values)

    def conditions(self, node: Any, line: int) -> tuple[_Condition, ...]:
        items = node if isinstance(node, list) else [node]
        out = []
        for index, item in enumerate(items):
            at = node_line(item, line)
            if not isinstance(item, MappingABC) or "field" not in item:
                self.problem(at, "bad-condition", "a condition is {field: ..., equals|in|"
                                                  "not_in|exists: ...}")
                continue
            ops = [k for k in item if k != "field"]
            self.unknown_keys(item, ("field", *_COND_OPS), at, "a condition")
            if len(ops) != 1 or ops[0] not in _COND_OPS:
                self.problem(at, "bad-condition", f"condition {index + 1}: give exactly one of "
                                                  f"{', '.join(_COND_OPS)}")
                continue
            op, value = ops[0], plain(item[ops[0]])
            if op in ("in", "not_in") and not isinstance(value, list):
                self.problem(key_line(item, op, at), "bad-condition",
                             f"`{op}` takes a list of values")
                continue
            out.append(_Condition(str(item["field"]), op, value, at))
        return tuple(out)

    def rule(self, node: Any, index: int, record: MappingABC[str, Any],
             doc: MappingABC[str, Any]) -> _Rule | None:
        line = node_line(node, 1)
        if not isinstance(node, MappingABC):
            self.problem(line, "bad-rule", "a record rule is a mapping with `type` and `fields`")
            return None
        self.unknown_keys(node, _RULE_KEYS, line, "a record rule")
        name = str(node.get("name") or f"record rule {index + 1}")
        type_ = node.get("type")
        if not isinstance(type_, str) or self.schema.event_type(type_) is None:
            self.problem(key_line(node, "type", line), "unknown-event-type",
                         f"{type_!r} is not an event type"
                         f"{suggestion(str(type_), self.schema.types)}; known: "
                         + ", ".join(sorted(self.schema.types)))
            return None
        own = node.get("record") or {}
        identity: dict[str, tuple[str, ...]] = {}
        for key in _RECORD_KEYS:
            source_node = own if key in own else record
            value = source_node.get(key)
            if value is None:
                if key != "version":
                    self.problem(line, "missing-record-" + key,
                                 f"{name}: say which source field holds the record's {key} "
                                 f"(`record: {{{key}: ...}}`)")
                identity[key] = ()
                continue
            identity[key] = self.paths(value, key_line(source_node, key, line), f"record {key}")
        fields = node.get("fields") or {}
        if not isinstance(fields, MappingABC):
            self.problem(key_line(node, "fields", line), "bad-fields", "`fields` must be a "
                                                                       "mapping")
            fields = {}
        tree = self.schema.types[type_].tree
        specs = []
        for target, spec_node in fields.items():
            spec = self.spec(tree, str(target), spec_node, key_line(fields, target, line),
                             type_)
            if spec is not None:
                specs.append(spec)
        country = self.scalar_spec("country", node if "country" in node else doc, line,
                                   Kind(TEXT))
        area = self.scalar_spec("area", node if "area" in node else doc, line, Kind(TEXT))
        if isinstance(country, _Spec) and isinstance(country.value, str):
            if _COUNTRY_RE.match(country.value.strip().upper()):
                country = attrs.evolve(country, value=country.value.strip().upper())
            else:
                self.problem(country.line, "bad-country",
                             f"country {country.value!r}: expected an ISO 3166-1 alpha-3 code")
        self.required_fields(name, type_, specs, key_line(node, "fields", line))
        return _Rule(name, line, type_, self.conditions(node.get("when") or [], line)
                     if node.get("when") is not None else (), tuple(specs), identity["id"],
                     identity["version"], identity["time"], country, area)

    def required_fields(self, name: str, type_: str, specs: Sequence[_Spec],
                        line: int) -> None:
        """Every field `type_` requires must be filled by the rule, or no record could ever
        map: say so at load time, not once per record."""
        filled = {spec.target for spec in specs} | _FILLED_BY_THE_MAPPING
        for path in self.schema.types[type_].required:
            if path not in filled:
                self.problem(line, "missing-required-field",
                             f"{name}: a {type_} event requires `{path}`, and no field of this "
                             f"rule fills it: add `{path}: <source field>` (or "
                             f"`{{value: ...}}`) under `fields`")

    def scalar_spec(self, key: str, owner: MappingABC[str, Any], line: int,
                    kind: Kind) -> _Spec | None:
        if key not in owner:
            return None
        return self.spec({key: kind}, key, owner[key], key_line(owner, key, line), "")

    def spec(self, tree: MappingABC[str, Any], target: str, node: Any, line: int,
             type_: str) -> _Spec | None:
        kind = self.schema.lookup(tree, target)
        where = f" of {type_}" if type_ else ""
        if kind is None:
            paths = [p for p in _leaf_targets(tree)]
            self.problem(line, "unknown-field", f"{target!r} is not a field{where}"
                                                f"{suggestion(target, paths)}")
            return None
        if isinstance(node, str) or (isinstance(node, list) and not isinstance(kind, ObjectList)):
            node = {"field": node}
        if not isinstance(node, MappingABC):
            if isinstance(kind, Kind) and kind.check(plain(node)) is None:
                return _Spec(target, line, kind, value=plain(node))
            self.problem(line, "bad-spec", f"{target}: expected a source field or "
                                           f"{{field: ..., map: ...}}, got {plain(node)!r}")
            return None
        self.unknown_keys(node, _SPEC_KEYS, line, f"the spec of {target}")
        if isinstance(kind, ObjectList):
            if "each" not in node or not isinstance(node.get("fields"), MappingABC):
                self.problem(line, "object-list", f"{target} is a list of objects: fill it with "
                                                  f"{{each: <repeat or subform>, fields: {{...}}}}")
                return None
            subs = []
            for sub_target, sub_node in node["fields"].items():
                sub = self.spec(kind.fields, str(sub_target), sub_node,
                                key_line(node["fields"], sub_target, line), f"{type_} {target}[]")
                if sub is not None:
                    subs.append(sub)
            return _Spec(target, line, kind, each=self.paths(node["each"], line, "each"),
                         item_specs=tuple(subs),
                         default=plain(node["default"]) if "default" in node else _MISSING)
        if "each" in node:
            self.problem(key_line(node, "each", line), "not-object-list",
                         f"{target} is not a list of objects; `each` does not apply")
        has_value, has_field = "value" in node, "field" in node
        if has_value == has_field:
            self.problem(line, "bad-spec", f"{target}: give either `field` or `value`")
            return None
        value_map = plain(node.get("map")) if "map" in node else None
        if value_map is not None and not isinstance(value_map, dict):
            self.problem(key_line(node, "map", line), "bad-map", f"{target}: `map` must be a "
                                                                 "mapping of source value: value")
            value_map = None
        check = kind.item if kind.name == LIST and kind.item is not None else kind
        for label, values in (("map", list((value_map or {}).values())),
                              ("otherwise", [plain(node["otherwise"])] if "otherwise" in node
                               else []),
                              ("value", [plain(node["value"])] if has_value else []),
                              ("default", [plain(node["default"])] if "default" in node else [])):
            for value in values:
                whole = label in ("value", "default")
                error = (kind if whole else check).check(value)
                if error is not None:
                    at = key_line(node, label, line)
                    self.problem(at, "bad-value", f"{target}: {label} {value!r} does not fit: "
                                                  f"{error}")
        split = node.get("split")
        return _Spec(target, line, kind,
                     fields=self.paths(node["field"], line, target) if has_field else (),
                     value=plain(node["value"]) if has_value else _MISSING,
                     map=value_map,
                     otherwise=plain(node["otherwise"]) if "otherwise" in node else _MISSING,
                     default=plain(node["default"]) if "default" in node else _MISSING,
                     split=str(split) if split is not None else None)


def _leaf_targets(tree: MappingABC[str, Any], prefix: str = "") -> list[str]:
    out = []
    for name, node in tree.items():
        if isinstance(node, (Kind, ObjectList)):
            out.append(prefix + name)
        else:
            out.extend(_leaf_targets(node, prefix + name + "."))
    return out
