"""Start-up: loading and compiling every pack, and rebuilding state from a stored log.

* Load + compile: `load_bundle` of the shipped packs and `Engine(bundle)` (compile to
  durable_rules JSON and register every ruleset), timed in this process (warm: modules
  imported, schema read) and in fresh processes (cold: imports included).
* Rebuild: a stored log of events (JSON lines, as the sidecar's store would hand them back)
  is read, each line parsed (`Event.from_text(line, stored=True)`: the
  envelope is checked, the data not again) and replayed in order by a new `Engine`
  (`Engine.replay`; the last events through `Engine.evaluate`), as the sidecar does on
  restart without a snapshot; then the state is written as a
  snapshot (`Engine.snapshot`, JSON text) and loaded into a new engine (`Engine.restore`),
  the other way a restart rebuilds it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mandate_rules import Engine, Event
from mandate_rules._loader import load_bundle
from mandate_rules._resources import bundled_rules_dir

from ._common import Scale, catalogue, log, rss_mb
from .stream import EventStream, StreamConfig

LOG_STREAM = StreamConfig(seed=11, operations=40, ticks=0.0, duplicates=0.002,
                          context_updates=0.001)

_COLD = """
import time
started = time.perf_counter()
from mandate_rules import Engine
from mandate_rules._resources import bundled_rules_dir
from mandate_rules._loader import load_bundle
imported = time.perf_counter()
engine = Engine(load_bundle(bundled_rules_dir()))
print(imported - started, time.perf_counter() - imported)
"""


def write_log(path: Path, count: int) -> None:
    """The stored log: `count` events of one seeded stream, one CloudEvent per line."""
    stream = EventStream(catalogue(), LOG_STREAM)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            out.write(json.dumps(next(stream), ensure_ascii=False, separators=(",", ":")))
            out.write("\n")


def load_compile(scale: Scale) -> dict[str, Any]:
    rules = bundled_rules_dir()
    load_s, compile_s, total_s = [], [], []
    for _ in range(scale.load_runs):
        t0 = time.perf_counter()
        bundle = load_bundle(rules)
        t1 = time.perf_counter()
        Engine(bundle)
        t2 = time.perf_counter()
        load_s.append(t1 - t0)
        compile_s.append(t2 - t1)
        total_s.append(t2 - t0)
    cold_import, cold_build, cold_wall = [], [], []
    for _ in range(max(2, scale.load_runs // 2)):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True,
                              check=True)
        cold_wall.append(time.perf_counter() - t0)
        imported, built = (float(v) for v in done.stdout.split())
        cold_import.append(imported)
        cold_build.append(built)
    result: dict[str, Any] = {
        "runs": scale.load_runs,
        "load_s": round(statistics.median(load_s), 4),
        "compile_register_s": round(statistics.median(compile_s), 4),
        "load_compile_s": round(statistics.median(total_s), 4),
        "cold_process": {"runs": len(cold_wall),
                         "import_s": round(statistics.median(cold_import), 3),
                         "load_compile_s": round(statistics.median(cold_build), 3),
                         "interpreter_start_to_engine_s": round(statistics.median(cold_wall), 3)},
    }
    log(f"start-up: load + compile {result['load_compile_s']:.3f} s warm, "
        f"{result['cold_process']['load_compile_s']:.3f} s in a fresh process")
    return result


VERIFY_TAIL = 1_000  # as the sidecar: the last events are evaluated, and checked


def rebuild(log_file: Path, count: int) -> dict[str, Any]:
    """Rebuild state from the stored log through a new Engine, as the sidecar does on start
    without a snapshot: `Engine.replay` for every event but the last `VERIFY_TAIL`, which are
    evaluated (`Engine.evaluate`; the sidecar compares their advisories with those stored).
    Reading, replaying and evaluating are timed apart."""
    engine = Engine(catalogue())
    read = replay = evaluate = 0.0
    clock = time.perf_counter
    started = clock()
    replayed = 0
    with log_file.open(encoding="utf-8") as source:
        for index, line in enumerate(source):
            if index >= count:
                break
            t0 = clock()
            event = Event.from_text(line, stored=True)
            t1 = clock()
            if index < count - VERIFY_TAIL:
                engine.replay(event)
                replay += clock() - t1
            else:
                engine.evaluate(event)
                evaluate += clock() - t1
            read += t1 - t0
            replayed += 1
    total = clock() - started
    result = {"events": replayed, "rebuild_s": round(total, 2),
              "parse_s": round(read, 2), "replay_s": round(replay, 2),
              "evaluate_s": round(evaluate, 2), "evaluated_events": min(VERIFY_TAIL, replayed),
              "events_per_s": round(replayed / total, 1), "state": engine.state_size(),
              "rss_mb_after": round(rss_mb(), 1), "snapshot": _snapshot(engine)}
    log(f"rebuild: {replayed} stored events in {total:.1f} s (read {read:.1f} s, replay "
        f"{replay:.1f} s, evaluate the last {result['evaluated_events']} {evaluate:.1f} s); "
        f"from a snapshot {result['snapshot']['restore_s']:.2f} s")
    return result


def _snapshot(engine: Engine) -> dict[str, Any]:
    """The other way to rebuild: write the state as a snapshot, and load it into a new
    engine (as the sidecar does on start when its last snapshot matches its rule packs)."""
    clock = time.perf_counter
    t0 = clock()
    text = json.dumps(engine.snapshot(), separators=(",", ":"))
    t1 = clock()
    fresh = Engine(catalogue())
    t2 = clock()
    fresh.restore(json.loads(text))
    t3 = clock()
    assert fresh.snapshot() == engine.snapshot(), "a restored state differs from the original"
    return {"snapshot_s": round(t1 - t0, 3), "snapshot_mb": round(len(text) / 1e6, 2),
            "restore_s": round(t3 - t2, 3)}
