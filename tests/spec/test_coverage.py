"""Rule coverage: what counts, and when it is enforced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mandate_rules._spec.coverage import compute, not_enforced_reason

ROOT = Path("/project")
A, B = ROOT / "features/a.feature", ROOT / "features/sub/b.feature"


def record(nodeid: str, outcome: str, raised: list[str], not_raised: list[str]
           ) -> dict[str, Any]:
    return {"nodeid": nodeid, "outcome": outcome, "rules_raised": raised,
            "rules_not_raised": not_raised}


def test_a_rule_needs_a_passing_raising_and_a_passing_near_miss_scenario() -> None:
    coverage = compute(["ESC-001", "ESC-002", "ESC-003"], [
        record("a::raises_1", "passed", ["ESC-001", "ESC-002"], []),
        record("a::near_1", "passed", [], ["ESC-001"]),
        record("a::near_2", "failed", [], ["ESC-002"]),  # a failing scenario does not count
        record("a::near_3", "skipped", [], ["ESC-003"]),
        record("a::other", "passed", ["XYZ-001"], []),   # not a rule in the rules directory
    ])
    assert coverage.missing() == [("ESC-002", ["not_raised"]),
                                  ("ESC-003", ["raised", "not_raised"])]
    assert coverage.to_json() == {
        "rules": ["ESC-001", "ESC-002", "ESC-003"],
        "raised": {"ESC-001": ["a::raises_1"], "ESC-002": ["a::raises_1"], "ESC-003": []},
        "not_raised": {"ESC-001": ["a::near_1"], "ESC-002": [], "ESC-003": []},
        "missing": [{"rule": "ESC-002", "lacks": ["not_raised"]},
                    {"rule": "ESC-003", "lacks": ["raised", "not_raised"]}],
    }


def reason(collected: dict[Path, int], selected: dict[Path, int],
           files: tuple[Path, ...] = (A, B)) -> str | None:
    return not_enforced_reason(feature_files=list(files), collected=collected,
                               selected=selected, features_label="features/", root=ROOT)


def test_coverage_is_enforced_only_when_every_scenario_of_every_file_runs() -> None:
    assert reason({A: 3, B: 2}, {A: 3, B: 2}) is None
    assert reason({A: 3}, {A: 3}) == ("not every feature file in features/ was collected "
                                      "(features/sub/b.feature was not)")
    assert reason({A: 3, B: 2}, {A: 1, B: 2}) == ("only some scenarios were selected "
                                                  "(features/a.feature: 1 of 3)")
    assert reason({A: 3, B: 2}, {A: 3}) == ("only some scenarios were selected "
                                            "(features/sub/b.feature: 0 of 2)")
    assert reason({}, {}, files=()) == "there are no feature files in features/"
