"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only SECTION,...]``.

Sections, in the order they run: startup, inprocess, profile, rules, operations, state,
rebuild, sidecar, replicas (on PostgreSQL). The full suite writes ``benchmarks/results.json``,
``benchmarks/RESULTS.md`` and ``benchmarks/*.png``; ``--quick`` (smaller counts, the same
measurements, under a minute) writes ``results-quick.json``, ``RESULTS-quick.md`` and
``*-quick.png`` instead, so a quick run never overwrites the figures of record. Run it on a
machine doing nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import inprocess, replicas, report, scaling, sidecar, startup
from ._common import FULL, QUICK, ROOT, log, machine
from .profile import profile

SECTIONS = ("startup", "inprocess", "profile", "rules", "operations", "state", "rebuild",
            "sidecar", "replicas")


class LoadSampler:
    """The 1-minute load average, sampled every few seconds while the suite runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self.every = every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import os  # noqa: PLC0415

        while not self.stopped.is_set():
            self.samples.append(round(os.getloadavg()[0], 2))
            self.stopped.wait(self.every)

    def __enter__(self) -> LoadSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def summary(self) -> dict[str, Any]:
        values = self.samples or [float("nan")]
        return {"samples": len(self.samples), "min": min(values), "max": max(values),
                "median": round(statistics.median(values), 2)}


def render(out_dir: Path, suffix: str) -> None:
    results = json.loads((out_dir / f"results{suffix}.json").read_text())
    report.headline(results)
    images = report.plots(results, out_dir, suffix)
    (out_dir / f"results{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / f"RESULTS{suffix}.md").write_text(report.markdown(results, images))
    log(f"rendered {out_dir / f'RESULTS{suffix}.md'} and " + ", ".join(images))


# Where each section puts its figures in the results: (key) or (key, sub-key).
_PLACES: dict[str, tuple[str, ...]] = {
    "startup": ("startup", "load_compile"), "inprocess": ("inprocess",),
    "profile": ("profile",), "rules": ("scaling", "rules"),
    "operations": ("scaling", "operations"), "state": ("scaling", "state"),
    "rebuild": ("startup", "rebuild"), "sidecar": ("sidecar",), "replicas": ("replicas",)}


def merged(previous: dict[str, Any], fresh: dict[str, Any],
           chosen: Sequence[str]) -> dict[str, Any]:
    """The results of an `--only` run laid over those of the last run: the sections not run
    keep their figures, so measuring one section again never drops the others' from the
    record. The machine, load and duration are this run's; `sections` names all."""
    out = dict(fresh)
    for section, place in _PLACES.items():
        if section in chosen:
            continue
        found: Any = previous
        for key in place:
            found = found.get(key) if isinstance(found, dict) else None
        if found is None:
            continue
        if len(place) == 1:
            out[place[0]] = found
        else:
            out[place[0]] = {**(out.get(place[0]) or {}), place[1]: found}
    kept = [s for s in previous.get("sections", ()) if s not in chosen]
    out["sections"] = [*kept, *chosen]
    out["merged_sections"] = kept  # measured by an earlier run, on its machine and day
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smaller counts, the same measurements (under a minute)")
    parser.add_argument("--only", default="",
                        help="comma-separated sections to run: " + ", ".join(SECTIONS))
    parser.add_argument("--out-dir", type=Path, default=ROOT,
                        help="where results, RESULTS.md and plots go (default: benchmarks/)")
    parser.add_argument("--state-events", type=int, default=None,
                        help="events through the stateful windows (default: 1,000,000; "
                             "--quick: 12,000)")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: write RESULTS.md and the plots again from the "
                             "results file of the last run")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.state_events is not None:
        kept = [c for c in scale.state_checkpoints if c < args.state_events]
        scale = dataclasses.replace(scale, state_events=args.state_events,
                                    state_checkpoints=(*kept, args.state_events))
    if args.render:
        render(args.out_dir, "-quick" if args.quick else "")
        return
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    suffix = "-quick" if args.quick else ""
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {"quick": scale.quick, "sections": chosen, "machine": machine(),
                               "scale": scale.__dict__}
    started = time.perf_counter()
    with LoadSampler() as load, tempfile.TemporaryDirectory(prefix="mandate-rules-log-") as tmp:
        log_file = Path(tmp) / "stored-log.jsonl"
        log_ready = False

        def stored_log() -> Path:
            nonlocal log_ready
            if not log_ready:
                t0 = time.perf_counter()
                startup.write_log(log_file, scale.rebuild_events)
                log(f"stored log: {scale.rebuild_events} events written in "
                    f"{time.perf_counter() - t0:.1f} s")
                log_ready = True
            return log_file

        if "startup" in chosen:
            results.setdefault("startup", {})["load_compile"] = startup.load_compile(scale)
        if "inprocess" in chosen:
            results["inprocess"] = inprocess.run(scale)
        if "profile" in chosen:
            events = inprocess.stream_events(max(500, scale.inprocess_events // 3))
            results["profile"] = profile(events)
        if "rules" in chosen:
            results.setdefault("scaling", {})["rules"] = scaling.rules(scale)
        if "operations" in chosen:
            results.setdefault("scaling", {})["operations"] = scaling.operations(scale)
        if "state" in chosen:
            results.setdefault("scaling", {})["state"] = scaling.state(scale)
        if "rebuild" in chosen:
            results.setdefault("startup", {})["rebuild"] = startup.rebuild(
                stored_log(), scale.rebuild_events)
        if "sidecar" in chosen:
            results["sidecar"] = sidecar.run(scale, stored_log(), scale.rebuild_events)
        if "replicas" in chosen:
            results["replicas"] = replicas.run(scale, stored_log())
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["load_average"] = load.summary()
    previous = out_dir / f"results{suffix}.json"
    if args.only and previous.exists():
        results = merged(json.loads(previous.read_text()), results, chosen)
    report.headline(results)
    images = report.plots(results, out_dir, suffix)
    (out_dir / f"results{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / f"RESULTS{suffix}.md").write_text(report.markdown(results, images))
    log(f"done in {results['duration_s']:.0f} s: {out_dir / f'results{suffix}.json'}, "
        f"{out_dir / f'RESULTS{suffix}.md'}, " + ", ".join(images))
    for target in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        log(f"  {target['target']}: {target['measured']} {target['unit']} "
            f"(limit {target['limit']}): {verdict}")


if __name__ == "__main__":
    main()
