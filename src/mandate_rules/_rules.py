"""The loaded form of rule packs: what the loader produces and the compiler consumes.

Everything here is plain data (frozen). Conditions are trees from `_conditions`; severities
and references are the public models. Nothing here knows about durable_rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._conditions import Node, Path
from ._context import ContextProfile
from ._models import Reference, RulesVersion, Severity


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of a mapping of frozen values, as `_content.freeze` makes of data:
    a loaded bundle must not change under a running engine."""
    return MappingProxyType(dict(value))


@attrs.frozen
class Where:
    """A place in a rule-pack file."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@attrs.frozen
class Parameter:
    """A named value of a rule (a window, a threshold): its default and the value in force."""

    name: str
    default: Any
    value: Any
    description: str


@attrs.frozen
class Side:
    """The other event of a pattern: the `until` of an absence, the `prior` of a lookback."""

    on: tuple[str, ...]
    when: tuple[Node, ...]
    by: tuple[Path, ...]


@attrs.frozen
class Count:
    """Count within a window by key: fire once `levels`' lowest threshold is reached."""

    by: tuple[Path, ...]
    within_seconds: float
    levels: tuple[tuple[int, Severity | None], ...]  # (threshold, severity); None: the rule's own

    @property
    def at_least(self) -> int:
        return min(n for n, _ in self.levels)

    def severity_for(self, count: int) -> Severity | None:
        reached = [(n, s) for n, s in self.levels if count >= n]
        return max(reached, key=lambda pair: pair[0])[1] if reached else None


@attrs.frozen
class Absence:
    """Absence before a deadline: a start, and an `until` that must come before it passes."""

    by: tuple[Path, ...]
    until: Side
    within_seconds: float | None = None
    deadline: Path | None = None


@attrs.frozen
class Lookback:
    """Lookback: an event meeting `prior`, with the same key, within the window before."""

    by: tuple[Path, ...]
    within_seconds: float
    prior: Side


Pattern = Count | Absence | Lookback


@attrs.frozen
class Trigger:
    """One way a rule can fire: conditions over one event, optionally inside a stateful pattern."""

    name: str
    on: tuple[str, ...]
    when: tuple[Node, ...]
    pattern: Pattern | None = None
    severity: Severity | None = None
    advice: str | None = None
    actions: tuple[str, ...] | None = None
    where: Where | None = None

    @property
    def stateful(self) -> bool:
        return self.pattern is not None


@attrs.frozen
class Escalation:
    """Raise a rule's severity to `to` when `when` holds, for the reason `because`."""

    to: Severity
    because: str
    on: tuple[str, ...]
    when: tuple[Node, ...]


@attrs.frozen
class Rule:
    """One rule of a pack, as loaded: its text for people and its triggers for the engine."""

    id: str
    title: str
    pack: str
    severity: Severity
    advice: str
    actions: tuple[str, ...]
    references: tuple[Reference, ...]
    triggers: tuple[Trigger, ...]
    escalations: tuple[Escalation, ...] = ()
    uplift: bool = False
    parameters: Mapping[str, Parameter] = attrs.field(factory=dict, converter=_read_only)
    where: Where | None = None

    @property
    def on(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for trigger in self.triggers:
            for type_ in trigger.on:
                seen.setdefault(type_)
        return tuple(seen)

    @property
    def stateful(self) -> bool:
        return any(t.stateful for t in self.triggers)


@attrs.frozen
class Uplift:
    """The bundle's context uplift: when it holds, rules marked `uplift` rise one level."""

    because: str
    when: tuple[Node, ...]


@attrs.frozen
class Bundle:
    """Every loaded rule, in catalogue order, with the sets, uplift and context profiles."""

    name: str
    version: RulesVersion
    rules: tuple[Rule, ...]
    sets: Mapping[str, tuple[str, ...]] = attrs.field(converter=_read_only)
    uplift: Uplift | None
    contexts: Mapping[str, ContextProfile] = attrs.field(converter=_read_only)
    files: tuple[str, ...] = ()

    def conditions(self) -> list[Node]:
        """Every condition of the bundle: triggers, the other side of patterns (`until`,
        `prior`), escalations and the uplift, in catalogue order."""
        nodes: list[Node] = []
        for rule in self.rules:
            for trigger in rule.triggers:
                nodes.extend(trigger.when)
                if isinstance(trigger.pattern, Absence):
                    nodes.extend(trigger.pattern.until.when)
                elif isinstance(trigger.pattern, Lookback):
                    nodes.extend(trigger.pattern.prior.when)
            for escalation in rule.escalations:
                nodes.extend(escalation.when)
        if self.uplift is not None:
            nodes.extend(self.uplift.when)
        return nodes

    def rule(self, rule_id: str) -> Rule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None


def duration_text(seconds: float) -> str:
    """A pattern's window in words: "1 day", "72 hours", "90 minutes" (seconds otherwise)."""
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds % size == 0:
            amount = int(seconds // size)
            return f"{amount} {unit if amount != 1 else unit[:-1]}"
    return f"{seconds:g} seconds"
