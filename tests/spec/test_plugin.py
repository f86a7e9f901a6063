"""The pytest plugin, run as policy staff run it: plain pytest on a project with features/.

Each test builds a throw-away project (a copy of the escort and asset packs, and feature files
written here) and runs pytest on it in this process.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from mandate_rules._spec import collect, plugin
from mandate_rules._spec.lookalikes import differences, normalise

from .conftest import FEATURES_DIR, OWN_FEATURES, Project

pytest_plugins = ["pytester"]

ESCORTS = """
    Feature: Escorts
      Scenario: An escort from the mission, seen as a party
        Given an operation in SOM
        When an escort request is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
        Then ESC-004 is raised as critical

      Scenario: The same escort again, in a scenario of its own
        Given an operation in SOM
        When an escort request is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
        Then ESC-004 is raised once

      Scenario Outline: An escort by <provider>
        Given an operation in SOM
        When an escort request is recorded:
          | field         | value      |
          | armed         | yes        |
          | provider.kind | <provider> |
        Then ESC-005 is <outcome>

        Examples:
          | provider        | outcome            |
          | militia         | raised as critical |
          | national_police | not raised         |
    """

ASSETS = """
    Feature: Assets
      Scenario: A mission helicopter
        Given an operation in SOM
        When an asset request is recorded:
          | field            | value            |
          | asset.kind       | helicopter       |
          | asset.owner_kind | mission_military |
        Then AST-005 is raised as critical
    """


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return result.parseoutcomes()


def test_feature_files_run_with_plain_pytest_and_node_ids_name_the_file(project: Project
                                                                        ) -> None:
    project.feature("escorts.feature", ESCORTS)
    (project.features / "more").mkdir()
    project.feature("more/assets.feature", ASSETS)
    assert not list(project.path.rglob("test_*.py"))
    assert not list(project.path.rglob("conftest.py"))

    listed = project.run("--collect-only", "-q")
    assert listed.ret == 0
    assert "policy" not in listed.stdout.str()
    ids = [line for line in listed.outlines if "::" in line]
    assert ids == [
        "features/escorts.feature::test_an_escort_from_the_mission_seen_as_a_party",
        "features/escorts.feature::test_the_same_escort_again_in_a_scenario_of_its_own",
        "features/escorts.feature::test_an_escort_by_provider[militia-raised as critical]",
        "features/escorts.feature::test_an_escort_by_provider[national_police-not raised]",
        "features/more/assets.feature::test_a_mission_helicopter",
    ]

    one = project.run("features/escorts.feature", "-v")
    assert outcomes(one) == {"passed": 4}  # the second scenario's engine kept nothing
    assert "features/more/assets.feature::" not in one.stdout.str()
    one.stdout.fnmatch_lines(["policy rule coverage: not checked, because not every feature "
                              "file in features/ was collected (features/more/assets.feature "
                              "was not)"])
    assert one.ret == 0


def test_a_project_without_features_is_not_affected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_inprocess("--policy-report", "report.json")
    assert result.ret == 0
    assert outcomes(result) == {"passed": 1}
    assert "policy" not in result.stdout.str()
    report = json.loads((pytester.path / "report.json").read_text("utf-8"))
    assert report["scenarios"] == []
    assert report["coverage"]["enforced"] is False


MISTAKES = {
    "a misspelt keyword": (
        """
        Feature: Typos
          Scenaro: A misspelt keyword
            Given an operation in SOM
            When 1 day passes
            Then ESC-004 is not raised
        """,
        ["features/bad.feature: line 2: 'Scenaro:' is not a Gherkin keyword - did you mean "
         "'Scenario:'? *",
         "features/bad.feature: line 3: 'Given an operation in SOM' is read as plain text in "
         "the feature description, not as a step: steps belong under a Scenario line"]),
    "a colon after Given": (
        """
        Feature: Colons
          Scenario: A colon after the keyword
            Given: an operation in SOM
            When 1 day passes
            Then ESC-004 is not raised
        """,
        ["features/bad.feature: line 3: 'Given: an operation in SOM' is read as plain text in "
         "the description of scenario 'A colon after the keyword', not as a step: remove the "
         "colon after 'Given' ('Given an operation in SOM')"]),
    "duplicate scenario names": (
        """
        Feature: Duplicates
          Scenario: The same name
            When 1 day passes
            Then ESC-004 is not raised

          Scenario: The same name
            When 2 days pass
            Then ESC-004 is not raised
        """,
        ["features/bad.feature: line 6: the scenario name 'The same name' is already used on "
         "line 2; give each scenario its own name (otherwise only the last one runs)"]),
    "a placeholder that is not a column": (
        """
        Feature: Placeholders
          Scenario Outline: An escort by <provider>
            When an escort request is recorded:
              | field         | value      |
              | armed         | yes        |
              | provider.kind | <provdier> |
            Then ESC-005 is not raised

            Examples:
              | provider        |
              | national_police |
        """,
        ["features/bad.feature: line 6: <provdier> is not a column of the Examples table on "
         "line 9 (columns: provider); did you mean <provider>?"]),
    "a scenario without Then": (
        """
        Feature: No Then
          Scenario: Nothing is checked
            Given an operation in SOM
            When an escort request is recorded:
              | field | value |
              | armed | yes   |
        """,
        ["features/bad.feature: line 2: scenario 'Nothing is checked' has no Then step, so it "
         "checks nothing"]),
    "a table row with a cell missing": (
        """
        Feature: Tables
          Scenario: A short row
            When an escort request is recorded:
              | field | value |
              | armed |
            Then ESC-004 is not raised
        """,
        ["features/bad.feature: line 5: every row of a table must have the same number of | "
         "cells"]),
}


@pytest.mark.parametrize(("text", "expected"), MISTAKES.values(), ids=MISTAKES.keys())
def test_a_misread_file_fails_as_a_test_of_its_own_naming_the_line_and_the_rest_runs(
        project: Project, text: str, expected: list[str]) -> None:
    project.feature("good.feature", ASSETS)
    project.feature("bad.feature", text)
    result = project.run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes(result) == {"failed": 1, "passed": 1}  # good.feature ran
    result.stdout.fnmatch_lines([
        "*_ features/bad.feature (refused) _*",
        "features/bad.feature was refused, so none of its scenarios ran:", *expected,
        "policy rule coverage: not checked, because a feature file was refused "
        "(features/bad.feature), so its scenarios did not run",
        "FAILED features/bad.feature::refused - features/bad.feature was refused*"])
    assert "Traceback" not in result.stdout.str()
    assert "Interrupted" not in result.stdout.str()


def test_a_refused_file_fails_the_run_whatever_is_selected(project: Project) -> None:
    project.feature("good.feature", ASSETS)
    project.feature("bad.feature", MISTAKES["a scenario without Then"][0])
    for args in (("-k", "helicopter"), ("-m", "skip")):
        result = project.run(*args, "--policy-report", "report.json")
        assert result.ret == pytest.ExitCode.TESTS_FAILED, args
        assert outcomes(result)["failed"] == 1, args
        result.stdout.fnmatch_lines(["features/bad.feature: line 2: scenario 'Nothing is "
                                     "checked' has no Then step, so it checks nothing"])
        report = json.loads((project.path / "report.json").read_text("utf-8"))
        assert report["refused"] == [{
            "file": "features/bad.feature", "line": 2,
            "problems": ["features/bad.feature: line 2: scenario 'Nothing is checked' has no "
                         "Then step, so it checks nothing"]}]


FAILURES = """
    Feature: Failures
      Scenario: A misspelt sentence
        Given an operation in SOM
        When a humanitarian organisation request an armed escort
        Then ESC-004 is raised

      Scenario: A wrong expectation
        Given an operation in SOM
        And an escort request is recorded:
          | field           | value           |
          | armed           | yes             |
          | provider.kind   | national_police |
          | decision.status | requested       |
        When an escort request is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
        Then ESC-004 is raised as warning

      Scenario: A field the event does not have
        When an escort request is recorded:
          | field        | value |
          | armed        | yes   |
          | provder.kind | nsag  |
        Then ESC-005 is raised

      Scenario: A context sentence after the first event
        When 1 day passes
        Given the mission is a party to the conflict
        Then ESC-004 is not raised

      Scenario: A Then sentence after When
        When 1 day passes
        And ESC-004 is raised
        Then ESC-004 is not raised

      Scenario: A rule id with a typo cannot pass as a near miss
        When 1 day passes
        Then ESC-099 is not raised

      Scenario: Given events are history
        Given an escort request is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
        When 1 day passes
        Then ESC-001 is not raised
    """


def test_failures_are_written_for_policy_staff(project: Project) -> None:
    project.feature("failures.feature", FAILURES)
    result = project.run()
    assert outcomes(result) == {"failed": 6, "passed": 1}
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        'features/failures.feature:4: in scenario "A misspelt sentence"',
        "    When a humanitarian organisation request an armed escort",
        "",
        "  This sentence is not in the phrasebook, so it cannot be run.",
        "  The closest known sentences:",
        "      When an asset request is recorded:",
        "      When an escort request is recorded:",
        "*",
        "  `mandate-rules phrasebook` prints every sentence.",
    ])
    result.stdout.fnmatch_lines([
        'features/failures.feature:18: in scenario "A wrong expectation"',
        "    Then ESC-004 is raised as warning",
        "",
        "  Expected ESC-004 to be raised as warning, but it was raised as critical.",
        "  What the When steps (line 14) raised:",
        "    - ESC-001 as critical: Armed escort requested without documented alternatives "
        "(from an escort request on line 14)",
        "    - ESC-002 as warning: *",
        "    - ESC-004 as critical: Escort provider is, or is seen as, a party to the conflict "
        "(from an escort request on line 14)",
        "    - ESC-008 as warning: *",
        "  Raised by Given steps (the scene; not checked):",
        "    - ESC-001 as critical: * (from an escort request on line 9)",
    ])
    result.stdout.fnmatch_lines([
        'features/failures.feature:21: in scenario "A field the event does not have"',
        "    When an escort request is recorded:",
        "",
        "  row 2 of the table (line 24), `provder.kind`: an escort request has no field "
        "`provder.kind`; did you mean `provider.kind`*",
    ])
    result.stdout.fnmatch_lines([
        'features/failures.feature:29: in scenario "A context sentence after the first event"',
        "    Given the mission is a party to the conflict",
        "",
        "  the operation and its context must be set before the first event or time step "
        "(line 28), but this sentence on line 29 comes after it.",
    ])
    result.stdout.fnmatch_lines([
        'features/failures.feature:34: in scenario "A Then sentence after When"',
        "    And ESC-004 is raised",
        "*",
        "  It is a sentence for Then: write it after Then (or after And or But following a "
        "Then step).",
    ])
    result.stdout.fnmatch_lines([
        'features/failures.feature:39: in scenario "A rule id with a typo cannot pass as a '
        'near miss"',
        "    Then ESC-099 is not raised",
        "",
        "  ESC-099 is not a rule in rules; did you mean ESC-009?",
    ])
    text = result.stdout.str()
    assert "Traceback" not in text
    assert "scenario.py" not in text  # no pytest-bdd internals
    raw = project.run("--policy-raw-errors", "-k", "wrong")
    assert "mandate_rules._spec.errors.ExpectationNotMet: Expected ESC-004" in raw.stdout.str()


def test_coverage_fails_the_run_when_a_rule_loses_its_near_miss_scenario(
        project: Project) -> None:
    for name in OWN_FEATURES:
        shutil.copy(FEATURES_DIR / name, project.features / name)
    complete = project.run()
    assert complete.ret == 0, complete.stdout.str()
    assert "failed" not in outcomes(complete)
    complete.stdout.fnmatch_lines(["*policy rule coverage: 20 of 20 rules covered*"])

    escorts = project.features / "escorts.feature"
    text = escorts.read_text("utf-8")
    title = "  Scenario: Near miss - the escort is provided without payment\n"
    start = text.index(title)
    end = text.index("\n\n", start) + 2
    assert "ESC-006 is not raised" in text[start:end]
    escorts.write_text(text[:start] + text[end:], "utf-8")
    assert "ESC-006 is not raised" not in escorts.read_text("utf-8")

    result = project.run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "failed" not in outcomes(result)  # every scenario passed; coverage failed the run
    result.stdout.fnmatch_lines([
        "*policy rule coverage: 19 of 20 rules covered*",
        "MISSING ESC-006: needs a passing near-miss scenario where it is not (Then ESC-006 is "
        "not raised)",
        "Every rule in rules needs both; the run fails until each has them.",
    ])
    assert len(re.findall(r"^MISSING ", result.stdout.str(), re.MULTILINE)) == 1
    # the last line says why the run failed, after pytest's "N passed" line
    assert re.fullmatch(r"=+ \d+ passed in .* =+", result.outlines[-2])
    assert result.outlines[-1] == ("FAILED policy rule coverage: rules without a passing near "
                                   "miss (not raised): ESC-006")


def test_coverage_is_checked_only_when_the_whole_features_folder_runs(project: Project
                                                                      ) -> None:
    project.feature("escorts.feature", ESCORTS)
    project.feature("assets.feature", ASSETS)
    whole = project.run()
    assert whole.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes(whole) == {"passed": 5}
    whole.stdout.fnmatch_lines(["*policy rule coverage: 1 of 20 rules covered*",
                                "MISSING ESC-001: needs a passing scenario where it is raised "
                                "(Then ESC-001 is raised ...), and a passing near-miss scenario "
                                "where it is not (Then ESC-001 is not raised)"])
    assert whole.outlines[-1].startswith(
        "FAILED policy rule coverage: rules without a passing scenario that raises them: "
        "ESC-001, ESC-002, ESC-003, ESC-006, ESC-007")
    assert "; rules without a passing near miss (not raised): ESC-001, " in whole.outlines[-1]
    for args, reason in [
        (("features/escorts.feature",), "not every feature file in features/ was collected"),
        (("-k", "helicopter"), "only some scenarios were selected (features/escorts.feature: 0 "
                               "of 4)"),
        (("features/escorts.feature::test_an_escort_from_the_mission_seen_as_a_party",
          "features/assets.feature"), "only some scenarios were selected"),
        (("--no-policy-coverage",), "--no-policy-coverage was given"),
    ]:
        result = project.run(*args)
        assert result.ret == 0, (args, result.stdout.str())
        result.stdout.fnmatch_lines([f"policy rule coverage: not checked, because {reason}*"])
        assert "MISSING" not in result.stdout.str()
    stopped = project.run("-x", "features/escorts.feature", "features/assets.feature")
    assert stopped.ret == pytest.ExitCode.TESTS_FAILED  # all passed: -x did not stop the run


def test_the_results_file_records_every_scenario(project: Project) -> None:
    project.feature("escorts.feature", ESCORTS + """
      @skip
      Scenario: Not ready
        When 1 day passes
        Then ESC-004 is not raised

      Scenario: Fails
        When 1 day passes
        Then ESC-004 is raised
    """)
    result = project.run("--policy-report", "out/report.json")
    assert outcomes(result) == {"passed": 4, "failed": 1, "skipped": 1}
    report = json.loads((project.path / "out" / "report.json").read_text("utf-8"))
    assert report["format"] == "mandate-rules policy report"
    assert report["version"] == 1
    assert report["features_dir"] == "features"
    assert report["rules_dir"] == "rules"
    assert report["summary"] == {"scenarios": 6, "passed": 4, "failed": 1, "skipped": 1}
    assert report["coverage"]["enforced"] is True
    assert report["coverage"]["raised"]["ESC-005"] == [
        "features/escorts.feature::test_an_escort_by_provider[militia-raised as critical]"]
    assert {"rule": "ESC-001", "lacks": ["raised", "not_raised"]} in report["coverage"][
        "missing"]
    by_name = {s["scenario"]: s for s in report["scenarios"]}
    first = by_name["An escort from the mission, seen as a party"]
    assert first == {
        "nodeid": "features/escorts.feature::test_an_escort_from_the_mission_seen_as_a_party",
        "file": "features/escorts.feature", "feature": "Escorts", "feature_description": "",
        "rule": None, "scenario": "An escort from the mission, seen as a party",
        "keyword": "Scenario", "line": 2, "description": "", "tags": [], "example": None,
        "steps": [
            {"keyword": "Given", "type": "given", "text": "an operation in SOM", "line": 3,
             "table": None, "docstring": None, "status": "passed"},
            {"keyword": "When", "type": "when", "text": "an escort request is recorded:",
             "line": 4, "table": [["field", "value"], ["armed", "yes"],
                                  ["provider.kind", "mission_military"]],
             "docstring": None, "status": "passed"},
            {"keyword": "Then", "type": "then", "text": "ESC-004 is raised as critical",
             "line": 8, "table": None, "docstring": None, "status": "passed"}],
        "rules_raised": ["ESC-004"], "rules_not_raised": [], "outcome": "passed",
        "message": None, "duration": first["duration"]}
    militia = by_name["An escort by militia"]
    assert militia["keyword"] == "Scenario Outline"
    assert militia["example"] == {"provider": "militia", "outcome": "raised as critical"}
    assert militia["steps"][1]["table"][2] == ["provider.kind", "militia"]
    assert by_name["An escort by national_police"]["rules_not_raised"] == ["ESC-005"]
    skipped = by_name["Not ready"]
    assert (skipped["outcome"], skipped["tags"]) == ("skipped", ["skip"])
    assert {s["status"] for s in skipped["steps"]} == {"skipped"}
    failed = by_name["Fails"]
    assert failed["outcome"] == "failed"
    assert [s["status"] for s in failed["steps"]] == ["passed", "failed"]
    assert failed["message"].startswith('features/escorts.feature:')
    assert "Expected ESC-004 to be raised, but it was not raised." in failed["message"]


def test_an_unknown_sentence_is_recorded_as_undefined(project: Project) -> None:
    project.feature("escorts.feature", """
        Feature: Unknown
          Scenario: Misspelt
            Given an operation in SOM
            When an escort is asked for
            Then ESC-004 is raised
        """)
    result = project.run("--policy-report", "report.json")
    assert outcomes(result) == {"failed": 1}
    report = json.loads((project.path / "report.json").read_text("utf-8"))
    assert [s["status"] for s in report["scenarios"][0]["steps"]] == [
        "passed", "undefined", "skipped"]


def test_tags_select_scenarios_under_strict_markers(project: Project) -> None:
    project.feature("escorts.feature", ESCORTS.replace(
        "  Scenario: The same escort", "  @wip @ESC-004\n      Scenario: The same escort"))
    result = project.run("-m", "wip")
    assert result.ret == 0, result.stdout.str()
    assert outcomes(result) == {"passed": 1, "deselected": 3}


def test_rules_that_do_not_load_stop_every_scenario_with_their_problems(
        project: Project) -> None:
    pack = project.path / "rules" / "escorts.yaml"
    pack.write_text(pack.read_text("utf-8").replace("severity: critical", "severity: severe",
                                                    1), "utf-8")
    project.feature("assets.feature", ASSETS)
    result = project.run()
    assert outcomes(result) == {"failed": 1}
    result.stdout.fnmatch_lines([
        "  the rules in rules did not load, so no scenario can run:",
        "      rules/escorts.yaml:*: bad-severity: severity of rule ESC-004 is 'severe'*",
        "*policy rule coverage: not checked*",
        "the rules in rules did not load (1 problem(s)); the run fails until they load"])
    assert result.outlines[-1] == ("FAILED policy rule coverage: the rules in rules did not "
                                   "load (1 problem(s))")


def test_without_pytest_bdd_a_feature_file_says_what_to_install(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin, "HAS_BDD", False)
    monkeypatch.setattr(collect, "HAS_BDD", False)
    project.feature("assets.feature", ASSETS)
    result = project.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["features/assets.feature: pytest-bdd is not installed, so "
                                 "feature files cannot run; install the test tools: pip "
                                 "install 'mandate-rules[test]'"])


def test_a_feature_file_outside_the_features_folder_is_not_collected(project: Project
                                                                     ) -> None:
    elsewhere = Path(project.path / "docs")
    elsewhere.mkdir()
    (elsewhere / "other.feature").write_text("not gherkin at all\n", "utf-8")
    project.feature("assets.feature", ASSETS)
    result = project.run("--no-policy-coverage")
    assert result.ret == 0
    assert outcomes(result) == {"passed": 1}


def test_a_file_saved_by_notepad_with_a_byte_order_mark_and_crlf_runs(project: Project) -> None:
    text = textwrap.dedent(ASSETS).lstrip("\n") + textwrap.dedent("""
          Scenario: A wrong expectation
            Given an operation in SOM
            When 1 day passes
            Then AST-005 is raised
        """)
    notepad = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
    (project.features / "notepad.feature").write_bytes(notepad)
    result = project.run("--no-policy-coverage")
    assert outcomes(result) == {"passed": 1, "failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines([
        'features/notepad.feature:13: in scenario "A wrong expectation"',
        "    Then AST-005 is raised",
        "",
        "  Expected AST-005 to be raised, but it was not raised."])
    assert "\ufeff" not in result.stdout.str()


OUT_OF_RANGE = """
    Feature: Out of range
      Scenario: Too many days
        Given an operation in SOM
        When 99999999999 days pass
        Then ESC-004 is not raised

      Scenario: A shift too far in a table
        When an escort request is recorded:
          | field         | value          |
          | armed         | yes            |
          | decision.date | +99999999 days |
        Then ESC-004 is not raised

      Scenario: The end of the calendar
        Given it is 9999-12-31
        When 1 day passes
        Then ESC-004 is not raised

      Scenario: A number too large
        When an escort request is recorded:
          | field              | value |
          | armed              | yes   |
          | terms.separation_m | 1e309 |
        Then ESC-004 is not raised

      Scenario: An item far down a list
        When a movement request is recorded:
          | field                     | value     |
          | status                    | requested |
          | vehicles[999999999].markings | unmarked  |
        Then ESC-004 is not raised
    """


def test_numbers_and_times_out_of_range_are_mistakes_named_in_plain_words(
        project: Project) -> None:
    project.feature("range.feature", OUT_OF_RANGE)
    result = project.run("--no-policy-coverage")
    assert outcomes(result) == {"failed": 5}
    text = result.stdout.str()
    assert "mandate-rules failed while running this step" not in text
    assert "please report it to the developers" not in text
    result.stdout.fnmatch_lines([
        'features/range.feature:4: in scenario "Too many days"',
        "    When 99999999999 days pass",
        "",
        "  99999999999 days from 2026-11-01T08:00:00Z is beyond the year 2999; times must stay "
        "within the years 1900 to 2999"])
    result.stdout.fnmatch_lines([
        'features/range.feature:8: in scenario "A shift too far in a table"',
        "*",
        "  row 2 of the table (line 11), `decision.date`: +99999999 days from "
        "2026-11-01T08:00:00Z is beyond the year 2999; times must stay within the years 1900 "
        "to 2999"])
    result.stdout.fnmatch_lines([
        'features/range.feature:15: in scenario "The end of the calendar"',
        "    Given it is 9999-12-31",
        "",
        "  '9999-12-31' is in the year 9999; times must stay within the years 1900 to 2999"])
    result.stdout.fnmatch_lines([
        'features/range.feature:20: in scenario "A number too large"',
        "*",
        "  row 2 of the table (line 23), `terms.separation_m`: '1e309' is too large a number "
        "to work with (the largest is about 1.8e+308)"])
    result.stdout.fnmatch_lines([
        'features/range.feature:27: in scenario "An item far down a list"',
        "*",
        "  row 2 of the table (line 30), `vehicles[999999999].markings`: item 999999999 is too "
        "high a number; a table may give a list at most 1000 items, numbered from 1"])


LOOKALIKES = """
    Feature: Typed in a word processor
      Scenario: Curly quotes and doubled spaces
        Given an operation  in SOM
        When an escort request \u201cesc-1\u201d is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
        Then ESC\u2011004 is raised as  critical
        And the advice of ESC-004 mentions \u2018one side\u2019

      Scenario: Curly quotes in a sentence that is not known
        Given an operation in SOM
        When an escort request \u201cesc-1\u201d is recordd:
          | field | value |
          | armed | yes   |
        Then ESC-004 is raised
    """


def test_curly_quotes_and_doubled_spaces_are_read_as_the_sentence_or_named(
        project: Project) -> None:
    project.feature("typed.feature", LOOKALIKES)
    result = project.run("--no-policy-coverage", "--policy-report", "report.json")
    assert outcomes(result) == {"passed": 1, "failed": 1}
    result.stdout.fnmatch_lines([
        'features/typed.feature:13: in scenario "Curly quotes in a sentence that is not known"',
        "    When an escort request \u201cesc-1\u201d is recordd:",
        "",
        "  This sentence is not in the phrasebook, so it cannot be run.",
        "  Some of its characters are not those the sentences use:",
        "      column 28: '\u201c' (left double quotation mark, U+201C), where the sentences "
        'use the straight quote "',
        "      column 34: '\u201d' (right double quotation mark, U+201D), where the sentences "
        'use the straight quote "',
        "  The closest known sentences:",
        '      When an escort request "esc-1" is recorded:'])
    report = json.loads((project.path / "report.json").read_text("utf-8"))
    passed = report["scenarios"][0]
    assert [step["text"] for step in passed["steps"]] == [
        "an operation in SOM", 'an escort request "esc-1" is recorded:',
        "ESC-004 is raised as critical", 'the advice of ESC-004 mentions "one side"']
    assert passed["rules_raised"] == ["ESC-004"]


def test_a_line_names_each_character_the_sentences_do_not_use() -> None:
    assert differences("    Given an operation  in\u00a0SOM\u200b") == [
        "column 23: 2 spaces in a row, where the sentences use one",
        "column 27: (no-break space, U+00A0), where the sentences use a plain space",
        "column 31: (zero width space, U+200B), where the sentences use nothing (it is "
        "invisible; delete it)"]
    assert differences("    When  1 day passes") == []  # spaces after the keyword are fine
    assert normalise("the advice of X mentions \u2018the mission\u2019s role\u2019") == (
        'the advice of X mentions "the mission\u2019s role"')


DOCSTRINGS = '''
    Feature: Text blocks
      Scenario: Angle brackets in a text block
        Given an operation in SOM
        When 1 day passes
          """
          <foo> and <b>bold</b>
          """
        Then ESC-004 is not raised

      Scenario Outline: A text block in an outline, by <provider>
        Given an operation in SOM
        When 1 day passes
          """
          <provider> and <foo>
          """
        Then ESC-004 is not raised

        Examples:
          | provider |
          | militia  |
    '''


def test_angle_brackets_in_a_text_block_are_text_not_placeholders(project: Project) -> None:
    project.feature("text.feature", DOCSTRINGS)
    result = project.run("--no-policy-coverage", "--policy-report", "report.json")
    assert "refused" not in result.stdout.str()
    report = json.loads((project.path / "report.json").read_text("utf-8"))
    assert report["refused"] == []
    docstrings = {s["scenario"]: s["steps"][1]["docstring"] for s in report["scenarios"]}
    assert docstrings == {"Angle brackets in a text block": "<foo> and <b>bold</b>",
                          "A text block in an outline, by militia": "militia and <foo>"}
    # the file ran: the sentence itself takes no text block, and says so
    assert outcomes(result) == {"failed": 2}
    result.stdout.fnmatch_lines(['  this sentence takes no text block ("""); remove it'])
