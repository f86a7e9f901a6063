"""A compiled bundle ready to match events: its matcher, its data readers, and the plans of
the sets of rules it fires.

An `Engine` has one `Program` for `evaluate` (every rule) and, once `replay` is first called,
one for replay (only the parts of rules that keep state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ._compiler import ESCALATE, PRIOR, UNTIL, UPLIFT, WHEN, CompiledBundle, Label
from ._document import DataReader
from ._matcher import Matcher
from ._schema import load_schema

__all__ = ["Plan", "Program"]

_PLAN_CACHE_SIZE = 4096  # distinct sets of fired rules
_NONE: frozenset[int] = frozenset()


class Program:
    """A compiled bundle with what reads events for it: its matcher and data readers, and
    the plans of the sets of rules it fired."""

    def __init__(self, compiled: CompiledBundle) -> None:
        self.compiled = compiled
        self.matcher = Matcher(compiled.rulesets)
        schema = load_schema()
        self.readers = {type_: DataReader(tree.get("data", {}), schema.types[type_].tree)
                        for type_, tree in compiled.projections.items()}
        self._plans: dict[frozenset[str], Plan] = {}

    def plan(self, fired: list[str]) -> Plan:
        """What a set of fired rules asks for, sorted out once per distinct set (events of a
        type fire the same few sets over and over)."""
        key = frozenset(fired)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            plan = self._plans[key] = Plan.of(self.compiled.labels[name] for name in fired)
        return plan


@attrs.frozen
class Plan:
    """The labels a set of fired durable_rules rules stands for, by part, in rule order."""

    uplifted: bool
    escalations: Mapping[int, frozenset[int]]  # rule index -> its escalations that held
    until: tuple[Label, ...]
    when: tuple[Label, ...]
    prior: tuple[Label, ...]

    def escalated(self, rule: int) -> frozenset[int]:
        """The escalations of rule `rule` (by index) that held."""
        return self.escalations.get(rule, _NONE)

    @classmethod
    def of(cls, fired: Iterable[Label]) -> Plan:
        # One label may stand for several durable_rules rules (one per alternative).
        labels = sorted(set(fired), key=_order)
        escalations: dict[int, set[int]] = {}
        for label in labels:
            if label.part == ESCALATE:
                escalations.setdefault(label.rule, set()).add(label.index)
        return cls(uplifted=any(label.part == UPLIFT for label in labels),
                   escalations={r: frozenset(i) for r, i in escalations.items()},
                   until=tuple(label for label in labels if label.part == UNTIL),
                   when=tuple(label for label in labels if label.part == WHEN),
                   prior=tuple(label for label in labels if label.part == PRIOR))


def _order(label: Label) -> tuple[int, int]:
    return (label.rule, label.index)
