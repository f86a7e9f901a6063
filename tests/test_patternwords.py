"""A pattern is said one way: `mandate-rules explain` and the living documentation share the
sentence, and a window is written with the engine's units ("1 day", not "1 days")."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest

from mandate_rules import Engine
from mandate_rules._render import explain_rule
from mandate_rules._rules import duration_text
from mandate_rules._spec.pagerules import triggers_html

from .test_patterns import PACK


@pytest.mark.parametrize(("seconds", "words"), [
    (86400, "1 day"), (3 * 86400, "3 days"), (3600, "1 hour"), (72 * 3600, "3 days"),
    (7 * 3600, "7 hours"), (60, "1 minute"), (90 * 60, "90 minutes"), (45, "45 seconds"),
    (1.5, "1.5 seconds")])
def test_a_window_in_words(seconds: float, words: str) -> None:
    assert duration_text(seconds) == words


ONE_DAY = PACK.replace('within: "{days} days"', "within: 1 day").replace(
    "within: 72 hours", "within: 1 hour")


def _sentences(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if "… and" in line]


def _page_sentences(page: str) -> list[str]:
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", p)).split())
            for p in re.findall(r"<p>(… and.*?)</p>", page)]


def test_explain_and_the_page_say_a_pattern_alike(
        engine_for: Callable[..., Engine]) -> None:
    bundle = engine_for({"patterns.yaml": ONE_DAY}).bundle
    count = bundle.rule("CNT-001")
    assert count is not None
    said = _sentences(explain_rule(count))
    # "1 days" before: the explain command had its own, older way with durations
    assert said == ["… and it counts such events with the same org.id within 1 day: "
                    "advice from 3 such events; warning from 5 such events."]
    assert _page_sentences(triggers_html(count)) == said
    for rule in bundle.rules:
        text = _sentences(explain_rule(rule))
        page = _page_sentences(triggers_html(rule))
        assert len(text) == len(page) == sum(t.pattern is not None for t in rule.triggers)
        for plain, shown in zip(text, page, strict=True):
            # the page names event types in words as well; the rest is the same sentence
            assert re.sub(r"\(.*?\)", "", plain).split(" with the same ")[1] == re.sub(
                r"\(.*?\)", "", shown).split(" with the same ")[1]
