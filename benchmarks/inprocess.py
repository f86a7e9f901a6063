"""In-process evaluation with the full catalogue, against durable_rules itself and peers.

Every runner gets the same events of one seeded, mixed stream (`stream.EventStream`), read
and validated beforehand (`Event.from_json`), and is timed call by call. Repeats are
interleaved (one pass of every runner, then the next repeat) so that a change in the load of
this shared machine hits all runners alike; figures are medians over repeats.

Before timing, the outputs are checked: the peers' advisories (and the engine's, for the
stateless rules) must equal the direct reading's event by event, and the rules raw
durable_rules fires must be the questions the direct reading says hold.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from mandate_rules import Engine, Event

from ._common import (
    Scale,
    Timing,
    catalogue,
    log,
    percentile,
    prepare,
    renewing,
    time_loop,
)
from .peers import (
    FullPlainPython,
    PlainPython,
    RawDurable,
    RuleEnginePeer,
    StatelessRunner,
    ZenExpressionsPeer,
    ZenPeer,
)
from .stream import EventStream, StreamConfig
from .translate import Observed, stateless_bundle

SEED = 6
STREAM = StreamConfig(seed=SEED, operations=40)
VERIFY_RAW = 300  # events whose durable_rules firings are checked rule by rule


def stream_events(count: int, config: StreamConfig = STREAM) -> list[Event]:
    return prepare(EventStream(catalogue(), config).take(count))


def _ours(advisories: Sequence[Any], stateless_ids: set[str]) -> list[Observed]:
    return sorted((a.rule_id, a.trigger, a.severity.value) for a in advisories
                  if a.rule_id in stateless_ids)


def check_peers(events: Sequence[Event], reference: Sequence[list[Observed]],
                runners: Sequence[StatelessRunner]) -> dict[str, dict[str, Any]]:
    """For each runner, how many events' advisories differ from the reference's."""
    out: dict[str, dict[str, Any]] = {}
    for runner in runners:
        got = [sorted(runner(e)) for e in events]
        wrong = [i for i, (g, r) in enumerate(zip(got, reference, strict=False)) if g != r]
        out[runner.name] = {"events": len(got), "mismatches": len(wrong),
                            "examples": [{"event": events[i].id, "expected": reference[i],
                                          "got": got[i]} for i in wrong[:3]]}
    return out


def check_raw(raw: RawDurable, full: FullPlainPython, events: Sequence[Event]) -> dict[str, Any]:
    """Run raw durable_rules with actions that note what fired, and compare with the direct
    reading of the same questions."""
    items = [raw.fact(e) for e in events]
    raw.sink = []
    for item in items:
        raw(item)
    time.sleep(0.5)  # the Host's own dispatch thread may run an action a little later
    fired: dict[int, list[str]] = {}
    for fact_id, rule in raw.sink:
        fired.setdefault(fact_id, []).append(rule)
    raw.sink = None
    wrong = 0
    for event, item in zip(events, items, strict=True):
        expected = sorted(full(event))
        got = sorted(raw.labels(fired.get(item[1]["id"], []))) if item is not None else []
        wrong += got != expected
    return {"events": len(events), "mismatches": wrong}


def run(scale: Scale) -> dict[str, Any]:
    bundle = catalogue()
    stateless = stateless_bundle(bundle)
    stateless_ids = {r.id for r in stateless.rules}
    events = stream_events(scale.inprocess_events)
    slow = events[:scale.slow_peer_events]
    log(f"in-process: {len(events)} events, {len(bundle.rules)} rules "
        f"({len(stateless.rules)} stateless)")

    engine = Engine(bundle)
    engine_stateless = Engine(stateless)
    raw = RawDurable(bundle)
    full_plain = FullPlainPython(bundle)
    plain = PlainPython(stateless)
    zen_table = ZenPeer(stateless)
    zen_expr = ZenExpressionsPeer(stateless)
    rule_eng = RuleEnginePeer(stateless)

    # -- correctness first
    engine.reset()
    ours_out = [engine.evaluate(e) for e in events]
    engine.reset()
    reference = [sorted(plain(e)) for e in events]
    checks = check_peers(events, reference, [zen_expr])
    checks.update(check_peers(slow, reference, [zen_table, rule_eng]))
    ours_stateless = [_ours(out, stateless_ids) for out in ours_out]
    wrong = [i for i, (g, r) in enumerate(zip(ours_stateless, reference, strict=True)) if g != r]
    checks["mandate-rules"] = {"events": len(events), "mismatches": len(wrong)}
    checks["durable_rules-raw"] = check_raw(raw, full_plain, events[:VERIFY_RAW])
    for name, check in checks.items():
        log(f"  check {name}: {check['mismatches']} of {check['events']} events differ")

    facts = [raw.fact(e) for e in events]
    runners: list[tuple[str, Sequence[Any], Callable[[Any], object], Callable[[], None] | None]] = [
        ("mandate-rules", events, engine.evaluate, renewing(events, engine.reset)),
        ("mandate-rules-stateless-rules", events, engine_stateless.evaluate,
         renewing(events, engine_stateless.reset)),
        ("durable_rules-raw", facts, raw, None),
        ("plain-python-all-questions", events, full_plain, None),
        ("plain-python-stateless-rules", events, plain, None),
        ("zen-engine", slow, zen_table, None),
        ("zen-engine-expressions", events, zen_expr, None),
        ("rule-engine", slow, rule_eng, None),
    ]
    timings: dict[str, Timing] = {name: Timing([], []) for name, *_ in runners}
    for repeat in range(scale.repeats):
        for name, items, call, before in runners:
            single = time_loop(items, call, 1, before)
            timings[name].per_repeat_ns.extend(single.per_repeat_ns)
            timings[name].wall_s.extend(single.wall_s)
        log(f"  repeat {repeat + 1}/{scale.repeats}: mandate-rules p50 "
            f"{percentile(sorted(timings['mandate-rules'].per_repeat_ns[-1]), 50) / 1000:.0f} µs")

    raw.close()
    summaries = {name: timing.summary() for name, timing in timings.items()}
    ours = summaries["mandate-rules"]
    raw_s = summaries["durable_rules-raw"]
    # Where the engine's time goes: events raising no advisory against those raising some.
    quiet, loud = [], []
    for laps in timings["mandate-rules"].per_repeat_ns:
        q = sorted(t for t, out in zip(laps, ours_out, strict=True) if not out)
        s = sorted(t for t, out in zip(laps, ours_out, strict=True) if out)
        quiet.append(percentile(q, 50) / 1000)
        loud.append(percentile(s, 50) / 1000)
    advisories = sum(len(out) for out in ours_out)
    return {
        "stream": {"seed": SEED, "events": len(events), "operations": STREAM.operations,
                   "types": _type_counts(events),
                   "advisories_per_event": round(advisories / len(events), 3),
                   "share_of_events_with_advisories": round(
                       sum(1 for out in ours_out if out) / len(events), 3),
                   "stateless_advisories_per_event": round(
                       sum(len(r) for r in reference) / len(events), 3)},
        "rules": {"all": len(bundle.rules), "stateless": len(stateless.rules),
                  "compiled_durable_rules": len(raw.program.labels)},
        "runners": summaries,
        "checks": checks,
        "overhead_vs_durable_rules": round(ours["mean_us"] / raw_s["mean_us"], 2),
        "overhead_vs_durable_rules_p50": round(ours["p50_us"] / raw_s["p50_us"], 2),
        "mandate_rules_p50_us_no_advisory": round(statistics.median(quiet), 2),
        "mandate_rules_p50_us_with_advisories": round(statistics.median(loud), 2),
    }


def _type_counts(events: Sequence[Event]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event.type] = counts.get(event.type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
