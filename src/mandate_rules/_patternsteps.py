"""The three patterns at work: what a count, a lookback and a deadline record and say.

`PatternSteps` is the part of the Engine that records an event in a count window or a
lookback's earlier events, starts a deadline, and words what a pattern found for the
explanation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._advisories import Advising, Verdict
from ._compiler import Label
from ._conditions import Path, lookup
from ._explanation import describe
from ._models import Advisory, Event, ExplanationItem, format_time
from ._opcontext import context_version
from ._rules import Absence, Count, Lookback, Rule, Trigger, duration_text
from ._state import CountryState, Pending, TimedRefs


class PatternSteps(Advising):
    """Counts, lookbacks and deadlines (a mixin of the Engine)."""

    @staticmethod
    def _counted(pattern: Count, label: Label, event: Event, key: tuple[Any, ...], now: float,
                 state: CountryState) -> TimedRefs:
        """Record the event in its count window; what the window holds now."""
        slot = (label.rule, label.index)
        state.add(state.windows, slot, key, now, event.ref())
        return state.within(state.windows, slot, key, now - pattern.within_seconds, now)

    def _count(self, rule: Rule, trigger: Trigger, pattern: Count, held: TimedRefs,
               event: Event, verdict: Verdict) -> Advisory:
        level = pattern.severity_for(len(held))
        base = level or trigger.severity or rule.severity
        severity, reasons = verdict.severity, verdict.reasons
        if level is not None:
            severity, reasons = self._severity(rule, trigger, verdict.escalated,
                                               verdict.uplifted, verdict.profile, base)
        count = ExplanationItem(
            condition=f"at least {pattern.at_least} such events with the same "
                      f"{keys_text(pattern.by)} within {duration_text(pattern.within_seconds)}",
            held=True, value=len(held), field=keys_text(pattern.by))
        return self._advisory(rule, trigger, event, tuple(ref for _, ref in held),
                              verdict._replace(severity=severity, reasons=reasons,
                                               explanation=verdict.explanation.then(count)),
                              base=base)

    @staticmethod
    def _earlier(pattern: Lookback, label: Label, event: Event, key: tuple[Any, ...],
                 now: float, state: CountryState) -> TimedRefs:
        """The earlier events the lookback finds for this one (not itself)."""
        return [(t, ref) for t, ref in state.within(
            state.priors, (label.rule, label.index), key, now - pattern.within_seconds, now)
            if ref.id != event.id or ref.source != event.source]

    def _lookback(self, rule: Rule, trigger: Trigger, pattern: Lookback, earlier: TimedRefs,
                  event: Event, verdict: Verdict) -> Advisory:
        def found() -> ExplanationItem:
            return ExplanationItem(
                condition=f"an earlier event ({', '.join(pattern.prior.on)}) meeting: "
                          f"{describe(pattern.prior.when)}"
                          f" with the same {keys_text(pattern.by)} within "
                          f"{duration_text(pattern.within_seconds)} before",
                held=True, value=[f"{ref.type} {ref.id} at {format_time(ref.time)}"
                                  for _, ref in earlier], field=keys_text(pattern.by))

        return self._advisory(rule, trigger, event,
                              (*(ref for _, ref in earlier), event.ref()),
                              verdict._replace(explanation=verdict.explanation.then(found)))

    def _start(self, pattern: Absence, label: Label, event: Event, doc: dict[str, Any],
               now: float, key: tuple[Any, ...], verdict: Verdict) -> None:
        """Start the deadline of `pattern` for `key` (not running: the caller checked)."""
        if pattern.deadline is not None:
            deadline = lookup(doc, pattern.deadline)
            if not isinstance(deadline, (int, float)):
                return
        else:
            assert pattern.within_seconds is not None
            deadline = now + pattern.within_seconds
        state, profile = verdict.state, verdict.profile
        slot = (label.rule, label.index, key)

        def missed() -> ExplanationItem:
            waiting_for = f"({', '.join(pattern.until.on)}) {describe(pattern.until.when)}"
            return ExplanationItem(
                condition=f"no later event meeting: {waiting_for}, with the same "
                          f"{keys_text(pattern.until.by)}, by the deadline",
                held=True, value=format_time(dt.datetime.fromtimestamp(deadline, dt.UTC)),
                field=keys_text(pattern.by))

        # Most deadlines are met, so what would be said if one passes is built only then.
        state.start_deadline(slot, Pending(
            deadline=float(deadline), start=event.ref(), subject=event.subject, area=event.area,
            severity=verdict.severity, reasons=verdict.reasons,
            explanation=verdict.explanation.then(missed),
            context_known=profile.known, context_version=context_version(profile, state), seq=0))


def keys_text(paths: tuple[Path, ...]) -> str:
    return ", ".join(str(p) for p in paths)
