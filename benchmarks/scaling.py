"""Scaling: cost per event as rules, operations and held state grow.

* Rules: synthetic bundles of 10, 40 and 400 rules (`synthetic`), the same stream, the
  engine against raw durable_rules on the same compiled rules.
* Operations: the same number of events spread over 1 to 1,000 operations (countries,
  three-letter codes), each with its own state and context.
* State: up to 1,000,000 events through the stateful windows of one engine, in a separate
  process (`state_run`), with memory and latency at checkpoints.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mandate_rules import Engine

from ._common import Scale, Timing, catalogue, log, prepare, renewing, rss_mb, time_loop
from .peers import RawDurable
from .stream import EventStream, StreamConfig
from .synthetic import synthetic_bundle

RULES_STREAM = StreamConfig(seed=31, operations=40)


def rules(scale: Scale) -> list[dict[str, Any]]:
    events = prepare(EventStream(catalogue(), RULES_STREAM).take(scale.rule_events))
    out = []
    for count in scale.rule_counts:
        bundle = synthetic_bundle(catalogue(), count, seed=count)
        t0 = time.perf_counter()
        engine = Engine(bundle)
        build = time.perf_counter() - t0
        raw = RawDurable(bundle)
        facts = [raw.fact(e) for e in events]
        ours = Timing([], [])
        floor = Timing([], [])
        for _ in range(scale.repeats):
            for timing, items, call, before in ((ours, events, engine.evaluate,
                                                 renewing(events, engine.reset)),
                                                (floor, facts, raw, None)):
                single = time_loop(items, call, 1, before)
                timing.per_repeat_ns.extend(single.per_repeat_ns)
                timing.wall_s.extend(single.wall_s)
        raw.close()
        engine.reset()
        advisories = sum(len(engine.evaluate(e)) for e in events)
        mine, theirs = ours.summary(), floor.summary()
        row = {"rules": count, "compiled_durable_rules": len(raw.program.labels),
               "rulesets": sum(len(c) for c in raw.program.rulesets.values()),
               "engine_build_s": round(build, 3),
               "advisories_per_event": round(advisories / len(events), 3),
               "mandate_rules": mine, "durable_rules_raw": theirs,
               "overhead_vs_durable_rules": round(mine["mean_us"] / theirs["mean_us"], 2)}
        out.append(row)
        log(f"scaling rules {count:>4}: p50 {mine['p50_us']:.0f} µs (raw durable_rules "
            f"{theirs['p50_us']:.0f} µs), p99 {mine['p99_us']:.0f} µs, "
            f"build {build:.2f} s")
        del engine, raw
        gc.collect()
    return out


def operations(scale: Scale) -> list[dict[str, Any]]:
    out = []
    for count in scale.operation_counts:
        config = StreamConfig(seed=41, operations=count)
        events = prepare(EventStream(catalogue(), config).take(scale.operation_events))
        engine = Engine(catalogue())
        gc.collect()
        before = rss_mb()
        timing = time_loop(events, engine.evaluate, scale.repeats,
                           renewing(events, engine.reset))
        engine.reset()
        for event in events:
            engine.evaluate(event)
        gc.collect()
        summary = timing.summary()
        size = engine.state_size()
        row = {"operations": count, "operations_seen": size.get("operations", 0),
               "rss_growth_mb": round(rss_mb() - before, 1), "state": size, **summary}
        out.append(row)
        log(f"scaling operations {count:>5}: p50 {summary['p50_us']:.0f} µs, "
            f"p99 {summary['p99_us']:.0f} µs, {size.get('operations', 0)} operations seen")
        del engine
    return out


def state(scale: Scale) -> dict[str, Any]:
    """Run `state_run` in a fresh process and return what it measured."""
    with tempfile.TemporaryDirectory(prefix="mandate-rules-state-") as tmp:
        out = Path(tmp) / "state.json"
        log(f"scaling state: {scale.state_events} events in a separate process")
        subprocess.run([sys.executable, "-m", "benchmarks.state_run",
                        "--events", str(scale.state_events),
                        "--checkpoints", ",".join(str(c) for c in scale.state_checkpoints),
                        "--pool", str(scale.state_pool),
                        "--out", str(out)],
                       check=True, cwd=Path(__file__).resolve().parents[1])
        result: dict[str, Any] = json.loads(out.read_text())
    points = {p["events"]: p for p in result["series"]}
    last = points[max(points)]
    base = points.get(10_000)
    if base is not None:
        result["memory_growth_mb_vs_10k"] = round(last["rss_mb"] - base["rss_mb"], 1)
        result["p50_ratio_last_vs_10k"] = round(last["p50_us"] / base["p50_us"], 2)
    log(f"scaling state: {last['events']} events, RSS {last['rss_mb']:.0f} MB "
        f"(10k: {base['rss_mb'] if base else float('nan'):.0f} MB), held {last['held']}, "
        f"p50 {last['p50_us']:.0f} µs, p99 {last['p99_us']:.0f} µs")
    return result
