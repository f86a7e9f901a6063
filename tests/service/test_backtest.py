"""`mandate-rules diff` beside a real sidecar: over the sidecar's decision-log export, and
against the sidecar's shadow diff on the same stream (the two share one comparison)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..candidates import add_trigger, copy_rules, demo_lines, drop, expected, regrade, reported
from .server import Server

pytestmark = pytest.mark.both_backends

EXE = shutil.which("mandate-rules") or str(Path(sys.executable).parent / "mandate-rules")


def diff_json(candidate: Path, live: Path, events: Path) -> dict[str, Any]:
    done = subprocess.run([EXE, "diff", "--rules", str(candidate), "--against", str(live),
                           "--format", "json", str(events)], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_diff_runs_the_sidecars_decision_log_export(start_server: Callable[..., Server],
                                                     tmp_path: Path) -> None:
    live = copy_rules(tmp_path / "live")
    candidate = regrade(copy_rules(tmp_path / "candidate"))
    server = start_server(rules=live)
    client = server.client()
    lines = demo_lines()
    for number, event in enumerate(lines):
        assert client.events(event).status_code == 200
        if number == 4:  # a re-delivery: in the log, not evaluated again
            assert client.events(event).json()["duplicate"] is True
    response = client.get("/v1/decisions/export")
    assert response.status_code == 200, response.text
    export = tmp_path / "decisions.jsonl"
    export.write_text(response.text)

    rows = [json.loads(line) for line in response.text.splitlines()]
    assert [r["outcome"] for r in rows].count("duplicate") == 1
    assert [r["cloudevent"] for r in rows if r["outcome"] == "evaluated"] == lines
    assert all("cloudevent" not in r for r in rows if r["outcome"] == "duplicate")

    result = diff_json(candidate, live, export)
    assert result["events_compared"] == len(lines)
    assert result["redeliveries_skipped"] == 1
    changes = expected(live, candidate, lines)
    assert changes
    assert reported(result["changes"]) == changes
    # The lines named are the export's: the re-delivery (line 6) shifts those after it.
    by_id = {r["cloudevent"]["id"]: number for number, r in enumerate(rows, start=1)
             if r["outcome"] == "evaluated"}
    for change in result["changes"]:
        for evidence in change["evidence"]:
            assert evidence["line"] == by_id[evidence["id"]]


def test_diff_and_the_shadow_diff_agree_on_the_same_stream(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    live = copy_rules(tmp_path / "live")
    candidate = add_trigger(drop(regrade(copy_rules(tmp_path / "candidate"))))
    server = start_server(rules=live, args=["--shadow", str(candidate)])
    client = server.client()
    lines = demo_lines()
    assert client.events(lines).status_code == 200
    shadow = client.get("/v1/shadow/diff", params={"limit": "1000"}).json()
    assert shadow["next_cursor"] is None
    stream = tmp_path / "demo.jsonl"
    stream.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    result = diff_json(candidate, live, stream)

    assert (result["live"], result["candidate"]) == (shadow["live"], shadow["candidate"])
    assert result["summary"] == shadow["summary"]
    assert {k for counts in shadow["summary"].values() for k, n in counts.items() if n} == {
        "raise", "drop", "severity"}

    def brief(change: dict[str, Any]) -> tuple[Any, ...]:
        return (change["change"], change["rule_id"], json.dumps(change["live"]),
                json.dumps(change["candidate"]))

    assert Counter(map(brief, result["changes"])) == Counter(map(brief, shadow["changes"]))
    # Each change is told against the same event, but for a deadline that passed between two
    # events: the sidecar (its clock off here) saw it when the next event came, diff with a
    # clock tick at that event's time, as the sidecar's ticks would.
    seen = {brief(c): c["event"] for c in shadow["changes"]}
    for change in result["changes"]:
        event = seen[brief(change)]
        if change["event"]["type"] == "clock.tick":
            (next_event,) = [obj for obj in lines if obj["id"] == event["id"]]
            assert next_event["time"] == change["event"]["time"]
        else:
            assert (event["source"], event["id"]) == (change["event"]["source"],
                                                      change["event"]["id"])
    assert reported(result["changes"]) == expected(live, candidate, lines)
