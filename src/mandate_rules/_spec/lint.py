"""Mistakes in a feature file that Gherkin or pytest-bdd would accept silently, or badly.

`lint_text` reads a feature file with the official Gherkin parser (its errors are put in words
by `gherkinerrors`) and returns every problem found, each with its line, in words for policy
staff. The plugin runs it when it collects a file and refuses a file with any problem (it
fails as a test of its own), so a misread file is never skipped quietly. What it catches:

* the file does not parse (every parser error, translated: a table row with the wrong number
  of cells, an unclosed text block, a tag with a space, a line that is not understood here);
* a misspelt keyword (``Scenaro:``, ``Exampels:``): Gherkin reads it, and everything under it,
  as description text;
* a step keyword with a colon (``Given:``), or a step outside a scenario: read as description;
* a misspelt step keyword (``Gvien``) in front of a known sentence;
* two scenarios with the same name (pytest-bdd would run only the last one), or no name;
* a ``<placeholder>`` in a step or table that is not a column of the Examples table (it would
  stay as written), one outside a Scenario Outline, an Outline with no Examples rows (text in
  angle brackets inside a text block is text, not a placeholder);
* a scenario without a Then step, or a Then with no When before it (it would check nothing,
  so a "not raised" would pass for the wrong reason);
* a first step starting with And or But; When or Then in a Background;
* a ``#`` inside a step (a comment must have a line of its own; Gherkin keeps it in the step).
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from gherkin.errors import CompositeParserException, ParserError
from gherkin.parser import Parser

from .gherkinerrors import (
    BLOCK_KEYWORDS,
    KEYWORD_COLON_RE,
    STEP_COLON_RE,
    STEP_KEYWORDS,
    Finding,
    is_sentence,
    keyword_typo,
    parse_error_findings,
    step_keyword_typo,
    with_raw_lines,
)
from .lookalikes import normalise

__all__ = ["Finding", "lint_text"]

PLACEHOLDER_RE = re.compile(r"<([^<>]+)>")


def lint_text(text: str) -> list[Finding]:
    """Every problem in the feature file `text`, sorted by line (empty: the file is fine)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as Notepad writes one
    lines = text.splitlines()
    if not any(line.strip() and not line.strip().startswith("#") for line in lines):
        return [Finding(1, "the file is empty: it needs a 'Feature: <title>' line and at least "
                           "one Scenario")]
    try:
        document = Parser().parse(text)
    except CompositeParserException as exc:
        return with_raw_lines(parse_error_findings(exc.errors, lines), lines)
    except ParserError as exc:
        return with_raw_lines(parse_error_findings([exc], lines), lines)
    feature = document.get("feature")
    if feature is None:  # pragma: no cover - the parser reports a file with no Feature line
        return [Finding(1, "the file must start with a 'Feature: <title>' line")]
    findings = list(_descriptions(document, lines))
    findings.extend(_scenarios(feature))
    return sorted(set(findings))


# --------------------------------------------------------------------------- descriptions

def _descriptions(document: Mapping[str, Any], lines: Sequence[str]) -> Iterator[Finding]:
    """Problems in the lines Gherkin read as description text."""
    covered: set[int] = {c["location"]["line"] for c in document.get("comments", [])}
    owners: list[tuple[int, str]] = []
    feature = document["feature"]
    covered.add(feature["location"]["line"])
    owners.append((feature["location"]["line"], "the feature description"))
    _cover_tags(feature, covered)
    for child in feature.get("children", []):
        _cover_child(child, covered, owners, lines)
    for tag_line in _tag_lines(lines):
        covered.add(tag_line)
    owners.sort()
    starts = [start for start, _ in owners]
    swallowed: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or number in covered or text.startswith("#"):
            continue
        position = bisect.bisect_right(starts, number) - 1
        owner = owners[position][1] if position >= 0 else "the feature description"
        exact = KEYWORD_COLON_RE.match(text)
        if exact is not None and exact.group(1).strip() in BLOCK_KEYWORDS:
            word = exact.group(1).strip()
            yield Finding(number, "a file holds one Feature; this line starts a second one"
                          if word == "Feature" else
                          f"'{word}:' is not read as a keyword here, but as description text "
                          f"in {owner}")
            continue
        if text.startswith("|"):
            yield Finding(number, "a table row must come right under a step (or another row "
                                  "of its table); here it is read as description text in "
                                  f"{owner}")
            continue
        typo = keyword_typo(text)
        if typo is not None:
            swallowed.add(owner)
            yield Finding(number, typo + " (it is read as description text, with everything "
                                         "under it up to the next keyword)")
            continue
        if STEP_COLON_RE.match(text):
            keyword, rest = text.split(":", 1)
            yield Finding(number, f"'{text}' is read as plain text in {owner}, not as a step: "
                                  f"remove the colon after '{keyword.strip()}' "
                                  f"('{keyword.strip().title()} {rest.strip()}')")
            continue
        step_typo = step_keyword_typo(text)
        if step_typo is not None:
            yield Finding(number, f"{step_typo} (the line is read as plain text in {owner})")
            continue
        first, _, rest = text.partition(" ")
        if first in STEP_KEYWORDS and (owner in swallowed or is_sentence(rest)):
            yield Finding(number, f"'{text}' is read as plain text in {owner}, not as a step: "
                                  "steps belong under a Scenario line")


def _cover_tags(node: Mapping[str, Any], covered: set[int]) -> None:
    for tag in node.get("tags", []):
        covered.add(tag["location"]["line"])


def _tag_lines(lines: Sequence[str]) -> Iterator[int]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip().startswith("@"):
            yield number


def _cover_steps(steps: Iterable[Mapping[str, Any]], covered: set[int],
                 lines: Sequence[str]) -> None:
    for step in steps:
        covered.add(step["location"]["line"])
        table = step.get("dataTable")
        if table is not None:
            covered.update(row["location"]["line"] for row in table["rows"])
        doc = step.get("docString")
        if doc is not None:
            start = doc["location"]["line"]
            end = start + 1
            while end <= len(lines) and not lines[end - 1].strip().startswith(doc["delimiter"]):
                end += 1
            covered.update(range(start, end + 1))


def _cover_child(child: Mapping[str, Any], covered: set[int], owners: list[tuple[int, str]],
                 lines: Sequence[str]) -> None:
    if "background" in child:
        node = child["background"]
        covered.add(node["location"]["line"])
        owners.append((node["location"]["line"], "the Background's description"))
        _cover_steps(node.get("steps", []), covered, lines)
    elif "scenario" in child:
        node = child["scenario"]
        covered.add(node["location"]["line"])
        _cover_tags(node, covered)
        owners.append((node["location"]["line"], f"the description of scenario '{node['name']}'"))
        _cover_steps(node.get("steps", []), covered, lines)
        for examples in node.get("examples", []):
            covered.add(examples["location"]["line"])
            _cover_tags(examples, covered)
            owners.append((examples["location"]["line"], "the description of the Examples"))
            header = examples.get("tableHeader")
            if header is not None:
                covered.add(header["location"]["line"])
            covered.update(row["location"]["line"] for row in examples.get("tableBody", []))
    elif "rule" in child:
        node = child["rule"]
        covered.add(node["location"]["line"])
        _cover_tags(node, covered)
        owners.append((node["location"]["line"], f"the description of rule '{node['name']}'"))
        for grandchild in node.get("children", []):
            _cover_child(grandchild, covered, owners, lines)


# --------------------------------------------------------------------------- scenarios

def _scenarios(feature: Mapping[str, Any]) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for scenario, backgrounds in _all_scenarios(feature):
        line = scenario["location"]["line"]
        name = scenario["name"].strip()
        if not name:
            yield Finding(line, "this scenario has no name: write one after the colon")
        elif name in seen:
            yield Finding(line, f"the scenario name '{name}' is already used on line "
                                f"{seen[name]}; give each scenario its own name (otherwise only "
                                "the last one runs)")
        else:
            seen[name] = line
        yield from _steps(scenario, backgrounds)
        yield from _placeholders(scenario, backgrounds)


def _all_scenarios(feature: Mapping[str, Any]
                   ) -> Iterator[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    backgrounds: list[Mapping[str, Any]] = []
    for child in feature.get("children", []):
        if "background" in child:
            backgrounds = [child["background"]]
        elif "scenario" in child:
            yield child["scenario"], backgrounds
        elif "rule" in child:
            inner = list(backgrounds)
            for grandchild in child["rule"].get("children", []):
                if "background" in grandchild:
                    inner = [*backgrounds, grandchild["background"]]
                elif "scenario" in grandchild:
                    yield grandchild["scenario"], inner


def _steps(scenario: Mapping[str, Any],
           backgrounds: Sequence[Mapping[str, Any]]) -> Iterator[Finding]:
    line = scenario["location"]["line"]
    name = scenario["name"].strip()
    for background in backgrounds:
        for step in background.get("steps", []):
            if step["keywordType"] in ("Action", "Outcome"):
                yield Finding(step["location"]["line"],
                              "a Background sets the scene for every scenario: use Given steps "
                              f"only, not {step['keyword'].strip()}")
        yield from _first_step(background.get("steps", []))
    own = list(scenario.get("steps", []))
    yield from _first_step(own)
    steps = [s for b in backgrounds for s in b.get("steps", [])] + own
    kind = None
    when_since_then = False
    previous_then: int | None = None
    in_then_block = False
    has_then = False
    for step in steps:
        if step["keywordType"] != "Conjunction":
            kind = step["keywordType"]
        if "#" in _outside_quotes(normalise(step["text"])):
            yield Finding(step["location"]["line"],
                          "'#' inside a step is kept as part of the sentence: put a comment on "
                          "a line of its own")
        if kind == "Action":
            when_since_then = True
            in_then_block = False
        elif kind == "Outcome":
            has_then = True
            if not in_then_block:
                if not when_since_then:
                    since = (f"since the Then on line {previous_then}" if previous_then
                             else "before it")
                    yield Finding(step["location"]["line"],
                                  f"this Then has no When step {since}: Then checks what the "
                                  "When steps raised, so it would check nothing; write the "
                                  "event or the passing of time that it is about after When")
                in_then_block = True
                when_since_then = False
            previous_then = step["location"]["line"]
        else:
            in_then_block = False
    if not has_then:
        yield Finding(line, f"scenario '{name}' has no Then step, so it checks nothing")


def _first_step(steps: Sequence[Mapping[str, Any]]) -> Iterator[Finding]:
    if steps and steps[0]["keywordType"] == "Conjunction":
        yield Finding(steps[0]["location"]["line"],
                      f"the first step must start with Given, When or Then, not "
                      f"'{steps[0]['keyword'].strip()}'")


def _outside_quotes(text: str) -> str:
    return re.sub(r'"[^"]*"', "", text)


def _placeholders(scenario: Mapping[str, Any],
                  backgrounds: Sequence[Mapping[str, Any]]) -> Iterator[Finding]:
    examples = scenario.get("examples", [])
    used = list(_used_placeholders(scenario, backgrounds))
    keyword = scenario["keyword"].strip()
    if not examples:
        if keyword in ("Scenario Outline", "Scenario Template"):
            yield Finding(scenario["location"]["line"],
                          f"{keyword} '{scenario['name'].strip()}' has no Examples table: add "
                          "one, or make it a plain Scenario")
        for line, name in used:
            yield Finding(line, f"<{name}> is only filled in from an Examples table: make this "
                                "a Scenario Outline with Examples, or remove the angle brackets")
        return
    for table in examples:
        table_line = table["location"]["line"]
        header = table.get("tableHeader")
        if header is None:
            yield Finding(table_line, "this Examples has no table: add a header row of column "
                                      "names and one row per example")
            continue
        columns = [cell["value"] for cell in header["cells"]]
        for column in sorted({c for c in columns if columns.count(c) > 1}):
            yield Finding(header["location"]["line"],
                          f"the column '{column}' appears twice in the Examples table")
        if not table.get("tableBody"):
            yield Finding(table_line, "this Examples table has no rows under its header, so the "
                                      "Scenario Outline would run once with its <placeholders> "
                                      "unfilled")
        for line, name in used:
            if name not in columns:
                close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
                hint = f"; did you mean <{close[0]}>?" if close else ""
                yield Finding(line, f"<{name}> is not a column of the Examples table on line "
                                    f"{table_line} (columns: {', '.join(columns)}){hint}")


def _used_placeholders(scenario: Mapping[str, Any],
                       backgrounds: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, str]]:
    for step in [s for b in backgrounds for s in b.get("steps", [])] + list(
            scenario.get("steps", [])):
        line = step["location"]["line"]
        for name in PLACEHOLDER_RE.findall(step["text"]):
            yield line, name
        table = step.get("dataTable")
        if table is not None:
            for row in table["rows"]:
                for cell in row["cells"]:
                    for name in PLACEHOLDER_RE.findall(cell["value"]):
                        yield row["location"]["line"], name
        # A text block (""") is text: `<b>` or `<id>` in it is not a placeholder to check.
        # (pytest-bdd leaves it as written outside an Outline, and fills in only the names
        # that are columns of the Examples inside one.)
