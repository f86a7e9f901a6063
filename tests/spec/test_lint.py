"""The feature-file lint: every mistake that Gherkin or pytest-bdd would accept silently."""

from __future__ import annotations

import fnmatch
import textwrap

import pytest

from mandate_rules._spec.lint import lint_text

GOOD = """\
    Feature: Armed escorts
      An escort is a last resort. When an escort is requested, the alternatives come first.
      Note: this description mentions Given and Then, in prose.

      Background:
        Given an operation in SOM

      @wip
      Scenario: An escort from a force seen as a party to the conflict
        The mission is seen as a party here.
        When an escort request is recorded:
          | field         | value            |
          | armed         | yes              |
          | provider.kind | mission_military |
        Then ESC-004 is raised as critical
        And the advice of ESC-004 mentions "one side # in the fighting"
        When 2 days pass
        Then ESC-004 is not raised
        But ESC-001 is not raised

      Scenario Outline: An escort by <provider>
        When an escort request is recorded:
          | field         | value      |
          | armed         | yes        |
          | provider.kind | <provider> |
        Then ESC-005 is raised as <severity>

        Examples:
          | provider | severity |
          | militia  | critical |
    """


def lint(text: str) -> list[str]:
    return [str(f) for f in lint_text(textwrap.dedent(text))]


def test_a_good_file_has_no_findings() -> None:
    assert lint(GOOD) == []


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("  Scenario: An escort from", "  Scenaro: An escort from",
     "line 9: 'Scenaro:' is not a Gherkin keyword - did you mean 'Scenario:'?"),
    ("  Scenario Outline: An escort", "  Scenario outline: An escort",
     "line 21: 'Scenario outline:' is not a Gherkin keyword; keywords start with a capital "
     "letter: 'Scenario Outline:'"),
    ("    Examples:", "    Exampels:",
     "line 28: 'Exampels:' is not a Gherkin keyword - did you mean 'Examples:'?"),
    ("    The mission is seen as a party here.",
     "    The mission is seen as a party here.\n    Given: an operation in PHL",
     "line 11: 'Given: an operation in PHL' is read as plain text in the description of "
     "scenario 'An escort from a force seen as a party to the conflict', not as a step: remove "
     "the colon after 'Given' ('Given an operation in PHL')"),
    ("    When an escort request is recorded:\n      | field         | value            |",
     "    When: an escort request is recorded:\n      | field         | value            |",
     "line 11: 'When: an escort request is recorded:' is read as plain text in the description "
     "of scenario 'An escort from a force seen as a party to the conflict', not as a step: "
     "remove the colon after 'When' ('When an escort request is recorded:')"),
    ("    When an escort request is recorded:\n      | field         | value            |",
     "    When: an escort request is recorded:\n      | field         | value            |",
     "line 12: a table row must come right under a step (or another row of its table); here it "
     "is read as description text in the description of scenario 'An escort from a force"),
    ("    Then ESC-004 is not raised", "    Then: ESC-004 is not raised",
     "line 18: 'Then: ESC-004 is not raised' has a colon after 'Then': write the step without "
     "it ('Then ESC-004 is not raised')"),
    ("    But ESC-001 is not raised", "    Bt ESC-001 is not raised",
     "line 19: 'Bt' is not a step keyword - did you mean 'But'?"),
    ("    Given an operation in SOM", "    Gvien an operation in SOM",
     "line 6: 'Gvien' is not a step keyword - did you mean 'Given'? (the line is read as plain "
     "text in the Background's description)"),
    ("      | provider.kind | mission_military |", "      | provider.kind |",
     "line 14: every row of a table must have the same number of | cells"),
    ("  @wip", "  @work in progress",
     "line 8: a tag must be one word after @ (e.g. @wip)"),
    ("Feature: Armed escorts", "Feature Armed escorts",
     "line 1: the file must start with a 'Feature: <title>' line (comments and tags may come "
     "first); line 1 is 'Feature Armed escorts'"),
    ("  Scenario Outline: An escort by <provider>",
     "  Scenario: An escort from a force seen as a party to the conflict",
     "line 21: the scenario name 'An escort from a force seen as a party to the conflict' is "
     "already used on line 9; give each scenario its own name (otherwise only the last one "
     "runs)"),
    ("      | provider.kind | <provider> |", "      | provider.kind | <provdier> |",
     "line 25: <provdier> is not a column of the Examples table on line 28 (columns: provider, "
     "severity); did you mean <provider>?"),
    ("      | provider.kind | mission_military |", "      | provider.kind | <provider> |",
     "line 14: <provider> is only filled in from an Examples table: make this a Scenario "
     "Outline with Examples, or remove the angle brackets"),
    ("      | militia  | critical |\n", "",
     "line 28: this Examples table has no rows under its header, so the Scenario Outline would "
     "run once with its <placeholders> unfilled"),
    ("    Then ESC-005 is raised as <severity>", "    And ESC-005 is raised as <severity>",
     "line 21: scenario 'An escort by <provider>' has no Then step, so it checks nothing"),
    ("    When 2 days pass", "    Given 2 days pass",
     "line 18: this Then has no When step since the Then on line 16: Then checks what the When "
     "steps raised, so it would check nothing"),
    ("    When an escort request is recorded:\n      | field         | value      |",
     "    Given an escort request is recorded:\n      | field         | value      |",
     "line 26: this Then has no When step before it"),
    ("    Given an operation in SOM", "    When an operation in SOM",
     "line 6: a Background sets the scene for every scenario: use Given steps only, not When"),
    ("    Given an operation in SOM", "    And an operation in SOM",
     "line 6: the first step must start with Given, When or Then, not 'And'"),
    ("    But ESC-001 is not raised", "    But ESC-001 is not raised  # the route was changed",
     "line 19: '#' inside a step is kept as part of the sentence: put a comment on a line of "
     "its own"),
    ("      | provider | severity |", "      | provider | provider |",
     "line 29: the column 'provider' appears twice in the Examples table"),
])
def test_each_mistake_is_found_on_its_line(old: str, new: str, expected: str) -> None:
    text = textwrap.dedent(GOOD)
    assert old in text
    findings = lint(text.replace(old, new, 1))
    assert any(f.startswith(expected) for f in findings), findings


def test_steps_swallowed_by_a_misspelt_keyword_are_named_too() -> None:
    findings = lint("""\
        Feature: Typos
          Scenaro: s
            Given an operation in SOM
            When 1 day passes
            Then ESC-004 is not raised
        """)
    assert findings[0].startswith("line 2: 'Scenaro:' is not a Gherkin keyword")
    assert findings[1:] == [
        f"line {n}: '{text}' is read as plain text in the feature description, not as a step: "
        "steps belong under a Scenario line"
        for n, text in ((3, "Given an operation in SOM"), (4, "When 1 day passes"),
                        (5, "Then ESC-004 is not raised"))]


def test_a_step_sentence_in_the_feature_description_is_flagged_but_prose_is_not() -> None:
    findings = lint("""\
        Feature: Escorts
          When an escort is requested, the alternatives come first.
          Given an operation in SOM

          Scenario: s
            When 1 day passes
            Then ESC-004 is not raised
        """)
    assert findings == ["line 3: 'Given an operation in SOM' is read as plain text in the "
                        "feature description, not as a step: steps belong under a Scenario "
                        "line"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "line 1: the file is empty"),
    ("# only a comment\n", "line 1: the file is empty"),
    ('Feature: x\n  Scenario: s\n    When 1 day passes\n      """\n      text\n',
     "line 4: a text block opened with \"\"\" is never closed"),
    ("Feature: x\nFeature: y\n", "line 2: a file holds one Feature; this line starts a second"),
    ("Feature: x\n  Scenario: s\n    When 1 day passes\n    Then ESC-004 is not raised\n"
     "  Background:\n    Given an operation in SOM\n",
     "line 5: a Background must come before the first Scenario"),
    ("Feature: x\n  Scenario:\n    When 1 day passes\n    Then ESC-004 is not raised\n",
     "line 2: this scenario has no name"),
    ("Feature: x\n  Scenario Outline: s\n    When 1 day passes\n    Then ESC-004 is not "
     "raised\n", "line 2: Scenario Outline 's' has no Examples table"),
    ("Feature: x\n  Scenario: s\n    When 1 day passes\n    Then ESC-004 is not raised\n"
     "    the end\n", "line 5: 'the end' is not understood here"),
    ("Feature: x\n  Scenario Outline: s\n    When <n> days pass\n    Then ESC-004 is <outcom>\n"
     "    Examples:\n      | n | outcome |\n      | 1 | not raised |\n",
     "line 4: <outcom> is not a column of the Examples table on line 5 (columns: n, outcome); "
     "did you mean <outcome>?"),
    ("Feature: x\n  Rule: one\n    Scenario: s\n      When 1 day passes\n      Then ESC-004 is "
     "not raised\n  Rule: two\n    Scenario: s\n      When 2 days pass\n      Then ESC-004 is "
     "not raised\n", "line 7: the scenario name 's' is already used on line 3"),
])
def test_file_level_mistakes(text: str, expected: str) -> None:
    findings = lint(text)
    assert any(f.startswith(expected) for f in findings), findings


def test_an_invisible_character_is_named_with_its_column() -> None:
    assert lint("\u200bFeature: x\n  Scenario: s\n    When 1 day passes\n"
                "    Then ESC-004 is not raised\n") == [
        "line 1: the file must start with a 'Feature: <title>' line (comments and tags may "
        "come first); line 1 is '\u200bFeature: x' (it holds characters Gherkin does not "
        "expect: column 1: (zero width space, U+200B), where the sentences use nothing (it is "
        "invisible; delete it))"]
    # a byte-order mark at the start is no mistake (Notepad writes one)
    assert lint("\ufeff" + GOOD) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("Feature: x\n  Scenario: s\n    When 1 day passes\n    Then ESC-004 is not raised\n\n"
     "  @wip\n  # a comment\n",
     ["line 6: the file ends after these tags: a tag belongs on the line right above the "
      "Scenario (or Feature, Rule or Examples) it marks; add that line under it, or remove the "
      "tags"]),
    ("@wip\n", ["line 1: the file ends after these tags: *"]),
    ("# language: no-such\nFeature: x\n  Scenario: s\n    When 1 day passes\n"
     "    Then ESC-004 is not raised\n",
     ["line 1: '# language: no-such' names a language Gherkin does not know. The sentences are "
      "in English, so remove the line (or write '# language: en'). The languages Gherkin "
      "knows: af, am, *, en, *, fr, *, zh-TW"]),
])
def test_parser_messages_are_in_plain_words(text: str, expected: list[str]) -> None:
    findings = lint(text)
    assert len(findings) == len(expected), findings
    for finding, pattern in zip(findings, expected, strict=True):
        assert fnmatch.fnmatchcase(finding, pattern), finding
    assert not any("#" in f.split("'")[0] or "Language not supported" in f for f in findings)
