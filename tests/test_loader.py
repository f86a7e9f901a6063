"""The loader reports every problem of every file at once, each with file:line and a code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mandate_rules import RulePackError, check_bundle, load_bundle

from .helpers import RULES_DIR, pack, rule_yaml

BROKEN = """\
pack: broken
version: 0.0.1
rules:
  - id: TST-001
    title: unknown field
    on: [escort.request]
    when:
      - alternatives_considerd lacks acceptance_negotiation
    severity: warning
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
  - id: TST-002
    title: unknown operator
    on: [escort.request]
    when:
      - armed equals true
    severity: warning
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
  - id: TST-001
    title: duplicate id, bad severity, no advice
    on: [escort.request]
    when: [armed is true]
    severity: urgent
    actions: [a]
    references: [{source: s, checked: U}]
  - id: TST-004
    title: bad value, unknown set, unknown parameter, bad mark
    on: [escort.request]
    when:
      - provider.kind == mission_militray
      - provider.kind in ARMEDD
      - terms.separation_m < {min_gap}
    severity: warning
    advise: misspelt key
    advice: a
    actions: [a]
    references: [{source: s, checked: X}]
"""


def test_every_problem_is_reported_at_once_with_file_and_line(
        write_pack: Callable[..., Path]) -> None:
    root = write_pack({"broken.yaml": BROKEN})
    problems = check_bundle(root)
    found = {(p.file.split("/")[-1], p.line, p.code) for p in problems}
    assert found == {
        ("broken.yaml", 8, "unknown-field"),
        ("broken.yaml", 17, "unknown-operator"),
        ("broken.yaml", 22, "duplicate-rule"),
        ("broken.yaml", 26, "bad-severity"),
        ("broken.yaml", 22, "missing-advice"),
        ("broken.yaml", 33, "bad-value"),
        ("broken.yaml", 34, "unknown-set"),
        ("broken.yaml", 35, "unknown-parameter"),
        ("broken.yaml", 37, "unknown-key"),
        ("broken.yaml", 40, "bad-reference"),
    }
    by_code = {p.code: p.message for p in problems}
    assert "did you mean 'alternatives_considered'" in by_code["unknown-field"]
    assert "did you mean 'mission_military'" in by_code["bad-value"]
    assert "did you mean 'advice'" in by_code["unknown-key"]
    assert "already defined at" in by_code["duplicate-rule"]
    assert "did you mean 'ARMED'" not in by_code["unknown-set"]  # the test bundle has no ARMED
    assert str(problems[0]).startswith(problems[0].file + ":")


def test_load_raises_with_all_problems(write_pack: Callable[..., Path]) -> None:
    root = write_pack({"broken.yaml": BROKEN})
    with pytest.raises(RulePackError) as info:
        load_bundle(root)
    assert len(info.value.problems) == 10
    assert "broken.yaml:8: unknown-field" in str(info.value)


def test_problems_in_several_files_and_yaml_errors(write_pack: Callable[..., Path]) -> None:
    root = write_pack({
        "a.yaml": "pack: a\nrules:\n  - id: A\n    title: [unclosed\n",
        "b.yaml": "pack: b\npack: again\nrules: []\n",
        "c.yaml": pack(rule_yaml("CCC-001", "escort.reqest", ["armed is true"])),
    }, contexts={"SOM.yaml": "country: SOM\nversion: 1\nprofile:\n  emergency_typ: mixed\n"
                             "  mission: {party_to_conflict: maybe}\n"})
    codes = {(p.file.split("/")[-1], p.code) for p in check_bundle(root)}
    assert ("a.yaml", "yaml-syntax") in codes
    assert ("b.yaml", "duplicate-key") in codes
    assert ("c.yaml", "unknown-event-type") in codes
    assert ("SOM.yaml", "unknown-field") in codes
    assert ("SOM.yaml", "bad-context-value") in codes


@pytest.mark.parametrize(
    ("condition", "code", "words"),
    [
        ("armed == yes", "bad-value", "write 'armed is true'"),
        ("provider.kind < 3", "bad-operator", "compares numbers or times"),
        ("armed contains x", "bad-operator", "need a list"),
        ("alternatives_considered == route_change", "bad-operator", "use 'contains'"),
        ("any provider where kind == nsag", "bad-field", "holds several fields"),
        ("any movement_ids where kind == nsag", "bad-operator", "needs a list of objects"),
        ("decision.date > 2026", "bad-operand", "compare a time with another time"),
        ("terms.separation_m < data.decision.date", "bad-operand", "cannot compare"),
        ("terms.separation_m > terms.interspersed", "bad-operand", "looks like a field"),
        ("armed is maybe", "bad-operator", "after 'is'"),
        ("event.colour == red", "unknown-field", "not an envelope attribute"),
        ("context.mission.party == yes", "unknown-field", "did you mean"),
        ("armed is true and provider.kind == nsag", "bad-condition", "one condition per line"),
        ("provider.kind in [nsag, militia", "bad-condition", "ends too early"),
        ("decision.date > data.review.date + 3 weeks", "bad-duration", "unknown unit"),
        ("terms.separation_m > 0.00001", "bad-value", "too large or too small"),
    ],
)
def test_condition_problems(write_pack: Callable[..., Path], condition: str, code: str,
                            words: str) -> None:
    root = write_pack({"p.yaml": pack(rule_yaml("TST-001", "escort.request", [condition]))})
    problems = check_bundle(root)
    assert [p.code for p in problems] == [code], problems
    assert words in problems[0].message
    assert problems[0].line == 8


def test_parameters_are_substituted_and_overridable(write_pack: Callable[..., Path]) -> None:
    extra = "    parameters:\n      gap: {default: 50, description: minimum gap in metres}\n"
    root = write_pack({"p.yaml": pack(rule_yaml(
        "TST-001", "escort.request", ["terms.separation_m < {gap}"], extra=extra))})
    bundle = load_bundle(root)
    assert bundle.rules[0].triggers[0].when[0].text == "terms.separation_m < 50"
    tuned = load_bundle(root, parameters={"TST-001": {"gap": 80}})
    assert tuned.rules[0].triggers[0].when[0].text == "terms.separation_m < 80"
    assert tuned.version.hash != bundle.version.hash
    problems = check_bundle(root, parameters={"TST-001": {"gapp": 80}, "TST-009": {"x": 1}})
    assert sorted(p.code for p in problems) == ["unknown-parameter", "unknown-parameter"]
    assert any("did you mean 'gap'" in p.message for p in problems)


def test_escalation_must_rise(write_pack: Callable[..., Path]) -> None:
    extra = ("    escalate:\n      - to: advice\n        because: never\n"
             "        when: [provider.kind == nsag]\n")
    root = write_pack({"p.yaml": pack(rule_yaml("TST-001", "escort.request", ["armed is true"],
                                                extra=extra))})
    assert [p.code for p in check_bundle(root)] == ["bad-escalation"]


def test_the_shipped_packs_load_cleanly() -> None:
    assert check_bundle(RULES_DIR) == []
    bundle = load_bundle(RULES_DIR)
    ids = [r.id for r in bundle.rules]
    groups = ["ESC", "AST", "MOV", "DIS", "PRM", "COM", "INF", "ENG", "INT", "INC"]
    assert ids == sorted(ids, key=lambda i: (groups.index(i[:3]), i))  # the catalogue's order
    assert {"SOM", "PHL"} <= set(bundle.contexts)


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    problems = check_bundle(tmp_path / "nope")
    assert [p.code for p in problems] == ["no-rules-dir"]


def test_constructs_the_engine_cannot_decide_are_refused(write_pack: Callable[..., Path]) -> None:
    vehicles = ("      - none of:\n          - any vehicles where owner_kind == ingo and "
                "markings == unmarked\n")
    text = pack(rule_yaml("TST-001", "movement.request", ["status == requested"])).replace(
        "      - 'status == requested'\n", "      - status == requested\n" + vehicles)
    cited = pack(rule_yaml("TST-002", "incident.report", ["association_cited == cited"]))
    problems = check_bundle(write_pack({"a.yaml": text, "b.yaml": cited}))
    assert [(p.file.split("/")[-1], p.code) for p in problems] == [
        ("a.yaml", "unsupported"), ("b.yaml", "bad-value")]
    assert "compare it with true or false only" in problems[1].message


def test_bundle_conditions_lists_every_side(write_pack: Callable[..., Path]) -> None:
    extra = ("    escalate:\n      - to: critical\n        because: b\n"
             "        when: [provider.kind == nsag]\n")
    text = pack(rule_yaml("TST-001", "escort.request", ["armed is true"], extra=extra))
    text += ("  - id: TST-002\n    title: t\n    severity: info\n    advice: a\n"
             "    actions: [a]\n    references: [{source: s, checked: U}]\n    triggers:\n"
             "      - on: [movement.request]\n        when: [status == completed]\n"
             "        absence:\n          by: [entity_id]\n          within: 72 hours\n"
             "          until: {on: [movement.request], when: [debrief.submitted_at is present]}\n")
    bundle = load_bundle(write_pack({"p.yaml": text}))
    assert [n.text for n in bundle.conditions()] == [
        "armed is true", "provider.kind == nsag", "status == completed",
        "debrief.submitted_at is present", "context.mission.party_to_conflict in [yes, perceived]"]
