"""A seeded, realistic, mixed stream of CloudEvents, derived from the catalogue.

Every field comes from the event-type schema (``event_types.yaml``): its kind decides the
values (enums from their choices, times around the event's time, lists of zero to three
items, objects in lists with their own fields). The rule packs decide which values are
*interesting*: every literal a condition compares a field with (``transport_provider.kind in
MILITARY``, ``type == attack``, ``routes contains …``) is collected per field, and a field
takes one of those literals part of the time, so rules fire at a realistic rate rather than
almost never (pure random values) or always (values copied from the rules).

Operations (countries, three-letter codes) each have a few areas, their own organisations
(a handful do most of the work, a Zipf-like draw), routes and records (``entity_id`` is
reused, so deadlines are started and ended by later events of the same record). Event time
advances at `StreamConfig.per_day` events per day over all operations, so the state that
stateful rules hold settles once the longest window has passed, whatever the stream's length.

The same seed and configuration always give the same events, in any process: nothing
depends on set or dict iteration order of unordered collections, or on the hash seed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import string
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mandate_rules._conditions import (
    ITEM,
    AnyItem,
    Compare,
    Group,
    Has,
    Member,
    Node,
    Path,
)
from mandate_rules._rules import Bundle
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

__all__ = ["EventStream", "StreamConfig", "operation_codes"]

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
HUMANITARIAN = ("un_agency", "ingo", "nngo", "rcrc", "ocha")
OTHER_SUBMITTERS = ("mission_civilian", "commercial", "donor")
# Rough share of each event type in a field deployment: movements and requests dominate.
TYPE_WEIGHTS = {"movement.request": 30.0, "escort.request": 12.0, "asset.request": 14.0,
                "incident.report": 7.0, "distribution.plan": 6.0, "engagement.meeting": 9.0,
                "communication.publication": 5.0, "info.share": 7.0, "premises.change": 3.0}
PROFILE_AREAS = {"SOM": ("SO-BN", "SO-SA", "SO-BK", "SO-GE"), "PHL": ("PH-08", "PH-06", "PH-07")}


@dataclass(frozen=True)
class StreamConfig:
    """What kind of stream to generate; the same config and seed give the same events."""

    seed: int = 1
    operations: int = 40  # countries; SOM and PHL (with context profiles) come first
    per_day: float = 1000.0  # events per day of event time, over all operations
    presence: float = 0.5  # chance that an optional field is present
    hot: float = 0.2  # chance that a field the rules test takes one of the rules' literals
    ticks: float = 0.02  # share of clock.tick events
    duplicates: float = 0.0  # share of re-deliveries (same source and id) of recent events
    context_updates: float = 0.0  # share of context.update events
    start: dt.datetime = START


def operation_codes(count: int, seed: int = 0) -> list[str]:
    """`count` distinct three-letter country codes, SOM and PHL first (they have profiles)."""
    codes = ["SOM", "PHL"]
    others = ["".join(c) for c in itertools.product(string.ascii_uppercase, repeat=3)]
    random.Random(seed).shuffle(others)
    codes.extend(c for c in others if c not in ("SOM", "PHL"))
    return codes[:max(1, count)]



def _schema_key(path: Path, within: str | None) -> str | None:
    """The schema's name for a field a condition reads (``vehicles[].owner_kind``)."""
    if path.scope == ITEM:
        return None if within is None else f"{within}[].{path.dotted}"
    if path.scope == "data":
        return path.dotted
    return None


def hot_values(bundle: Bundle) -> dict[str, list[Any]]:
    """The literals the rules compare each data field with, in the order the rules list them."""
    found: dict[str, dict[Any, None]] = {}

    def note(path: Path, within: str | None, values: Iterable[Any]) -> None:
        key = _schema_key(path, within)
        if key is None:
            return
        bucket = found.setdefault(key, {})
        for value in values:
            if isinstance(value, (str, int, float)):  # bool is an int: kept, rarely used
                bucket.setdefault((type(value).__name__, value), None)

    def walk(node: Node, within: str | None) -> None:
        if isinstance(node, Group):
            for item in node.items:
                walk(item, within)
        elif isinstance(node, AnyItem):
            for sub in node.conditions:
                walk(sub, node.path.dotted if node.path.scope == "data" else None)
        elif isinstance(node, Member):
            note(node.path, within, node.values)
        elif isinstance(node, (Compare, Has)):
            note(node.path, within, () if hasattr(node.operand, "path") else (node.operand,))

    for node in bundle.conditions():
        walk(node, None)
    return {key: [v for _, v in bucket] for key, bucket in found.items()}


class _Operation:
    """One operation: its areas, organisations (with their kinds), routes and records."""

    def __init__(self, rng: random.Random, code: str, routes: Sequence[str],
                 weight: float) -> None:
        self.code = code
        self.weight = weight
        self.areas: tuple[str, ...] = PROFILE_AREAS.get(code) or tuple(
            f"{code[:2]}-{n:02d}" for n in range(1, rng.randint(3, 6)))
        self.orgs = [f"org-{code.lower()}-{n:02d}" for n in range(rng.randint(6, 24))]
        self.org_kinds = {org: (rng.choice(HUMANITARIAN) if rng.random() < 0.85
                                else rng.choice(OTHER_SUBMITTERS)) for org in self.orgs}
        self.routes = rng.sample(list(routes), rng.randint(3, 8))
        self.records: dict[str, deque[str]] = {}
        self.record_seq = itertools.count(1)
        self.source = f"urn:bench:{code.lower()}"


def _zipf(rng: random.Random, items: Sequence[str]) -> str:
    """A few items far more often than the rest."""
    return items[min(int(rng.paretovariate(1.2)) - 1, len(items) - 1)]


def _fmt(when: dt.datetime) -> str:
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class EventStream:
    """Iterate to get CloudEvents (JSON-ready dicts) forever; `take(n)` for a list."""

    def __init__(self, bundle: Bundle, config: StreamConfig | None = None) -> None:
        self.config = config or StreamConfig()
        self.rng = random.Random(self.config.seed)
        self.schema = load_schema()
        self.hot = hot_values(bundle)
        read = {t for rule in bundle.rules for t in rule.on}
        self.types = [t for t in TYPE_WEIGHTS if t in self.schema.types]
        self.type_weights = [TYPE_WEIGHTS[t] * (1.0 if t in read else 0.3) for t in self.types]
        routes = [f"R-{n:02d}" for n in range(1, 41)]
        for code in sorted(bundle.contexts):
            for alternative in bundle.contexts[code].values.get("civilian_alternatives", ()):
                routes.extend(r for r in alternative.get("routes", ()) if r not in routes)
        self.ops = [_Operation(self.rng, code, routes, 1.0 / (1 + i) ** 0.6)
                    for i, code in enumerate(operation_codes(self.config.operations,
                                                             self.config.seed))]
        self.op_weights = list(itertools.accumulate(op.weight for op in self.ops))
        self.type_cum = list(itertools.accumulate(self.type_weights))
        self.ids = itertools.count(1)
        self.clock = self.config.start.timestamp()
        self.step = 86400.0 / self.config.per_day
        self.recent: deque[dict[str, Any]] = deque(maxlen=500)
        self.context_fields = sorted(self.schema.context_tree)
        self.plans: dict[tuple[int, str, tuple[str, ...]], list[tuple[str, Any, str, bool]]] = {}

    # ------------------------------------------------------------------ values

    def _value(self, kind: Kind, key: str, op: _Operation, when: dt.datetime) -> Any:
        rng = self.rng
        hot = self.hot.get(key)
        name = kind.name
        if key in ("org.id", "target.org_id"):
            return _zipf(rng, op.orgs)
        if key == "route.id":
            return _zipf(rng, op.routes)
        if key.endswith("routes") or key == "route.areas":
            return rng.sample(op.routes, rng.randint(1, 2))
        if name == LIST:
            assert kind.item is not None
            return [self._value(kind.item, key, op, when) for _ in range(rng.randint(1, 3))]
        if hot and rng.random() < self.config.hot:
            value = rng.choice(hot)
            if name == ENUM and value not in kind.choices:
                return rng.choice(sorted(kind.choices))
            if name in (NUMBER, INTEGER) and isinstance(value, (int, float)):
                return value + rng.choice((-1, 0, 0, 1))
            if kind.check(value) is None:
                return value
        if name == ENUM:
            return rng.choice(sorted(kind.choices))
        if name == BOOL:
            return rng.random() < 0.5
        if name == BOOL_OR_TEXT:
            return rng.random() < 0.5 if rng.random() < 0.7 else "travelling with the mission"
        if name == NUMBER:
            return round(rng.uniform(0, 1000), 1)
        if name == INTEGER:
            return rng.randint(0, 5000)
        if name == TIME:
            shifted = when + dt.timedelta(days=rng.randint(-20, 90),
                                          hours=rng.choice((0, 0, 6, 12)))
            return shifted.date().isoformat() if rng.random() < 0.15 else _fmt(shifted)
        assert name == TEXT, name
        return f"{key.rsplit('.', 1)[-1]}-{rng.randint(1, 400)}"

    def _plan(self, tree: Mapping[str, Any], prefix: str,
              required: Sequence[str]) -> list[tuple[str, Any, str, bool]]:
        """(name, schema node, field key, required) for each field of `tree`, cached."""
        cache_key = (id(tree), prefix, tuple(required))
        plan = self.plans.get(cache_key)
        if plan is None:
            plan = self.plans[cache_key] = [
                (name, node, prefix + name,
                 any(r == prefix + name or r.startswith(prefix + name + ".") for r in required))
                for name, node in tree.items()]
        return plan

    def _object(self, tree: Mapping[str, Any], prefix: str, op: _Operation, when: dt.datetime,
                required: Sequence[str] = ()) -> dict[str, Any]:
        rng = self.rng
        presence = self.config.presence
        out: dict[str, Any] = {}
        for name, node, key, needed in self._plan(tree, prefix, required):
            if not needed and rng.random() > presence:
                continue
            if isinstance(node, ObjectList):
                out[name] = [self._object(node.fields, key + "[].", op, when)
                             for _ in range(rng.randint(1, 3))]
            elif isinstance(node, Mapping):
                inner = self._object(node, key + ".", op, when, required)
                if inner:
                    out[name] = inner
            else:
                out[name] = self._value(node, key, op, when)
        return out

    # ------------------------------------------------------------------ events

    def _pick_op(self) -> _Operation:
        point = self.rng.random() * self.op_weights[-1]
        low, high = 0, len(self.op_weights) - 1
        while low < high:
            mid = (low + high) // 2
            if self.op_weights[mid] < point:
                low = mid + 1
            else:
                high = mid
        return self.ops[low]

    def _event(self, op: _Operation, when: dt.datetime) -> dict[str, Any]:
        rng = self.rng
        point = rng.random() * self.type_cum[-1]
        type_ = self.types[next(i for i, c in enumerate(self.type_cum) if c >= point)]
        et = self.schema.types[type_]
        data = self._object(et.tree, "", op, when, et.required)
        org = data.get("org")
        if isinstance(org, dict) and "id" in org:
            org["kind"] = op.org_kinds.get(org["id"], "ingo")
        if "entity_id" in et.tree:
            records = op.records.setdefault(type_, deque(maxlen=60))
            if records and rng.random() < 0.5:
                data["entity_id"] = rng.choice(records)
            else:
                data["entity_id"] = f"{type_.split('.')[0]}-{op.code}-{next(op.record_seq)}"
                records.append(data["entity_id"])
        return self._envelope(op, type_, when, data)

    def _envelope(self, op: _Operation, type_: str, when: dt.datetime,
                  data: dict[str, Any] | None) -> dict[str, Any]:
        rng = self.rng
        raw: dict[str, Any] = {"specversion": "1.0",
                               "id": f"ev-{self.config.seed}-{next(self.ids)}",
                               "source": op.source, "type": type_, "time": _fmt(when),
                               "country": op.code}
        if rng.random() < 0.9:
            raw["area"] = rng.choice(op.areas)
        if rng.random() < 0.5:
            raw["subject"] = f"case-{rng.randint(1, 20_000)}"
        if data is not None:
            raw["data"] = data
        return raw

    def _context_update(self, op: _Operation, when: dt.datetime) -> dict[str, Any]:
        tree = self.schema.types["context.update"].tree
        data: dict[str, Any] = {}
        for name in self.context_fields:
            if self.rng.random() < 0.2:
                node = tree[name]
                value = (self._object(node, name + ".", op, when) if isinstance(node, Mapping)
                         and not isinstance(node, ObjectList) else
                         self._object({name: node}, "", op, when).get(name))
                if value:
                    data[name] = value
        data["changed_fields"] = sorted(data) or ["emergency_type"]
        if self.rng.random() < 0.5:
            data["area_scope"] = self.rng.choice(op.areas)
        return self._envelope(op, "context.update", when, data)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        rng = self.rng
        config = self.config
        if rng.random() < 0.9:  # several events often share a second (a batch from one system)
            self.clock += rng.expovariate(1.0) * self.step / 0.9
        when = dt.datetime.fromtimestamp(int(self.clock), dt.UTC)
        roll = rng.random()
        op = self._pick_op()
        if roll < config.duplicates and self.recent:
            return rng.choice(self.recent)
        roll -= config.duplicates
        if roll < config.ticks:
            return {"specversion": "1.0", "id": f"tick-{config.seed}-{next(self.ids)}",
                    "source": "mandate-rules://clock", "type": "clock.tick",
                    "time": _fmt(when), "country": op.code}
        roll -= config.ticks
        if roll < config.context_updates:
            return self._context_update(op, when)
        event = self._event(op, when)
        if config.duplicates:
            self.recent.append(event)
        return event

    def take(self, count: int) -> list[dict[str, Any]]:
        return [next(self) for _ in range(count)]
