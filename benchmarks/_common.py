"""What every measurement shares: the catalogue, prepared events, statistics, the machine."""

from __future__ import annotations

import datetime as dt
import functools
import gc
import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mandate_rules import Event
from mandate_rules._loader import load_bundle
from mandate_rules._resources import bundled_rules_dir
from mandate_rules._rules import Bundle

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent


@dataclass(frozen=True)
class Scale:
    """The counts of one run: the full suite or `--quick`."""

    quick: bool
    repeats: int  # runs of each timed loop; figures are medians over them
    inprocess_events: int  # the mixed stream for in-process comparisons
    slow_peer_events: int  # rule-engine and zen's decision tables are far slower: fewer events
    rule_counts: tuple[int, ...]
    rule_events: int
    operation_counts: tuple[int, ...]
    operation_events: int
    state_events: int  # events through the stateful windows in one process
    state_pool: int  # distinct validated events the state run cycles through
    state_checkpoints: tuple[int, ...]
    sidecar_clients: tuple[int, ...]
    sidecar_seconds: float  # per configuration, after a warm-up
    topup_seconds: float  # at most this long filling the sidecar's store before the restart
    rebuild_events: int
    load_runs: int


FULL = Scale(quick=False, repeats=5, inprocess_events=6_000, slow_peer_events=1_000,
             rule_counts=(10, 40, 400), rule_events=1_500,
             operation_counts=(1, 10, 100, 1_000), operation_events=3_000,
             state_events=1_000_000, state_pool=20_000,
             state_checkpoints=(1, 10, 100, 1_000, 10_000, 100_000, 1_000_000),
             sidecar_clients=(1, 8, 32), sidecar_seconds=4.0, topup_seconds=30.0,
             rebuild_events=100_000, load_runs=7)
QUICK = Scale(quick=True, repeats=3, inprocess_events=600, slow_peer_events=100,
              rule_counts=(10, 40, 400), rule_events=200,
              operation_counts=(1, 10, 100, 1_000), operation_events=300,
              state_events=12_000, state_pool=4_000,
              state_checkpoints=(1, 10, 100, 1_000, 10_000, 12_000),
              sidecar_clients=(1, 8, 32), sidecar_seconds=0.8, topup_seconds=3.0,
              rebuild_events=2_000, load_runs=3)


@functools.cache
def catalogue() -> Bundle:
    """All rule packs shipped with mandate-rules (the full catalogue)."""
    return load_bundle(bundled_rules_dir())


def prepare(raw: Iterable[Mapping[str, Any]]) -> list[Event]:
    """Events read and validated as a caller would (`Event.from_json`), outside any timing,
    with the plain copy of their data made (the engine makes it on first use)."""
    events = [Event.from_json(dict(r)) for r in raw]
    for event in events:
        assert event._plain is not None
    return events


def renewing(events: Sequence[Event], reset: Callable[[], object]) -> Callable[[], None]:
    """A `before` hook for `time_loop`: `reset`, then drop what each event cached about itself
    when it was evaluated (its `ref()`), so every repeat evaluates the events as new ones."""
    def before() -> None:
        reset()
        for event in events:
            object.__setattr__(event, "_ref", None)
    return before


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return float(sorted_values[index])


@dataclass
class Timing:
    """Per-event latencies of several repeats of one loop over the same events."""

    per_repeat_ns: list[list[int]]
    wall_s: list[float]

    def summary(self) -> dict[str, Any]:
        p50 = [percentile(sorted(r), 50) / 1000 for r in self.per_repeat_ns]
        p99 = [percentile(sorted(r), 99) / 1000 for r in self.per_repeat_ns]
        mean = [sum(r) / len(r) / 1000 for r in self.per_repeat_ns if r]
        rate = [len(r) / w for r, w in zip(self.per_repeat_ns, self.wall_s, strict=True) if w]
        return {"events": len(self.per_repeat_ns[0]) if self.per_repeat_ns else 0,
                "repeats": len(self.per_repeat_ns),
                "events_per_s": round(statistics.median(rate), 1),
                "mean_us": round(statistics.median(mean), 2),
                "p50_us": round(statistics.median(p50), 2),
                "p99_us": round(statistics.median(p99), 2),
                "p50_us_runs": [round(v, 2) for v in p50],
                "p99_us_runs": [round(v, 2) for v in p99]}


def time_loop(items: Sequence[Any], call: Callable[[Any], object], repeats: int,
              before: Callable[[], object] | None = None) -> Timing:
    """Run `call` over `items` `repeats` times, timing each call; `before` runs untimed
    ahead of each repeat (to reset state)."""
    per_repeat: list[list[int]] = []
    walls: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(repeats):
        if before is not None:
            before()
        gc.collect()
        laps = [0] * len(items)
        started = clock()
        for index, item in enumerate(items):
            t0 = clock()
            call(item)
            laps[index] = clock() - t0
        walls.append((clock() - started) / 1e9)
        per_repeat.append(laps)
    return Timing(per_repeat, walls)


def rss_mb() -> float:
    """Resident memory of this process (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The machine and software the figures were measured on."""
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo", encoding="ascii") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "versions": {name: _version(name) for name in (
            "mandate-rules", "durable-rules", "zen-engine", "rule-engine", "uvicorn",
            "starlette", "matplotlib", "psutil")},
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
