"""results.json's headline keys, the targets, RESULTS.md and the plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _get(data: Mapping[str, Any], *keys: str) -> Any:
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _sidecar(results: Mapping[str, Any], clients: int, batch: int) -> Mapping[str, Any]:
    for row in _get(results, "sidecar", "configurations") or ():
        if row["clients"] == clients and row["batch"] == batch:
            return dict(row)
    return {}


def headline(results: dict[str, Any]) -> None:
    """Put the issue's headline figures at the top level of `results` (in place)."""
    inproc = results.get("inprocess") or {}
    runners = inproc.get("runners") or {}
    ours = runners.get("mandate-rules") or {}
    state = _get(results, "scaling", "state") or {}
    eight = _sidecar(results, 8, 1)
    batch = _sidecar(results, 8, 100)
    batches = [r for r in _get(results, "sidecar", "configurations") or () if r["batch"] == 100]
    results.update({
        "overhead_vs_durable_rules": inproc.get("overhead_vs_durable_rules"),
        "inprocess_p50_us": ours.get("p50_us"),
        "inprocess_p99_us": ours.get("p99_us"),
        "inprocess_events_per_s": ours.get("events_per_s"),
        "memory_growth_mb_1m_vs_10k": state.get("memory_growth_mb_vs_10k"),
        "state_events": state.get("events"),
        "sidecar_events_per_s_8_clients": eight.get("events_per_s"),
        "sidecar_p99_ms_8_clients": eight.get("p99_ms"),
        "batch_events_per_s": batch.get("events_per_s"),
        "batch_events_per_s_best": max((r["events_per_s"] for r in batches), default=None),
        "load_compile_s": _get(results, "startup", "load_compile", "load_compile_s"),
        "rebuild_100k_s": _get(results, "startup", "rebuild", "rebuild_s"),
        "rebuild_events": _get(results, "startup", "rebuild", "events"),
        "sidecar_restart_s": _get(results, "sidecar", "restart", "process_start_to_ready_s"),
    })
    replicas = results.get("replicas") or {}
    for key in ("pg_events_per_s_8_clients_1_replica", "pg_events_per_s_8_clients_2_replicas",
                "pg_p99_ms_8_clients_2_replicas", "pg_batch_events_per_s_2_replicas",
                "failover_s", "failover_s_lease_3"):
        results[key] = replicas.get(key)
    versions = _get(results, "machine", "versions") or {}
    for name, package in (("durable_rules_raw", "durable-rules"),
                          ("plain_python", None),
                          ("zen_engine", "zen-engine"),
                          ("zen_engine_expressions", "zen-engine"),
                          ("rule_engine", "rule-engine")):
        runner = {"durable_rules_raw": "durable_rules-raw",
                  "plain_python": "plain-python-stateless-rules",
                  "zen_engine": "zen-engine", "zen_engine_expressions": "zen-engine-expressions",
                  "rule_engine": "rule-engine"}[name]
        figures = runners.get(runner)
        if figures is None:
            continue
        check = (inproc.get("checks") or {}).get(runner, {})
        results[name] = {"version": versions.get(package) if package else None,
                         "events_per_s": figures["events_per_s"], "p50_us": figures["p50_us"],
                         "p99_us": figures["p99_us"], "events": figures["events"],
                         "advisories_differ_on_events": check.get("mismatches")}
    results["targets"] = targets(results)
    if results.get("quick"):  # counts too small for these two verdicts to mean anything
        for target in results["targets"]:
            if target["key"] in ("memory_growth_mb_1m_vs_10k", "rebuild_100k_s"):
                target["met"] = None
                target["note"] = "quick run: far fewer events than the target names"
    results["notes"] = notes(results)


def notes(r: Mapping[str, Any]) -> list[str]:
    """What the measurements say about each missed target (from this run's own figures)."""
    out: list[str] = []
    missed = {t["key"] for t in r.get("targets") or () if t["met"] is False}
    load = _get(r, "load_average", "median")
    cores = _get(r, "machine", "cores") or 0
    if load is not None and cores and load > cores:
        out.append(f"The machine was busy: a median 1-minute load of {load} on {cores} cores. "
                   "Every latency here, p99 above all, includes waiting for other processes; "
                   "re-run on a quiet machine before quoting these figures.")
    parts = {p["part"]: p["share"] for p in _get(r, "profile", "parts") or ()}
    advise = parts.get("_advise: patterns, severity, advisories")
    document = parts.get("document: project + normalise the event")
    match = parts.get("Matcher.match (durable_rules round trip)")
    inproc = r.get("inprocess") or {}
    runners = inproc.get("runners") or {}
    stateless = (runners.get("mandate-rules-stateless-rules") or {}).get("p50_us")
    raw = (runners.get("durable_rules-raw") or {}).get("p50_us")
    if inproc and raw is not None:
        out.append(
            "Against raw durable_rules: the engine drives durable_rules' C action loop itself "
            "(`_matcher.py`) instead of going through its Python `Host`, whose action "
            "protocol (a JSON round trip of the state per fired rule) the raw runner pays; "
            f"hence a ratio below 1 (raw p50 {raw} µs).")
    if missed & {"overhead_vs_durable_rules", "inprocess_p50_us"} and advise is not None:
        out.append(
            f"In-process: the durable_rules round trip is {100 * (match or 0):.0f}% of "
            f"`Engine.evaluate` under cProfile (JSON text of the fact, assert, the fired "
            f"rules, retract), the patterns, severity and advisories "
            f"{100 * advise:.0f}%, the document {100 * (document or 0):.0f}%; the rest is "
            f"the bookkeeping of each call. Explanations are not in these figures: they are "
            f"built when first read ({_get(r, 'profile', 'advisory', 'explanation_us')} µs "
            f"an advisory). Events raising no "
            f"advisory take {inproc.get('mandate_rules_p50_us_no_advisory')} µs at p50, "
            f"events raising some {inproc.get('mandate_rules_p50_us_with_advisories')} µs; "
            f"this stream raises {_get(inproc, 'stream', 'advisories_per_event')} advisories "
            f"per event. With the 31 stateless rules alone, p50 is {stateless} µs: the eight "
            "rules with windows, deadlines and lookbacks compile to about half of the "
            "durable_rules rules each event meets (a deadline also has the rules that end it, "
            "a lookback those that record what it looks back at) and fire on most events "
            "(COM-004 on half of them, INC-001's record of associations on a fifth). The "
            "p50 moved between repeats of this same run by about ±10%: the machine is shared.")
    gc_info = _get(r, "profile", "gc") or {}
    if "inprocess_p99_us" in missed and gc_info:
        gen0, gen1 = gc_info.get("gen0", {}), gc_info.get("gen1", {})
        out.append(
            f"p99: the garbage collector ran {gen0.get('collections')} young and "
            f"{gen1.get('collections')} middle collections in {gc_info.get('events')} events "
            f"(pauses up to {gen1.get('max_us') or gen0.get('max_us')} µs); with a loaded "
            "machine, a time slice lost to another process (about 4 ms) lands in the p99 too.")
    if missed & {"sidecar_events_per_s_8_clients", "sidecar_p99_ms_8_clients",
                 "batch_events_per_s"}:
        adv = _get(r, "profile", "advisory") or {}
        out.append(
            "Sidecar: every event is parsed and validated on the event loop, then evaluated, "
            "written (event, advisories with their JSON bodies, decision-log row) and committed "
            "by the one engine thread; both threads share one interpreter lock, so throughput "
            "is bounded by their summed CPU time per event, plus one fsync per group commit "
            "(groups are small with few clients). Per event, the library's own work is most "
            "of it: evaluating, then each advisory's explanation "
            f"({adv.get('explanation_us')} µs) and its JSON "
            f"({adv.get('to_json_and_text_us')} µs for {adv.get('json_bytes')} bytes), and "
            "reading the event (`Event.from_json`): profiled with py-spy while the sidecar was "
            "reworked (docs/sidecar.md), about 430 µs of the 660 µs an event of a batch cost, "
            "so batches cannot reach 5,000 events/s until that falls well under 200 µs. "
            "Single events add HTTP parsing, Starlette and two socket "
            "writes on the event loop (about 0.4 ms a request); p99 holds WAL checkpoints "
            "inside a commit.")
    replicas = r.get("replicas") or {}
    if replicas.get("configurations"):
        two = next((c for c in replicas["configurations"]
                    if c["replicas"] == 2 and c["batch"] == 1), {})
        out.append(
            "Replicas on PostgreSQL, on this 2-core machine: two replicas, PostgreSQL and the "
            "load generator share the same 2 cores, so a second replica adds no core, only "
            "work: about half of the requests reach the replica that does not hold their "
            f"operation ({two.get('forwarded_requests')} of {two.get('requests')} forwarded in "
            "the run with two) and cross a second HTTP stack before they are judged. One "
            "replica on PostgreSQL is slower than on SQLite because each statement of a "
            "group commit is a round trip to the server (a group sends BEGIN, the lookup of "
            "re-deliveries, the sequence, an insert per table, the fencing check, COMMIT) "
            "where SQLite's are calls in the process. How the figures grow: each replica has "
            "one engine thread under one interpreter lock, so it uses about one core; "
            "operations are the unit of parallelism, so with one core per replica (and "
            "PostgreSQL on its own cores) throughput grows about linearly with replicas while "
            "operations outnumber them, less the forwarded share (1 - 1/n of requests when "
            "clients spread evenly; none when the balancer routes by operation). PostgreSQL's "
            "commit (one fsync per group, shared by the replicas' groups through its group "
            "commit) bounds the total. Failover is the lease (renewed every third of it) "
            "plus the rebuild of the operation from its last snapshot.")
    if "rebuild_100k_s" in missed:
        rebuild = _get(r, "startup", "rebuild") or {}
        out.append(
            f"Rebuild: reading the stored events took {rebuild.get('parse_s')} s (JSON "
            f"and the envelope's checks), replaying them {rebuild.get('replay_s')} s (a "
            "durable_rules round trip per event with the rules that keep state, the document "
            f"and the patterns) and evaluating the last ones {rebuild.get('evaluate_s')} s. "
            "Replay is about twice as fast as evaluating; what remains is the durable_rules "
            "round trip for the state-keeping rules, which most events meet. A restart with a "
            "snapshot does not replay at all (above).")
    return out


def targets(r: Mapping[str, Any]) -> list[dict[str, Any]]:
    def row(name: str, key: str, limit: float, unit: str, higher_is_better: bool = False
            ) -> dict[str, Any]:
        value = r.get(key)
        met = None if value is None else (value >= limit if higher_is_better else value <= limit)
        return {"target": name, "key": key, "limit": limit, "unit": unit, "measured": value,
                "met": met, "higher_is_better": higher_is_better}

    return [
        row("overhead over raw durable_rules (same compiled rules)", "overhead_vs_durable_rules",
            1.5, "x"),
        row("in-process p50, full catalogue", "inprocess_p50_us", 100, "µs"),
        row("in-process p99, full catalogue", "inprocess_p99_us", 1000, "µs"),
        row("memory after 1M events vs after 10k", "memory_growth_mb_1m_vs_10k", 50, "MB"),
        row("sidecar, 8 clients, single events", "sidecar_events_per_s_8_clients", 1000,
            "events/s", higher_is_better=True),
        row("sidecar, 8 clients, p99", "sidecar_p99_ms_8_clients", 20, "ms"),
        row("sidecar, batches of 100 (8 clients)", "batch_events_per_s", 5000, "events/s",
            higher_is_better=True),
        row("load + compile all packs", "load_compile_s", 1.0, "s"),
        row("rebuild from 100,000 stored events", "rebuild_100k_s", 10.0, "s"),
        row("PostgreSQL, 1 replica, 8 clients, single events",
            "pg_events_per_s_8_clients_1_replica", 1000, "events/s", higher_is_better=True),
        row("PostgreSQL, 2 replicas, 8 clients, single events",
            "pg_events_per_s_8_clients_2_replicas", 1000, "events/s", higher_is_better=True),
        row("PostgreSQL, 2 replicas, 8 clients, p99", "pg_p99_ms_8_clients_2_replicas", 20,
            "ms"),
        row("PostgreSQL, 2 replicas, batches of 100 (8 clients)",
            "pg_batch_events_per_s_2_replicas", 5000, "events/s", higher_is_better=True),
        row("failover: SIGKILL of a holder to its operation's next answer", "failover_s",
            10.0, "s"),
    ]


# --------------------------------------------------------------------------- plots

def plots(results: Mapping[str, Any], out_dir: Path, suffix: str = "") -> list[str]:
    # Imported here: the figures and RESULTS.md's text need no plotting library (the bench
    # extra), so they are read and tested without it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    written = []
    scaling = results.get("scaling") or {}
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ax = axes[0][0]
    rows = scaling.get("rules") or []
    if rows:
        counts = [r["rules"] for r in rows]
        for label, key, style in (("mandate-rules", "mandate_rules", "o-"),
                                  ("raw durable_rules", "durable_rules_raw", "s--")):
            ax.plot(counts, [r[key]["p50_us"] for r in rows], style, label=f"{label} p50")
            ax.plot(counts, [r[key]["p99_us"] for r in rows], style, alpha=0.45,
                    label=f"{label} p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_title("Latency per event against rule count")
    ax.set_xlabel("rules (synthetic, shaped like the catalogue)")
    ax.set_ylabel("µs per event")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[0][1]
    rows = scaling.get("operations") or []
    if rows:
        counts = [r["operations"] for r in rows]
        ax.plot(counts, [r["p50_us"] for r in rows], "o-", label="p50")
        ax.plot(counts, [r["p99_us"] for r in rows], "o--", label="p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_title("Latency per event against operations")
    ax.set_xlabel("operations (countries)")
    ax.set_ylabel("µs per event")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    series = (scaling.get("state") or {}).get("series") or []
    series = [p for p in series if p["window"] >= 1000]
    ax = axes[1][0]
    if series:
        ax.plot([p["held"] for p in series], [p["p50_us"] for p in series], "o-", label="p50")
        ax.plot([p["held"] for p in series], [p["p99_us"] for p in series], "o--", label="p99")
        ax.set_yscale("log")
    ax.set_title("Latency against events held in state")
    ax.set_xlabel("events held (window + lookback entries + running deadlines)")
    ax.set_ylabel("µs per event (last 10,000 events)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1][1]
    if series:
        ax.plot([p["events"] for p in series], [p["rss_mb"] for p in series], "o-",
                label="RSS (MB)")
        ax.set_xscale("log")
        ax2 = ax.twinx()
        ax2.plot([p["events"] for p in series], [p["held"] for p in series], "s--",
                 color="tab:orange", label="events held")
        ax2.plot([p["events"] for p in series], [p["state"].get("seen_events", 0)
                                                  for p in series], "^:",
                 color="tab:green", label="ids remembered (re-delivery)")
        ax2.set_ylabel("entries")
        ax2.legend(fontsize=8, loc="lower right")
    ax.set_title("Memory against events evaluated")
    ax.set_xlabel("events evaluated by one engine")
    ax.set_ylabel("RSS, MB")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    name = f"scaling{suffix}.png"
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    written.append(name)

    runners = _get(results, "inprocess", "runners") or {}
    if runners:
        names = list(runners)
        fig, ax = plt.subplots(figsize=(11, 5))
        positions = range(len(names))
        ax.bar([p - 0.2 for p in positions], [runners[n]["p50_us"] for n in names], 0.4,
               label="p50")
        ax.bar([p + 0.2 for p in positions], [runners[n]["p99_us"] for n in names], 0.4,
               label="p99")
        ax.set_yscale("log")
        ax.set_xticks(list(positions), names, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("µs per event")
        ax.set_title("In-process, full catalogue stream: per-event latency")
        ax.legend()
        ax.grid(True, axis="y", which="both", alpha=0.3)
        fig.tight_layout()
        name = f"inprocess{suffix}.png"
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)
    return written


# --------------------------------------------------------------------------- markdown

def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows)
    return lines


def _merged_line(results: Mapping[str, Any]) -> str:
    kept = results.get("merged_sections") or []
    if not kept:
        return ""
    ran = [s for s in results.get("sections") or () if s not in kept]
    return (f" This run measured {', '.join(ran)} (`--only`); the figures of "
            f"{', '.join(kept)} are an earlier run's, kept.")


def markdown(results: Mapping[str, Any], images: Sequence[str]) -> str:
    m = results.get("machine") or {}
    load = results.get("load_average") or {}
    lines = [
        "# mandate-rules benchmarks",
        "",
        f"Written by `python -m benchmarks{' --quick' if results.get('quick') else ''}` "
        f"on {m.get('when', '?')} in {_fmt(results.get('duration_s'), 0)} s. "
        "Medians of several runs; every figure below comes from `results.json`"
        + (" (a **--quick** run: small counts, not the figures of record)."
           if results.get("quick") else ".")
        + _merged_line(results),
        "",
        "Run it with `pip install -e '.[bench]'` then `python -m benchmarks` from the repository "
        "root (`--quick` for a smoke run under a minute, `--only inprocess,sidecar` for some "
        "sections); nothing else should be running on the machine.",
        "",
        "## Machine",
        "",
        f"- CPU: {m.get('cpu')}, {m.get('cores')} cores; RAM {m.get('memory_gb')} GB; "
        f"Linux {m.get('kernel')}; Python {m.get('python')}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()),
        f"- Load average (1 min) during the run: min {_fmt(load.get('min'), 2)}, median "
        f"{_fmt(load.get('median'), 2)}, max {_fmt(load.get('max'), 2)} "
        f"({_fmt(load.get('samples'))} samples; the machine has {m.get('cores')} cores, so "
        "anything above that means other work was competing for them)",
        "",
        "## Targets",
        "",
    ]
    lines += _table(["target", "limit", "measured", "met"],
                    [(t["target"], f"{'≥' if t['higher_is_better'] else '≤'} "
                                   f"{_fmt(t['limit'])} {t['unit']}",
                      f"{_fmt(t['measured'], 2)} {t['unit']}",
                      t.get("note") or t["met"])
                     for t in results.get("targets") or ()])

    inproc = results.get("inprocess") or {}
    if inproc:
        stream = inproc.get("stream") or {}
        lines += ["", "## In-process evaluation", "",
                  f"One seeded stream of {_fmt(stream.get('events'))} events over "
                  f"{_fmt(stream.get('operations'))} operations (types: "
                  + ", ".join(f"{k} {v}" for k, v in (stream.get("types") or {}).items())
                  + f"). It raises {_fmt(stream.get('advisories_per_event'), 2)} advisories per "
                  f"event; {_fmt(100 * (stream.get('share_of_events_with_advisories') or 0), 0)}"
                  "% of events raise at least one. The catalogue has "
                  f"{_fmt(_get(inproc, 'rules', 'all'))} rules "
                  f"({_fmt(_get(inproc, 'rules', 'stateless'))} stateless), compiled to "
                  f"{_fmt(_get(inproc, 'rules', 'compiled_durable_rules'))} durable_rules "
                  "rules. Repeats are interleaved across runners.", ""]
        rows = []
        for name, s in (inproc.get("runners") or {}).items():
            check = (inproc.get("checks") or {}).get(name, {})
            rows.append((name, s["events"], s["events_per_s"], s["p50_us"], s["p99_us"],
                         s["mean_us"], f"{check.get('mismatches', '—')} of "
                                       f"{check.get('events', '—')}" if check else "—"))
        lines += _table(["runner", "events", "events/s", "p50 µs", "p99 µs", "mean µs",
                         "events whose output differs from the direct reading"], rows)
        lines += ["",
                  "- Overhead over raw durable_rules: "
                  f"**{_fmt(inproc.get('overhead_vs_durable_rules'), 2)}x** by mean time per "
                  f"event ({_fmt(inproc.get('overhead_vs_durable_rules_p50'), 2)}x by p50).",
                  f"- mandate-rules p50 for events that raise no advisory: "
                  f"{_fmt(inproc.get('mandate_rules_p50_us_no_advisory'))} µs; for events that "
                  f"raise some: {_fmt(inproc.get('mandate_rules_p50_us_with_advisories'))} µs.",
                  "- What each runner does: `mandate-rules` is `Engine.evaluate` (full catalogue, "
                  "stateful rules included); `durable_rules-raw` posts the same facts to a plain "
                  "`durable.engine.Host` holding the same compiled rulesets with do-nothing "
                  "actions (`assert_fact` + `retract_fact`, facts built beforehand); "
                  "`plain-python-*` is the direct reading (`holds`) over the same document; "
                  "`zen-engine` is one JDM decision table (hit policy collect) per event type, "
                  "`zen-engine-expressions` the same expressions compiled one by one, "
                  "`rule-engine` one `Rule` per question: all three generated from the packs' "
                  "stateless rules and checked equal to the direct reading, and include building "
                  "the document. rule-engine and the zen decision table run on the first "
                  f"{_fmt((inproc.get('runners') or {}).get('rule-engine', {}).get('events'))} "
                  "events only (they are far slower).",
                  ]
        prof = results.get("profile") or {}
        if prof:
            lines += ["", "### Where the engine's time goes (cProfile, shares of "
                      "`Engine.evaluate`)", ""]
            lines += _table(["part", "µs per event (profiled)", "share"],
                            [(p["part"], p["us_per_event_profiled"],
                              f"{100 * p['share']:.0f}%") for p in prof.get("parts", ())])
            adv = prof.get("advisory") or {}
            if adv:
                lines += ["", f"After `evaluate`, per advisory ({_fmt(adv.get('advisories'))} "
                          "advisories, not profiled): building its explanation when first read "
                          f"{_fmt(adv.get('explanation_us'))} µs; `to_json` and the JSON text "
                          f"{_fmt(adv.get('to_json_and_text_us'))} µs "
                          f"({_fmt(adv.get('json_bytes'))} bytes). A caller that stores or shows "
                          "every advisory (the sidecar) pays both."]
            gc_info = prof.get("gc") or {}
            if gc_info:
                lines += ["", f"Garbage collector over {_fmt(gc_info.get('events'))} events "
                          f"(thresholds {gc_info.get('threshold')}): " + "; ".join(
                              f"{g}: {_fmt(gc_info[g]['collections'])} collections, p50 "
                              f"{_fmt(gc_info[g]['p50_us'])} µs, max "
                              f"{_fmt(gc_info[g]['max_us'])} µs"
                              for g in ("gen0", "gen1", "gen2") if g in gc_info) + "."]

    scaling = results.get("scaling") or {}
    if scaling.get("rules"):
        lines += ["", "## Scaling", "", "### Rules", ""]
        lines += _table(["rules", "durable_rules rules", "rulesets", "engine build s",
                         "advisories/event", "p50 µs", "p99 µs", "events/s",
                         "raw durable_rules p50 µs", "overhead x"],
                        [(r["rules"], r["compiled_durable_rules"], r["rulesets"],
                          r["engine_build_s"], r["advisories_per_event"],
                          r["mandate_rules"]["p50_us"], r["mandate_rules"]["p99_us"],
                          r["mandate_rules"]["events_per_s"], r["durable_rules_raw"]["p50_us"],
                          r["overhead_vs_durable_rules"]) for r in scaling["rules"]])
    if scaling.get("operations"):
        lines += ["", "### Operations", ""]
        lines += _table(["operations", "seen in the stream", "p50 µs", "p99 µs", "events/s",
                         "RSS growth MB"],
                        [(r["operations"], r["operations_seen"], r["p50_us"], r["p99_us"],
                          r["events_per_s"], r["rss_growth_mb"]) for r in scaling["operations"]])
    state = scaling.get("state") or {}
    if state:
        lines += ["", "### State", "",
                  f"{_fmt(state.get('events'))} events through one engine in a separate process "
                  f"(about {_fmt(state.get('event_time_days'), 0)} days of event time; a pool "
                  f"of {_fmt(state.get('pool'))} validated events replayed with new ids and "
                  f"later times). Evaluation took {_fmt(state.get('evaluate_s'))} s of "
                  f"{_fmt(state.get('wall_s'))} s. Memory growth from 10k to the last "
                  f"checkpoint: **{_fmt(state.get('memory_growth_mb_vs_10k'))} MB**; p50 "
                  f"there / p50 at 10k: {_fmt(state.get('p50_ratio_last_vs_10k'), 2)}.", ""]
        lines += _table(["events", "RSS MB", "held", "ids remembered", "p50 µs", "p99 µs"],
                        [(p["events"], p["rss_mb"], p["held"],
                          p["state"].get("seen_events"), p["p50_us"], p["p99_us"])
                         for p in state.get("checkpoints") or ()])
        lines += ["", "(p50/p99 over the last 10,000 evaluations before each checkpoint, "
                  "or all of them when fewer.)"]

    sidecar = results.get("sidecar") or {}
    if sidecar:
        lines += ["", "## Sidecar (`POST /v1/events`, persistence on)", "",
                  "`mandate-rules serve` on 127.0.0.1 with a new SQLite file; the load generator "
                  "(`benchmarks/loadgen.py`) runs in a second process with keep-alive clients. "
                  "Latency is per request (a batch is one request).", ""]
        lines += _table(["clients", "events per request", "events/s", "requests/s", "p50 ms",
                         "p99 ms", "requests", "errors"],
                        [(r["clients"], r["batch"], r["events_per_s"], r["requests_per_s"],
                          r["p50_ms"], r["p99_ms"], r["requests"], r["errors"])
                         for r in sidecar.get("configurations") or ()])
        restart = sidecar.get("restart") or {}
        cold = restart.get("without_snapshot") or {}
        lines += ["", f"Restart with {_fmt(restart.get('stored_events'))} stored events: "
                  f"ready in {_fmt(restart.get('process_start_to_ready_s'), 2)} s from process "
                  "start, loading the snapshot written when it stopped (engines built in "
                  f"{_fmt(restart.get('replay_s'), 2)} s, by the server's log); with the "
                  "snapshot deleted, replaying the whole log, ready in "
                  f"{_fmt(cold.get('process_start_to_ready_s'), 2)} s (engines "
                  f"{_fmt(cold.get('replay_s'), 2)} s); database "
                  f"{_fmt(sidecar.get('db_mb'))} MB."]

    startup = results.get("startup") or {}
    if startup:
        lc = startup.get("load_compile") or {}
        rb = startup.get("rebuild") or {}
        snap = rb.get("snapshot") or {}
        cold = lc.get("cold_process") or {}
        lines += ["", "## Start-up", "",
                  "- Load + compile + register all packs: "
                  f"**{_fmt(lc.get('load_compile_s'), 3)} s** "
                  f"(load {_fmt(lc.get('load_s'), 3)} s, compile + register "
                  f"{_fmt(lc.get('compile_register_s'), 3)} s; median of {_fmt(lc.get('runs'))}). "
                  f"In a fresh process: imports {_fmt(cold.get('import_s'), 3)} s, then load + "
                  f"compile {_fmt(cold.get('load_compile_s'), 3)} s.",
                  f"- Rebuild from {_fmt(rb.get('events'))} stored events, as the sidecar "
                  "does without a snapshot (`Engine.replay`, then `Engine.evaluate` for the last "
                  f"{_fmt(rb.get('evaluated_events'))}): **{_fmt(rb.get('rebuild_s'), 2)} s** "
                  f"(read {_fmt(rb.get('parse_s'), 2)} s, replay "
                  f"{_fmt(rb.get('replay_s'), 2)} s, evaluate {_fmt(rb.get('evaluate_s'), 2)} s; "
                  f"{_fmt(rb.get('events_per_s'), 0)} events/s{rb.get('run', '')}).",
                  f"- The same state from a snapshot instead (`Engine.snapshot`, JSON "
                  f"{_fmt(snap.get('snapshot_mb'), 2)} MB, written in "
                  f"{_fmt(snap.get('snapshot_s'), 3)} s): `Engine.restore` in "
                  f"**{_fmt(snap.get('restore_s'), 3)} s**. The sidecar restores its last "
                  "snapshot on start and replays only the events stored after it; a change of "
                  "rule packs needs the full replay above."]
    notes = results.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    if images:
        lines += ["", "## Plots", ""] + [f"![{i}]({i})" for i in images]
    return "\n".join(lines) + "\n"
