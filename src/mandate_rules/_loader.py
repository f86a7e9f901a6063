"""Loading and validating rule packs, the bundle file and context profiles.

`load_bundle()` reads a rules directory and returns a `Bundle`, or raises `RulePackError`
with every problem of every file at once (file:line, a stable code, a plain message).
Nothing is half-loaded: a bundle with any problem is never returned.

This module reads the bundle file, each pack and each rule; the parts of a rule are read by
the classes `_Loader` builds on: `_packreader` (files and plain values), `_typecheck`
(conditions against the schema), `_patternload` (triggers, patterns, escalations) and
`_contextload` (context profiles).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any

from ._compiler import ENTITY_ID
from ._conditions import DATA, EVENT, Path
from ._contextload import CONTEXTS_DIR, ContextReader
from ._errors import RulePackError
from ._models import Reference, RulesVersion, Severity
from ._patternload import TriggerReader
from ._problems import Problem, suggestion
from ._rules import Absence, Bundle, Lookback, Parameter, Rule, Trigger, Uplift, Where
from ._schema import Schema, load_schema
from ._yamlsrc import item_line, key_line, plain

__all__ = ["check_bundle", "key_warnings", "load_bundle"]

BUNDLE_FILE = "bundle.yaml"
_RULE_ID_RE = re.compile(r"^[A-Z]{3}-\d{3}$")

_RULE_KEYS = ("id", "title", "on", "when", "severity", "uplift", "escalate", "advice", "actions",
              "references", "parameters", "triggers")
_REFERENCE_KEYS = ("source", "section", "checked", "url", "quote")
_MARKS = ("V", "S", "H", "U")


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


# The envelope attributes every event carries (CloudEvents' own, and the operation's country):
# `subject` and `area` are optional.
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

class _Loader(TriggerReader, ContextReader):
    """Reads a whole bundle: its bundle file, every pack and rule, and the context profiles."""

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

def _catalogue_order(rule: Rule) -> tuple[int, str]:
    return (_GROUP_ORDER.get(rule.id[:3], len(_GROUP_ORDER)), rule.id)


# The catalogue's order of rule groups (by their id's prefix: escorts first, incidents last),
# used to list and report rules.
_GROUP_ORDER = MappingProxyType({g: i for i, g in enumerate(
    ("ESC", "AST", "MOV", "DIS", "PRM", "COM", "INF", "ENG", "INT", "INC"))})

