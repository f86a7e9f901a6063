"""Where `Engine.evaluate` spends its time, by part, under cProfile (deterministic profiling
inflates every figure; the shares are what matters). Also the garbage collector's pauses."""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import statistics
import time
from collections.abc import Sequence
from typing import Any

from mandate_rules import Advisory, Engine, Event

from ._common import catalogue, log, percentile

# (label, module file suffix, function name): cumulative time of each, per event.
PARTS: tuple[tuple[str, str, str], ...] = (
    ("Engine.evaluate (all)", "_engine.py", "evaluate"),
    ("document: project + normalise the event", "_document.py", "document"),
    ("Matcher.match (durable_rules round trip)", "_matcher.py", "match"),
    ("  json.dumps of the fact", "_matcher.py", "_to_json"),
    ("  durable_rules assert_fact (C)", "~", "<built-in method durable_rules_engine.assert_fact>"),
    ("  durable_rules retract_fact (C)", "~",
     "<built-in method durable_rules_engine.retract_fact>"),
    ("_advise: patterns, severity, advisories", "_engine.py", "_advise"),
    ("  _advisory: build an Advisory", "_engine.py", "_advisory"),
    ("  advisory id (sha256)", "_engine.py", "_advisory_id"),
    ("_expire: deadlines passed", "_engine.py", "_expire"),
    ("context resolution", "_engine.py", "_context"),
    ("state: seen ids, sweep", "_state.py", "mark_seen"),
)


def profile(events: Sequence[Event]) -> dict[str, Any]:
    engine = Engine(catalogue())
    profiler = cProfile.Profile()
    profiler.enable()
    for event in events:
        engine.evaluate(event)
    profiler.disable()
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, str], float] = {}
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        key = (filename.rsplit("/", 1)[-1], function)
        table[key] = table.get(key, 0.0) + row[3]
    total = table.get(("_engine.py", "evaluate"), 0.0) or 1e-9
    parts = []
    for label, suffix, function in PARTS:
        seconds = table.get((suffix, function), 0.0)
        parts.append({"part": label, "us_per_event_profiled": round(seconds / len(events) * 1e6, 1),
                      "share": round(seconds / total, 3)})
    return {"events": len(events), "parts": parts, "gc": gc_pauses(events),
            "advisory": advisory_costs(events)}


def advisory_costs(events: Sequence[Event]) -> dict[str, Any]:
    """What an advisory costs after `evaluate` returns it, for a caller that shows or stores
    it (the sidecar does both): building its explanation, which `evaluate` leaves until it is
    read, then `to_json` and the JSON text. Without the profiler; best of three passes, each
    on a new engine."""
    explaining, encoding = [], []
    advisories: list[Advisory] = []
    for _ in range(3):
        engine = Engine(catalogue())
        advisories = [a for event in events for a in engine.evaluate(event)]
        count = max(1, len(advisories))
        t0 = time.perf_counter()
        for advisory in advisories:
            advisory.explanation  # noqa: B018 - reading it builds it
        t1 = time.perf_counter()
        for advisory in advisories:
            json.dumps(advisory.to_json(), ensure_ascii=False, separators=(",", ":"))
        t2 = time.perf_counter()
        explaining.append((t1 - t0) / count * 1e6)
        encoding.append((t2 - t1) / count * 1e6)
    out = {"advisories": len(advisories), "explanation_us": round(min(explaining), 1),
           "to_json_and_text_us": round(min(encoding), 1),
           "json_bytes": round(statistics.mean(
               len(json.dumps(a.to_json(), ensure_ascii=False)) for a in advisories))
           if advisories else 0}
    log(f"profile: per advisory, building its explanation {out['explanation_us']} µs, "
        f"to_json + JSON text {out['to_json_and_text_us']} µs ({out['json_bytes']} bytes)")
    return out


def gc_pauses(events: Sequence[Event]) -> dict[str, Any]:
    """How often the collector runs during evaluation, and how long its pauses are."""
    engine = Engine(catalogue())
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0]

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter_ns()
        else:
            pauses[info["generation"]].append((time.perf_counter_ns() - started[0]) / 1000)

    gc.collect()
    gc.callbacks.append(note)
    try:
        for event in events:
            engine.evaluate(event)
    finally:
        gc.callbacks.remove(note)
    out: dict[str, Any] = {"events": len(events), "threshold": list(gc.get_threshold())}
    for generation, values in pauses.items():
        values.sort()
        out[f"gen{generation}"] = {"collections": len(values),
                                   "p50_us": round(percentile(values, 50), 1),
                                   "max_us": round(values[-1], 1) if values else 0.0}
    log(f"profile: gc collections gen0 {out['gen0']['collections']} "
        f"(p50 {out['gen0']['p50_us']} µs), gen1 {out['gen1']['collections']} "
        f"(p50 {out['gen1']['p50_us']} µs), gen2 {out['gen2']['collections']}")
    return out
