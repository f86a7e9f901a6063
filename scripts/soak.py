"""Soak run: a million realistic events through one Engine, checked against a naive model.

    python scripts/soak.py [--events 1000000] [--operations 300] [--seed 1]
                           [--out soak-result.json] [--rules rules/] [--no-check]

The stream mixes every event type the rules read, over a few hundred operations (SOM and PHL
have context profiles, the rest are unknown), with event time advancing over about two years,
periodic ``clock.tick`` events, a few ``context.update`` events and re-delivered duplicates.
Each operation's events arrive in time order (operations interleave), so the documented
"late arrival" behaviour (an event later than a window it belonged to sees only what is still
held) is outside what this run compares.

Every event's advisories are compared with an independent reference model written here:
stateless triggers through the direct reading (`holds` over `document()`), and the three
stateful patterns (count within a window, absence before a deadline, lookback) re-implemented
naively with plain lists, following docs/rule-format.md and docs/engine.md:

* windows are inclusive, ``[t - within, t]``, per operation and key;
* a deadline passes when an event or tick of its operation is strictly later than it; the
  advisory is reported with that event; a running deadline is not restarted (the first start
  holds); an event that ends a deadline is applied before one that starts one;
* a lookback compares an event with earlier `prior` events before recording it as one;
* one advisory per rule per event: of the triggers that would speak (a stateless one that
  holds, a count that reached its threshold, a lookback that found an earlier event), the
  first listed speaks; counts and lookbacks record the event all the same;
* a ``context.update`` is judged in the area it changes (its ``area_scope``), if it names one;
* an event seen before (same source and id) raises nothing and changes nothing.

Advisories are compared per event as multisets of (rule id, trigger, severity, evidence ids).
RSS (VmRSS) and `Engine.state_size()` are sampled at 10k events and every 100k; a JSON summary
goes to --out. Not collected by pytest (it is not under tests/ and not named test_*).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import datetime as dt
import itertools
import json
import random
import string
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from mandate_rules import Engine, Event
from mandate_rules._conditions import Node, Path, holds, lookup
from mandate_rules._context import ContextProfile, deep_merge
from mandate_rules._document import document
from mandate_rules._models import Severity
from mandate_rules._rules import Absence, Bundle, Count, Lookback, Rule, Trigger
from mandate_rules._schema import (
    BOOL,
    BOOL_OR_TEXT,
    ENUM,
    INTEGER,
    LIST,
    NUMBER,
    TEXT,
    TIME,
    ObjectList,
    load_schema,
)

ROOT = FsPath(__file__).resolve().parents[1]
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
SPAN_DAYS = 730  # by default the stream covers about two years of event time
HUMANITARIAN = ("un_agency", "ingo", "nngo", "rcrc", "ocha")
RETRY_SECONDS = 2 * 86400.0  # a duplicate is re-delivered within two days of the original
SAMPLE_FIRST = 10_000
SAMPLE_EVERY = 100_000

Key = tuple[Any, ...]
Seen = tuple[str, str]
Observed = tuple[str, str, str, tuple[str, ...]]  # rule id, trigger, severity, evidence ids


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fmt_time(when: dt.datetime) -> str:
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --------------------------------------------------------------------------- the stream

class Operation:
    """One operation (country): its areas, its most active organisations and routes."""

    def __init__(self, rng: random.Random, code: str, orgs: Sequence[str],
                 routes: Sequence[str], weight: float) -> None:
        self.code = code
        self.weight = weight
        prefix = code[:2]
        if code == "SOM":
            self.areas = ["SO-BN", "SO-SA", "SO-BK", "SO-GE"]
        elif code == "PHL":
            self.areas = ["PH-08", "PH-06", "PH-07"]
        else:
            self.areas = [f"{prefix}-{n:02d}" for n in range(1, rng.randint(2, 5))]
        self.orgs = rng.sample(list(orgs), rng.randint(5, 25))
        self.routes = rng.sample(list(routes), rng.randint(3, 8))
        self.org_kinds = {o: (rng.choice(HUMANITARIAN) if rng.random() < 0.85 else
                              rng.choice(("mission_civilian", "commercial", "donor")))
                          for o in self.orgs}
        self.entities: dict[str, collections.deque[str]] = collections.defaultdict(
            lambda: collections.deque(maxlen=40))
        self.entity_seq = itertools.count(1)

    def zipf(self, rng: random.Random, items: Sequence[str]) -> str:
        """A few items are used far more often than the rest."""
        index = min(int(rng.paretovariate(1.2)) - 1, len(items) - 1)
        return items[index]


def operation_codes(rng: random.Random, count: int) -> list[str]:
    codes = ["SOM", "PHL"]
    others = ["".join(c) for c in itertools.product(string.ascii_uppercase, repeat=3)]
    rng.shuffle(others)
    codes.extend(c for c in others if c not in ("SOM", "PHL"))
    return codes[:max(count, 2)]


class Stream:
    """Generates the events, with realistic field values drawn from the schema."""

    def __init__(self, rng: random.Random, bundle: Bundle, event_types: Sequence[str],
                 operations: int) -> None:
        self.rng = rng
        self.schema = load_schema()
        self.types = list(event_types)
        # How often each type is sent, roughly: movements and requests dominate.
        base = {"movement.request": 30, "escort.request": 12, "asset.request": 15,
                "incident.report": 8, "distribution.plan": 6, "engagement.meeting": 8,
                "communication.publication": 5, "info.share": 6, "premises.change": 3,
                "context.update": 0.05}
        self.type_weights = [base.get(t, 4) for t in self.types]
        orgs = [f"org-{n:03d}" for n in range(1, 301)]
        routes = [f"R-{n:02d}" for n in range(1, 41)]
        for profile in bundle.contexts.values():
            for alt in profile.values.get("civilian_alternatives", ()):
                routes.extend(alt.get("routes", ()))
        self.ops = [Operation(rng, code, orgs, routes, 1.0 / (1 + i) ** 0.6)
                    for i, code in enumerate(operation_codes(rng, operations))]
        self.op_weights = [op.weight for op in self.ops]
        self.texts = sorted(_text_literals(bundle)) or ["x"]
        self.numbers = sorted(_number_literals(bundle)) or [0]
        self.ids = itertools.count(1)
        # (time, event) of recent events, for re-delivery within RETRY_SECONDS of event time
        self.recent: collections.deque[tuple[float, dict[str, Any]]] = collections.deque(
            maxlen=2000)

    # -- values

    def value(self, kind: Any, path: str, op: Operation, when: dt.datetime) -> Any:
        rng = self.rng
        leaf = path.rsplit(".", 1)[-1]
        if isinstance(kind, ObjectList):
            return [self.obj(kind.fields, "", op, when, 0.7) for _ in range(rng.randint(0, 3))]
        if isinstance(kind, Mapping):
            return self.obj(kind, path + ".", op, when, 0.7)
        name = kind.name
        if path in ("org.id", "target.org_id"):
            return op.zipf(rng, op.orgs) if rng.random() < 0.97 else rng.choice(op.orgs)
        if path == "route.id":
            return op.zipf(rng, op.routes)
        if leaf == "routes":
            return rng.sample(op.routes, rng.randint(0, min(2, len(op.routes))))
        if name == ENUM:
            return rng.choice(sorted(kind.choices))
        if name == BOOL:
            return rng.random() < 0.5
        if name == BOOL_OR_TEXT:
            return rng.random() < 0.5 if rng.random() < 0.6 else rng.choice(self.texts)
        if name == NUMBER:
            if rng.random() < 0.5:
                return rng.choice(self.numbers) + rng.choice((-1, 0, 0, 1, 0.5))
            return round(rng.uniform(0, 1000), 1)
        if name == INTEGER:
            return rng.randint(0, 5000)
        if name == TIME:
            shifted = when + dt.timedelta(days=rng.randint(-20, 120),
                                          seconds=rng.choice((0, 0, 3600, 43200)))
            if rng.random() < 0.2:
                return shifted.date().isoformat()
            return fmt_time(shifted)
        if name == LIST:
            assert kind.item is not None
            return [self.value(kind.item, path + "[]", op, when)
                    for _ in range(rng.randint(0, 3))]
        assert name == TEXT, name
        roll = rng.random()
        if roll < 0.05:
            return ""
        if roll < 0.4:
            return rng.choice(self.texts)
        return f"{leaf}-{rng.randint(1, 500)}"

    def obj(self, tree: Mapping[str, Any], prefix: str, op: Operation, when: dt.datetime,
            presence: float, required: Sequence[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, node in tree.items():
            path = prefix + name
            needed = any(r == path or r.startswith(path + ".") for r in required)
            if not needed and self.rng.random() > presence:
                continue
            if isinstance(node, Mapping) and not isinstance(node, ObjectList):
                out[name] = self.obj(node, path + ".", op, when, presence, required)
                continue
            value = self.value(node, path, op, when)
            while needed and (value is None or value == "" or value == []):
                value = self.value(node, path, op, when)
            out[name] = value
        return out

    # -- events

    def event(self, when: dt.datetime) -> dict[str, Any]:
        rng = self.rng
        op = rng.choices(self.ops, self.op_weights)[0]
        type_ = rng.choices(self.types, self.type_weights)[0]
        et = self.schema.types[type_]
        data = self.obj(et.tree, "", op, when, 0.65, et.required)
        if "org" in data and isinstance(data["org"], dict) and "id" in data["org"]:
            data["org"]["kind"] = op.org_kinds[data["org"]["id"]]
        if "entity_id" in et.tree:
            recent = op.entities[type_]
            if recent and rng.random() < 0.55:
                data["entity_id"] = rng.choice(recent)
            else:
                data["entity_id"] = f"{type_.split('.')[0]}-{op.code}-{next(op.entity_seq)}"
                recent.append(data["entity_id"])
        if type_ == "context.update":
            data = {k: v for k, v in data.items()
                    if k in ("changed_fields", "effective_from", "source", "area_scope")
                    or rng.random() < 0.15}
            if "area_scope" in data:
                data["area_scope"] = rng.choice(op.areas)
        raw: dict[str, Any] = {"specversion": "1.0", "id": f"ev-{next(self.ids)}",
                               "source": f"urn:soak:{op.code.lower()}", "type": type_,
                               "time": fmt_time(when), "country": op.code, "data": data}
        if rng.random() < 0.9:
            raw["area"] = rng.choice(op.areas)
        if rng.random() < 0.5:
            raw["subject"] = f"case-{rng.randint(1, 10_000)}"
        self.recent.append((when.timestamp(), raw))
        return raw

    def tick(self, when: dt.datetime) -> dict[str, Any]:
        op = self.rng.choices(self.ops, self.op_weights)[0]
        return {"specversion": "1.0", "id": f"tick-{next(self.ids)}",
                "source": "mandate-rules://clock", "type": "clock.tick",
                "time": fmt_time(when), "country": op.code}

    def __call__(self, total: int, days: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """(what, CloudEvent dict) for `total` events over `days` of event time: new events,
        ticks and duplicates."""
        rng = self.rng
        step = days * 86400 / total
        clock = START.timestamp()
        for _ in range(total):
            # Several events often share a second (a batch from one system).
            if rng.random() < 0.9:
                clock += rng.expovariate(1 / step)
            when = dt.datetime.fromtimestamp(int(clock), dt.UTC)
            roll = rng.random()
            while self.recent and self.recent[0][0] < clock - RETRY_SECONDS:
                self.recent.popleft()
            if roll < 0.005 and self.recent:
                yield "duplicate", rng.choice(self.recent)[1]
            elif roll < 0.025:
                yield "tick", self.tick(when)
            else:
                yield "event", self.event(when)


def _walk(nodes: Sequence[Node]) -> Iterator[Any]:
    for node in nodes:
        for name in ("operand",):
            if hasattr(node, name):
                yield getattr(node, name)
        yield from getattr(node, "values", ())
        yield from _walk(getattr(node, "items", ()))
        yield from _walk(getattr(node, "conditions", ()))



def _text_literals(bundle: Bundle) -> set[str]:
    return {v for v in _walk(bundle.conditions()) if isinstance(v, str) and v}


def _number_literals(bundle: Bundle) -> set[float]:
    return {v for v in _walk(bundle.conditions())
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


# --------------------------------------------------------------------------- reference model

class OpState:
    def __init__(self) -> None:
        self.seen: dict[Seen, float] = {}
        self.seen_order: collections.deque[tuple[float, Seen]] = collections.deque()
        self.windows: dict[tuple[int, int, Key], list[tuple[float, str]]] = {}
        self.priors: dict[tuple[int, int, Key], list[tuple[float, str]]] = {}
        # slot -> (deadline, start order, start event id, severity)
        self.pending: dict[tuple[int, int, Key], tuple[float, int, str, str]] = {}
        self.overlay: dict[str, Any] = {}
        self.area_overlays: dict[str, dict[str, Any]] = {}


class Reference:
    """What the documentation says the engine answers, computed the plain way."""

    SEEN_KEEP = 30 * 86400.0  # duplicates are re-delivered within hours; forget after 30 days

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.states: dict[str, OpState] = {}
        self.order = itertools.count()
        self.context_fields = load_schema().context_tree
        self.plans: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}

    def _key(self, doc: Mapping[str, Any], paths: Sequence[Path]) -> Key | None:
        values = tuple(lookup(doc, p) for p in paths)
        return None if any(v is None for v in values) else values

    def _holds(self, nodes: Sequence[Node], doc: Mapping[str, Any]) -> bool:
        return all(holds(n, doc) for n in nodes)

    def _severity(self, rule: Rule, base: Severity, event_type: str,
                  doc: Mapping[str, Any]) -> str:
        severity = base
        raised = [e.to for e in rule.escalations
                  if event_type in e.on and e.to.rank > base.rank and self._holds(e.when, doc)]
        if raised:
            severity = max(raised, key=lambda s: s.rank)
        uplift = self.bundle.uplift
        if rule.uplift and uplift is not None and self._holds(uplift.when, doc):
            severity = severity.raised()
        return severity.value

    def _expire(self, state: OpState, now: float) -> list[Observed]:
        out = []
        for slot, (deadline, _, start, severity) in sorted(state.pending.items(),
                                                          key=lambda kv: kv[1][:2]):
            if deadline < now:
                rule = self.bundle.rules[slot[0]]
                out.append((rule.id, rule.triggers[slot[1]].name, severity, (start,)))
                del state.pending[slot]
        return out

    def context(self, state: OpState, country: str, area: str | None,
                update: tuple[str | None, dict[str, Any]] | None) -> dict[str, Any]:
        profile = self.bundle.contexts.get(country) or ContextProfile.unknown(country)
        values = profile.resolve(area)
        deep_merge(values, state.overlay)
        if area is not None and area in state.area_overlays:
            deep_merge(values, state.area_overlays[area])
        if update is not None and (update[0] is None or update[0] == area):
            deep_merge(values, update[1])
        return values

    def evaluate(self, event: Event) -> list[Observed]:
        state = self.states.setdefault(event.country, OpState())
        if event.key in state.seen:
            return []
        now = event.time.timestamp()
        data = json.loads(json.dumps(event.to_json().get("data", {})))
        update = None
        if event.type == "context.update":
            update = (data.get("area_scope"),
                      {k: v for k, v in data.items() if k in self.context_fields})
        # A context.update is judged in the area it changes, when it names one.
        area = event.area if update is None or update[0] is None else update[0]
        context = self.context(state, event.country, area, update)
        if update is not None:
            scope, values = update
            deep_merge(state.area_overlays.setdefault(scope, {}) if scope else state.overlay,
                       values)
        out = self._expire(state, now)
        if event.type != "clock.tick":
            out.extend(self._advise(state, event, document(event, context), now))
        out.extend(self._expire(state, now))
        state.seen[event.key] = now
        state.seen_order.append((now, event.key))
        while state.seen_order and state.seen_order[0][0] < now - self.SEEN_KEEP:
            del state.seen[state.seen_order.popleft()[1]]
        return out

    def _plan(self, event_type: str) -> tuple[list[Any], list[Any], list[Any]]:
        """(untils, triggers, priors) that look at `event_type`, in catalogue order."""
        plan = self.plans.get(event_type)
        if plan is None:
            untils, triggers, priors = [], [], []
            for r_index, rule in enumerate(self.bundle.rules):
                for t_index, trigger in enumerate(rule.triggers):
                    pattern = trigger.pattern
                    if event_type in trigger.on:
                        triggers.append((r_index, t_index, rule, trigger))
                    if isinstance(pattern, Absence) and event_type in pattern.until.on:
                        untils.append((r_index, t_index, pattern.until))
                    if isinstance(pattern, Lookback) and event_type in pattern.prior.on:
                        priors.append((r_index, t_index, pattern))
            plan = self.plans[event_type] = (untils, triggers, priors)
        return plan

    def _advise(self, state: OpState, event: Event, doc: Mapping[str, Any],
                now: float) -> list[Observed]:
        type_ = event.type
        untils, triggers, priors = self._plan(type_)
        out: list[Observed] = []
        # 1. what ends a deadline, before anything starts one
        for r_index, t_index, until in untils:
            if self._holds(until.when, doc):
                key = self._key(doc, until.by)
                if key is not None:
                    state.pending.pop((r_index, t_index, key), None)
        # 2. the triggers, in catalogue order. One advisory per rule per event: the first
        #    trigger listed that speaks wins; a count or lookback still records the event (and
        #    an absence still starts) when another trigger of its rule has spoken.
        spoken: set[int] = set()
        for r_index, t_index, rule, trigger in triggers:
            pattern = trigger.pattern
            if not self._holds(trigger.when, doc):
                continue
            base = trigger.severity or rule.severity
            seen: Observed | None = None
            if pattern is None:
                seen = (rule.id, trigger.name, self._severity(rule, base, type_, doc),
                        (event.id,))
            elif isinstance(pattern, Count):
                seen = self._count(state, r_index, t_index, rule, trigger, pattern, event,
                                   doc, now)
            elif isinstance(pattern, Lookback):
                seen = self._lookback(state, r_index, t_index, rule, trigger, pattern,
                                      event, doc, now)
            else:
                self._start(state, r_index, t_index, rule, trigger, pattern, event, doc, now)
            if seen is not None and r_index not in spoken:
                spoken.add(r_index)
                out.append(seen)
        # 3. record this event as a prior of lookbacks, after comparing it with earlier ones
        for r_index, t_index, pattern in priors:
            if self._holds(pattern.prior.when, doc):
                key = self._key(doc, pattern.prior.by)
                if key is not None:
                    entries = state.priors.setdefault((r_index, t_index, key), [])
                    _prune(entries, now - pattern.within_seconds)
                    entries.append((now, event.id))
        return out

    def _count(self, state: OpState, r_index: int, t_index: int, rule: Rule, trigger: Trigger,
               pattern: Count, event: Event, doc: Mapping[str, Any],
               now: float) -> Observed | None:
        key = self._key(doc, pattern.by)
        if key is None:
            return None
        entries = state.windows.setdefault((r_index, t_index, key), [])
        _prune(entries, now - pattern.within_seconds)
        entries.append((now, event.id))
        held = [e for t, e in entries if now - pattern.within_seconds <= t <= now]
        lowest = min(n for n, _ in pattern.levels)
        if len(held) < lowest:
            return None
        reached = max((lv for lv in pattern.levels if len(held) >= lv[0]), key=lambda lv: lv[0])
        base = reached[1] or trigger.severity or rule.severity
        return (rule.id, trigger.name, self._severity(rule, base, event.type, doc), tuple(held))

    def _lookback(self, state: OpState, r_index: int, t_index: int, rule: Rule,
                  trigger: Trigger, pattern: Lookback, event: Event, doc: Mapping[str, Any],
                  now: float) -> Observed | None:
        key = self._key(doc, pattern.by)
        if key is None:
            return None
        entries = state.priors.get((r_index, t_index, key), [])
        earlier = [e for t, e in entries if now - pattern.within_seconds <= t <= now
                   and e != event.id]
        if not earlier:
            return None
        base = trigger.severity or rule.severity
        return (rule.id, trigger.name, self._severity(rule, base, event.type, doc),
                (*earlier, event.id))

    def _start(self, state: OpState, r_index: int, t_index: int, rule: Rule, trigger: Trigger,
               pattern: Absence, event: Event, doc: Mapping[str, Any], now: float) -> None:
        key = self._key(doc, pattern.by)
        if key is None:
            return
        if pattern.deadline is not None:
            deadline = lookup(doc, pattern.deadline)
            if not isinstance(deadline, (int, float)) or isinstance(deadline, bool):
                return
        else:
            assert pattern.within_seconds is not None
            deadline = now + pattern.within_seconds
        slot = (r_index, t_index, key)
        if slot in state.pending:
            return  # the first start holds
        base = trigger.severity or rule.severity
        state.pending[slot] = (float(deadline), next(self.order), event.id,
                               self._severity(rule, base, event.type, doc))


def _prune(entries: list[tuple[float, str]], before: float) -> None:
    """Drop entries older than `before` (an operation's time only moves forward here)."""
    cut = bisect.bisect_left(entries, before, key=lambda e: e[0])
    if cut:
        del entries[:cut]


# --------------------------------------------------------------------------- the run

def observed(advisories: Sequence[Any]) -> list[Observed]:
    return [(a.rule_id, a.trigger, a.severity.value, tuple(e.id for e in a.evidence))
            for a in advisories]


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    rules_dir = FsPath(args.rules)
    t_build = time.perf_counter()
    engine = Engine.from_directory(rules_dir)
    build_s = time.perf_counter() - t_build
    # The rules as the engine loaded them (the files may change while the run goes on); the
    # reference reads only their conditions and patterns, never the engine's compiled form.
    bundle = engine.bundle
    types = sorted(engine.compiled_rulesets())
    if "context.update" not in types:
        types.append("context.update")
    stream = Stream(rng, bundle, types, args.operations)
    reference = Reference(bundle) if args.check else None

    counts: collections.Counter[str] = collections.Counter()
    by_rule: collections.Counter[str] = collections.Counter()
    mismatches: list[dict[str, Any]] = []
    mismatch_count = 0
    samples: list[dict[str, Any]] = []
    engine_s = 0.0
    started = time.perf_counter()

    def sample(n: int) -> None:
        row = {"events": n, "rss_mb": round(rss_mb(), 1),
               "seconds": round(time.perf_counter() - started, 1),
               "state": engine.state_size()}
        samples.append(row)
        state = row["state"]
        print(f"{n:>9,} events  {row['rss_mb']:>8.1f} MB  {row['seconds']:>7.1f} s  "
              f"ops {state.get('operations', 0):>4}  windows {state.get('window_entries', 0):>6}"
              f"  lookbacks {state.get('lookback_entries', 0):>6}"
              f"  pending {state.get('pending_deadlines', 0):>6}"
              f"  heap {state.get('deadline_heap', 0):>6}  seen {state.get('seen_events', 0):>7}",
              flush=True)

    print(f"engine built in {build_s:.2f} s from {rules_dir} ({len(bundle.rules)} rules, "
          f"{len(types)} event types in the stream, {args.operations} operations)", flush=True)
    print(f"{'':>9}         {'VmRSS':>8}     {'time':>7}", flush=True)
    for n, (what, raw) in enumerate(stream(args.events, args.days), start=1):
        counts[what] += 1
        event = Event.from_json(raw)
        t0 = time.perf_counter()
        advisories = engine.evaluate(event)
        engine_s += time.perf_counter() - t0
        got = observed(advisories)
        counts["advisories"] += len(got)
        for item in got:
            by_rule[f"{item[0]} {item[1]}"] += 1
        if reference is not None:
            expected = reference.evaluate(event)
            if collections.Counter(got) != collections.Counter(expected):
                mismatch_count += 1
                if len(mismatches) < 25:
                    mismatches.append({"n": n, "what": what, "event": raw,
                                       "engine": sorted(map(list, got)),
                                       "reference": sorted(map(list, expected))})
                    print(f"MISMATCH at event {n} ({what} {raw['type']} {raw['id']}): "
                          f"engine {sorted(got)} reference {sorted(expected)}", flush=True)
        if n == SAMPLE_FIRST or n % SAMPLE_EVERY == 0 or n == args.events:
            sample(n)
    seconds = time.perf_counter() - started
    first = next((s for s in samples if s["events"] >= SAMPLE_FIRST), samples[0])
    summary = {
        "events": args.events,
        "operations": args.operations,
        "seed": args.seed,
        "days": args.days,
        "rules_dir": str(rules_dir),
        "rules": len(bundle.rules),
        "event_types": types,
        "checked_against_reference": bool(args.check),
        "build_seconds": round(build_s, 2),
        "seconds": round(seconds, 1),
        "events_per_s": round(args.events / seconds),
        "engine_seconds": round(engine_s, 1),
        "engine_events_per_s": round(args.events / engine_s),
        "mix": {k: counts[k] for k in ("event", "tick", "duplicate")},
        "advisories": counts["advisories"],
        "advisories_by_rule": dict(sorted(by_rule.items())),
        "mismatches": mismatch_count,
        "mismatch_examples": mismatches,
        "rss_mb": [{"events": s["events"], "rss_mb": s["rss_mb"]} for s in samples],
        "rss_growth_mb": round(samples[-1]["rss_mb"] - first["rss_mb"], 1),
        "state_sizes": [{"events": s["events"], **s["state"]} for s in samples],
    }
    print(f"\n{args.events:,} events in {seconds:.1f} s: {summary['events_per_s']:,} events/s "
          f"overall, {summary['engine_events_per_s']:,} events/s inside Engine.evaluate")
    print(f"mix: {summary['mix']}; advisories: {summary['advisories']:,}; "
          f"mismatches: {mismatch_count}" + ("" if args.check else " (not checked)"))
    print(f"RSS {first['rss_mb']} MB at {first['events']:,} events -> "
          f"{samples[-1]['rss_mb']} MB at {samples[-1]['events']:,}: "
          f"growth {summary['rss_growth_mb']} MB")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=SPAN_DAYS,
                        help="event time the stream covers (default: about two years)")
    parser.add_argument("--out", default="soak-result.json")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--no-check", dest="check", action="store_false",
                        help="skip the reference model (engine throughput and memory only)")
    args = parser.parse_args(argv)
    summary = run(args)
    FsPath(args.out).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"summary written to {args.out}")
    return 1 if summary["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
