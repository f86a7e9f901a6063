"""Differential tests: durable_rules fires exactly where the direct reading says it should.

Every condition has two readings (see ``_conditions.py``): `holds()`, plain Python over the
normalised document, and the durable_rules JSON that `_compiler` makes of it, which is what
decides in production. durable_rules has surprises of its own (``"true" == true``, strings
ordered against numbers, a missing operand read as 0 in arithmetic, ``$iall`` over an absent
list, floats it cannot parse; ../shared/reference/durable-rules.md §§2, 4, 6), and the
compiler guards against them. These tests prove the guards hold:

* **the shipped packs** (`test_shipped_packs_*`): random schema-valid events of every event
  type that has rules, in random contexts, go through one matcher compiled from `rules/`;
  the rules that fire must be exactly those whose conditions hold in the direct reading, for
  every part of every rule (trigger, `until`, `prior`, escalation and the bundle's uplift);
* **random condition trees** (`test_random_conditions_*`): a few hundred conditions per event
  type, built from a seeded generator over the type's real fields (every operator, negation
  and nesting the language has, including those no shipped rule uses yet) and kept only when
  the rule-pack loader would accept them, compiled into one matcher per type and checked
  against the direct reading for random events;
* **known durable_rules limits** (`test_durable_*`): small deterministic reproducers of
  problems found by the tests above, each stating what the engine should do.

durable_rules never frees a registered ruleset (~300 KB each), so matchers are built once
per module or per event type, never per example.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mandate_rules import Event
from mandate_rules._compiler import (
    ESCALATE,
    MAX_RULES_PER_RULESET,
    PRIOR,
    UNTIL,
    UPLIFT,
    WHEN,
    Label,
    Program,
    compile_bundle,
    compile_condition,
    projection_tree,
)
from mandate_rules._conditions import (
    CONTEXT,
    DATA,
    EVENT,
    EVENT_ATTRIBUTES,
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
from mandate_rules._facts import document
from mandate_rules._loader import _Loader, load_bundle
from mandate_rules._matcher import Matcher
from mandate_rules._rules import Absence, Bundle, Lookback
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

from .strategies import (
    TIME_OFFSETS,
    Pools,
    bundle_nodes,
    cloud_events,
    contexts,
    make_pools,
)

RULES_DIR = FsPath(__file__).resolve().parents[1] / "rules"
SCHEMA = load_schema()
BUNDLE = load_bundle(RULES_DIR)
PROGRAM = compile_bundle(BUNDLE)
PROFILES = [BUNDLE.contexts[c] for c in sorted(BUNDLE.contexts)]
TYPES_WITH_RULES = sorted(PROGRAM.rulesets)
# Every event type with data: the random conditions cover those no shipped rule reads yet.
TYPES_WITH_DATA = sorted(t for t, et in SCHEMA.types.items() if et.tree)

SHIPPED_EXAMPLES = 300
RANDOM_EXAMPLES = 60
RANDOM_CONDITIONS = 300
SEED = 20261120

_SETTINGS = dict(deadline=None, derandomize=False, print_blob=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])


# --------------------------------------------------------------------------- shared helpers

def build_event(raw: Mapping[str, Any]) -> Event:
    """The validated Event (the strategies only produce schema-valid events)."""
    return Event.from_json(raw)


def fact_for(event: Event, context: Mapping[str, Any],
             tree: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fact the engine sends to durable_rules for `event` (cut to `tree`)."""
    return {"type": event.type, **document(event, context, tree)}


def _show_nodes(nodes: Sequence[Node], doc: Mapping[str, Any], indent: str = "    ") -> list[str]:
    lines = []
    for node in nodes:
        lines.append(f"{indent}[{'holds' if holds(node, doc) else 'fails'}] {node.text}")
        if isinstance(node, Group):
            lines.extend(_show_nodes(node.items, doc, indent + "    "))
    return lines


def mismatch_report(event: Event, context_label: str, context: Mapping[str, Any],
                    fact: Mapping[str, Any], rows: Sequence[tuple[str, Sequence[Node], bool]],
                    doc: Mapping[str, Any]) -> str:
    """What differed, for a failing assertion: the event, each condition, both answers."""
    lines = ["durable_rules and the direct reading disagree",
             f"event: {json.dumps(event.to_json(), ensure_ascii=False, sort_keys=True)}",
             f"context ({context_label}): {json.dumps(context, ensure_ascii=False, sort_keys=True)}",
             f"fact sent to durable_rules: {json.dumps(fact, ensure_ascii=False, sort_keys=True)}"]
    for what, nodes, durable_said in rows:
        direct = all(holds(n, doc) for n in nodes)
        lines.append(f"  {what}: durable_rules {'FIRED' if durable_said else 'did not fire'}, "
                     f"direct reading {'HOLDS' if direct else 'does not hold'}")
        lines.extend(_show_nodes(nodes, doc))
    return "\n".join(lines)


# --------------------------------------------------------------------------- (a) shipped packs

def label_side(bundle: Bundle, label: Label) -> tuple[tuple[str, ...], tuple[Node, ...], str]:
    """(event types it applies to, its conditions, a readable name) for a compiled label."""
    if label.part == UPLIFT:
        assert bundle.uplift is not None
        types = sorted({t for rule in bundle.rules if rule.uplift for t in rule.on})
        return tuple(types), bundle.uplift.when, "bundle uplift"
    rule = bundle.rules[label.rule]
    if label.part == ESCALATE:
        escalation = rule.escalations[label.index]
        return escalation.on, escalation.when, f"{rule.id} escalation {label.index} " \
                                               f"(to {escalation.to.value})"
    trigger = rule.triggers[label.index]
    if label.part == WHEN:
        return trigger.on, trigger.when, f"{rule.id} trigger {trigger.name!r} when"
    pattern = trigger.pattern
    if label.part == UNTIL:
        assert isinstance(pattern, Absence)
        return pattern.until.on, pattern.until.when, f"{rule.id} trigger {trigger.name!r} until"
    assert label.part == PRIOR and isinstance(pattern, Lookback)
    return pattern.prior.on, pattern.prior.when, f"{rule.id} trigger {trigger.name!r} prior"


def names_in_rulesets(program: Program, event_type: str) -> set[str]:
    return {name for chunk in program.rulesets.get(event_type, ()) for name in chunk}


@functools.cache
def shipped_matcher() -> Matcher:
    return Matcher(PROGRAM.rulesets)


@functools.cache
def shipped_pools() -> Pools:
    return make_pools(bundle_nodes(BUNDLE), profiles=PROFILES,
                      trees=[SCHEMA.context_tree, *(et.tree for et in SCHEMA.types.values())])


def test_compiled_names_follow_the_on_lists() -> None:
    """Each compiled rule lives in the rulesets of exactly the event types its `on` names."""
    assert TYPES_WITH_RULES, "the shipped packs compile to no ruleset at all"
    for event_type in sorted(SCHEMA.types):
        expected = {name for name, label in PROGRAM.labels.items()
                    if event_type in label_side(BUNDLE, label)[0]}
        assert names_in_rulesets(PROGRAM, event_type) == expected, event_type
    for chunks in PROGRAM.rulesets.values():
        assert all(len(chunk) <= MAX_RULES_PER_RULESET for chunk in chunks)


@pytest.mark.parametrize("event_type", TYPES_WITH_RULES)
@settings(max_examples=SHIPPED_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
@given(data=st.data())
def test_shipped_packs_fire_exactly_where_the_direct_reading_holds(event_type: str,
                                                                   data: st.DataObject) -> None:
    pools = shipped_pools()
    et = SCHEMA.types[event_type]
    raw = data.draw(cloud_events(event_type, et.tree, et.required, pools), label="event")
    context_label, context = data.draw(contexts(SCHEMA.context_tree, pools, PROFILES),
                                       label="context")
    event = build_event(raw)
    doc = document(event, context)
    fact = fact_for(event, context, PROGRAM.projections[event_type])
    # Compared as sets: how often a name is reported is test_matcher_reports_each_rule_once.
    fired = set(shipped_matcher().match(event_type, dict(fact)))
    rows = []
    for name in sorted(names_in_rulesets(PROGRAM, event_type), key=lambda n: int(n[1:])):
        _, nodes, what = label_side(BUNDLE, PROGRAM.labels[name])
        direct = all(holds(n, doc) for n in nodes)
        durable_said = name in fired
        if direct != durable_said:
            rows.append((f"{name} = {what}", nodes, durable_said))
    assert not rows, mismatch_report(event, context_label, context, fact, rows, doc)


# --------------------------------------------------------------------------- (b) random trees

Field = tuple[Path, Any]  # a path and its Kind / ObjectList

_WORDS = (TEXT, ENUM, BOOL, BOOL_OR_TEXT)  # the kinds the loader lets a field Ref compare across
_NUMERIC = (NUMBER, INTEGER)
_REF_OFFSETS = (86400.0, -86400.0, 30 * 86400.0, -30 * 86400.0, 72 * 3600.0, 3600.0, 1.0,
                90 * 86400.0, 0.5)


def leaves(tree: Mapping[str, Any], scope: str,
           prefix: tuple[str, ...] = ()) -> list[Field]:
    """Every field of `tree` a condition can name: values and lists of objects."""
    out: list[Field] = []
    for name in sorted(tree):
        node = tree[name]
        parts = (*prefix, name)
        if isinstance(node, (Kind, ObjectList)):
            out.append((Path(scope, parts), node))
        else:
            out.extend(leaves(node, scope, parts))
    return out


def render_operand(operand: Any) -> str:
    if isinstance(operand, Ref):
        if not operand.offset_seconds:
            return str(operand.path)
        sign = "+" if operand.offset_seconds > 0 else "-"
        return f"{str(operand.path)} {sign} {abs(operand.offset_seconds) / 60:g} minutes"
    return json.dumps(operand, ensure_ascii=False)


class ConditionGenerator:
    """Random condition trees over the real fields of one event type (seeded, no hypothesis).

    Kinds are respected the way the loader checks them: ordering only on numbers and times,
    times only against other time fields (optionally shifted), `contains`/`lacks` only on
    lists, `any … where` only on lists of objects, words against words (texts, enums and
    yes/no values may be compared with each other's fields, as the loader allows).
    """

    def __init__(self, rng: random.Random, event_type: str, pools: Pools) -> None:
        self.rng = rng
        self.pools = pools
        self.fields: list[Field] = [
            *leaves(SCHEMA.types[event_type].tree, DATA),
            *leaves(SCHEMA.context_tree, CONTEXT),
            *[(Path(EVENT, (a,)), Kind(TIME if a == "time" else TEXT)) for a in EVENT_ATTRIBUTES],
        ]
        self.scalars = [f for f in self.fields if isinstance(f[1], Kind) and f[1].name != LIST]
        self.object_lists = [f for f in self.fields if isinstance(f[1], ObjectList)]

    # -- operands

    def literal(self, kind: Kind) -> Any:
        rng, name = self.rng, kind.name
        if name == ENUM:
            return rng.choice(sorted(kind.choices))
        if name == BOOL:
            return rng.random() < 0.5
        if name == INTEGER:
            return rng.choice(self.pools.integers())
        if name == NUMBER:
            return rng.choice(self.pools.numbers)
        if name == BOOL_OR_TEXT and rng.random() < 0.5:
            return rng.random() < 0.5
        return rng.choice(self.pools.texts)

    def ref_for(self, kind: Kind) -> Ref | None:
        """Another (non-item) field this kind may be compared with, or None."""
        if kind.name == TIME:
            group: tuple[str, ...] = (TIME,)
        elif kind.name in _NUMERIC:
            group = _NUMERIC
        else:
            group = _WORDS
        targets = [p for p, k in self.scalars if k.name in group]
        if not targets:
            return None
        path = self.rng.choice(targets)
        offset = 0.0
        if kind.name == TIME and self.rng.random() < 0.6:
            offset = self.rng.choice(_REF_OFFSETS)
        return Ref(path, offset)

    # -- nodes

    def node(self, depth: int = 0) -> Node:
        roll = self.rng.random()
        if depth < 3 and roll < 0.3:
            return self.group(depth)
        if self.object_lists and roll < 0.45:
            return self.any_item()
        path, kind = self.rng.choice(self.fields)
        return self.simple(path, kind)

    def group(self, depth: int) -> Group:
        mode = self.rng.choice(("all", "any", "none"))
        items = tuple(self.node(depth + 1) for _ in range(self.rng.randint(1, 3)))
        return Group(f"{mode} of:", mode, items)

    def any_item(self) -> Node:
        path, obj_list = self.rng.choice(self.object_lists)
        item_fields = leaves(obj_list.fields, ITEM)
        conditions = []
        for _ in range(self.rng.randint(1, 3)):
            sub_path, kind = self.rng.choice(item_fields)
            conditions.append(self.simple(sub_path, kind))
        text = f"any {path} where " + " and ".join(c.text for c in conditions)
        return AnyItem(text, path, tuple(conditions))

    def simple(self, path: Path, kind: Any) -> Node:
        """One condition line on `path` (a Presence for whatever cannot be compared)."""
        rng = self.rng
        roll = rng.random()
        if isinstance(kind, ObjectList) or roll < 0.12:
            present = rng.random() < 0.5
            return Presence(f"{path} is {'present' if present else 'missing'}", path, present)
        if kind.name == LIST:
            assert kind.item is not None
            negated = rng.random() < 0.5
            operand = self.ref_for(kind.item) if rng.random() < 0.25 else None
            if operand is None:
                operand = self.literal(kind.item)
            return Has(f"{path} {'lacks' if negated else 'contains'} {render_operand(operand)}",
                       path, operand, negated)
        if kind.name == BOOL and roll < 0.4:
            value = rng.random() < 0.5
            compare = Compare(f"{path} is {str(value).lower()}", path, "==", value)
            if rng.random() < 0.5:
                return Group(f"{path} is not {str(value).lower()}", "none", (compare,))
            return compare
        if kind.name in (TEXT, ENUM, NUMBER, INTEGER, BOOL_OR_TEXT) and roll < 0.45:
            negated = rng.random() < 0.4
            values = tuple(self.literal(kind) for _ in range(rng.randint(1, 4)))
            shown = ", ".join(render_operand(v) for v in values)
            return Member(f"{path} {'not in' if negated else 'in'} [{shown}]", path, values,
                          negated)
        ordered = kind.name in (NUMBER, INTEGER, TIME)
        op = rng.choice(("==", "!=", "<", "<=", ">", ">=") if ordered else ("==", "!="))
        operand: Any = None
        if kind.name == TIME or rng.random() < 0.3:
            operand = self.ref_for(kind)
        if operand is None:
            if kind.name == TIME:
                return Presence(f"{path} is present", path, True)
            operand = self.literal(kind)
        return Compare(f"{path} {op} {render_operand(operand)}", path, op, operand)


def loader_accepts(node: Node, event_type: str) -> bool:
    """Whether the rule-pack loader would accept `node` in a rule on `event_type`."""
    problems: list[Any] = []
    loader = _Loader(RULES_DIR, SCHEMA, problems, {})
    loader.check_node(node, 0, (event_type,), None, False)
    return not problems


def random_conditions(event_type: str, count: int, seed: int) -> list[Node]:
    """`count` random conditions the loader accepts, the same for a given seed."""
    rng = random.Random(f"{event_type}:{seed}")
    generator = ConditionGenerator(rng, event_type, random_pools())
    out: list[Node] = []
    rejected = 0
    while len(out) < count:
        node = generator.node()
        if loader_accepts(node, event_type):
            out.append(node)
        else:
            rejected += 1
    # The generator follows the loader's rules; a high rejection rate means it drifted.
    assert rejected <= count // 10, f"{rejected} generated conditions were not loadable"
    return out


@functools.cache
def random_pools() -> Pools:
    return make_pools(bundle_nodes(BUNDLE), profiles=PROFILES,
                      trees=[SCHEMA.context_tree, *(et.tree for et in SCHEMA.types.values())])


@functools.cache
def random_program(event_type: str) -> tuple[list[Node], Matcher, Mapping[str, Any]]:
    """The random conditions of `event_type`, one matcher for all of them, and the projection
    tree of the fields they read."""
    nodes = random_conditions(event_type, RANDOM_CONDITIONS, SEED)
    entries = [(f"r{i}", {"all": [{"m": {"$and": [{"type": event_type},
                                                  compile_condition(node)]}}]})
               for i, node in enumerate(nodes)]
    chunks = tuple(dict(entries[i:i + MAX_RULES_PER_RULESET])
                   for i in range(0, len(entries), MAX_RULES_PER_RULESET))
    tree = projection_tree(p for node in nodes for p in node.paths())
    return nodes, Matcher({event_type: chunks}), tree


def test_random_conditions_cover_the_language() -> None:
    """The generator reaches every node type, group mode, negation and operand form."""
    seen: set[str] = set()

    def walk(node: Node) -> None:
        seen.add(type(node).__name__)
        if isinstance(node, Group):
            seen.add(f"group:{node.mode}")
            for sub in node.items:
                walk(sub)
        elif isinstance(node, AnyItem):
            for sub in node.conditions:
                walk(sub)
        elif isinstance(node, Compare):
            seen.add(f"op:{node.op}")
            if isinstance(node.operand, Ref):
                seen.add("ref" if not node.operand.offset_seconds else "ref+offset")
        elif isinstance(node, (Member, Has)):
            seen.add(f"{type(node).__name__}:{'negated' if node.negated else 'plain'}")
        elif isinstance(node, Presence):
            seen.add(f"presence:{node.present}")

    for event_type in ("movement.request", "asset.request"):
        for node in random_conditions(event_type, RANDOM_CONDITIONS, SEED):
            walk(node)
    expected = {"Compare", "Member", "Has", "Presence", "AnyItem", "Group",
                "group:all", "group:any", "group:none", "ref", "ref+offset",
                "Member:negated", "Member:plain", "Has:negated", "Has:plain",
                "presence:True", "presence:False",
                *(f"op:{op}" for op in ("==", "!=", "<", "<=", ">", ">="))}
    assert expected <= seen, sorted(expected - seen)


@pytest.mark.parametrize("event_type", TYPES_WITH_DATA)
@settings(max_examples=RANDOM_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
@given(data=st.data())
def test_random_conditions_fire_exactly_where_they_hold(event_type: str,
                                                        data: st.DataObject) -> None:
    nodes, matcher, tree = random_program(event_type)
    pools = random_pools()
    et = SCHEMA.types[event_type]
    raw = data.draw(cloud_events(event_type, et.tree, et.required, pools), label="event")
    context_label, context = data.draw(contexts(SCHEMA.context_tree, pools, PROFILES),
                                       label="context")
    event = build_event(raw)
    doc = document(event, context)
    fact = fact_for(event, context, tree)
    fired = set(matcher.match(event_type, dict(fact)))
    rows = [(f"r{i}", (node,), f"r{i}" in fired) for i, node in enumerate(nodes)
            if holds(node, doc) != (f"r{i}" in fired)]
    assert not rows, mismatch_report(event, context_label, context, fact, rows, doc)


# --------------------------------------------------------------------------- boundaries

def test_time_offsets_meet_the_shifts_rules_use() -> None:
    """The time pool holds exact boundaries for `+ 30 days`-style shifts (a sanity check)."""
    assert {30 * 86400, 30 * 86400 + 1, 30 * 86400 - 1, 0} <= set(TIME_OFFSETS)
