"""The engines mandate-rules is measured against, all fed the same events.

* `RawDurable`: a plain `durable.engine.Host` with the rulesets `compile_bundle` produced,
  a do-nothing Python action per rule, and each fact posted with `Host.assert_fact` then
  `Host.retract_fact` (durable_rules' ordinary Python API): the floor of our own overhead.
* `PlainPython`: the direct reading (`holds`) of every question over the document: the floor
  of any engine.
* `ZenPeer` (GoRules zen-engine) and `RuleEnginePeer` (rule-engine): the stateless rules,
  translated from the packs by `translate`.

Peers and the plain-Python floor build the same normalised, projected document the engine's
matcher builds (`Documents`), inside their timed path, because the engine does it inside its.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from durable import engine as durable_engine

from mandate_rules import Event
from mandate_rules._compiler import CompiledBundle, compile_bundle
from mandate_rules._conditions import Node, holds
from mandate_rules._context import ContextProfile
from mandate_rules._document import context_part_of, document
from mandate_rules._rules import Bundle

from .translate import (
    Observed,
    advisories,
    flattener,
    matcher_questions,
    questions,
    rule_engine_expression,
    zen_expression,
)

__all__ = ["Documents", "FullPlainPython", "PlainPython", "RawDurable", "RuleEnginePeer",
           "StatelessRunner", "ZenExpressionsPeer", "ZenPeer"]


class Documents:
    """The document the engine's matcher builds for an event: normalised, cut to the fields
    the rules read, with the operation's context (resolved per country and area, cached)."""

    def __init__(self, bundle: Bundle, projections: Mapping[str, Mapping[str, Any]]) -> None:
        self.bundle = bundle
        self.projections = projections
        self.parts: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    def __call__(self, event: Event) -> dict[str, Any] | None:
        tree = self.projections.get(event.type)
        if tree is None:
            return None
        key = (event.country, event.area, event.type)
        part = self.parts.get(key)
        if part is None:
            profile = self.bundle.contexts.get(event.country) or \
                ContextProfile.unknown(event.country)
            part = self.parts[key] = context_part_of(profile.resolve(event.area), tree)
        return document(event, {}, tree, context_part=part)


class StatelessRunner:
    """Event in, advisories of the stateless rules out, through one way of answering the
    questions (`fired`): the direct reading, zen-engine or rule-engine."""

    name = "plain-python"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.questions = questions(bundle)
        self.by_name = {q.name: q for qs in self.questions.values() for q in qs}
        self.documents = Documents(bundle, compile_bundle(bundle).projections)

    def fired(self, event_type: str, doc: dict[str, Any]) -> list[str]:
        return [q.name for q in self.questions.get(event_type, ())
                if all(holds(n, doc) for n in q.conditions)]

    def __call__(self, event: Event) -> list[Observed]:
        doc = self.documents(event)
        if doc is None:
            return []
        return advisories(self.bundle, self.by_name, self.fired(event.type, doc))


PlainPython = StatelessRunner


def decision_table(rows: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A JDM decision graph: input ▶ one decision table (hit policy `collect`, one row per
    question, its expression in an input column with no field) ▶ output."""
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request",
             "position": {"x": 0, "y": 0}},
            {"id": "rules", "type": "decisionTableNode", "name": "Rules",
             "position": {"x": 300, "y": 0},
             "content": {"hitPolicy": "collect",
                         "inputs": [{"id": "when", "name": "When", "field": ""}],
                         "outputs": [{"id": "label", "name": "Label", "field": "label"}],
                         "rules": [{"_id": f"row{i}", "when": expression,
                                    "label": json.dumps(name)}
                                   for i, (name, expression) in enumerate(rows)]}},
            {"id": "response", "type": "outputNode", "name": "Response",
             "position": {"x": 600, "y": 0}},
        ],
        "edges": [{"id": "in", "sourceId": "request", "targetId": "rules", "type": "edge"},
                  {"id": "out", "sourceId": "rules", "targetId": "response", "type": "edge"}],
    }


class ZenPeer(StatelessRunner):
    """GoRules zen-engine: one decision table per event type, generated from the packs."""

    name = "zen-engine"

    def __init__(self, bundle: Bundle) -> None:
        import zen  # noqa: PLC0415 - an optional dependency (the `bench` extra)

        super().__init__(bundle)
        self.engine = zen.ZenEngine()
        self.expressions = {
            type_: [(q.name, zen_expression(q.conditions, type_)) for q in qs]
            for type_, qs in self.questions.items()}
        self.decisions = {type_: self.engine.create_decision(json.dumps(decision_table(rows)))
                          for type_, rows in self.expressions.items()}

    def fired(self, event_type: str, doc: dict[str, Any]) -> list[str]:
        decision = self.decisions.get(event_type)
        if decision is None:
            return []
        result: Any = decision.evaluate(doc)["result"]
        rows = [result] if isinstance(result, dict) else result  # one row may come unwrapped
        return [row["label"] for row in rows]


class ZenExpressionsPeer(StatelessRunner):
    """zen-engine's expression API: each question compiled once (`zen.compile_expression`)
    and evaluated on its own, without a decision graph around it."""

    name = "zen-engine-expressions"

    def __init__(self, bundle: Bundle) -> None:
        import zen  # noqa: PLC0415 - an optional dependency (the `bench` extra)

        super().__init__(bundle)
        self.compiled = {
            type_: [(q.name, zen.compile_expression(zen_expression(q.conditions, type_)))
                    for q in qs]
            for type_, qs in self.questions.items()}

    def fired(self, event_type: str, doc: dict[str, Any]) -> list[str]:
        return [name for name, expression in self.compiled.get(event_type, ())
                if expression.evaluate(doc) is True]


class RuleEnginePeer(StatelessRunner):
    """rule-engine: one compiled `Rule` per question, over a flat document per event type."""

    name = "rule-engine"

    def __init__(self, bundle: Bundle) -> None:
        import rule_engine  # type: ignore[import-untyped]  # noqa: PLC0415 - the bench extra

        super().__init__(bundle)
        context = rule_engine.Context(resolver=rule_engine.resolve_item, default_value=None)
        self.expressions = {
            type_: [(q.name, rule_engine_expression(q.conditions, type_)) for q in qs]
            for type_, qs in self.questions.items()}
        self.rules: dict[str, tuple[Callable[[Mapping[str, Any]], dict[str, Any]],
                                    list[tuple[str, Any]]]] = {}
        for type_, qs in self.questions.items():
            conditions: list[Node] = [n for q in qs for n in q.conditions]
            self.rules[type_] = (flattener(conditions),
                                 [(name, rule_engine.Rule(text, context=context))
                                  for name, text in self.expressions[type_]])

    def fired(self, event_type: str, doc: dict[str, Any]) -> list[str]:
        entry = self.rules.get(event_type)
        if entry is None:
            return []
        flat, rules = entry
        thing = flat(doc)
        return [name for name, rule in rules if rule.matches(thing)]


class FullPlainPython:
    """The direct reading of every question the compiled rulesets ask (all rules, stateful
    ones' per-event questions included): the floor of matching the full catalogue."""

    name = "plain-python-all-questions"

    def __init__(self, bundle: Bundle, program: CompiledBundle | None = None) -> None:
        program = program or compile_bundle(bundle)
        self.questions = matcher_questions(bundle, program)
        self.documents = Documents(bundle, program.projections)

    def __call__(self, event: Event) -> list[str]:
        doc = self.documents(event)
        if doc is None:
            return []
        return [label for label, conditions in self.questions.get(event.type, ())
                if all(holds(n, doc) for n in conditions)]


class RawDurable:
    """durable_rules itself: a plain `Host`, the compiled rulesets, do-nothing actions."""

    name = "durable_rules-raw"

    def __init__(self, bundle: Bundle, program: CompiledBundle | None = None) -> None:
        self.program = program or compile_bundle(bundle)
        self.documents = Documents(bundle, self.program.projections)
        self.host = durable_engine.Host()
        self.sink: list[tuple[int, str]] | None = None
        self.names: dict[str, list[str]] = {}
        self.ids = 0
        for type_, chunks in self.program.rulesets.items():
            names = []
            for index, chunk in enumerate(chunks):
                name = f"raw-{type_}-{index}"
                self.host.register_rulesets({name: {
                    rule: {**copy.deepcopy(dict(body)), "run": self._action(rule)}
                    for rule, body in chunk.items()}})
                names.append(name)
            self.names[type_] = names

    def _action(self, rule: str) -> Callable[[Any], None]:
        def run(c: Any) -> None:  # do nothing (or, when verifying, note what fired)
            if self.sink is not None:
                self.sink.append((c.m["id"], rule))
        return run

    def fact(self, event: Event) -> tuple[list[str], dict[str, Any]] | None:
        """What is posted for `event` (built outside the timing: durable_rules never sees an
        event, only the fact)."""
        doc = self.documents(event)
        if doc is None:
            return None
        self.ids += 1
        return self.names.get(event.type, []), {"type": event.type, **doc, "id": self.ids}

    def __call__(self, item: tuple[list[str], dict[str, Any]] | None) -> None:
        if item is None:
            return
        names, fact = item
        host = self.host
        for name in names:  # plain try/except: contextlib.suppress would cost time in the loop
            try:  # noqa: SIM105
                host.assert_fact(name, fact)
            except durable_engine.MessageNotHandledException:  # the fact matched no rule
                pass
            try:  # noqa: SIM105
                host.retract_fact(name, fact)
            except durable_engine.MessageNotHandledException:
                pass

    def close(self) -> None:
        """Stop the Host's two self-rearming dispatch timers, so that they take no time from
        whatever this process measures next."""
        for name in ("_d_timer", "_t_timer"):
            timer = getattr(self.host, name, None)
            if timer is not None:
                timer.cancel()
        self.host._ruleset_list = []  # a timer already running re-arms on an empty list

    def labels(self, rule_names: Sequence[str]) -> list[str]:
        """The questions (label keys, as `FullPlainPython` names them) rule names stand for."""
        out: dict[str, None] = {}
        for name in rule_names:
            label = self.program.labels[name]
            out.setdefault(f"{label.part}:{label.rule}:{label.index}")
        return list(out)

