"""Advisories made: a trigger's verdict (severity, escalations, uplift), ids and deadlines.

`Advising` is the part of the Engine that turns a fired trigger into an `Advisory`: the
severity after escalations and the context uplift, the explanation (built when read), the
stable advisory id, the advisory of a deadline that passed, and the note of a key an event
lacked (`MissingKey`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs

from ._compiler import KEY_FALLBACKS, WHEN, Label
from ._conditions import Path, lookup
from ._context import ContextProfile
from ._document import envelope
from ._explanation import Explainer
from ._models import Advisory, Event, EventRef, ExplanationItem, LazyItems, Severity, format_time
from ._opcontext import context_version
from ._program import Plan
from ._rules import Bundle, Rule, Trigger
from ._state import CountryState


@attrs.frozen
class MissingKey:
    """A stateful trigger matched an event that lacks a field the pattern groups by, so the
    event started, counted, ended or found nothing for it (reported, never dropped silently)."""

    rule_id: str
    trigger: str
    part: str  # "when" (the trigger itself), "until" (what ends a deadline) or "prior"
    fields: tuple[str, ...]  # the key fields the event lacked, as written in the pack

    def __str__(self) -> str:
        side = "" if self.part == WHEN else f" ({self.part})"
        return (f"{self.rule_id} {self.trigger}{side}: the event has no "
                f"{', '.join(self.fields)} to group by")


class Verdict(NamedTuple):
    """What a trigger concluded for one event, once a pattern has something to say."""

    severity: Severity
    reasons: tuple[str, ...]
    explanation: LazyItems
    profile: ContextProfile
    state: CountryState
    escalated: frozenset[int]  # the rule's escalations that held (a count level re-applies)
    uplifted: bool


class Shown:
    """The event's fields as it carried them (times as written), for explanations; built
    once per event, and only if an explanation is read."""

    def __init__(self, event: Event, context: dict[str, Any]) -> None:
        self._event = event
        self._context = context
        self._fields: dict[str, Any] | None = None

    def explain(self, explainer: Explainer, doc: dict[str, Any]) -> list[ExplanationItem]:
        if self._fields is None:
            event = self._event
            self._fields = {"data": event._plain,
                            "event": {**envelope(event), "time": format_time(event.time)},
                            "context": self._context}
        return explainer(doc, self._fields)


class Advising:
    """Makes advisories from verdicts (a mixin of the Engine)."""

    _bundle: Bundle
    _explainers: dict[tuple[int, int], Explainer]

    def _severity(self, rule: Rule, trigger: Trigger, escalated: frozenset[int], uplifted: bool,
                  profile: ContextProfile, base: Severity) -> tuple[Severity, tuple[str, ...]]:
        severity = base
        reasons: list[str] = []
        applicable = [rule.escalations[i] for i in sorted(escalated)
                      if rule.escalations[i].to.rank > base.rank]
        if applicable:
            top = max(applicable, key=lambda e: e.to.rank)
            severity = top.to
            reasons.append(f"raised from {base.value} to {top.to.value}: {top.because}")
        if rule.uplift:
            if uplifted and self._bundle.uplift is not None:
                raised = severity.raised()
                if raised != severity:
                    reasons.append(f"raised one level, from {severity.value} to {raised.value}, "
                                   f"because {self._bundle.uplift.because}")
                severity = raised
            elif not profile.known:
                reasons.append(f"no context profile for {profile.country}: the operation's "
                               "context is unknown, so no context uplift was considered")
        return severity, tuple(reasons)

    def _advisory(self, rule: Rule, trigger: Trigger, event: Event,
                  evidence: tuple[EventRef, ...], verdict: Verdict,
                  base: Severity | None = None) -> Advisory:
        return Advisory(
            id=advisory_id(rule.id, trigger.name, self._bundle.version.hash, evidence),
            rule_id=rule.id,
            title=rule.title,
            severity=verdict.severity,
            base_severity=base or trigger.severity or rule.severity,
            severity_reasons=verdict.reasons,
            advice=trigger.advice or rule.advice,
            actions=trigger.actions or rule.actions,
            references=rule.references,
            subject=event.subject,
            source=event.source,
            country=event.country,
            area=event.area,
            evidence=evidence,
            explanation=verdict.explanation,
            rules_version=self._bundle.version,
            raised_at=event.time,
            trigger=trigger.name,
            context_known=verdict.profile.known,
            context_version=context_version(verdict.profile, verdict.state),
        )

    def _verdict(self, label: Label, rule: Rule, trigger: Trigger, plan: Plan,
                 profile: ContextProfile, state: CountryState, shown: Shown,
                 doc: dict[str, Any]) -> Verdict:
        """The severity of `trigger` for this event, and its explanation (built when read)."""
        severity, reasons = self._severity(rule, trigger, plan.escalated(label.rule),
                                           plan.uplifted, profile,
                                           trigger.severity or rule.severity)
        explainer = self._explainers[label.rule, label.index]
        return Verdict(severity, reasons,
                        LazyItems(functools.partial(shown.explain, explainer, doc)),
                        profile, state, plan.escalated(label.rule), plan.uplifted)

    def _missing(self, label: Label, part: str, paths: tuple[Path, ...],
                 doc: Mapping[str, Any]) -> MissingKey:
        rule = self._bundle.rules[label.rule]
        return MissingKey(rule.id, rule.triggers[label.index].name, part,
                          tuple(str(p) for p in paths if key_value(doc, p) is None))

    def _expire(self, state: CountryState, now: float) -> list[Advisory]:
        out = []
        for slot, pending in state.expired(now):
            r_index, t_index = slot[0], slot[1]  # type: ignore[index]
            rule = self._bundle.rules[r_index]
            trigger = rule.triggers[t_index]
            deadline = dt.datetime.fromtimestamp(pending.deadline, dt.UTC)
            out.append(Advisory(
                id=advisory_id(rule.id, trigger.name, self._bundle.version.hash,
                                (pending.start,)),
                rule_id=rule.id, title=rule.title, severity=pending.severity,
                base_severity=trigger.severity or rule.severity,
                severity_reasons=pending.reasons, advice=trigger.advice or rule.advice,
                actions=trigger.actions or rule.actions, references=rule.references,
                subject=pending.subject, source=pending.start.source, country=state.country,
                area=pending.area, evidence=(pending.start,), explanation=pending.explanation,
                rules_version=self._bundle.version, raised_at=deadline, trigger=trigger.name,
                context_known=pending.context_known, context_version=pending.context_version))
        return out


def key_of(doc: Mapping[str, Any], paths: tuple[Path, ...]) -> tuple[Any, ...] | None:
    """The values of a pattern's key fields in `doc`; None when any is missing."""
    values = tuple(key_value(doc, p) for p in paths)
    return None if any(v is None for v in values) else values


def key_value(doc: Mapping[str, Any], path: Path) -> Any:
    """One key field: `entity_id`, when the data lacks it, is read from the `subject`."""
    value = lookup(doc, path)
    if value is None and path in KEY_FALLBACKS:
        return lookup(doc, KEY_FALLBACKS[path])
    return value


def advisory_id(rule_id: str, trigger: str, bundle_hash: str,
                 evidence: tuple[EventRef, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{rule_id}\0{trigger}\0{bundle_hash}".encode())
    for ref in evidence:
        digest.update(f"\0{ref.source}\0{ref.id}".encode())
    return f"adv-{digest.hexdigest()[:32]}"

