"""What a failed request costs the sidecar's engine thread, and what keeping it cheap costs.

A request that fails after the engine took some of its events (a batch refused half-way,
a write that fails) must take those events back out of the tenant's engines. Until issue 10
that rebuilt the tenant from its whole stored log; now the engines go back to the tenant's
baseline (its state as of a recent committed event, held in memory) and replay only the
events stored after it. This script stores a seeded stream of events in a real SQLite file
through an in-process `Worker` (batches of 100), then times, on the same store:

* the old recovery: `Worker._build`, the whole log replayed (what `_rebuild` did);
* the new recovery: `Worker._recover` from the tenant's baseline (the events after it);
* taking a baseline (`Engine.snapshot()` as JSON text), which the engine thread does once
  every `BASELINE_EVERY` events per tenant: its cost per event is the hot path's share.

Run from the repository root (the benchmark extras are not needed):

    PYTHONPATH=. .venv/bin/python scripts/recovery_cost.py [--events 28000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._common import catalogue
from benchmarks.stream import EventStream, StreamConfig

from mandate_rules import Event
from mandate_rules._service import _tenants
from mandate_rules._service._jobs import Submit
from mandate_rules._service._metrics import Metrics
from mandate_rules._service._store import Store
from mandate_rules._service._worker import Worker

STREAM = StreamConfig(seed=11, operations=40, ticks=0.0, duplicates=0.0, context_updates=0.001)
TENANT = "default"


def timed(call: Callable[[], object], runs: int = 3) -> float:
    """The median of `runs` timings of `call()`, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=28_000)
    args = parser.parse_args()
    bundle = catalogue()
    stream = EventStream(bundle, STREAM)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "events.db")
        worker = Worker(store, Metrics(), [TENANT], queue_limit=1000, snapshot_every=0)
        worker.start(bundle, None).result(120)
        started = time.perf_counter()
        for _ in range(0, args.events, 100):
            events = tuple(Event.from_json(next(stream)) for _ in range(100))
            worker.submit(Submit(tenant=TENANT, events=events, batch=True)).result(120)
        print(f"stored {args.events} events in {time.perf_counter() - started:.1f} s")
        worker.stop()  # the thread is done: what follows runs here, on the same store
        # The snapshot written on stop would spare the old recovery its replay; the issue's
        # case is a tenant whose log has none yet (one is written every 50,000 events).
        store._w.execute("DELETE FROM operation_snapshots")
        tenant = worker._tenants[TENANT]
        baseline = tenant.baseline
        assert baseline is not None
        after = args.events - baseline.seq
        whole = timed(lambda: worker._build(TENANT, bundle, None))
        recover = timed(lambda: worker._recover(tenant, baseline))


        def take_baseline() -> None:
            tenant.since = _tenants.BASELINE_EVERY  # due: `_baselines` takes it
            worker._baselines()

        take = timed(take_baseline)
        store.close()
    print(f"old recovery (replay the whole log of {args.events} events): {whole:.2f} s")
    print(f"new recovery (baseline + the {after} events after it): {recover:.2f} s")
    print(f"taking a baseline: {take:.3f} s, once every {_tenants.BASELINE_EVERY} events: "
          f"{take / _tenants.BASELINE_EVERY * 1e6:.1f} us per event on the engine thread")


if __name__ == "__main__":
    main()
