"""The phrasebook: each sentence matches exactly one step definition, as pytest-bdd resolves it.

pytest-bdd resolves an ambiguous step silently (the definition whose pattern sorts last wins),
so uniqueness is proved here through pytest-bdd's own lookup, for every example sentence of the
phrasebook and every sentence written in docs/writing-specs.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from pytest_bdd.parser import Step
from pytest_bdd.scenario import find_fixturedefs_for_step
from pytest_bdd.steps import step_function_context_registry

from mandate_rules._spec.cli import phrasebook
from mandate_rules._spec.phrasebook import (
    EVENT_KINDS,
    KEYWORDS,
    SENTENCES,
    Sentence,
    checked_rules,
    closest,
    matching,
    other_kind,
    render,
)
from mandate_rules._spec.tables import VALUE_FORMS

from ..helpers import ROOT

DOC = ROOT / "docs" / "writing-specs.md"
_KINDS = {"Given": "given", "When": "when", "Then": "then"}


def definitions(request: pytest.FixtureRequest, kind: str, text: str) -> list[str]:
    """The patterns of every step definition pytest-bdd finds for `kind` `text`."""
    step = Step(name=text, type=kind, indent=0, line_number=1, keyword=KEYWORDS[kind])
    found = find_fixturedefs_for_step(step, request._fixturemanager, request.node)
    return [step_function_context_registry[d.func].parser.name for d in found]


def examples() -> Iterator[object]:
    for sentence in SENTENCES:
        for kind in sentence.kinds:
            for example in sentence.examples:
                yield pytest.param(sentence.pattern, kind, example, id=f"{kind} {example}")


@pytest.mark.parametrize(("pattern", "kind", "text"), list(examples()))
def test_every_example_matches_exactly_one_step_definition(
        request: pytest.FixtureRequest, pattern: str, kind: str, text: str) -> None:
    assert definitions(request, kind, text) == [pattern]


def doc_sentences() -> list[tuple[str, str]]:
    """(kind, text) of every step written in the guide: inline `Given ...` and code blocks."""
    text = DOC.read_text("utf-8")
    found = [(_KINDS[m.group(1)], m.group(2))
             for m in re.finditer(r"`(Given|When|Then) ([^`]+)`", text)]
    for block in re.findall(r"```gherkin\n(.*?)```", text, re.DOTALL):
        kind = None
        for line in block.splitlines():
            step = re.match(r"\s*(Given|When|Then|And|But) (.+)$", line)
            if step is None:
                continue
            kind = _KINDS.get(step.group(1), kind)
            assert kind is not None, f"a code block in {DOC.name} starts with {step.group(1)}"
            found.append((kind, step.group(2)))
    return found


def test_the_guide_writes_sentences() -> None:
    assert len(doc_sentences()) > 40


@pytest.mark.parametrize(("kind", "text"), doc_sentences())
def test_every_sentence_in_the_guide_matches_exactly_one_step_definition(
        request: pytest.FixtureRequest, kind: str, text: str) -> None:
    assert len(definitions(request, kind, text)) == 1, (kind, text)


@pytest.mark.parametrize("sentence", SENTENCES, ids=lambda s: s.key)
def test_the_guide_shows_every_sentence(sentence: Sentence) -> None:
    text = DOC.read_text("utf-8")
    written = [f"{KEYWORDS[kind]} {sentence.examples[0]}" for kind in sentence.kinds]
    assert any(w in text for w in written), written


@pytest.mark.parametrize(("kind", "text"), [
    ("given", "an operation in Somalia is recorded"),
    ("when", "an escort request is recorded with:"),
    ("then", "ESC-004 is raised as a critical"),
    ("then", "ESC-004 will be raised"),
    ("then", "the advice of ESC-004 mentions one side"),
    ("given", "the mission is party to the conflict"),
    ("when", "the mission is a party to the conflict"),
    ("given", "4 days later"),
])
def test_near_misses_match_no_definition(request: pytest.FixtureRequest, kind: str,
                                         text: str) -> None:
    assert definitions(request, kind, text) == []


def test_a_sentence_of_one_kind_is_recognised_after_another() -> None:
    assert other_kind("when", "ESC-004 is raised") == "Then"
    assert other_kind("then", "an operation in SOM") == "Given"
    assert other_kind("given", "no such sentence") is None


def test_the_closest_sentences_are_suggested() -> None:
    assert "When an escort request is recorded:" in closest(
        "when", "a humanitarian organisation request an armed escort")
    suggested = closest("then", "ESC-004 is raise as critical")
    assert suggested[0] == "Then ESC-004 is raised as critical"


@pytest.mark.parametrize(("text", "expected"), [
    ("ESC-004 is raised", [("ESC-004", True)]),
    ("ESC-004 is raised as critical", [("ESC-004", True)]),
    ("ESC-004 is raised 2 times", [("ESC-004", True)]),
    ("ESC-004 is not raised", [("ESC-004", False)]),
    ("only ESC-001, ESC-002 and ESC-004 are raised",
     [("ESC-001", True), ("ESC-002", True), ("ESC-004", True)]),
    ('the advice of AST-001 mentions "last resort"', [("AST-001", True)]),
    ("AST-008 says the context was unknown", [("AST-008", True)]),
    ("no advisory is raised", []),
])
def test_the_rules_a_then_sentence_checks(text: str, expected: list[tuple[str, bool]]) -> None:
    assert checked_rules("then", text) == expected


def test_each_sentence_of_a_kind_is_unique_among_the_patterns() -> None:
    for sentence in SENTENCES:
        for kind in sentence.kinds:
            for example in sentence.examples:
                assert [s.key for s, _ in matching(kind, example)] == [sentence.key]


def test_the_phrasebook_command_prints_every_sentence_and_value_form() -> None:
    result = CliRunner().invoke(phrasebook, ["--width", "100"])
    assert result.exit_code == 0, result.output
    assert result.output == render(width=98)
    for sentence in SENTENCES:
        for example in sentence.examples:
            assert sentence.written(example) in result.output
    for phrase, event_type in EVENT_KINDS.items():
        assert re.search(rf"{phrase}\s+{re.escape(event_type)}", result.output)
    for kind, _, _ in VALUE_FORMS:
        assert f"- {kind}:" in result.output


def test_the_phrasebook_command_is_registered() -> None:
    # imported here: the command group also loads every other command, and a problem in one of
    # those should fail this test only, not the whole module
    from mandate_rules._cli import main  # noqa: PLC0415

    result = CliRunner().invoke(main, ["phrasebook"])
    assert result.exit_code == 0, result.output
    assert "Then ESC-004 is raised as critical" in result.output
