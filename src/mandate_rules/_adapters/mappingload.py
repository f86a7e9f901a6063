"""Loading a field mapping's YAML (`load_mapping`): every key checked against the format and
the event schema, each problem reported with the file and line, all of them at once; the
result is the `FieldMapping` that mapping applies. The format is described in mapping."""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from .._problems import Problem, suggestion
from .._schema import LIST, TEXT, Kind, ObjectList, load_schema
from .._yamlsrc import key_line, node_line, plain, read_yaml
from .errors import MappingError
from .mapping import (
    COUNTRY_RE,
    FILLED_BY_THE_MAPPING,
    MISSING,
    Condition,
    FieldMapping,
    FieldSpec,
    IgnoreRule,
    RecordRule,
)

__all__ = ["load_mapping"]

_TOP_KEYS = ("name", "country", "area", "record", "ignore", "records")
_RULE_KEYS = ("name", "when", "type", "fields", "record", "country", "area")
_SPEC_KEYS = ("field", "value", "map", "otherwise", "default", "split", "each", "fields")
_COND_OPS = ("equals", "in", "not_in", "exists")
_RECORD_KEYS = ("id", "version", "time")


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
            ignores.append(IgnoreRule(self.conditions(node["when"], line),
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

    def conditions(self, node: Any, line: int) -> tuple[Condition, ...]:
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
            out.append(Condition(str(item["field"]), op, value, at))
        return tuple(out)

    def rule(self, node: Any, index: int, record: MappingABC[str, Any],
             doc: MappingABC[str, Any]) -> RecordRule | None:
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
        if isinstance(country, FieldSpec) and isinstance(country.value, str):
            if COUNTRY_RE.match(country.value.strip().upper()):
                country = attrs.evolve(country, value=country.value.strip().upper())
            else:
                self.problem(country.line, "bad-country",
                             f"country {country.value!r}: expected an ISO 3166-1 alpha-3 code")
        self.required_fields(name, type_, specs, key_line(node, "fields", line))
        return RecordRule(name, line, type_, self.conditions(node.get("when") or [], line)
                     if node.get("when") is not None else (), tuple(specs), identity["id"],
                     identity["version"], identity["time"], country, area)

    def required_fields(self, name: str, type_: str, specs: Sequence[FieldSpec],
                        line: int) -> None:
        """Every field `type_` requires must be filled by the rule, or no record could ever
        map: say so at load time, not once per record."""
        filled = {spec.target for spec in specs} | FILLED_BY_THE_MAPPING
        for path in self.schema.types[type_].required:
            if path not in filled:
                self.problem(line, "missing-required-field",
                             f"{name}: a {type_} event requires `{path}`, and no field of this "
                             f"rule fills it: add `{path}: <source field>` (or "
                             f"`{{value: ...}}`) under `fields`")

    def scalar_spec(self, key: str, owner: MappingABC[str, Any], line: int,
                    kind: Kind) -> FieldSpec | None:
        if key not in owner:
            return None
        return self.spec({key: kind}, key, owner[key], key_line(owner, key, line), "")

    def spec(self, tree: MappingABC[str, Any], target: str, node: Any, line: int,
             type_: str) -> FieldSpec | None:
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
                return FieldSpec(target, line, kind, value=plain(node))
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
            return FieldSpec(target, line, kind, each=self.paths(node["each"], line, "each"),
                         item_specs=tuple(subs),
                         default=plain(node["default"]) if "default" in node else MISSING)
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
        return FieldSpec(target, line, kind,
                     fields=self.paths(node["field"], line, target) if has_field else (),
                     value=plain(node["value"]) if has_value else MISSING,
                     map=value_map,
                     otherwise=plain(node["otherwise"]) if "otherwise" in node else MISSING,
                     default=plain(node["default"]) if "default" in node else MISSING,
                     split=str(split) if split is not None else None)


def _leaf_targets(tree: MappingABC[str, Any], prefix: str = "") -> list[str]:
    out = []
    for name, node in tree.items():
        if isinstance(node, (Kind, ObjectList)):
            out.append(prefix + name)
        else:
            out.extend(_leaf_targets(node, prefix + name + "."))
    return out
