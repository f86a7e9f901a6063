"""The Engine: events in, advisories out.

One Engine holds one loaded bundle, its compiled matcher (durable_rules, in `_matcher`)
and the per-operation state of stateful rules (`_state`). Every public method takes the
engine's lock, so an Engine is safe to share between threads; calls are serialised
because durable_rules' C core is not re-entrant.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

import attrs

from ._advisories import MissingKey, Shown, key_of
from ._compiler import ESCALATE, PRIOR, UNTIL, UPLIFT, WHEN, CompiledBundle, Label, compile_bundle
from ._context import ContextProfile, deep_merge
from ._document import document
from ._errors import EventValidationError, RulePackError, SnapshotError, UnknownRuleError
from ._explanation import Explainer
from ._loader import load_bundle
from ._matcher import RulesRefused
from ._models import MAX_YEAR, MIN_YEAR, Advisory, Event, format_time
from ._opcontext import ContextResolver, context_update
from ._patternsteps import PatternSteps
from ._problems import Problem, did_you_mean
from ._program import Plan, Program
from ._resources import bundled_rules_dir
from ._rules import Absence, Bundle, Count, Lookback, Rule
from ._schema import load_schema
from ._snapshot import FORMAT as SNAPSHOT_FORMAT
from ._snapshot import state_from_json, state_to_json
from ._state import CountryState

__all__ = ["Engine", "Evaluation", "MissingKey"]

_DAY = 86400.0


@attrs.frozen
class Evaluation:
    """What `Engine.evaluate_detailed()` found for one event."""

    advisories: tuple[Advisory, ...]
    missing_keys: tuple[MissingKey, ...] = ()


class Engine(PatternSteps, ContextResolver):
    """Evaluates events against a bundle of rule packs and returns advisories.

    Build one with `Engine.from_directory()` (or `Engine.bundled()` for the packs shipped
    with the package); call `evaluate()` with each event, in the order they happened.
    """

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle
        self._compiled: CompiledBundle = compile_bundle(bundle)
        try:
            self._full = Program(self._compiled)
        except RulesRefused as exc:
            raise RulePackError(self._refusals(exc)) from exc
        # What replay() matches with: only the rules that keep state, built when first needed.
        self._replaying: Program | None = None
        self._lock = threading.RLock()
        # Where `evaluate` notes missing keys, during `evaluate_detailed` only.
        self._collecting: list[MissingKey] | None = None
        self._states: dict[str, CountryState] = {}
        self._unknown: dict[str, ContextProfile] = {}
        self._explainers = {(r_index, t_index): Explainer(trigger.when)
                            for r_index, rule in enumerate(bundle.rules)
                            for t_index, trigger in enumerate(rule.triggers)}
        self._horizons = self._window_horizons()
        longest = max([*self._horizons.values(), *self._deadline_spans(), _DAY])
        # A re-delivered event is recognised for as long as any window could still hold it.
        self._seen_horizon = longest + _DAY
        self._sweep_every = _DAY

    @classmethod
    def from_directory(cls, rules_dir: str | FsPath, contexts_dir: str | FsPath | None = None, *,
                       parameters: Mapping[str, Mapping[str, Any]] | None = None) -> Engine:
        """Load, validate and compile the packs in `rules_dir`; raise `RulePackError` if any
        file has a problem. Context profiles default to `rules_dir/contexts`."""
        return cls(load_bundle(rules_dir, contexts_dir, parameters=parameters))

    @classmethod
    def bundled(cls, *, parameters: Mapping[str, Mapping[str, Any]] | None = None) -> Engine:
        """An engine on the rule packs and context profiles shipped with mandate_rules."""
        return cls.from_directory(bundled_rules_dir(), parameters=parameters)

    # ---------------------------------------------------------------- introspection

    @property
    def bundle(self) -> Bundle:
        return self._bundle

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._bundle.rules

    def rule(self, rule_id: str) -> Rule:
        found = self._bundle.rule(rule_id)
        if found is None:
            raise UnknownRuleError(rule_id, did_you_mean(rule_id, (r.id for r in self.rules)))
        return found

    def compiled_rulesets(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The durable_rules JSON rulesets the bundle compiled to, per event type."""
        return self._compiled.rulesets

    def context(self, country: str,
                area: str | None = None) -> tuple[ContextProfile, dict[str, Any]]:
        """The profile of `country` and the values that hold in `area` right now."""
        with self._lock:
            return self._context(country, area, self._states.get(country))

    def reset(self) -> None:
        """Forget every operation's state, as if no event had been evaluated.

        The compiled rules stay; building an Engine costs tens of milliseconds with the full
        catalogue, so a test runner may reuse one engine for many independent scenarios.
        """
        with self._lock:
            self._states.clear()

    def state_size(self) -> dict[str, int]:
        """How much stateful rules hold, summed over operations (for soak runs and metrics)."""
        with self._lock:
            total: dict[str, int] = {"operations": len(self._states)}
            for state in self._states.values():
                for key, value in state.size().items():
                    total[key] = total.get(key, 0) + value
            return total

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """The state of every operation as JSON-ready data, to `restore()` later.

        With a snapshot taken after the n-th event of a log, an engine on the same rule packs
        is rebuilt by `restore()` and evaluating only the events after the n-th, instead of
        replaying the whole log. It holds the rule packs' hash and is refused by an engine on
        any other packs.
        """
        with self._lock:
            return {"format": SNAPSHOT_FORMAT, "rules_version": self._bundle.version.to_json(),
                    "operations": {country: state_to_json(state)
                                   for country, state in sorted(self._states.items())}}

    def restore(self, snapshot: Mapping[str, Any], *, merge: bool = False) -> None:
        """Replace every operation's state with that of `snapshot` (see `snapshot()`); with
        `merge`, only the operations `snapshot` holds, the others left as they are (a sidecar
        replica taking over one operation).

        Raises `SnapshotError` if the snapshot was taken under other rule packs or is not
        one; the state is then left exactly as it was.
        """
        if not isinstance(snapshot, Mapping) or snapshot.get("format") != SNAPSHOT_FORMAT:
            found = snapshot.get("format") if isinstance(snapshot, Mapping) else snapshot
            raise SnapshotError(f"expected a snapshot in format {SNAPSHOT_FORMAT!r}, got "
                                f"{str(found)[:80]!r}", "format")
        taken = snapshot.get("rules_version")
        taken = taken if isinstance(taken, Mapping) else {}
        version = self._bundle.version
        if taken.get("hash") != version.hash:
            raise SnapshotError(
                f"taken under rule packs {taken.get('version')!r} (hash "
                f"{str(taken.get('hash'))[:12]}), but this engine runs {version}: replay the "
                "event log instead", "rules_version")
        states: dict[str, CountryState] = {}
        operations = snapshot.get("operations")
        if not isinstance(operations, Mapping):
            raise SnapshotError("expected an object of operations", "operations")
        for country, obj in operations.items():
            try:
                states[str(country)] = state_from_json(str(country), obj)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise SnapshotError(f"malformed operation state ({exc!r})",
                                    f"operations.{country}") from exc
        with self._lock:
            self._states = {**self._states, **states} if merge else states

    def drop(self, country: str) -> None:
        """Forget the state of one operation (a replica that no longer owns it)."""
        with self._lock:
            self._states.pop(country, None)

    # ---------------------------------------------------------------- evaluation

    def evaluate(self, event: Event) -> tuple[Advisory, ...]:
        """The advisories `event` raises, including deadlines it moved time past.

        Raises `EventValidationError` for an event that does not fit its type's schema.
        A re-delivered event (same `source` and `id`) raises nothing new and changes no state.
        """
        if not event._validated:  # built directly rather than read by Event.from_json
            self._validate(event)
        with self._lock:
            return self._evaluate(event, missing=self._collecting)

    def evaluate_detailed(self, event: Event) -> Evaluation:
        """`evaluate(event)`, with the stateful triggers that matched the event but could not
        group it because a key field was missing (`MissingKey`), for counting and logging."""
        with self._lock:  # re-entrant: `evaluate` takes it again and fills the list
            self._collecting = []
            try:
                advisories = self.evaluate(event)
                return Evaluation(advisories, tuple(self._collecting))
            finally:
                self._collecting = None

    @staticmethod
    def _validate(event: Event) -> None:
        schema = load_schema()
        if schema.event_type(event.type) is None:
            raise EventValidationError([("type", f"unknown event type {event.type!r}")])
        problems = schema.validate_data(event.type, event._plain)
        if not MIN_YEAR <= event.time.year <= MAX_YEAR:
            problems.append(("time", f"expected a year from {MIN_YEAR} to {MAX_YEAR}, "
                                     f"got {event.time.year}"))
        if problems:
            raise EventValidationError(problems, f"event {event.id}")

    def preview(self, event: Event) -> tuple[Advisory, ...]:
        """What `evaluate(event)` would return now, changing no state (a dry run).

        The operation's state is copied, the event evaluated against the copy, and the copy
        dropped: windows, deadlines, seen events and context stay exactly as they were.
        """
        if not event._validated:
            self._validate(event)
        with self._lock:
            original = self._states.get(event.country)
            if original is not None:
                self._states[event.country] = copy.deepcopy(original)
            try:
                return self._evaluate(event)
            finally:
                if original is None:
                    self._states.pop(event.country, None)
                else:
                    self._states[event.country] = original

    def replay(self, event: Event) -> None:
        """Bring the state to where `evaluate(event)` would leave it, without working out
        what it raises: for rebuilding state from a log of events already judged.

        Only the parts of rules that change state are matched (triggers with a count or a
        deadline, what ends a deadline or is looked back at, and what sets the severity a
        deadline keeps), so replaying costs a fraction of evaluating. Deadlines that pass are
        dropped unsaid: the log's own advisories said them. Mixing `replay` and `evaluate`
        on one engine is safe; the state is the same either way.
        """
        if not event._validated:
            self._validate(event)
        with self._lock:
            if self._replaying is None:
                self._replaying = Program(compile_bundle(self._bundle, self._keeps_state))
            self._evaluate(event, self._replaying)

    def _keeps_state(self, label: Label) -> bool:
        """Whether matching `label` can change an operation's state (see `replay`)."""
        if label.part in (UNTIL, PRIOR):
            return True
        if label.part == UPLIFT:
            return any(rule.uplift and _has_deadline(rule) for rule in self._bundle.rules)
        rule = self._bundle.rules[label.rule]
        if label.part == ESCALATE:  # a running deadline keeps the severity it started with
            return _has_deadline(rule)
        return isinstance(rule.triggers[label.index].pattern, (Count, Absence))

    def evaluate_many(self, events: Iterable[Event]) -> list[tuple[Advisory, ...]]:
        """`evaluate()` for each event in order, under one hold of the lock."""
        with self._lock:
            return [self.evaluate(event) for event in events]

    def advance(self, country: str, to: dt.datetime) -> tuple[Advisory, ...]:
        """Move `country`'s time to `to` (a ``clock.tick``) and return expired deadlines."""
        tick = Event(id=f"tick-{format_time(to)}", source="mandate-rules://clock",
                     type="clock.tick", time=to, country=country)
        return self.evaluate(tick)

    def _evaluate(self, event: Event, replaying: Program | None = None, *,
                  missing: list[MissingKey] | None = None) -> tuple[Advisory, ...]:
        program = replaying or self._full
        state = self._states.get(event.country)
        if state is not None and state.is_seen(event.key):
            return ()
        update = context_update(event) if event.type == "context.update" else None
        # A context.update is judged in the area it changes, when it names one.
        area = event.area if update is None or update[0] is None else update[0]
        profile, context = self._context(event.country, area, state, update)
        # Match first: it may refuse the event (EngineError), and then no state has changed.
        tree = program.compiled.projections.get(event.type)
        fired: list[str] = []
        doc: dict[str, Any] = {}
        if tree is not None:
            part = self._context_part(state, event, context, tree, update, replaying is not None)
            doc = document(event, context, tree, reader=program.readers[event.type],
                           context_part=part)
            fired = program.matcher.match(event.type, {"type": event.type, **doc})
        if state is None:
            state = self._states[event.country] = CountryState(event.country)
        if update is not None:
            scope, values = update
            target = state.area_overlays.setdefault(scope, {}) if scope else state.context_overlay
            deep_merge(target, values)
            state.context_update = event.id
            state.context_cache.clear()
            state.context_parts.clear()
        now = event.time.timestamp()
        state.advance(now)
        if replaying is not None:
            state.expired(now)
            if fired:
                self._advise(event, state, program.plan(fired), doc, profile, context,
                             quiet=True)
            state.expired(now)
            out: list[Advisory] = []
        else:
            out = self._expire(state, now)
            if fired:
                out.extend(self._advise(event, state, program.plan(fired), doc, profile,
                                        context, missing=missing))
            out.extend(self._expire(state, now))
        state.mark_seen(event.key, now)
        if state.next_sweep is None or now >= state.next_sweep:
            state.sweep(self._horizons, self._seen_horizon)
            state.next_sweep = now + self._sweep_every
        return tuple(out)

    # ---------------------------------------------------------------- advisories

    def _advise(self, event: Event, state: CountryState, plan: Plan, doc: dict[str, Any],
                profile: ContextProfile, context: dict[str, Any], *,
                quiet: bool = False, missing: list[MissingKey] | None = None) -> list[Advisory]:
        """The advisories of the rules that fired, and what they change in the state; with
        `quiet`, only the changes (replay). Keys an event lacks are noted in `missing`."""
        shown = Shown(event, context)
        now = event.time.timestamp()
        # An event that satisfies a deadline is taken into account before any new one starts,
        # and an incident is compared with earlier associations before it is recorded as one.
        for label in plan.until:
            rule = self._bundle.rules[label.rule]
            pattern = rule.triggers[label.index].pattern
            assert isinstance(pattern, Absence)
            ended = key_of(doc, pattern.until.by)
            if ended is not None:
                state.stop_deadline((label.rule, label.index, ended))
            elif missing is not None:
                missing.append(self._missing(label, UNTIL, pattern.until.by, doc))
        out: list[Advisory] = []
        # One advisory per rule per event: the first trigger listed that speaks wins. Counts
        # and lookbacks still record the event in their windows when another trigger spoke.
        spoken: set[int] = set()
        for label in plan.when:
            rule = self._bundle.rules[label.rule]
            trigger = rule.triggers[label.index]
            pattern = trigger.pattern
            # What each pattern records comes first; a verdict (severity, explanation) is only
            # worked out when there is something to say or a deadline to start.
            key: tuple[Any, ...] = ()
            if pattern is not None:  # a pattern follows its key; an event without one is noted
                found = key_of(doc, pattern.by)
                if found is None:
                    if missing is not None:
                        missing.append(self._missing(label, WHEN, pattern.by, doc))
                    continue
                key = found
            if isinstance(pattern, Count):
                held = self._counted(pattern, label, event, key, now, state)
                if quiet or len(held) < pattern.at_least or label.rule in spoken:
                    continue
                spoken.add(label.rule)
                out.append(self._count(rule, trigger, pattern, held, event,
                                       self._verdict(label, rule, trigger, plan, profile, state,
                                                     shown, doc)))
            elif isinstance(pattern, Lookback):
                if quiet or label.rule in spoken:
                    continue
                earlier = self._earlier(pattern, label, event, key, now, state)
                if earlier:
                    spoken.add(label.rule)
                    out.append(self._lookback(rule, trigger, pattern, earlier, event,
                                              self._verdict(label, rule, trigger, plan, profile,
                                                            state, shown, doc)))
            elif isinstance(pattern, Absence):
                if (label.rule, label.index, key) in state.pending:
                    continue  # nothing to start: the first start holds
                self._start(pattern, label, event, doc, now, key,
                            self._verdict(label, rule, trigger, plan, profile, state, shown, doc))
            elif not quiet and label.rule not in spoken:
                spoken.add(label.rule)
                out.append(self._advisory(rule, trigger, event, (event.ref(),),
                                          self._verdict(label, rule, trigger, plan, profile,
                                                        state, shown, doc)))
        for label in plan.prior:
            pattern = self._bundle.rules[label.rule].triggers[label.index].pattern
            assert isinstance(pattern, Lookback)
            prior = key_of(doc, pattern.prior.by)
            if prior is not None:
                state.add(state.priors, (label.rule, label.index), prior, now, event.ref())
            elif missing is not None:
                missing.append(self._missing(label, PRIOR, pattern.prior.by, doc))
        return out

    def _refusals(self, refused: RulesRefused) -> list[Problem]:
        """The rules durable_rules refused, as problems at their place in the packs."""
        problems = []
        for name, message in refused.refused.items():
            label = self._compiled.labels[name]
            rule = self._bundle.rules[label.rule] if label.rule >= 0 else None
            where = rule.where if rule is not None else None
            what = f"rule {rule.id}" if rule is not None else "the bundle's uplift"
            hint = (" (more than 31 expressions in one condition: use lists ('in [a, b]') or "
                    "named sets instead of many alternatives, or split it into triggers)"
                    if "113" in message else "")
            problems.append(Problem(where.file if where else "bundle.yaml",
                                    where.line if where else 0, "engine-refused",
                                    f"the matching engine refused {what} ({label.part}): "
                                    f"{message}{hint}"))
        return problems

    # ---------------------------------------------------------------- bounds

    def _window_horizons(self) -> dict[Hashable, float]:
        horizons: dict[Hashable, float] = {}
        for r_index, rule in enumerate(self._bundle.rules):
            for t_index, trigger in enumerate(rule.triggers):
                if isinstance(trigger.pattern, (Count, Lookback)):
                    horizons[(r_index, t_index)] = trigger.pattern.within_seconds
        return horizons

    def _deadline_spans(self) -> list[float]:
        return [t.pattern.within_seconds for r in self._bundle.rules for t in r.triggers
                if isinstance(t.pattern, Absence) and t.pattern.within_seconds is not None]


def _has_deadline(rule: Rule) -> bool:
    return any(isinstance(trigger.pattern, Absence) for trigger in rule.triggers)
