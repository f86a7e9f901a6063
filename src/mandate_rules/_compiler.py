"""Compiling a loaded bundle into durable_rules rulesets (plain JSON-ready data).

Every per-event question a rule asks becomes one durable_rules rule over one fact: a
trigger's `when`, the `until` of an absence, the `prior` of a lookback, each escalation,
and the bundle's uplift. The engine asserts the event as a fact, collects the names of
every rule that fired (facts fire every matching rule, unlike events), and retracts it.

Rules are grouped by event type, one ruleset per type, every rule starting with the same
first test on the type; a type with many rules is split into rulesets of at most
`MAX_RULES_PER_RULESET`, which keeps every Rete node far below durable_rules' 512 sibling
tests (above that `create_ruleset` spins forever holding the GIL).

This module imports nothing from durable_rules: it produces data only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._conditions import (
    DATA,
    EVENT,
    AnyItem,
    Compare,
    Group,
    Has,
    Member,
    Node,
    Path,
    Presence,
    Ref,
)
from ._rules import Absence, Bundle, Lookback

MAX_RULES_PER_RULESET = 100

WHEN, UNTIL, PRIOR, ESCALATE, UPLIFT = "when", "until", "prior", "escalate", "uplift"
TYPE_KEY = "type"  # the first test of every rule; the event's fields sit under "data"

# A pattern that follows one record (`by: [entity_id]`) takes the CloudEvents `subject`, the
# record's id in its source system, when the event's data carries no entity_id.
ENTITY_ID = Path(DATA, ("entity_id",))
KEY_FALLBACKS: Mapping[Path, Path] = MappingProxyType({ENTITY_ID: Path(EVENT, ("subject",))})

_OPPOSITE = MappingProxyType({"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"})
_DURABLE_OP = MappingProxyType({"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"})


@attrs.frozen
class Label:
    """What a fired durable_rules rule means: which part of which rule of the bundle."""

    part: str  # WHEN, UNTIL, PRIOR, ESCALATE or UPLIFT
    rule: int = -1  # index into Bundle.rules
    index: int = -1  # trigger index (WHEN, UNTIL, PRIOR) or escalation index (ESCALATE)


@attrs.frozen
class CompiledBundle:
    """The compiled bundle: rulesets per event type, and what each rule name means."""

    rulesets: Mapping[str, tuple[Mapping[str, Any], ...]]  # type -> chunks {name: definition}
    labels: Mapping[str, Label]
    projections: Mapping[str, Mapping[str, Any]]  # type -> tree of the fields rules read


def compile_bundle(bundle: Bundle, keep: Callable[[Label], bool] | None = None) -> CompiledBundle:
    """Compile every rule of `bundle`; the result is deterministic for a given bundle.

    With `keep`, only the parts it keeps are compiled (labels keep their places in the
    bundle, so state built with either program is the same state).
    """
    per_type: dict[str, list[tuple[str, Any]]] = {}
    labels: dict[str, Label] = {}
    needed: dict[str, list[Path]] = {}

    def add(types: Iterable[str], label: Label, conditions: tuple[Node, ...],
            extra_paths: Iterable[Path] = ()) -> None:
        if keep is not None and not keep(label):
            return
        paths = [p for c in conditions for p in c.paths()] + list(extra_paths)
        types = tuple(types)
        for type_ in types:
            needed.setdefault(type_, []).extend(paths)
        for alternative in split_alternatives(conditions):
            name = f"r{len(labels)}"
            labels[name] = label
            body = compile_all(alternative)
            for type_ in types:
                definition = {"all": [{"m": {"$and": [{TYPE_KEY: type_}, body]}}]}
                per_type.setdefault(type_, []).append((name, definition))

    uplift_types: set[str] = set()
    for r_index, rule in enumerate(bundle.rules):
        for t_index, trigger in enumerate(rule.triggers):
            pattern = trigger.pattern
            keys: tuple[Path, ...] = _with_fallbacks(getattr(pattern, "by", ()))
            deadline = [pattern.deadline] if isinstance(pattern, Absence) and pattern.deadline \
                else []
            add(trigger.on, Label(WHEN, r_index, t_index), trigger.when, [*keys, *deadline])
            if isinstance(pattern, Absence):
                until = pattern.until
                add(until.on, Label(UNTIL, r_index, t_index), until.when,
                    _with_fallbacks(until.by))
            elif isinstance(pattern, Lookback):
                prior = pattern.prior
                add(prior.on, Label(PRIOR, r_index, t_index), prior.when,
                    _with_fallbacks(prior.by))
        for e_index, escalation in enumerate(rule.escalations):
            add(escalation.on, Label(ESCALATE, r_index, e_index), escalation.when)
        if rule.uplift:
            uplift_types.update(rule.on)
    if bundle.uplift is not None and uplift_types:
        add(sorted(uplift_types), Label(UPLIFT), bundle.uplift.when)

    rulesets: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for type_, entries in per_type.items():
        chunks = []
        for start in range(0, len(entries), MAX_RULES_PER_RULESET):
            chunks.append(dict(entries[start:start + MAX_RULES_PER_RULESET]))
        rulesets[type_] = tuple(chunks)
    projections = {t: projection_tree(paths) for t, paths in needed.items()}
    return CompiledBundle(rulesets=rulesets, labels=labels, projections=projections)


def _with_fallbacks(keys: tuple[Path, ...]) -> tuple[Path, ...]:
    """Key fields and what stands in for them when missing: both must reach the fact."""
    return (*keys, *(KEY_FALLBACKS[k] for k in keys if k in KEY_FALLBACKS))


# Splitting stops here: a rule with more alternatives than this stays one durable_rules rule.
MAX_ALTERNATIVES = 16


def split_alternatives(conditions: tuple[Node, ...]) -> list[tuple[Node, ...]]:
    """The conditions as several condition lists, one per alternative of each top-level
    `any of`, whose union holds exactly when the conditions do.

    durable_rules allows 31 expressions per rule (error 113 above), and each `$or`/`$and`
    costs two; one durable_rules rule per alternative keeps every rule small. All of them
    carry the same label, and the engine counts a label once however many of its rules fire.
    """
    out: list[tuple[Node, ...]] = [()]
    for node in conditions:
        if isinstance(node, Group) and node.mode == "any" and \
                len(out) * len(node.items) <= MAX_ALTERNATIVES:
            out = [(*done, item) for done in out for item in node.items]
        else:
            out = [(*done, node) for done in out]
    return out


def projection_tree(paths: Iterable[Path]) -> dict[str, Any]:
    """The tree of fields a fact needs: ``{"data": {"provider": {"kind": True}}, ...}``.

    Sending only these fields keeps each fact small (durable_rules allows 255 properties per
    message, and every property costs JSON work on each call). A list read item by item
    (``any vehicles where …``) is sent whole.
    """
    tree: dict[str, Any] = {}
    for path in paths:
        if path.scope == "item":
            continue  # a field of a list item: the list itself is in `paths`
        node = tree.setdefault(path.scope, {})
        for part in path.parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[path.parts[-1]] = True
    return tree


def project(doc: Mapping[str, Any], tree: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `doc` that `tree` names (whole subtrees where the tree says True)."""
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        value = doc.get(key)
        if value is None:
            continue
        if sub is True:
            out[key] = value
        elif isinstance(value, dict):
            inner = project(value, sub)
            if inner:
                out[key] = inner
    return out


# --------------------------------------------------------------------------- conditions

def _key(path: Path, item: bool) -> str:
    return ("$i." if item and path.scope == "item" else "") + path.key()


def _operand(operand: Any) -> Any:
    if isinstance(operand, Ref):
        ref: dict[str, Any] = {"$m": operand.path.key()}
        if operand.offset_seconds:
            return {"$add": {"$l": ref, "$r": operand.offset_seconds}}
        return ref
    return operand


def _refs(node: Node) -> list[str]:
    """Message-level fields a node compares against (guarded outside any item test)."""
    found = []
    if isinstance(node, (Compare, Has)) and isinstance(node.operand, Ref):
        found.append(node.operand.path.key())
    elif isinstance(node, AnyItem):
        for sub in node.conditions:
            found.extend(_refs(sub))
    elif isinstance(node, Group):
        for sub in node.items:
            found.extend(_refs(sub))
    return found


def _and(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _or(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def compile_all(nodes: tuple[Node, ...]) -> Any:
    return _and([compile_condition(n) for n in nodes])


def compile_condition(node: Node, item: bool = False) -> Any:
    """durable_rules JSON for `node`, true exactly when `_conditions.holds` says so."""
    if isinstance(node, Group):
        if node.mode == "all":
            return _and([compile_condition(c, item) for c in node.items])
        if node.mode == "any":
            return _or([compile_condition(c, item) for c in node.items])
        return _and([negate(c, item) for c in node.items])
    key = _key(node.path, item)  # type: ignore[attr-defined]
    guards = [] if item else [{"$ex": {ref: 1}} for ref in _refs(node)]
    if isinstance(node, Presence):
        return {("$ex" if node.present else "$nex"): {key: 1}}
    if isinstance(node, Compare):
        right = _operand(node.operand)
        test = {key: right} if node.op == "==" else {_DURABLE_OP[node.op]: {key: right}}
        return _and([*guards, test])
    if isinstance(node, Member):
        if node.negated:
            return _and([{"$neq": {key: v}} for v in node.values])
        return _or([{key: v} for v in node.values])
    if isinstance(node, Has):
        right = _operand(node.operand)
        if node.negated:
            return _and([*guards, _or([{"$nex": {key: 1}},
                                       {"$iall": {key: {"$neq": {"$i": right}}}}])])
        return _and([*guards, {"$iany": {key: {"$i": right}}}])
    if isinstance(node, AnyItem):
        inner = _item_test([compile_condition(c, item=True) for c in node.conditions])
        return _and([*guards, {"$iany": {key: inner}}])
    raise TypeError(f"cannot compile {node!r}")  # pragma: no cover


# A field no item ever has: `$nex` on it always holds.
_NO_SUCH_FIELD = "$i.__mandate_rules_none__"


def _item_test(parts: list[Any]) -> Any:
    """The test applied to each item of a list, ending in a plain test.

    durable_rules' `createForwardAlpha` leaves `expression.right.type` unset, and the
    `$iany`/`$iall` branch of `createAlpha` reads it when the item test ends in `$or` (a list
    in `in [...]`, a negation): registration then fails at random (error 102, about one build
    in a hundred; valgrind shows the uninitialised read). A final test that always holds keeps
    that path closed.
    """
    flat: list[Any] = []
    for part in parts:  # an `$and` inside an `$and` costs two expression slots for nothing
        flat.extend(part["$and"] if isinstance(part, dict) and set(part) == {"$and"} else [part])
    last = flat[-1]
    if isinstance(last, dict) and not (set(last) & {"$or", "$and", "$iany", "$iall"}):
        return _and(flat)  # already ends in a plain test
    return {"$and": [*flat, {"$nex": {_NO_SUCH_FIELD: 1}}]}


def negate(node: Node, item: bool = False) -> Any:
    """durable_rules JSON true exactly when `node` does not hold (missing fields included)."""
    if isinstance(node, Group):
        if node.mode == "all":
            return _or([negate(c, item) for c in node.items])
        if node.mode == "any":
            return _and([negate(c, item) for c in node.items])
        return _or([compile_condition(c, item) for c in node.items])
    key = _key(node.path, item)  # type: ignore[attr-defined]
    missing_refs = [] if item else [{"$nex": {ref: 1}} for ref in _refs(node)]
    if isinstance(node, Presence):
        return {("$nex" if node.present else "$ex"): {key: 1}}
    if isinstance(node, Compare):
        op = _OPPOSITE[node.op]
        right = _operand(node.operand)
        test = {key: right} if op == "==" else {_DURABLE_OP[op]: {key: right}}
        return _or([{"$nex": {key: 1}}, *missing_refs, test])
    if isinstance(node, Member):
        flipped = Member(node.text, node.path, node.values, not node.negated, node.set_name)
        return _or([{"$nex": {key: 1}}, compile_condition(flipped, item)])
    if isinstance(node, Has):
        right = _operand(node.operand)
        if node.negated:  # not lacks: the operand is known and the list holds it
            return _or([*missing_refs, {"$iany": {key: {"$i": right}}}])
        return _or([{"$nex": {key: 1}}, *missing_refs,
                    {"$iall": {key: {"$neq": {"$i": right}}}}])
    if isinstance(node, AnyItem):
        inner = _item_test([_or([negate(c, item=True) for c in node.conditions])])
        return _or([{"$nex": {key: 1}}, *missing_refs, {"$iall": {key: inner}}])
    raise TypeError(f"cannot negate {node!r}")  # pragma: no cover

