"""The catalogue's stateless rules, generated into the peers' languages from the rule packs.

Nothing here is written by hand per rule: every per-event question of a stateless rule (a
trigger's `when`, each escalation, the bundle's uplift) is taken from the loaded `Bundle` and
its condition tree (`mandate_rules._conditions`) is translated node by node into

* a ZEN expression (GoRules' `zen-engine`), one row per question of a decision table with the
  ``collect`` hit policy, one table per event type;
* a `rule-engine` expression, one compiled `rule_engine.Rule` per question.

Both must mean exactly what the direct reading (`mandate_rules._conditions.holds`) means over
the normalised document (`mandate_rules._document.document`): a missing field fails every
comparison, values of different kinds are never equal, only numbers are ordered. The event-type
schema gives each field's kind, so most kind tests are decided here, once; the one field whose
kind varies at run time (``yes/no or text``) gets a test in the expression.

`advisories()` turns the questions that held into advisories the way the engine does: one per
rule per event (the first trigger listed that holds), severity raised by escalations that hold
and by the uplift, so peers' advisories can be compared with the engine's as (rule, trigger,
severity).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import attrs

from mandate_rules._compiler import CompiledBundle, Label
from mandate_rules._conditions import (
    CONTEXT,
    DATA,
    EVENT,
    ITEM,
    AnyItem,
    Compare,
    Group,
    Has,
    Member,
    Node,
    Path,
    Presence,
    Ref,
    holds,
)
from mandate_rules._rules import Bundle
from mandate_rules._schema import (
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
)

__all__ = ["Question", "Unsupported", "advisories", "questions", "reference_fired",
           "rule_engine_expression", "stateless_bundle", "zen_expression"]

WHEN, ESCALATE, UPLIFT = "when", "escalate", "uplift"

# Kinds of value in a normalised document.
NUM, BOOLEAN, STR, ANY_SCALAR, ARRAY, OBJECTS, ABSENT = (
    "number", "bool", "string", "bool-or-string", "array", "objects", "absent")


class Unsupported(ValueError):
    """A condition this translator cannot express exactly in a peer's language."""


@dataclass(frozen=True)
class Question:
    """One per-event question of a stateless rule: `part` of rule `rule` (index `index`)."""

    name: str  # unique within the bundle: w3.0, e3.1, u
    part: str  # WHEN, ESCALATE or UPLIFT
    rule: int  # index into Bundle.rules (-1 for the uplift)
    index: int  # trigger or escalation index
    event_type: str
    conditions: tuple[Node, ...]


def stateless_bundle(bundle: Bundle) -> Bundle:
    """The bundle cut to its rules without any stateful trigger (what peers can express)."""
    return attrs.evolve(bundle, rules=tuple(r for r in bundle.rules if not r.stateful))


def questions(bundle: Bundle) -> dict[str, list[Question]]:
    """Every per-event question of `bundle`'s stateless rules, per event type, in order."""
    out: dict[str, list[Question]] = {}
    uplift_types: dict[str, None] = {}
    for r_index, rule in enumerate(bundle.rules):
        if rule.stateful:
            continue
        for t_index, trigger in enumerate(rule.triggers):
            for type_ in trigger.on:
                out.setdefault(type_, []).append(
                    Question(f"w{r_index}.{t_index}", WHEN, r_index, t_index, type_,
                             trigger.when))
        for e_index, escalation in enumerate(rule.escalations):
            for type_ in escalation.on:
                out.setdefault(type_, []).append(
                    Question(f"e{r_index}.{e_index}", ESCALATE, r_index, e_index, type_,
                             escalation.when))
        if rule.uplift:
            uplift_types.update(dict.fromkeys(rule.on))
    if bundle.uplift is not None:
        for type_ in uplift_types:
            out.setdefault(type_, []).append(
                Question("u", UPLIFT, -1, 0, type_, bundle.uplift.when))
    return out


def reference_fired(qs: Sequence[Question], doc: Mapping[str, Any]) -> list[str]:
    """The names of the questions that hold by the direct reading (the reference)."""
    return [q.name for q in qs if all(holds(n, doc) for n in q.conditions)]


Observed = tuple[str, str, str]  # rule id, trigger name, severity


def advisories(bundle: Bundle, by_name: Mapping[str, Question],
               fired: Iterable[str]) -> list[Observed]:
    """The advisories the stateless rules raise for the questions that held, as the engine
    grades them (first trigger listed speaks; escalations above the base; uplift)."""
    when: dict[int, int] = {}
    escalated: dict[int, set[int]] = {}
    uplifted = False
    for name in fired:
        q = by_name[name]
        if q.part == WHEN:
            when[q.rule] = min(when.get(q.rule, q.index), q.index)
        elif q.part == ESCALATE:
            escalated.setdefault(q.rule, set()).add(q.index)
        else:
            uplifted = True
    out: list[Observed] = []
    for r_index in sorted(when):
        rule = bundle.rules[r_index]
        trigger = rule.triggers[when[r_index]]
        base = trigger.severity or rule.severity
        severity = base
        raised = [rule.escalations[i].to for i in escalated.get(r_index, ())
                  if rule.escalations[i].to.rank > base.rank]
        if raised:
            severity = max(raised, key=lambda s: s.rank)
        if rule.uplift and uplifted and bundle.uplift is not None:
            severity = severity.raised()
        out.append((rule.id, trigger.name, severity.value))
    return out


# --------------------------------------------------------------------------- kinds

_ENVELOPE_KINDS = {"time": NUM}


def _kind_name(kind: Kind | ObjectList | None) -> str:
    if kind is None:
        return ABSENT
    if isinstance(kind, ObjectList):
        return OBJECTS
    return {NUMBER: NUM, INTEGER: NUM, TIME: NUM, BOOL: BOOLEAN, TEXT: STR, ENUM: STR,
            BOOL_OR_TEXT: ANY_SCALAR, LIST: ARRAY}[kind.name]


def _item_kind(kind: Kind | ObjectList | None) -> str:
    if isinstance(kind, Kind) and kind.name == LIST and kind.item is not None:
        return _kind_name(kind.item)
    return ABSENT


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUM
    if isinstance(value, str):
        return STR
    raise Unsupported(f"literal {value!r}")


def _compatible(field: str, literal: str) -> bool | None:
    """True: always the same kind; False: never; None: decided at run time."""
    if field == ANY_SCALAR:
        return None if literal in (BOOLEAN, STR) else False
    return field == literal


# --------------------------------------------------------------------------- dialects

class _Dialect:
    """How one peer's expression language writes each piece."""

    def __init__(self, event_type: str) -> None:
        self.schema = load_schema()
        self.event_type = event_type
        self.items: list[ObjectList] = []  # the lists of objects being iterated, innermost last

    # -- to be provided by each dialect
    def field(self, path: Path) -> str:
        raise NotImplementedError

    def some(self, items: str, var: str, test: str) -> str:
        raise NotImplementedError

    def is_bool(self, value: str) -> str:
        raise NotImplementedError

    def is_string(self, value: str) -> str:
        raise NotImplementedError

    def contains(self, items: str, value: str) -> str:
        raise NotImplementedError

    # -- shared
    def literal(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        raise Unsupported(f"literal {value!r}")

    def kind(self, path: Path) -> str:
        if path.scope == ITEM:
            node: Any = self.items[-1].fields
            for part in path.parts:
                node = node.get(part) if isinstance(node, Mapping) else None
            return _kind_name(node) if not isinstance(node, Mapping) else ABSENT
        if path.scope == DATA:
            return _kind_name(self.schema.data_kind(self.event_type, path.dotted))
        if path.scope == CONTEXT:
            return _kind_name(self.schema.context_kind(path.dotted))
        if path.scope == EVENT:
            return _ENVELOPE_KINDS.get(path.dotted, STR)
        raise Unsupported(f"field {path}")

    def schema_node(self, path: Path) -> Kind | ObjectList | None:
        if path.scope == DATA:
            return self.schema.data_kind(self.event_type, path.dotted)
        if path.scope == CONTEXT:
            return self.schema.context_kind(path.dotted)
        if path.scope == ITEM:
            node: Any = self.items[-1].fields
            for part in path.parts:
                node = node.get(part) if isinstance(node, Mapping) else None
            return node if isinstance(node, (Kind, ObjectList)) else None
        return None

    @staticmethod
    def present(value: str) -> str:
        return f"{value} != null"

    @staticmethod
    def all_of(parts: Sequence[str]) -> str:
        if not parts:
            return "true"
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    @staticmethod
    def any_of(parts: Sequence[str]) -> str:
        if not parts:
            return "false"
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    @staticmethod
    def negate(part: str) -> str:
        return f"not ({part})"

    def _kind_test(self, value: str, kind: str) -> str:
        return self.is_bool(value) if kind == BOOLEAN else self.is_string(value)

    def operand(self, operand: Any) -> tuple[str, str, list[str]]:
        """(expression, kind, guards) of a comparison's right-hand side: the guards hold when
        it has a value (a field shifted by a duration is tested before it is shifted)."""
        if isinstance(operand, Ref):
            kind = self.kind(operand.path)
            text = self.field(operand.path)
            guards = [self.present(text)]
            if operand.offset_seconds:
                if kind != NUM:
                    return "null", ABSENT, guards
                return f"({text} + {self.literal(float(operand.offset_seconds))})", NUM, guards
            return text, kind, guards
        return self.literal(operand), _literal_kind(operand), []

    def condition(self, node: Node) -> str:
        if isinstance(node, Group):
            parts = [self.condition(item) for item in node.items]
            if node.mode == "all":
                return self.all_of(parts)
            if node.mode == "any":
                return self.any_of(parts)
            return self.negate(self.any_of(parts))
        if isinstance(node, Presence):
            test = self.present(self.field(node.path))
            return test if node.present else self.negate(test)
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Member):
            return self._member(node)
        if isinstance(node, Has):
            return self._has(node)
        if isinstance(node, AnyItem):
            return self._any_item(node)
        raise Unsupported(f"condition {node!r}")

    def _compare(self, node: Compare) -> str:
        left_kind = self.kind(node.path)
        left = self.field(node.path)
        right, right_kind, right_guards = self.operand(node.operand)
        if ABSENT in (left_kind, right_kind):
            return "false"
        guards = [self.present(left), *right_guards]
        if node.op in ("<", "<=", ">", ">="):
            if left_kind != NUM or right_kind != NUM:
                return "false"  # only numbers are ordered
            return self.all_of([*guards, f"{left} {node.op} {right}"])
        if left_kind == ANY_SCALAR and right_kind == ANY_SCALAR:
            raise Unsupported(f"two fields of varying kind compared: {node.text}")
        varying, fixed = ((left, right_kind) if left_kind == ANY_SCALAR else
                          (right, left_kind) if right_kind == ANY_SCALAR else (None, ""))
        if varying is None:
            if left_kind != right_kind:
                return "false"
        else:
            if _compatible(ANY_SCALAR, fixed) is False:
                return "false"
            guards.append(self._kind_test(varying, fixed))
        return self.all_of([*guards, f"{left} {node.op} {right}"])

    def _member(self, node: Member) -> str:
        kind = self.kind(node.path)
        value = self.field(node.path)
        if kind == ABSENT:
            return "false"
        same = [v for v in node.values if _compatible(kind, _literal_kind(v)) is not False]
        if kind == ANY_SCALAR and len({_literal_kind(v) for v in same}) > 1:
            raise Unsupported(f"a list of mixed kinds for a field of varying kind: {node.text}")
        guards = [self.present(value)]
        if kind == ANY_SCALAR and same:
            guards.append(self._kind_test(value, _literal_kind(same[0])))
        if not same:
            return self.all_of(guards) if node.negated else "false"
        listed = "[" + ", ".join(self.literal(v) for v in same) + "]"
        test = f"{value} in {listed}"
        return self.all_of([*guards, self.negate(test) if node.negated else test])

    def _has(self, node: Has) -> str:
        items = self.field(node.path)
        item_kind = _item_kind(self.schema_node(node.path))
        value, value_kind, value_guard = self.operand(node.operand)
        if value_kind == ABSENT:
            return "false"
        if item_kind == ABSENT or _compatible(item_kind, value_kind) is False:
            # the list never holds it: `lacks` holds whenever the value is known
            return self.all_of(value_guard) if node.negated else "false"
        if item_kind == ANY_SCALAR or value_kind == ANY_SCALAR:
            raise Unsupported(f"a list or value of varying kind: {node.text}")
        found = self.contains(items, value)
        if node.negated:
            return self.all_of([*value_guard,
                                self.any_of([self.negate(self.present(items)),
                                             self.negate(found)])])
        return self.all_of([*value_guard, self.present(items), found])

    def _any_item(self, node: AnyItem) -> str:
        schema_node = self.schema_node(node.path)
        if not isinstance(schema_node, ObjectList):
            return "false"
        items = self.field(node.path)
        self.items.append(schema_node)
        try:
            test = self.all_of([self.condition(c) for c in node.conditions])
        finally:
            self.items.pop()
        return self.all_of([self.present(items), self.some(items, "it", test)])


class _Zen(_Dialect):
    """GoRules ZEN expressions: ``data.asset.kind``, ``some(list, #.kind == 'x')``."""

    def field(self, path: Path) -> str:
        if path.scope == ITEM:
            return "#." + ".".join(path.parts)
        return f"{path.scope}.{path.dotted}"

    def some(self, items: str, var: str, test: str) -> str:
        return f"some({items}, {test})"

    def is_bool(self, value: str) -> str:
        return f"type({value}) == 'bool'"

    def is_string(self, value: str) -> str:
        return f"type({value}) == 'string'"

    def contains(self, items: str, value: str) -> str:
        return f"contains({items}, {value})"


def flat_name(path: Path) -> str:
    """The symbol under which `path` is handed to rule-engine (``data__asset__owner_kind``)."""
    return "__".join((path.scope, *path.parts))


class _RuleEngine(_Dialect):
    """rule-engine expressions over a flat document: each field the rules read is a symbol
    (``data__asset__owner_kind``); items of a list are mappings read with ``it['kind']``."""

    def field(self, path: Path) -> str:
        if path.scope == ITEM:
            return "it" + "".join(f"[{self.literal(p)}]" for p in path.parts)
        return flat_name(path)

    def some(self, items: str, var: str, test: str) -> str:
        return f"$any([{test} for {var} in {items}])"

    def is_bool(self, value: str) -> str:
        return f"{value} in [true, false]"

    def is_string(self, value: str) -> str:
        return f"not ({value} in [true, false])"

    def contains(self, items: str, value: str) -> str:
        return f"{value} in {items}"


def zen_expression(conditions: Sequence[Node], event_type: str) -> str:
    """The ZEN expression that holds exactly when all `conditions` hold."""
    dialect = _Zen(event_type)
    return dialect.all_of([dialect.condition(c) for c in conditions])


def rule_engine_expression(conditions: Sequence[Node], event_type: str) -> str:
    """The rule-engine expression that holds exactly when all `conditions` hold."""
    dialect = _RuleEngine(event_type)
    return dialect.all_of([dialect.condition(c) for c in conditions])


def read_paths(conditions: Iterable[Node]) -> list[Path]:
    """The message-level fields (not items' fields) that `conditions` read, in order."""
    found: dict[Path, None] = {}
    for node in conditions:
        for path in node.paths():
            if path.scope != ITEM:
                found.setdefault(path)
    return list(found)


def item_fields(conditions: Iterable[Node]) -> dict[Path, list[tuple[str, ...]]]:
    """For each list read item by item, the fields of its items that conditions read."""
    out: dict[Path, dict[tuple[str, ...], None]] = {}

    def walk(node: Node) -> None:
        if isinstance(node, Group):
            for item in node.items:
                walk(item)
        elif isinstance(node, AnyItem):
            bucket = out.setdefault(node.path, {})
            for sub in node.conditions:
                for path in sub.paths():
                    if path.scope == ITEM:
                        bucket.setdefault(path.parts)

    for node in conditions:
        walk(node)
    return {path: list(parts) for path, parts in out.items()}


def flattener(conditions: Iterable[Node]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function from a normalised document to rule-engine's flat document: every field the
    conditions read as a symbol (None when missing), and every list read item by item with
    each item's read fields filled in (None when missing)."""
    nodes = list(conditions)
    paths = read_paths(nodes)
    lists = item_fields(nodes)
    plan = [(flat_name(p), p.scope, p.parts, tuple(lists.get(p, ()))) for p in paths]

    def flat(doc: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, scope, parts, item_parts in plan:
            value: Any = doc.get(scope)
            for part in parts:
                value = value.get(part) if value.__class__ is dict else None
            if item_parts and value.__class__ is list:
                value = [_fill(item, item_parts) for item in value]
            out[name] = value
        return out

    return flat


def _fill(item: Any, parts_list: Sequence[tuple[str, ...]]) -> Any:
    if item.__class__ is not dict:
        return item
    filled = dict(item)
    for parts in parts_list:
        node = filled
        for part in parts[:-1]:
            child = node.get(part)
            node[part] = child = dict(child) if child.__class__ is dict else {}
            node = child
        node.setdefault(parts[-1], None)
    return filled



def matcher_questions(bundle: Bundle,
                      program: CompiledBundle) -> dict[str, list[tuple[str, tuple[Node, ...]]]]:
    """Every question the compiled rulesets ask, per event type, as (label, conditions):
    the same set durable_rules answers for the engine (for the plain-Python floor)."""
    out: dict[str, list[tuple[str, tuple[Node, ...]]]] = {}
    for type_, chunks in program.rulesets.items():
        seen: dict[str, tuple[Node, ...]] = {}
        for chunk in chunks:
            for name in chunk:
                label = program.labels[name]
                key = f"{label.part}:{label.rule}:{label.index}"
                if key not in seen:
                    seen[key] = _label_conditions(bundle, label)
        out[type_] = list(seen.items())
    return out


def _label_conditions(bundle: Bundle, label: Label) -> tuple[Node, ...]:
    if label.part == UPLIFT:
        assert bundle.uplift is not None
        return bundle.uplift.when
    rule = bundle.rules[label.rule]
    if label.part == ESCALATE:
        return rule.escalations[label.index].when
    trigger = rule.triggers[label.index]
    if label.part == WHEN:
        return trigger.when
    side = getattr(trigger.pattern, label.part)  # "until" or "prior"
    return tuple(side.when)
