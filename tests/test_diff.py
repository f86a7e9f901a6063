"""`mandate-rules diff`, run as a policy officer runs it (a real process, the real engine, the
shipped packs copied and edited): what a changed rule would have changed over the demo stream.

Each expected change is worked out by `candidates.expected` (each rule set run alone over the
stream, the advisories set side by side), and checked against what the edit means (the rule
regraded, dropped, or speaking on new events found in the stream's JSON)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mandate_rules._service._jobs import CLOCK_SOURCE

from .candidates import (
    ADDED_TRIGGER,
    DEMO,
    DROPPED,
    EXTENDED,
    REGRADED,
    Change,
    add_trigger,
    alone,
    copy_rules,
    demo_lines,
    drop,
    expected,
    regrade,
    reported,
)

EXE = shutil.which("mandate-rules") or str(Path(sys.executable).parent / "mandate-rules")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "300"}  # one table row per line, whatever the terminal
    return subprocess.run([EXE, "diff", *args], capture_output=True, text=True, timeout=300,
                          check=False, cwd=cwd, env=env)


def diff_json(candidate: Path, live: Path, events: Path = DEMO) -> dict[str, Any]:
    done = run("--rules", str(candidate), "--against", str(live), "--format", "json",
               str(events))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def table_rows(stdout: str) -> list[list[str]]:
    """The rows of the table of changes, each split into its cells."""
    section = stdout.split("Each change, with the events behind it:\n", 1)[1]
    rows = section.splitlines()[2:]  # the headings and their rule
    return [row.split("  ") for row in rows[:rows.index("")]]


def check_table(candidate: Path, live: Path, changes: set[Change]) -> None:
    done = run("--rules", str(candidate), "--against", str(live), str(DEMO))
    assert done.returncode == 0, done.stderr
    words = {"raise": "added", "drop": "dropped", "severity": "severity"}
    shown = []
    for row in table_rows(done.stdout):
        cells = [c.strip() for c in row if c.strip()]
        shown.append((cells[0], cells[1], cells[2], cells[-1]))
    assert len(shown) == len(changes)
    for kind, rule, evidence, before, after in changes:
        severity = f"{before} -> {after}" if before and after else (before or after)
        assert any(r[:3] == (rule, words[kind], severity)
                   and all(f"{ref_id} (" in r[3] for _, ref_id in evidence) for r in shown), \
            (kind, rule, evidence, shown)
    summary = done.stdout.split("What the candidate changes, per rule:\n", 1)[1]
    for rule in {c[1] for c in changes}:
        counts = [sum(1 for c in changes if c[1] == rule and c[0] == k)
                  for k in ("raise", "drop", "severity")]
        assert any(line.split()[:4] == [rule, *map(str, counts)]
                   for line in summary.splitlines()), (rule, counts, summary)


@pytest.mark.parametrize("edit", [regrade, drop, add_trigger])
def test_the_changes_of_a_candidate_over_the_demo_are_those_of_the_two_rule_sets_alone(
        edit: Callable[[Path], Path], tmp_path: Path) -> None:
    live = copy_rules(tmp_path / "live")
    candidate = edit(copy_rules(tmp_path / "candidate"))
    lines = demo_lines()
    changes = expected(live, candidate, lines)
    assert changes, "the edit changes nothing over the demo: choose another"

    result = diff_json(candidate, live)
    assert reported(result["changes"]) == changes
    assert result["summary"] == {
        rule: {k: sum(1 for c in changes if c[1] == rule and c[0] == k)
               for k in ("raise", "drop", "severity")}
        for rule in sorted({c[1] for c in changes})}
    assert result["events_compared"] == len(lines)
    check_table(candidate, live, changes)


def test_a_regraded_rule_changes_the_severity_of_each_of_its_advisories(
        tmp_path: Path) -> None:
    live = copy_rules(tmp_path / "live")
    candidate = regrade(copy_rules(tmp_path / "candidate"))
    theirs = alone(candidate, demo_lines())
    was = {k: v for k, v in alone(live, demo_lines()).items() if k[0] == REGRADED}
    assert set(theirs) == set(alone(live, demo_lines()))  # nothing raised or dropped
    result = diff_json(candidate, live)
    assert reported(result["changes"]) == {
        ("severity", REGRADED, k[2], severity, theirs[k])
        for k, severity in was.items() if severity != "critical"}
    # One of them is a deadline that passed between two events: a clock tick raised it, at
    # the deadline, not the next event.
    ticks = [c for c in result["changes"] if c["event"]["type"] == "clock.tick"]
    assert ticks
    assert all(c["event"]["line"] is None for c in ticks)
    assert all(c["raised_at"] <= c["event"]["time"] for c in ticks)
    assert result["ticks"] > 0


def test_a_dropped_rule_drops_each_of_its_advisories(tmp_path: Path) -> None:
    live = copy_rules(tmp_path / "live")
    candidate = drop(copy_rules(tmp_path / "candidate"))
    was = {k: v for k, v in alone(live, demo_lines()).items() if k[0] == DROPPED}
    assert was
    result = diff_json(candidate, live)
    assert reported(result["changes"]) == {("drop", DROPPED, k[2], severity, None)
                                           for k, severity in was.items()}


def test_an_added_trigger_raises_on_each_event_it_matches(tmp_path: Path) -> None:
    live = copy_rules(tmp_path / "live")
    candidate = add_trigger(copy_rules(tmp_path / "candidate"))
    lines = demo_lines()
    matched = [(obj["source"], obj["id"]) for obj in lines if obj["type"] == "asset.request"
               and obj["data"]["org"]["kind"] == "nngo"]
    assert matched
    result = diff_json(candidate, live)
    assert {(c["change"], c["rule_id"], tuple((e["source"], e["id"]) for e in c["evidence"]))
            for c in result["changes"]} == {("raise", EXTENDED, (m,)) for m in matched}
    by_line = {(obj["source"], obj["id"]): number
               for number, obj in enumerate(lines, start=1)}
    for change in result["changes"]:
        (evidence,) = change["evidence"]
        assert evidence["line"] == change["event"]["line"] == by_line[
            (evidence["source"], evidence["id"])]
    assert {k[1] for k in alone(candidate, lines) if k[0] == EXTENDED} >= {ADDED_TRIGGER}


def test_the_same_rules_change_nothing_and_the_live_ones_default_to_rules_here(
        tmp_path: Path) -> None:
    copy_rules(tmp_path / "rules")
    candidate = copy_rules(tmp_path / "candidate")
    done = run("--rules", str(candidate), str(DEMO), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"rules: rules{os.sep} (it holds bundle.yaml; --against DIR for others)" \
        in done.stderr
    assert "No change: the candidate raises the same advisories" in done.stdout
    done = run("--rules", str(candidate), "--format", "json", str(DEMO), cwd=tmp_path)
    assert json.loads(done.stdout)["changes"] == []


def test_bad_lines_are_named_by_file_and_line_and_nothing_is_compared(tmp_path: Path) -> None:
    good, *_ = demo_lines()
    bad_event = {**good, "id": "bad-1", "time": "yesterday"}
    decision = {"seq": 7, "recorded_at": "2026-11-02T06:41:00Z", "event": {
        "source": good["source"], "id": "x", "type": good["type"]}, "outcome": "evaluated",
        "advisory_ids": []}
    duplicate = {**decision, "outcome": "duplicate"}
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([json.dumps(good), "{oops", json.dumps(bad_event), "",
                                 json.dumps(decision), json.dumps(duplicate)]) + "\n")
    candidate = drop(copy_rules(tmp_path / "candidate"))
    done = run("--rules", str(candidate), "--against", str(tmp_path / "candidate"),
               str(events))
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"{events}:2: invalid-json: not valid JSON" in done.stderr
    assert f"{events}:3: invalid-event: time: expected an RFC 3339 date-time" in done.stderr
    assert f"{events}:5: decision-without-event: expected the evaluated event in " \
           "'cloudevent'" in done.stderr
    assert f"{events}:1:" not in done.stderr
    assert f"{events}:6:" not in done.stderr
    assert f"3 bad line(s) in {events}: nothing was compared" in done.stderr


def test_candidate_packs_that_do_not_load_are_named_and_nothing_is_compared(
        tmp_path: Path) -> None:
    candidate = copy_rules(tmp_path / "candidate")
    pack = candidate / "escorts.yaml"
    pack.write_text(pack.read_text().replace("    severity: critical\n",
                                             "    severity: grave\n", 1))
    done = run("--rules", str(candidate), "--against", str(copy_rules(tmp_path / "live")),
               str(DEMO))
    assert done.returncode == 2
    assert done.stdout == ""
    line = pack.read_text().splitlines().index("    severity: grave") + 1
    assert f"candidate{os.sep}escorts.yaml:{line}: bad-severity:" in done.stderr
    assert f"in the candidate rule packs ({candidate}): nothing was compared" in done.stderr


def test_the_sidecars_own_clock_ticks_in_an_export_are_applied_where_they_stand(
        tmp_path: Path) -> None:
    """An export holds the ticks the sidecar applied (from its clock source): a deadline that
    passed before one fires at it, as it did in the sidecar, not at a tick of diff's own."""
    live = copy_rules(tmp_path / "live")
    candidate = regrade(copy_rules(tmp_path / "candidate"))
    plain = diff_json(candidate, live)
    (passed,) = [c for c in plain["changes"] if c["event"]["type"] == "clock.tick"]
    lines = demo_lines()
    # the sidecar's tick: after the last event before the deadline, and before the next one
    before = max(n for n, obj in enumerate(lines)
                 if obj["country"] == "SOM" and obj["time"] < passed["raised_at"])
    tick_time = passed["raised_at"].replace(":00Z", ":30Z")
    assert lines[before + 1]["time"] > tick_time
    tick = {"specversion": "1.0", "id": f"tick-SOM-{tick_time}", "source": CLOCK_SOURCE,
            "type": "clock.tick", "time": tick_time, "country": "SOM"}
    stream = [*lines[:before + 1], tick, *lines[before + 1:]]
    export = tmp_path / "decisions.jsonl"
    export.write_text("".join(json.dumps({
        "seq": seq, "event": {"source": obj["source"], "id": obj["id"], "type": obj["type"]},
        "outcome": "evaluated", "cloudevent": obj}) + "\n" for seq, obj in enumerate(stream, 1)))

    result = diff_json(candidate, live, export)
    assert reported(result["changes"]) == reported(plain["changes"])
    (at_tick,) = [c for c in result["changes"] if c["event"]["type"] == "clock.tick"]
    assert at_tick["event"]["source"] == CLOCK_SOURCE
    assert at_tick["event"]["line"] == before + 2
    assert result["events_compared"] == len(stream)
