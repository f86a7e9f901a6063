"""Candidate rule packs for the backtest's tests: the shipped packs copied and edited the way a
policy officer edits them, and what each candidate changes over the demo stream, worked out
without the backtest or its comparison (each rule set run alone, the results set side by side).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mandate_rules import Engine, Event

from .helpers import RULES_DIR

DEMO = Path(__file__).resolve().parent.parent / "src" / "mandate_rules" / "demo" / "somalia.jsonl"

REGRADED = "ESC-009"  # warning -> critical; it has deadlines, so ticks matter
DROPPED = "ESC-004"
EXTENDED = "ESC-001"  # gains a trigger on asset.request from national NGOs
ADDED_TRIGGER = "asset-from-national-ngo"

# Evidence is (source, id) pairs; a change is (kind, rule, evidence, live severity, candidate's).
Key = tuple[str, str, tuple[tuple[str, str], ...]]
Change = tuple[str, str, tuple[tuple[str, str], ...], str | None, str | None]


def demo_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEMO.read_text().splitlines() if line.strip()]


def copy_rules(to: Path) -> Path:
    shutil.copytree(RULES_DIR, to)
    return to


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is no longer in {path.name}: update the test"
    path.write_text(text.replace(old, new))


def regrade(rules: Path) -> Path:
    """ESC-009's own severity raised from warning to critical."""
    _edit(rules / "escorts.yaml",
          "  - id: ESC-009\n    title: No review date or discontinuation plan\n"
          "    severity: warning\n",
          "  - id: ESC-009\n    title: No review date or discontinuation plan\n"
          "    severity: critical\n")
    return rules


def drop(rules: Path) -> Path:
    """ESC-004 taken out of its pack."""
    path = rules / "escorts.yaml"
    text = path.read_text()
    start, end = text.index("  - id: ESC-004\n"), text.index("  - id: ESC-005\n")
    path.write_text(text[:start] + text[end:])
    return rules


def add_trigger(rules: Path) -> Path:
    """ESC-001 speaks also on an asset request from a national NGO (its last trigger)."""
    _edit(rules / "escorts.yaml",
          "          - escort.request_id is missing\n",
          "          - escort.request_id is missing\n"
          f"      - name: {ADDED_TRIGGER}\n"
          "        on: [asset.request]\n"
          "        when:\n"
          "          - org.kind in [nngo]\n")
    return rules


def alone(rules: Path, lines: Sequence[dict[str, Any]]) -> dict[Key, str]:
    """Every advisory the rules raise over `lines` by themselves, in order, each operation's
    clock moved on to the last event's time at the end: severity by rule, trigger, evidence."""
    engine = Engine.from_directory(rules)
    events = [Event.from_json(obj) for obj in lines]
    raised = [a for e in events for a in engine.evaluate(e)]
    end = max(e.time for e in events)
    raised += [a for country in sorted({e.country for e in events})
               for a in engine.advance(country, end)]
    out: dict[Key, str] = {}
    for advisory in raised:
        key = (advisory.rule_id, advisory.trigger,
               tuple((ref.source, ref.id) for ref in advisory.evidence))
        assert key not in out, f"two advisories about {key}"
        out[key] = advisory.severity.value
    return out


def expected(live: Path, candidate: Path, lines: Sequence[dict[str, Any]]) -> set[Change]:
    """What the candidate changes: the two sets of advisories side by side."""
    mine, theirs = alone(live, lines), alone(candidate, lines)
    return ({("raise", k[0], k[2], None, theirs[k]) for k in theirs.keys() - mine.keys()}
            | {("drop", k[0], k[2], mine[k], None) for k in mine.keys() - theirs.keys()}
            | {("severity", k[0], k[2], mine[k], theirs[k]) for k in mine.keys() & theirs.keys()
               if mine[k] != theirs[k]})


def reported(changes: Sequence[dict[str, Any]]) -> set[Change]:
    """The changes of `diff --format json` (or of the shadow diff, with `evidence` from the
    advisories) in the form of `expected`."""
    out = set()
    for change in changes:
        live, candidate = change["live"], change["candidate"]
        out.add((change["change"], change["rule_id"],
                 tuple((e["source"], e["id"]) for e in change["evidence"]),
                 live["severity"] if live else None,
                 candidate["severity"] if candidate else None))
    assert len(out) == len(changes), "a change was reported twice"
    return out
