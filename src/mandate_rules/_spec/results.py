"""The results of the policy scenarios, per scenario, for the living documentation.

``pytest --policy-report PATH`` writes them as one JSON document (UTF-8, the parent folder is
created). ``mandate-rules spec`` (the HTML page) reads it. Shape, version 1::

    {
      "format": "mandate-rules policy report",
      "version": 1,
      "created": "2026-11-27T10:00:00Z",          # when the run ended (UTC)
      "rootdir": "/path/to/project",
      "features_dir": "features",                 # relative to rootdir when inside it
      "rules_dir": "rules",
      "summary": {"scenarios": 60, "passed": 59, "failed": 1, "skipped": 0},
      "coverage": {
        "enforced": true,                          # false: see "reason"
        "reason": null,                            # why coverage was not enforced, in words
        "rules": ["ESC-001", ...],                 # every rule in rules_dir, in catalogue order
        "raised": {"ESC-001": ["<nodeid>", ...]},  # passing scenarios asserting it is raised
        "not_raised": {"ESC-001": ["<nodeid>"]},   # passing scenarios asserting it is not
        "missing": [{"rule": "ESC-002", "lacks": ["not_raised"]}],
        "error": null                              # the rules did not load: the message
      },
      "refused": [                                 # feature files that could not run
        {"file": "features/bad.feature", "line": 2,
         "problems": ["features/bad.feature: line 2: 'Scenaro:' is not a Gherkin keyword..."]}
      ],
      "scenarios": [
        {
          "nodeid": "features/escorts.feature::test_an_escort_from_a_party[SOM-critical]",
          "file": "features/escorts.feature",      # relative to rootdir
          "feature": "Armed escorts (ESC)",
          "feature_description": "...",            # the text under the Feature line
          "rule": null,                            # the Gherkin `Rule:` it is under, if any
          "scenario": "An escort from a party",    # outline placeholders filled in
          "keyword": "Scenario Outline",
          "line": 12,                              # the Scenario line
          "description": "",                       # the text under the Scenario line
          "tags": ["wip"],
          "example": {"country": "SOM"},           # the Examples row, or null
          "steps": [
            {"keyword": "Given", "type": "given", "text": "an operation in SOM",
             "line": 13,
             "table": [["field", "value"], ["armed", "yes"]],   # or null; header included
             "docstring": null,
             "status": "passed"}                   # passed | failed | undefined | skipped
          ],
          "rules_raised": ["ESC-004"],             # rule ids its Then steps say are raised
          "rules_not_raised": ["ESC-005"],         # ... say are not raised
          "outcome": "passed",                     # passed | failed | skipped
          "message": null,                         # the plain-words failure message
          "duration": 0.012                        # seconds
        }
      ]
    }

A step's status is ``skipped`` when an earlier step failed (or the scenario was skipped), and
``undefined`` when its sentence is not in the phrasebook. Rule ids are as written in the Then
steps, in order, each once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from .._models import format_time
from .phrasebook import checked_rules

if TYPE_CHECKING:
    from pytest_bdd.parser import Feature, Scenario, ScenarioTemplate, Step

__all__ = [
    "CURRENT_STEP",
    "PROPERTY",
    "TRACE",
    "Trace",
    "report_document",
    "scenario_record",
    "write_report",
]

FORMAT = "mandate-rules policy report"
VERSION = 1
# The name under which a scenario's record travels in `report.user_properties`.
PROPERTY = "mandate_rules_scenario"


@attrs.define
class Trace:
    """What happened in one scenario, step by step (kept in the test item's stash)."""

    feature: Feature
    scenario: Scenario
    status: list[str]
    failed_step: Step | None = None
    error: BaseException | None = None
    undefined: bool = False

    @classmethod
    def start(cls, feature: Feature, scenario: Scenario) -> Trace:
        return cls(feature, scenario, ["skipped"] * len(scenario.steps))

    def mark(self, step: Step, status: str) -> None:
        for index, candidate in enumerate(self.scenario.steps):
            if candidate is step:
                self.status[index] = status
                return


CURRENT_STEP = pytest.StashKey["Step"]()
TRACE = pytest.StashKey[Trace]()


def _table(step: Step) -> list[list[str]] | None:
    if step.datatable is None:
        return None
    return [[str(cell) for cell in row] for row in step.datatable.raw()]


def _rules(steps: Sequence[Step]) -> tuple[list[str], list[str]]:
    raised: dict[str, None] = {}
    not_raised: dict[str, None] = {}
    for step in steps:
        if step.type != "then":
            continue
        for rule, is_raised in checked_rules("then", step.name):
            (raised if is_raised else not_raised)[rule] = None
    return list(raised), list(not_raised)


def scenario_record(*, nodeid: str, file: str, feature: Feature,
                    scenario: Scenario | ScenarioTemplate, steps: Sequence[Step],
                    status: Sequence[str], example: Mapping[str, str] | None, outcome: str,
                    message: str | None, duration: float) -> dict[str, Any]:
    """One scenario's record (see the module docstring)."""
    raised, not_raised = _rules(steps)
    return {
        "nodeid": nodeid,
        "file": file,
        "feature": feature.name,
        "feature_description": feature.description.strip(),
        "rule": scenario.rule.name if scenario.rule is not None else None,
        "scenario": scenario.name,
        "keyword": scenario.keyword,
        "line": scenario.line_number,
        "description": (scenario.description or "").strip(),
        "tags": sorted(scenario.tags),
        "example": dict(example) if example is not None else None,
        "steps": [{"keyword": step.keyword.strip(), "type": step.type, "text": step.name,
                   "line": step.line_number, "table": _table(step), "docstring": step.docstring,
                   "status": state}
                  for step, state in zip(steps, status, strict=True)],
        "rules_raised": raised,
        "rules_not_raised": not_raised,
        "outcome": outcome,
        "message": message,
        "duration": round(duration, 6),
    }


def report_document(*, rootdir: Path, features_dir: str, rules_dir: str,
                    scenarios: Sequence[Mapping[str, Any]],
                    coverage: Mapping[str, Any],
                    refused: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    outcomes = [s["outcome"] for s in scenarios]
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": format_time(dt.datetime.now(dt.UTC).replace(microsecond=0)),
        "rootdir": str(rootdir),
        "features_dir": features_dir,
        "rules_dir": rules_dir,
        "summary": {"scenarios": len(scenarios), "passed": outcomes.count("passed"),
                    "failed": outcomes.count("failed"), "skipped": outcomes.count("skipped")},
        "coverage": dict(coverage),
        "refused": list(refused),
        "scenarios": list(scenarios),
    }


def write_report(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
