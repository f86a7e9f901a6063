"""The JSON the API shows for rules, and an advisory's explanation in plain sentences."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from .._render import explain_rule
from .._rules import Bundle, Rule
from ._errors import ApiError


def rule_summary(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "title": rule.title, "pack": rule.pack,
            "severity": rule.severity.value, "on": list(rule.on), "stateful": rule.stateful}


def rule_detail(rule: Rule) -> dict[str, Any]:
    return {
        **rule_summary(rule),
        "uplift": rule.uplift,
        "advice": rule.advice,
        "actions": list(rule.actions),
        "references": [r.to_json() for r in rule.references],
        "triggers": [
            {"name": t.name, "on": list(t.on), "when": [n.text for n in t.when],
             "pattern": type(t.pattern).__name__.lower() if t.pattern is not None else None,
             "severity": t.severity.value if t.severity else None}
            for t in rule.triggers],
        "escalations": [{"to": e.to.value, "because": e.because,
                         "when": [n.text for n in e.when]} for e in rule.escalations],
        "parameters": {name: {"value": p.value, "default": p.default,
                              "description": p.description}
                       for name, p in rule.parameters.items()},
        "text": explain_rule(rule),
    }


def find_rule(bundle: Bundle, rule_id: str) -> Rule:
    rule = bundle.rule(rule_id)
    if rule is None:
        close = difflib.get_close_matches(rule_id, [r.id for r in bundle.rules], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ApiError("rule-not-found", f"no rule {rule_id!r} in the running rule packs{hint}",
                       "path.rule_id")
    return rule


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def readable(advisory: Mapping[str, Any]) -> list[str]:
    """Each condition of the rule as a sentence: what was required and what the event had."""
    lines = []
    for item in advisory.get("explanation", []):
        verdict = "held" if item.get("held") else "did not hold"
        where = f" ({item['field']} = {_value(item.get('value'))})" if item.get("field") else ""
        lines.append(f"{item['condition']}: {verdict}{where}")
    severity, base = advisory.get("severity"), advisory.get("base_severity")
    if severity != base:
        reasons = "; ".join(advisory.get("severity_reasons", [])) or "escalation"
        lines.append(f"severity raised from {base} to {severity}: {reasons}")
    return lines
