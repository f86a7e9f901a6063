"""Gherkin's parser errors in words for policy staff, and the `Finding` every check returns.

`parse_error_findings` translates each error of the official Gherkin parser (a table row with
the wrong number of cells, an unclosed text block, a tag with a space, a misspelt keyword, a
line that is not understood here) into a finding on its line; `lint` runs the checks a file
that parses still needs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from types import MappingProxyType
from typing import Any

import attrs
from gherkin.dialect import DIALECTS

from .lookalikes import differences, normalise
from .phrasebook import SENTENCES

BLOCK_KEYWORDS = ("Feature", "Background", "Scenario", "Scenario Outline", "Scenario Template",
                  "Example", "Examples", "Scenarios", "Rule")
STEP_KEYWORDS = ("Given", "When", "Then", "And", "But")

KEYWORD_COLON_RE = re.compile(r"^\s*([A-Za-z][A-Za-z ]{0,24}?)\s*:")
STEP_COLON_RE = re.compile(r"^\s*(given|when|then|and|but)\s*:", re.IGNORECASE)
_STEP_WORD_RE = re.compile(r"^\s*(\S+)\s+(.*\S)\s*$")
_GOT_RE = re.compile(r"got '(.*)'$", re.DOTALL)
_POSITION_RE = re.compile(r"^\(\d+:\d+\): ")


@attrs.frozen(order=True)
class Finding:
    """One problem, on one line."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def with_raw_lines(found: Iterable[Finding], lines: Sequence[str]) -> list[Finding]:
    """Parse errors, plus keyword mistakes anywhere in the file (the parser stops caring about
    a line it took as description); a specific message replaces a general one on its line."""
    by_line: dict[int, list[Finding]] = {}
    for finding in found:
        by_line.setdefault(finding.line, []).append(finding)
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        message = keyword_typo(text)
        if message is None and STEP_COLON_RE.match(text):
            message = _colon_message(text)
        if message is not None:
            by_line[number] = [Finding(number, message)]
    return sorted({f for group in by_line.values() for f in group})


def _colon_message(text: str) -> str:
    keyword, rest = text.split(":", 1)
    return (f"'{text}' has a colon after '{keyword.strip()}': write the step without it "
            f"('{keyword.strip().title()} {rest.strip()}')")


def parse_error_findings(errors: Iterable[Any], lines: Sequence[str]) -> Iterator[Finding]:
    before_feature = False
    previous: tuple[int, str] | None = None  # line and expected tokens of the last error
    for error in errors:
        location = getattr(error, "location", None) or {}
        line = int(location.get("line") or 1)
        message = _POSITION_RE.sub("", str(error))
        expected = message.split(", got ", 1)[0]
        cascade = (previous is not None and previous[1] == expected
                   and previous[0] == _previous_text_line(lines, line))
        previous = (line, expected)
        if "inconsistent cell count" in message:
            yield Finding(line, "every row of a table must have the same number of | cells")
        elif "A tag may not contain whitespace" in message:
            yield Finding(line, "a tag must be one word after @ (e.g. @wip); put each tag on "
                                "the line above the Scenario, separated by spaces")
        elif "unexpected end of file" in message and "#DocStringSeparator" in message:
            yield Finding(_open_docstring(lines), 'a text block opened with """ is never closed')
        elif "unexpected end of file" in message:
            yield _early_end(expected, lines)
        elif message.startswith("Language not supported: "):
            yield Finding(line, _unknown_language(message.split(": ", 1)[1].strip()))
        elif cascade:
            continue  # the lines after a line the parser could not place fail the same way
        else:
            got = _GOT_RE.search(message)
            if got is None:
                yield Finding(line, message)
                continue
            if "#FeatureLine" in message and "#StepLine" not in message:
                if not before_feature:
                    before_feature = True
                    yield Finding(line, "the file must start with a 'Feature: <title>' line "
                                        f"(comments and tags may come first); line {line} is "
                                        f"'{got.group(1).strip()}'"
                                        + _odd_characters(lines, line))
                continue
            yield Finding(line, _not_understood(got.group(1).strip())
                          + _odd_characters(lines, line))


# What the parser's token names stand for, as a writer of the file sees them.
_TOKEN_WORDS = MappingProxyType({
    "#FeatureLine": "a 'Feature:' line",
    "#RuleLine": "a 'Rule:' line",
    "#BackgroundLine": "a 'Background:' line",
    "#ScenarioLine": "a 'Scenario:' line",
    "#ExamplesLine": "an 'Examples:' line",
    "#StepLine": "a step (Given, When, Then, And, But)",
    "#TableRow": "a table row (| ... |)",
    "#TagLine": "a tag (@...)",
    "#DocStringSeparator": 'the closing """',
})


def _early_end(expected: str, lines: Sequence[str]) -> Finding:
    """The parser's "unexpected end of file, expected: #TagLine, ..." in words."""
    last = _previous_text_line(lines, len(lines) + 1, comments=False)
    if last and lines[last - 1].strip().startswith("@"):
        return Finding(last, "the file ends after these tags: a tag belongs on the line right "
                             "above the Scenario (or Feature, Rule or Examples) it marks; add "
                             "that line under it, or remove the tags")
    wanted = [_TOKEN_WORDS[token] for token in re.findall(r"#\w+", expected)
              if token in _TOKEN_WORDS]
    what = " or ".join(dict.fromkeys(wanted)) if wanted else "more lines"
    return Finding(last or 1, f"the file ends too early: after line {last} there must be {what}")


def _unknown_language(code: str) -> str:
    return (f"'# language: {code}' names a language Gherkin does not know. The sentences are "
            "in English, so remove the line (or write '# language: en'). The languages Gherkin "
            f"knows: {', '.join(sorted(DIALECTS))}")


def _odd_characters(lines: Sequence[str], line: int) -> str:
    """Names the invisible or lookalike characters of a line the parser did not understand
    (a zero-width space before ``Feature:`` looks like nothing at all in the message)."""
    found = [d for d in differences(lines[line - 1] if 0 < line <= len(lines) else "")
             if "spaces in a row" not in d]
    return f" (it holds characters Gherkin does not expect: {'; '.join(found)})" if found else ""


def _previous_text_line(lines: Sequence[str], line: int, *, comments: bool = True) -> int:
    """The number of the last non-blank line before `line` (0 if none); with `comments`
    false, the last one that is not a comment either."""
    for number in range(line - 1, 0, -1):
        text = lines[number - 1].strip()
        if text and (comments or not text.startswith("#")):
            return number
    return 0


def _open_docstring(lines: Sequence[str]) -> int:
    opened = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith('"""') or stripped.startswith("```"):
            opened = 0 if opened else number
    return opened or len(lines)


def _not_understood(text: str) -> str:
    typo = keyword_typo(text)
    if typo is not None:
        return typo
    if STEP_COLON_RE.match(text):
        return _colon_message(text)
    if text.startswith("|"):
        return ("a table row must come right under a step (or another row of its table); the "
                "line above it is not read as a step (is its keyword misspelt, or followed by "
                "a colon?)")
    step_typo = step_keyword_typo(text)
    if step_typo is not None:
        return step_typo
    if text.startswith("Feature:"):
        return "a file holds one Feature; this line starts a second one"
    if text.startswith("Background:"):
        return ("a Background must come before the first Scenario, and a Feature (or Rule) "
                "has at most one")
    if text.startswith(("Examples:", "Scenarios:")):
        return "an Examples table belongs under a Scenario Outline, after its steps"
    return (f"'{text}' is not understood here. After a Scenario line, each line must be a step "
            "(Given, When, Then, And, But), a table row (| ... |), a text block (\"\"\"), a "
            "comment (# ...) or blank; description text may only come directly under the "
            "Feature, Rule or Scenario line")


def keyword_typo(text: str) -> str | None:
    """The message for ``Scenaro: ...`` (a block keyword, misspelt), else None."""
    match = KEYWORD_COLON_RE.match(text)
    if match is None:
        return None
    word = match.group(1).strip()
    if word in BLOCK_KEYWORDS:
        return None
    lowered = {k.lower(): k for k in BLOCK_KEYWORDS}
    if word.lower() in lowered:
        return (f"'{word}:' is not a Gherkin keyword; keywords start with a capital letter: "
                f"'{lowered[word.lower()]}:'")
    close = difflib.get_close_matches(word, BLOCK_KEYWORDS, n=1, cutoff=0.75)
    if not close:
        return None
    return f"'{word}:' is not a Gherkin keyword - did you mean '{close[0]}:'?"


def step_keyword_typo(text: str) -> str | None:
    """The message for ``Gvien an operation in SOM`` (the rest a known sentence), else None."""
    match = _STEP_WORD_RE.match(text)
    if match is None:
        return None
    word, rest = match.groups()
    if word in STEP_KEYWORDS:
        return None
    close = difflib.get_close_matches(word.title(), STEP_KEYWORDS, n=1, cutoff=0.75)
    if not close:
        return None
    if not is_sentence(rest):
        return None
    return f"'{word}' is not a step keyword - did you mean '{close[0]}'?"


def is_sentence(text: str) -> bool:
    normal = normalise(text)
    return any(s.regex.fullmatch(text) or s.regex.fullmatch(normal) for s in SENTENCES)
