"""Synthetic rule bundles of any size, generated from the catalogue's own rules.

A bundle of `count` rules takes the catalogue's rules in turn (evenly spread when `count` is
smaller than the catalogue), so every shape the catalogue uses appears in proportion: plain
triggers, lists and named sets, ``any … where`` items, field-to-field comparisons with
durations, escalations, the uplift, counts, deadlines and lookbacks. Every copy after the
first has its literals moved to other values of the same field (another word of the same
enum, a number shifted), so copies are different rules that durable_rules cannot share,
and they fire on different events.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import attrs

from mandate_rules._conditions import DATA, ITEM, AnyItem, Compare, Group, Has, Member, Node, Path
from mandate_rules._rules import Bundle, Rule
from mandate_rules._schema import ENUM, LIST, Kind, ObjectList, load_schema

__all__ = ["synthetic_bundle"]


def synthetic_bundle(bundle: Bundle, count: int, seed: int = 0) -> Bundle:
    """A bundle of `count` rules shaped like `bundle`'s (same sets, uplift and contexts)."""
    rng = random.Random(seed)
    base = bundle.rules
    if count <= len(base):
        picked = [base[i * len(base) // count] for i in range(count)]
        rules = [attrs.evolve(r, id=f"SYN-{i:03d}") for i, r in enumerate(picked)]
    else:
        rules = []
        for i in range(count):
            rule = base[i % len(base)]
            if i >= len(base):
                rule = _vary(rule, rng)
            rules.append(attrs.evolve(rule, id=f"SYN-{i:03d}"))
    return attrs.evolve(bundle, rules=tuple(rules))


def _vary(rule: Rule, rng: random.Random) -> Rule:
    types = rule.on

    def nodes(conditions: Sequence[Node]) -> tuple[Node, ...]:
        return tuple(_node(n, types, rng, None) for n in conditions)

    triggers = []
    for trigger in rule.triggers:
        pattern = trigger.pattern
        triggers.append(attrs.evolve(trigger, when=nodes(trigger.when), pattern=pattern))
    escalations = tuple(attrs.evolve(e, when=nodes(e.when)) for e in rule.escalations)
    return attrs.evolve(rule, triggers=tuple(triggers), escalations=escalations)


def _choices(path: Path, types: Sequence[str], within: ObjectList | None) -> list[str]:
    schema = load_schema()
    kind: Any = None
    if path.scope == ITEM and within is not None:
        kind = within.fields
        for part in path.parts:
            kind = kind.get(part) if isinstance(kind, dict) else None
    elif path.scope == DATA:
        for type_ in types:
            kind = schema.data_kind(type_, path.dotted)
            if kind is not None:
                break
    else:
        kind = schema.context_kind(path.dotted)
    if isinstance(kind, Kind) and kind.name == LIST and kind.item is not None:
        kind = kind.item
    if isinstance(kind, Kind) and kind.name == ENUM:
        return sorted(kind.choices)
    return []


def _move(value: Any, choices: list[str], rng: random.Random) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value + rng.choice((-2, -1, 1, 2)) * (1 if isinstance(value, int) else 0.5)
    if isinstance(value, str) and choices:
        return rng.choice(choices)
    return value


def _node(node: Node, types: Sequence[str], rng: random.Random,
          within: ObjectList | None) -> Node:
    if isinstance(node, Group):
        return attrs.evolve(node, items=tuple(_node(n, types, rng, within) for n in node.items))
    if isinstance(node, AnyItem):
        schema = load_schema()
        inner: Any = None
        for type_ in types:
            inner = schema.data_kind(type_, node.path.dotted) if node.path.scope == DATA \
                else schema.context_kind(node.path.dotted)
            if inner is not None:
                break
        items = inner if isinstance(inner, ObjectList) else None
        return attrs.evolve(node, conditions=tuple(_node(n, types, rng, items)
                                                   for n in node.conditions))
    if isinstance(node, Member):
        choices = _choices(node.path, types, within)
        if not choices or not node.values:
            return node
        size = min(len(node.values), len(choices))
        return attrs.evolve(node, values=tuple(rng.sample(choices, size)), set_name=None)
    if isinstance(node, (Compare, Has)) and not hasattr(node.operand, "path"):
        return attrs.evolve(node, operand=_move(node.operand,
                                                _choices(node.path, types, within), rng))
    return node
