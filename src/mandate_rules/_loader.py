"""Loading and validating rule packs, the bundle file and context profiles.

`load_bundle()` reads a rules directory and returns a `Bundle`, or raises `RulePackError`
with every problem of every file at once (file:line, a stable code, a plain message).
Nothing is half-loaded: a bundle with any problem is never returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from ._compiler import ENTITY_ID
from ._conditions import (
    CONTEXT,
    DATA,
    EVENT,
    EVENT_ATTRIBUTES,
    ITEM,
    UNITS,
    AnyItem,
    Compare,
    ConditionSyntaxError,
    Group,
    Has,
    Member,
    Node,
    Path,
    Presence,
    Ref,
    parse_condition,
)
from ._context import ContextProfile
from ._errors import RulePackError
from ._models import Reference, RulesVersion, Severity
from ._problems import Problem, suggestion
from ._rules import (
    Absence,
    Bundle,
    Count,
    Escalation,
    Lookback,
    Parameter,
    Pattern,
    Rule,
    Side,
    Trigger,
    Uplift,
    Where,
)
from ._schema import (
    BOOL,
    BOOL_OR_TEXT,
    ENUM,
    LIST,
    TIME,
    Kind,
    ObjectList,
    Schema,
    _validate_tree,
    load_schema,
)
from ._yamlsrc import decode_source, item_line, key_line, parse_yaml, plain, read_source

__all__ = ["check_bundle", "key_warnings", "load_bundle"]

BUNDLE_FILE = "bundle.yaml"
CONTEXTS_DIR = "contexts"
_RULE_ID_RE = re.compile(r"^[A-Z]{3}-\d{3}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+([a-z]+)\s*$")

_RULE_KEYS = ("id", "title", "on", "when", "severity", "uplift", "escalate", "advice", "actions",
              "references", "parameters", "triggers")
_TRIGGER_KEYS = ("name", "on", "when", "severity", "advice", "actions", "count", "absence",
                 "lookback")
_REFERENCE_KEYS = ("source", "section", "checked", "url", "quote")
_MARKS = ("V", "S", "H", "U")
_SEVERITIES = tuple(s.value for s in Severity)


def load_bundle(rules_dir: str | FsPath, contexts_dir: str | FsPath | None = None, *,
                parameters: Mapping[str, Mapping[str, Any]] | None = None) -> Bundle:
    """Load the packs in `rules_dir` and the profiles in `contexts_dir` (`rules_dir/contexts`).

    `parameters` overrides rule parameters per deployment: ``{"AST-007": {"warning_at": 5}}``.
    Raises `RulePackError` listing every problem found.
    """
    bundle, problems = _load(FsPath(rules_dir), contexts_dir, parameters or {})
    if problems:
        raise RulePackError(sorted(problems))
    assert bundle is not None
    return bundle


def check_bundle(rules_dir: str | FsPath, contexts_dir: str | FsPath | None = None, *,
                 parameters: Mapping[str, Mapping[str, Any]] | None = None) -> list[Problem]:
    """Every problem in the bundle, sorted by file and line (empty when it loads cleanly)."""
    return sorted(_load(FsPath(rules_dir), contexts_dir, parameters or {})[1])


# The envelope attributes every event carries (CloudEvents and DESIGN.md): `subject` and `area`
# are optional.
_REQUIRED_ATTRIBUTES = ("id", "source", "type", "time", "country")


def key_warnings(bundle: Bundle) -> list[Problem]:
    """Patterns that group an event type by a field the type does not require: an event
    without it is not followed (the engine reports it as a missing key). Warnings, not
    problems: the pack loads and runs."""
    schema = load_schema()
    out: list[Problem] = []
    for rule in bundle.rules:
        for trigger in rule.triggers:
            pattern = trigger.pattern
            if pattern is None:
                continue
            sides = [(trigger.on, pattern.by)]
            if isinstance(pattern, Absence):
                sides.append((pattern.until.on, pattern.until.by))
            elif isinstance(pattern, Lookback):
                sides.append((pattern.prior.on, pattern.prior.by))
            optional: dict[Path, list[str]] = {}  # field -> the types that may lack it
            for types, paths in sides:
                for path in paths:
                    for type_ in types:
                        if not _always_carried(schema, type_, path) and type_ not in \
                                optional.get(path, []):
                            optional.setdefault(path, []).append(type_)
            where = trigger.where or rule.where
            for path, lacking in optional.items():
                also = " or a subject" if path == ENTITY_ID else ""
                out.append(Problem(
                    where.file if where else "", where.line if where else 0, "optional-key",
                    f"{rule.id} {trigger.name!r} groups {', '.join(lacking)} by {path}, which "
                    f"{'they do' if len(lacking) > 1 else 'it does'} not require; an event "
                    f"without it{also} is not followed (it is counted as missing a key)"))
    return sorted(out)


def _always_carried(schema: Schema, event_type: str, path: Path) -> bool:
    if path.scope == EVENT:
        return path.dotted in _REQUIRED_ATTRIBUTES
    if path.scope == DATA:
        found = schema.event_type(event_type)
        return found is not None and path.dotted in found.required
    return True  # the context is the operation's, not the event's


def _load(rules_dir: FsPath, contexts_dir: str | FsPath | None,
          overrides: Mapping[str, Mapping[str, Any]]) -> tuple[Bundle | None, list[Problem]]:
    problems: list[Problem] = []
    if not rules_dir.is_dir():
        return None, [Problem(str(rules_dir), 0, "no-rules-dir",
                              "expected a directory of rule packs, found none here")]
    ctx_dir = FsPath(contexts_dir) if contexts_dir is not None else rules_dir / CONTEXTS_DIR
    loader = _Loader(rules_dir, load_schema(), problems, overrides)
    bundle = loader.load(ctx_dir)
    return (bundle if not problems else None), problems


class _Loader:
    def __init__(self, root: FsPath, schema: Schema, problems: list[Problem],
                 overrides: Mapping[str, Mapping[str, Any]]) -> None:
        self.root = root
        self.schema = schema
        self.problems = problems
        self.overrides = overrides
        self.sets: dict[str, tuple[str, ...]] = {}
        self.defined: dict[str, Where] = {}
        self.file = ""
        self.sources: dict[FsPath, bytes] = {}  # the bytes read, for the content hash

    # ---------------------------------------------------------------- helpers

    def problem(self, line: int, code: str, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, line, code, message))

    def shown(self, path: FsPath) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read(self, path: FsPath, home: FsPath, expected: str) -> Any:
        """The YAML document in `path`, or None after recording why not.

        A file (or a symbolic link) that leads out of `home` is refused unread: what lies
        outside the rules directory is not a rule pack, and its content must not travel into
        problems that `check` prints and the sidecar's reload returns.
        """
        self.file = self.shown(path)
        try:
            inside = path.resolve().is_relative_to(home.resolve())
        except (OSError, RuntimeError) as exc:  # a loop of links
            self.problem(1, "unreadable-file", f"cannot follow the path: {exc}")
            return None
        if not inside:
            self.problem(1, "link-outside", f"{self.file} leads out of {self.shown(home)} "
                         "through a symbolic link; it was not read. Put the file itself in the "
                         "directory")
            return None
        data = read_source(path, self.file, self.problems)
        if data is None:
            return None
        self.sources[path] = data
        text = decode_source(data, self.file, self.problems)
        if text is None:
            return None
        return parse_yaml(text, self.file, self.problems, expected=expected)

    def unknown_keys(self, node: Any, allowed: Sequence[str], line: int, what: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(key_line(node, key, line), "unknown-key",
                             f"{key!r} is not a key of {what}{suggestion(str(key), allowed)}; "
                             f"known keys: {', '.join(allowed)}")

    def text(self, node: Any, key: str, line: int, what: str, *, required: bool = True,
             code: str | None = None) -> str | None:
        value = node.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(line, code or f"missing-{key}", f"{what} has no {key!r}")
            return None
        if not isinstance(value, str):
            self.problem(key_line(node, key, line), f"bad-{key}",
                         f"{key!r} of {what} should be a text, got {plain(value)!r}")
            return None
        return " ".join(str(value).split()) if key in ("title", "advice", "because") else str(
            value).strip()

    # ---------------------------------------------------------------- the whole bundle

    def load(self, ctx_dir: FsPath) -> Bundle | None:
        name, version, uplift = self.load_bundle_file()
        rules: list[Rule] = []
        pack_files = sorted(p for p in self.root.glob("*.yaml") if p.name != BUNDLE_FILE)
        if not pack_files:
            self.problem(0, "no-packs", "the directory holds no rule packs (*.yaml)",
                         file=str(self.root))
        for path in pack_files:
            rules.extend(self.load_pack(path))
        for rule_id in self.overrides:
            if rule_id not in self.defined:
                self.problem(0, "unknown-parameter",
                             f"parameters are given for {rule_id!r}, which no pack defines"
                             f"{suggestion(rule_id, self.defined)}", file="<parameters>")
        contexts = self.load_contexts(ctx_dir)
        files = [self.root / BUNDLE_FILE, *pack_files]
        digest = hashlib.sha256()
        for path in files:
            if path in self.sources:
                digest.update(path.name.encode() + b"\0" + self.sources[path] + b"\0")
        digest.update(json.dumps(self.overrides, sort_keys=True, default=str).encode())
        rules.sort(key=_catalogue_order)
        return Bundle(name=name, version=RulesVersion(version, digest.hexdigest()),
                      rules=tuple(rules), sets=dict(self.sets), uplift=uplift,
                      contexts=contexts, files=tuple(self.shown(p) for p in files))

    def load_bundle_file(self) -> tuple[str, str, Uplift | None]:
        path = self.root / BUNDLE_FILE
        self.file = self.shown(path)
        if not path.exists():
            self.problem(0, "no-bundle-file",
                         f"expected {BUNDLE_FILE} (version, sets, uplift) in the rules directory")
            return "unnamed", "0", None
        doc = self.read(path, self.root, "the bundle's name, version, sets and uplift")
        if doc is None:
            return "unnamed", "0", None
        if not isinstance(doc, dict):
            self.problem(1, "bad-bundle", "the bundle file should be a mapping")
            return "unnamed", "0", None
        self.unknown_keys(doc, ("bundle", "version", "sets", "uplift"), 1, "the bundle file")
        name = self.text(doc, "bundle", 1, "the bundle file") or "unnamed"
        version = str(doc.get("version") or "")
        if not version:
            self.problem(1, "missing-version", "the bundle file has no 'version'")
        sets = doc.get("sets") or {}
        if not isinstance(sets, dict):
            self.problem(key_line(doc, "sets", 1), "bad-set", "'sets' should map names to lists")
            sets = {}
        all_values = self.schema.actors
        for set_name, values in sets.items():
            line = key_line(sets, set_name, 1)
            if not re.match(r"^[A-Z][A-Z_]*$", str(set_name)):
                self.problem(line, "bad-set", f"set name {set_name!r} should be in CAPITALS "
                             "(so it cannot be mistaken for a value)")
            if not isinstance(values, list) or not values:
                self.problem(line, "bad-set", f"set {set_name} should be a non-empty list")
                continue
            for value in values:
                if str(value) not in all_values:
                    self.problem(line, "bad-value", f"{value!r} in set {set_name} is not an actor "
                                 f"kind{suggestion(str(value), all_values)}")
            self.sets[str(set_name)] = tuple(str(v) for v in values)
        uplift = None
        raw_uplift = doc.get("uplift")
        if raw_uplift is not None:
            line = key_line(doc, "uplift", 1)
            if not isinstance(raw_uplift, dict):
                self.problem(line, "bad-uplift", "'uplift' should have 'because' and 'when'")
            else:
                self.unknown_keys(raw_uplift, ("because", "when"), line, "the uplift")
                because = self.text(raw_uplift, "because", line, "the uplift") or ""
                when = self.conditions(raw_uplift, "when", line, tuple(self.schema.types), {},
                                       context_only=True)
                uplift = Uplift(because, when)
        return str(name), version, uplift

    # ---------------------------------------------------------------- packs

    def load_pack(self, path: FsPath) -> list[Rule]:
        doc = self.read(path, self.root, "a rule pack (a mapping with 'pack', 'version' and "
                        "'rules')")
        if doc is None:
            return []
        if not isinstance(doc, dict):
            self.problem(1, "bad-pack", "a rule pack should be a mapping with 'pack' and 'rules'")
            return []
        self.unknown_keys(doc, ("pack", "version", "rules"), 1, "a rule pack")
        pack = self.text(doc, "pack", 1, "the rule pack") or path.stem
        raw_rules = doc.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            self.problem(key_line(doc, "rules", 1), "missing-rules",
                         "the pack has no 'rules' list")
            return []
        rules = []
        for index, raw in enumerate(raw_rules):
            line = item_line(raw_rules, index, 1)
            if not isinstance(raw, dict):
                self.problem(line, "bad-rule",
                             "each rule should be a mapping with 'id', 'title', …")
                continue
            rule = self.load_rule(raw, line, pack)
            if rule is not None:
                rules.append(rule)
        return rules

    def load_rule(self, raw: Any, line: int, pack: str) -> Rule | None:
        before = len(self.problems)
        self.unknown_keys(raw, _RULE_KEYS, line, "a rule")
        rule_id = self.text(raw, "id", line, "a rule") or "?"
        what = f"rule {rule_id}"
        if rule_id != "?" and not _RULE_ID_RE.match(rule_id):
            self.problem(key_line(raw, "id", line), "bad-rule-id",
                         f"rule id {rule_id!r} should look like 'ESC-001' (three capitals, a dash, "
                         "three digits)")
        if rule_id in self.defined:
            self.problem(line, "duplicate-rule",
                         f"rule {rule_id} is already defined at {self.defined[rule_id]}")
        elif rule_id != "?":
            self.defined[rule_id] = Where(self.file, line)
        title = self.text(raw, "title", line, what) or ""
        advice = self.text(raw, "advice", line, what) or ""
        severity = self.severity(raw, "severity", line, what, required=True) or Severity.INFO
        actions = self.text_list(raw, "actions", line, what)
        references = self.references(raw, line, what)
        uplift = raw.get("uplift", False)
        if not isinstance(uplift, bool):
            self.problem(key_line(raw, "uplift", line), "bad-uplift",
                         f"'uplift' of {what} should be true or false, got {plain(uplift)!r}")
            uplift = False
        params = self.parameters(raw, line, rule_id)
        values = {name: p.value for name, p in params.items()}
        rule_on = self.event_types(raw, "on", line, what, required=False)
        triggers: list[Trigger] = []
        if "triggers" in raw:
            if "when" in raw:
                self.problem(key_line(raw, "when", line), "bad-rule",
                             f"{what} has both 'when' and 'triggers'; put every 'when' "
                             "under a trigger")
            raw_triggers = raw["triggers"]
            if not isinstance(raw_triggers, list) or not raw_triggers:
                self.problem(key_line(raw, "triggers", line), "bad-trigger",
                             f"'triggers' of {what} should be a non-empty list")
            else:
                names: set[str] = set()
                for index, raw_trigger in enumerate(raw_triggers):
                    t_line = item_line(raw_triggers, index, line)
                    trigger = self.trigger(raw_trigger, t_line, what, rule_on, values, index)
                    if trigger is not None:
                        if trigger.name in names:
                            self.problem(t_line, "duplicate-trigger",
                                         f"{what} has two triggers named {trigger.name!r}")
                        names.add(trigger.name)
                        triggers.append(trigger)
        else:
            if not rule_on:
                self.problem(line, "missing-on", f"{what} has no 'on' (the event types it "
                             "looks at)")
            if "when" not in raw:
                self.problem(line, "missing-when", f"{what} has no 'when' (its conditions)")
            else:
                when = self.conditions(raw, "when", line, rule_on, values)
                triggers.append(Trigger("main", rule_on, when, where=Where(self.file, line)))
        on = tuple(dict.fromkeys(t for trig in triggers for t in trig.on))
        escalations = self.escalations(raw, line, what, on or rule_on, values, severity)
        if len(self.problems) > before:
            return None
        return Rule(id=rule_id, title=title, pack=pack, severity=severity, advice=advice,
                    actions=tuple(actions), references=tuple(references),
                    triggers=tuple(triggers), escalations=tuple(escalations), uplift=uplift,
                    parameters=params, where=Where(self.file, line))

    def severity(self, node: Any, key: str, line: int, what: str, *,
                 required: bool) -> Severity | None:
        value = node.get(key)
        if value is None:
            if required:
                self.problem(line, "missing-severity", f"{what} has no {key!r}")
            return None
        if str(value) not in _SEVERITIES:
            self.problem(key_line(node, key, line), "bad-severity",
                         f"{key} of {what} is {plain(value)!r}; expected one of "
                         f"{', '.join(_SEVERITIES)}{suggestion(str(value), _SEVERITIES)}")
            return None
        return Severity(str(value))

    def text_list(self, node: Any, key: str, line: int, what: str) -> list[str]:
        value = node.get(key)
        if value is None:
            self.problem(line, f"missing-{key}", f"{what} has no {key!r}")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v.strip() for v in value):
            self.problem(key_line(node, key, line), f"bad-{key}",
                         f"{key!r} of {what} should be a list of texts")
            return []
        return [" ".join(v.split()) for v in value]

    def references(self, raw: Any, line: int, what: str) -> list[Reference]:
        value = raw.get("references")
        if value is None:
            self.problem(line, "missing-references", f"{what} has no 'references'")
            return []
        if not isinstance(value, list) or not value:
            self.problem(key_line(raw, "references", line), "bad-reference",
                         f"'references' of {what} should be a non-empty list")
            return []
        out = []
        for index, ref in enumerate(value):
            r_line = item_line(value, index, line)
            if not isinstance(ref, dict):
                self.problem(r_line, "bad-reference",
                             "each reference should have 'source' and 'checked'")
                continue
            self.unknown_keys(ref, _REFERENCE_KEYS, r_line, "a reference")
            source = self.text(ref, "source", r_line, "a reference", code="bad-reference")
            checked = str(ref.get("checked", "")).strip()
            if checked not in _MARKS:
                self.problem(key_line(ref, "checked", r_line), "bad-reference",
                             f"'checked' should be V, S, H or U (the catalogue's marks), "
                             f"got {checked or 'nothing'!r}")
                continue
            if source is None:
                continue
            extra = {k: " ".join(str(ref[k]).split()) for k in ("section", "url", "quote")
                     if ref.get(k) is not None}
            out.append(Reference(source=" ".join(source.split()), checked=checked, **extra))
        return out

    def parameters(self, raw: Any, line: int, rule_id: str) -> dict[str, Parameter]:
        params: dict[str, Parameter] = {}
        value = raw.get("parameters") or {}
        p_line = key_line(raw, "parameters", line)
        if not isinstance(value, dict):
            self.problem(p_line, "bad-parameter", "'parameters' should map names to "
                         "{default, description}")
            return params
        overrides = dict(self.overrides.get(rule_id, {}))
        for name, spec in value.items():
            n_line = key_line(value, name, p_line)
            if not isinstance(spec, dict) or "default" not in spec:
                self.problem(n_line, "bad-parameter",
                             f"parameter {name!r} needs a 'default' and a 'description'")
                continue
            self.unknown_keys(spec, ("default", "description"), n_line, f"parameter {name}")
            default = plain(spec["default"])
            if not isinstance(default, (int, float, str)) or isinstance(default, bool):
                self.problem(n_line, "bad-parameter", f"parameter {name!r} should default to a "
                             "number or a duration such as '30 days'")
                continue
            description = str(spec.get("description") or "").strip()
            if not description:
                self.problem(n_line, "bad-parameter", f"parameter {name!r} has no description")
            chosen = overrides.pop(str(name), default)
            if type(chosen) is not type(default) and not (
                    isinstance(chosen, (int, float)) and isinstance(default, (int, float))):
                self.problem(n_line, "bad-parameter",
                             f"the value given for {rule_id} {name} ({chosen!r}) is not of the "
                             f"kind of its default ({default!r})", )
                chosen = default
            params[str(name)] = Parameter(str(name), default, chosen, description)
        for name in overrides:
            self.problem(0, "unknown-parameter", f"{rule_id} has no parameter {name!r}"
                         f"{suggestion(name, params)}", file="<parameters>")
        return params

    def event_types(self, node: Any, key: str, line: int, what: str, *,
                    required: bool) -> tuple[str, ...]:
        value = node.get(key)
        k_line = key_line(node, key, line)
        if value is None:
            if required:
                self.problem(line, f"missing-{key}", f"{what} has no {key!r}")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.problem(k_line, "bad-on", f"{key!r} of {what} should list event types")
            return ()
        types = []
        for type_ in value:
            if str(type_) not in self.schema.types:
                self.problem(k_line, "unknown-event-type",
                             f"{type_!r} is not an event type"
                             f"{suggestion(str(type_), self.schema.types)}")
            else:
                types.append(str(type_))
        return tuple(types)

    # ---------------------------------------------------------------- triggers and patterns

    def trigger(self, raw: Any, line: int, what: str, rule_on: tuple[str, ...],
                values: Mapping[str, Any], index: int) -> Trigger | None:
        if not isinstance(raw, dict):
            self.problem(line, "bad-trigger", f"each trigger of {what} should be a mapping")
            return None
        self.unknown_keys(raw, _TRIGGER_KEYS, line, "a trigger")
        name = str(raw.get("name") or ("main" if index == 0 else f"trigger-{index + 1}"))
        t_what = f"{what}, trigger {name!r}"
        on = self.event_types(raw, "on", line, t_what, required=False) or rule_on
        if not on:
            self.problem(line, "missing-on", f"{t_what} has no 'on' and the rule has none")
        if "when" not in raw:
            self.problem(line, "missing-when", f"{t_what} has no 'when'")
            return None
        when = self.conditions(raw, "when", line, on, values)
        patterns = [k for k in ("count", "absence", "lookback") if k in raw]
        pattern: Pattern | None = None
        if len(patterns) > 1:
            self.problem(line, "bad-pattern", f"{t_what} names {' and '.join(patterns)}; "
                         "a trigger uses at most one pattern")
        elif patterns:
            pattern = self.pattern(patterns[0], raw, line, t_what, on, values)
        actions = None
        if "actions" in raw:
            actions = tuple(self.text_list(raw, "actions", line, t_what))
        return Trigger(name=name, on=on, when=when, pattern=pattern,
                       severity=self.severity(raw, "severity", line, t_what, required=False),
                       advice=self.text(raw, "advice", line, t_what, required=False),
                       actions=actions, where=Where(self.file, line))

    def pattern(self, kind: str, raw: Any, line: int, what: str, on: tuple[str, ...],
                values: Mapping[str, Any]) -> Pattern | None:
        spec = raw[kind]
        p_line = key_line(raw, kind, line)
        if not isinstance(spec, dict):
            self.problem(p_line, "bad-pattern", f"'{kind}' of {what} should be a mapping")
            return None
        allowed = {"count": ("by", "within", "at_least", "levels"),
                   "absence": ("by", "within", "deadline", "until"),
                   "lookback": ("by", "within", "prior")}[kind]
        self.unknown_keys(spec, allowed, p_line, f"a {kind} pattern")
        by = self.key_paths(spec, p_line, what, on)
        if kind == "count":
            within = self.duration(spec, "within", p_line, what, values, required=True)
            levels = self.levels(spec, p_line, what, values)
            if within is None or not levels:
                return None
            return Count(by, within, levels)
        if kind == "absence":
            within = self.duration(spec, "within", p_line, what, values, required=False)
            deadline = None
            if "deadline" in spec:
                deadline = self.field_path(str(spec["deadline"]), key_line(spec, "deadline",
                                           p_line), on, what)
                if deadline is not None and not self.is_time(deadline, on):
                    self.problem(key_line(spec, "deadline", p_line), "bad-pattern",
                                 f"the deadline {spec['deadline']!r} of {what} should be a time "
                                 "field of the starting event")
                    deadline = None
            if (within is None) == (deadline is None):
                self.problem(p_line, "bad-pattern", f"the absence of {what} needs exactly one "
                             "of 'within' (a duration) or 'deadline' (a time field)")
                return None
            until = self.side(spec, "until", p_line, what, by, values)
            if until is None:
                return None
            return Absence(by, until, within, deadline)
        within = self.duration(spec, "within", p_line, what, values, required=True)
        prior = self.side(spec, "prior", p_line, what, by, values)
        if within is None or prior is None:
            return None
        return Lookback(by, within, prior)

    def side(self, spec: Any, key: str, line: int, what: str, by: tuple[Path, ...],
             values: Mapping[str, Any]) -> Side | None:
        raw = spec.get(key)
        s_line = key_line(spec, key, line)
        if not isinstance(raw, dict):
            self.problem(s_line if key in spec else line, "bad-pattern",
                         f"{what} needs '{key}' with 'on' and 'when'")
            return None
        self.unknown_keys(raw, ("on", "when", "by"), s_line, f"'{key}'")
        on = self.event_types(raw, "on", s_line, f"'{key}' of {what}", required=True)
        when = self.conditions(raw, "when", s_line, on, values)
        side_by = self.key_paths(raw, s_line, f"'{key}' of {what}", on) if "by" in raw else by
        if len(side_by) != len(by):
            self.problem(s_line, "bad-pattern", f"'{key}' of {what} has {len(side_by)} key "
                         f"field(s) but the trigger has {len(by)}; keys are compared in order")
        return Side(on, when, side_by)

    def key_paths(self, spec: Any, line: int, what: str, on: tuple[str, ...]) -> tuple[Path, ...]:
        raw = spec.get("by")
        b_line = key_line(spec, "by", line)
        if raw is None:
            self.problem(line, "bad-pattern", f"{what} needs 'by' (the key fields)")
            return ()
        if isinstance(raw, str):
            raw = [raw]
        out = []
        for text in raw:
            path = self.field_path(str(text), b_line, on, what)
            if path is not None:
                out.append(path)
        return tuple(out)

    def field_path(self, text: str, line: int, on: tuple[str, ...], what: str) -> Path | None:
        parts = tuple(text.strip().split("."))
        path = Path(parts[0], parts[1:]) if parts[0] in (DATA, EVENT, CONTEXT) and len(
            parts) > 1 else Path(DATA, parts)
        kinds = self.kinds(path, on, line, text)
        if kinds is None:
            return None
        if any(isinstance(k, ObjectList) or k.name == LIST for k in kinds):
            self.problem(line, "bad-pattern", f"{text!r} in {what} is a list; a key must be a "
                         "single value")
            return None
        return path

    def is_time(self, path: Path, on: tuple[str, ...]) -> bool:
        kinds = self.kinds(path, on, 0, str(path), report=False) or []
        return bool(kinds) and all(isinstance(k, Kind) and k.name == TIME for k in kinds)

    def duration(self, spec: Any, key: str, line: int, what: str, values: Mapping[str, Any], *,
                 required: bool) -> float | None:
        raw = spec.get(key)
        d_line = key_line(spec, key, line)
        if raw is None:
            if required:
                self.problem(line, "bad-pattern", f"{what} needs '{key}' (a duration such as "
                             "'30 days')")
            return None
        text = self.substitute(str(plain(raw)), d_line, values)
        if text is None:
            return None
        match = _DURATION_RE.match(text)
        if not match or match.group(2) not in UNITS:
            self.problem(d_line, "bad-duration", f"{key} of {what} is {text!r}; write a number and "
                         "a unit, such as '30 days' or '72 hours'")
            return None
        return float(match.group(1)) * UNITS[match.group(2)]

    def levels(self, spec: Any, line: int, what: str,
               values: Mapping[str, Any]) -> tuple[tuple[int, Severity | None], ...]:
        out: list[tuple[int, Severity | None]] = []
        if ("at_least" in spec) == ("levels" in spec):
            self.problem(line, "bad-pattern", f"the count of {what} needs exactly one of "
                         "'at_least' or 'levels'")
            return ()
        if "at_least" in spec:
            number = self.count_number(spec["at_least"], key_line(spec, "at_least", line), values)
            return ((number, None),) if number is not None else ()
        raw = spec["levels"]
        l_line = key_line(spec, "levels", line)
        if not isinstance(raw, dict) or not raw:
            self.problem(l_line, "bad-pattern", "'levels' should map severities to counts, "
                         "e.g. {advice: 3, warning: 6}")
            return ()
        for sev, number_raw in raw.items():
            if str(sev) not in _SEVERITIES:
                self.problem(l_line, "bad-severity", f"{sev!r} in 'levels' is not a severity"
                             f"{suggestion(str(sev), _SEVERITIES)}")
                continue
            number = self.count_number(number_raw, l_line, values)
            if number is not None:
                out.append((number, Severity(str(sev))))
        ordered = sorted(out, key=lambda pair: pair[0])
        if [s for _, s in ordered] != sorted((s for _, s in ordered), key=lambda s: s.rank):  # type: ignore[union-attr]
            self.problem(l_line, "bad-pattern", "'levels' should rise with the count")
        return tuple(ordered)

    def count_number(self, raw: Any, line: int, values: Mapping[str, Any]) -> int | None:
        text = self.substitute(str(plain(raw)), line, values)
        if text is None:
            return None
        if not text.strip().isdigit() or int(text) < 1:
            self.problem(line, "bad-pattern", f"a count should be a whole number of at least 1, "
                         f"got {text!r}")
            return None
        return int(text)

    def escalations(self, raw: Any, line: int, what: str, on: tuple[str, ...],
                    values: Mapping[str, Any], base: Severity) -> list[Escalation]:
        value = raw.get("escalate")
        if value is None:
            return []
        e_line = key_line(raw, "escalate", line)
        if not isinstance(value, list) or not value:
            self.problem(e_line, "bad-escalation", f"'escalate' of {what} should be a list")
            return []
        out = []
        for index, esc in enumerate(value):
            i_line = item_line(value, index, e_line)
            if not isinstance(esc, dict):
                self.problem(i_line, "bad-escalation", "each escalation needs 'to', 'because' "
                             "and 'when'")
                continue
            self.unknown_keys(esc, ("to", "because", "on", "when"), i_line, "an escalation")
            to = self.severity(esc, "to", i_line, f"an escalation of {what}", required=True)
            because = self.text(esc, "because", i_line, f"an escalation of {what}")
            esc_on = self.event_types(esc, "on", i_line, what, required=False) or on
            when = self.conditions(esc, "when", i_line, esc_on, values)
            if to is not None and to.rank <= base.rank:
                self.problem(i_line, "bad-escalation", f"an escalation of {what} goes to "
                             f"{to.value}, which is not above the rule's {base.value}")
            if to is not None and because is not None:
                out.append(Escalation(to, because, esc_on, when))
        return out

    # ---------------------------------------------------------------- conditions

    def substitute(self, text: str, line: int, values: Mapping[str, Any]) -> str | None:
        ok = True

        def repl(match: re.Match[str]) -> str:
            nonlocal ok
            name = match.group(1)
            if name not in values:
                ok = False
                self.problem(line, "unknown-parameter", f"{{{name}}} is not a parameter of this "
                             f"rule{suggestion(name, values)}")
                return match.group(0)
            return str(values[name])

        out = _PARAM_RE.sub(repl, text)
        return out if ok else None

    def conditions(self, node: Any, key: str, line: int, on: tuple[str, ...],
                   values: Mapping[str, Any], *, context_only: bool = False) -> tuple[Node, ...]:
        raw = node.get(key)
        c_line = key_line(node, key, line)
        if raw is None:
            self.problem(line, f"missing-{key}", f"expected '{key}' (a list of conditions)")
            return ()
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            self.problem(c_line, "bad-condition", f"'{key}' should be a non-empty list of "
                         "conditions")
            return ()
        out = []
        for index, item in enumerate(raw):
            cond = self.condition(item, item_line(raw, index, c_line), on, values, context_only)
            if cond is not None:
                out.append(cond)
        return tuple(out)

    def condition(self, item: Any, line: int, on: tuple[str, ...], values: Mapping[str, Any],
                  context_only: bool, negated: bool = False) -> Node | None:
        """One condition line or group; `negated` says it sits under an odd number of
        `none of` groups (some constructs cannot be negated reliably)."""
        if isinstance(item, dict):
            if len(item) != 1:
                self.problem(line, "bad-condition", "a group is written 'any of:', 'all of:' or "
                             "'none of:' followed by its list of conditions")
                return None
            (label, inner), = item.items()
            modes = {"any of": "any", "all of": "all", "none of": "none"}
            if label not in modes:
                self.problem(line, "unknown-operator", f"{label!r} is not a group"
                             f"{suggestion(str(label), modes)}; use 'any of', 'all of' or "
                             "'none of'")
                return None
            if not isinstance(inner, list) or not inner:
                self.problem(line, "bad-condition", f"'{label}' needs a list of conditions")
                return None
            items = []
            for index, sub in enumerate(inner):
                node = self.condition(sub, item_line(inner, index, line), on, values,
                                      context_only, negated != (modes[label] == "none"))
                if node is not None:
                    items.append(node)
            if len(items) != len(inner):
                return None
            return Group(f"{label}:", modes[label], tuple(items), line)
        if not isinstance(item, str):
            self.problem(line, "bad-condition", f"a condition should be one line of text, got "
                         f"{plain(item)!r}")
            return None
        text = self.substitute(item, line, values)
        if text is None:
            return None
        try:
            node = parse_condition(text, self.sets)
        except ConditionSyntaxError as exc:
            self.problem(line, exc.code, exc.message)
            return None
        before = len(self.problems)
        self.check_node(node, line, on, None, context_only, negated)
        return node if len(self.problems) == before else None

    def kinds(self, path: Path, on: tuple[str, ...], line: int, text: str, *,
              item: ObjectList | None = None, report: bool = True) -> list[Any] | None:
        """The kind of `path` for every event type in `on` (None after reporting a problem)."""
        if path.scope == EVENT:
            attr = path.dotted
            if attr not in EVENT_ATTRIBUTES:
                if report:
                    self.problem(line, "unknown-field", f"'event.{attr}' is not an envelope "
                                 f"attribute{suggestion(attr, EVENT_ATTRIBUTES)}; known: "
                                 + ", ".join(EVENT_ATTRIBUTES))
                return None
            return [Kind(TIME) if attr == "time" else Kind("text")]
        if path.scope == CONTEXT:
            kind = self.schema.context_kind(path.dotted)
            if kind is None:
                if report:
                    near = self._near(path.dotted, self.schema.context_paths())
                    self.problem(line, "unknown-field",
                                 f"'context.{path.dotted}' is not a context field{near}")
                return None
            return [kind]
        if path.scope == ITEM:
            assert item is not None
            found = self.schema.lookup(item.fields, path.dotted)
            if found is None:
                if report:
                    self.problem(line, "unknown-field", f"{path.dotted!r} is not a field of the "
                                 f"list's items{suggestion(path.dotted, list(item.fields))}")
                return None
            return [found]
        # A field need only exist in one of the event types the condition looks at: for the
        # others it is missing (so `medevac is not true` holds for a type with no medevac).
        kinds = [k for k in (self.schema.data_kind(t, path.dotted) for t in on) if k is not None]
        if kinds:
            return kinds
        if report:
            inside = sorted({p for t in on for p in self.schema.data_paths(t)
                             if p.startswith(path.dotted + ".") and "[]" not in p})
            if inside:
                self.problem(line, "bad-field", f"{path.dotted!r} holds several fields ("
                             + ", ".join(inside[:6]) + f"); name one of them (in {text!r})")
            else:
                known = sorted({p for t in on for p in self.schema.data_paths(t)})
                self.problem(line, "unknown-field", f"{path.dotted!r} is not a field of "
                             f"{' or '.join(on)}{self._near(path.dotted, known)} (in {text!r})")
        return None

    @staticmethod
    def _near(word: str, choices: list[str]) -> str:
        return suggestion(word, [c for c in choices if "[]" not in c])

    def check_node(self, node: Node, line: int, on: tuple[str, ...], item: ObjectList | None,
                   context_only: bool, negated: bool = False) -> None:
        if context_only:
            for path in node.paths():
                if path.scope != CONTEXT:
                    self.problem(line, "bad-uplift", f"the uplift may only read context fields; "
                                 f"{str(path)!r} is a field of the event")
                    return
        if isinstance(node, Group):
            for sub in node.items:
                self.check_node(sub, line, on, item, context_only,
                                negated != (node.mode == "none"))
            return
        if isinstance(node, AnyItem):
            if negated and len(node.conditions) > 1:
                # Its negation needs an "or" across fields of one item, which durable_rules
                # decides by the order of the item's keys (tests/test_differential.py).
                self.problem(line, "unsupported", f"{node.text!r} under 'none of' (or 'is not') "
                             "cannot be decided reliably: the engine cannot negate an 'any … "
                             "where' with several conditions. Name the situation positively, or "
                             "split it so each 'any … where' has one condition")
                return
            kinds = self.kinds(node.path, on, line, node.text)
            if kinds is None:
                return
            lists = [k for k in kinds if isinstance(k, ObjectList)]
            if len(lists) != len(kinds):
                self.problem(line, "bad-operator", f"'any {node.path} where …' needs a list of "
                             f"objects; {str(node.path)!r} is {self.describe(kinds[0])}"
                             + ("; use 'contains'" if kinds and isinstance(kinds[0], Kind) and
                                kinds[0].name == LIST else ""))
                return
            for sub in node.conditions:
                for obj_list in lists:
                    self.check_node(sub, line, on, obj_list, context_only)
            return
        path = node.path  # type: ignore[attr-defined]
        kinds = self.kinds(path, on, line, node.text, item=item)
        if kinds is None:
            return
        for kind in kinds:
            self.check_kind(node, kind, line, on, item)

    @staticmethod
    def describe(kind: Any) -> str:
        return "a list of objects" if isinstance(kind, ObjectList) else str(kind.describe())

    def check_kind(self, node: Node, kind: Any, line: int, on: tuple[str, ...],
                   item: ObjectList | None) -> None:
        text = node.text
        if isinstance(node, Presence):
            return
        if isinstance(kind, ObjectList):
            self.problem(line, "bad-operator", f"{text!r}: {str(node.path)!r} is a list of "  # type: ignore[attr-defined]
                         "objects; use 'any … where …' or 'is present' / 'is missing'")
            return
        if isinstance(node, Has):
            if kind.name != LIST:
                self.problem(line, "bad-operator", f"{text!r}: 'contains' and 'lacks' need a "
                             f"list, and {str(node.path)!r} is {kind.describe()}")
                return
            self.check_operand(node.operand, kind.item, line, on, item, text)
            return
        if kind.name == LIST:
            self.problem(line, "bad-operator", f"{text!r}: {str(node.path)!r} is a list; use "  # type: ignore[attr-defined]
                         "'contains' or 'lacks'")
            return
        if isinstance(node, Member):
            if kind.name in (BOOL, TIME):
                self.problem(line, "bad-operator", f"{text!r}: 'in' needs a field of words or "
                             f"numbers, and {str(node.path)!r} is {kind.describe()}")
                return
            for value in node.values:
                self.check_literal(value, kind, line, text)
            return
        assert isinstance(node, Compare)
        if node.op in ("<", "<=", ">", ">=") and not kind.is_numeric():
            self.problem(line, "bad-operator", f"{text!r}: {node.op!r} compares numbers or "
                         f"times, and {str(node.path)!r} is {kind.describe()}")
            return
        if kind.name == BOOL and not isinstance(node.operand, (bool, Ref)):
            self.problem(line, "bad-value", f"{text!r}: {str(node.path)!r} is yes/no; write "
                         f"'{node.path} is true' or '{node.path} is false'")
            return
        self.check_operand(node.operand, kind, line, on, item, text)

    def check_operand(self, operand: Any, kind: Kind | None, line: int, on: tuple[str, ...],
                      item: ObjectList | None, text: str) -> None:
        assert kind is not None
        if isinstance(operand, Ref):
            other = self.kinds(operand.path, on, line, text, item=item)
            if other is None:
                return
            for okind in other:
                if isinstance(okind, ObjectList) or okind.name == LIST:
                    self.problem(line, "bad-operand", f"{text!r}: {str(operand.path)!r} is a "
                                 "list and cannot be compared with a single value")
                    return
                if (kind.name == TIME) != (okind.name == TIME) or (
                        kind.is_numeric() != okind.is_numeric()) or (
                        (kind.name in (BOOL, BOOL_OR_TEXT) or okind.name in (BOOL, BOOL_OR_TEXT))
                        and kind.name != okind.name):
                    self.problem(line, "bad-operand", f"{text!r}: cannot compare "
                                 f"{kind.describe()} with {okind.describe()}")
                    return
            if operand.offset_seconds and kind.name != TIME:
                self.problem(line, "bad-duration", f"{text!r}: '+ N days' shifts times only")
            return
        if kind.name == TIME:
            self.problem(line, "bad-operand", f"{text!r}: compare a time with another time "
                         "field (e.g. 'data.period.start + 30 days' or 'event.time')")
            return
        self.check_literal(operand, kind, line, text)

    def check_literal(self, value: Any, kind: Kind, line: int, text: str) -> None:
        if isinstance(value, float) and "e" in repr(value):
            self.problem(line, "bad-value", f"{text!r}: {value!r} is too large or too small for "
                         "the matching engine; use a number between 0.0001 and 10^15")
            return
        if kind.name == BOOL_OR_TEXT and not isinstance(value, bool):
            self.problem(line, "bad-value", f"{text!r}: this field is yes/no or a free text, "
                         "and any text counts as yes; compare it with true or false only")
            return
        if kind.name == ENUM:
            if not isinstance(value, str) or value not in kind.choices:
                self.problem(line, "bad-value", f"{text!r}: {value!r} is not one of the words "
                             f"this field takes{suggestion(str(value), kind.choices)}; allowed: "
                             + ", ".join(sorted(kind.choices)))
            return
        error = kind.check(value)
        if error:
            self.problem(line, "bad-value", f"{text!r}: {error}")

    # ---------------------------------------------------------------- context profiles

    def load_contexts(self, ctx_dir: FsPath) -> dict[str, ContextProfile]:
        profiles: dict[str, ContextProfile] = {}
        if not ctx_dir.is_dir():
            return profiles
        # The profiles beside the packs must stay inside the rules directory; a contexts
        # directory named on its own is trusted as named.
        home = self.root if ctx_dir == self.root / CONTEXTS_DIR else ctx_dir
        for path in sorted(ctx_dir.glob("*.yaml")):
            doc = self.read(path, home, "a context profile (a mapping with 'country', "
                            "'version' and 'profile')")
            if doc is None:
                continue
            if not isinstance(doc, dict):
                self.problem(1, "bad-context", "a context profile should be a mapping")
                continue
            self.unknown_keys(doc, ("country", "version", "name", "profile", "areas"), 1,
                              "a context profile")
            country = str(doc.get("country") or "")
            if not _COUNTRY_RE.match(country):
                self.problem(key_line(doc, "country", 1), "bad-context",
                             f"'country' should be an ISO 3166-1 alpha-3 code, got {country!r}")
                continue
            if path.stem != country:
                self.problem(key_line(doc, "country", 1), "bad-context",
                             f"the profile of {country} should be in {country}.yaml")
            if country in profiles:
                self.problem(1, "duplicate-context", f"a second profile for {country}")
                continue
            version = doc.get("version")
            if version is None:
                self.problem(1, "missing-version", "the profile has no 'version'")
                continue
            if isinstance(version, (dt.date, dt.datetime)):
                version = version.isoformat()
            values = doc.get("profile") or {}
            self.check_context(values, key_line(doc, "profile", 1), "profile")
            areas = doc.get("areas") or {}
            if not isinstance(areas, dict):
                self.problem(key_line(doc, "areas", 1), "bad-context",
                             "'areas' should map p-codes to values")
                areas = {}
            for area, area_values in areas.items():
                self.check_context(area_values, key_line(areas, area, 1), f"areas.{area}")
            profiles[country] = ContextProfile(country=country, version=str(version),
                                               name=str(doc.get("name") or ""),
                                               values=plain(values), areas=plain(areas))
        return profiles

    def check_context(self, values: Any, line: int, where: str) -> None:
        if not isinstance(values, dict):
            self.problem(line, "bad-context", f"{where} should be a mapping of context fields")
            return
        found: list[tuple[str, str]] = []
        _validate_tree(self.schema.context_tree, plain(values), where, found)
        for path, message in found:
            self.problem(line, "bad-context-value", f"{path}: {message}")
        known = self.schema.context_tree
        self._unknown_context(values, known, line, where)

    def _unknown_context(self, values: Any, known: Mapping[str, Any], line: int,
                         where: str) -> None:
        for key, value in values.items():
            k_line = key_line(values, key, line)
            if key not in known:
                self.problem(k_line, "unknown-field", f"{where}.{key} is not a context field"
                             f"{suggestion(str(key), known)}")
            elif isinstance(known[key], Mapping) and isinstance(value, dict):
                self._unknown_context(value, known[key], k_line, f"{where}.{key}")


def _catalogue_order(rule: Rule) -> tuple[int, str]:
    return (_GROUP_ORDER.get(rule.id[:3], len(_GROUP_ORDER)), rule.id)


# The catalogue's order of rule groups (CATALOG.md §4.1), used to list and report rules.
_GROUP_ORDER = {g: i for i, g in enumerate(
    ("ESC", "AST", "MOV", "DIS", "PRM", "COM", "INF", "ENG", "INT", "INC"))}

