"""The living documentation: one HTML page of the rules and the scenarios that specify them.

`render_page` turns a policy report (the results of a run, see `results`; `runner` makes
one) and the rule bundle into one self-contained page for policy staff: inline CSS (the
package file ``page.css``), no external assets, no JavaScript (the "show only the scenarios
that failed" box works by CSS alone, and where a browser lacks ``:has()`` it does nothing and
the whole page stays readable). Every text that comes from the rules, the feature files or the
run goes through `html.escape` (`html.esc`); links are made only of ``http`` and ``https``
addresses. It prints with each rule on a new page.

The page, top to bottom: a header (the bundle and its version, the date of the run, how many
scenarios passed and failed, how many rules are covered, and any problem with the run), a
key to the marks, an index of the rules, then every rule in catalogue order (severity, when it
is raised higher, when it speaks, advice, actions, sources with their check marks, parameters,
and the scenarios that specify it: those where it is raised and the near misses), and last
the scenarios that name no rule of the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from types import MappingProxyType
from typing import Any

import attrs

from .._rules import Bundle, Rule
from .coverage import compute
from .html import anchor, esc, link_rule_ids, plural, severity_badge, when_text
from .pagerules import (
    CHECK_MARKS,
    SEVERITIES,
    parameters_html,
    reference_html,
    severity_html,
    triggers_html,
)
from .runner import SpecRun, SpecRunError, run_features, run_problems

# SpecRun and the runner's functions stay importable from here for `mandate-rules spec`.
__all__ = ["CHECK_MARKS", "CSS", "SpecRun", "SpecRunError", "render_page", "run_features",
           "run_problems"]

# The page's style sheet, a package data file so it can be edited as CSS.
CSS = resources.files(__package__).joinpath("page.css").read_text(encoding="utf-8")

# --------------------------------------------------------------------------- scenarios

def _table(rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{esc(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows[1:])
    return (f'<table class="data"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


_STEP_NOTES = MappingProxyType({"failed": "✗ failed here", "undefined": "✗ not a known sentence",
                                "skipped": "not run"})
_OUTCOME_WORDS = MappingProxyType({"passed": "✓ Passed", "failed": "✗ Failed",
                                   "skipped": "Skipped"})


def _steps(steps: Sequence[Mapping[str, Any]], known: Iterable[str]) -> str:
    ids = tuple(known)
    items = []
    for step in steps:
        status = str(step.get("status", "skipped"))
        note = _STEP_NOTES.get(status)
        note_html = f' <span class="step-note">{esc(note)}</span>' if note else ""
        text = link_rule_ids(esc(step.get("text", "")), ids)
        extra = ""
        if step.get("table"):
            extra += _table(step["table"])
        if step.get("docstring"):
            extra += f'<pre class="docstring">{esc(step["docstring"])}</pre>'
        items.append(f'<li class="step step-{esc(status)} step-{esc(step.get("type", ""))}">'
                     f'<span class="kw">{esc(step.get("keyword", ""))}</span> {text}{note_html}'
                     f"{extra}</li>")
    return f'<ol class="steps">{"".join(items)}</ol>'


def _scenario(record: Mapping[str, Any], *, marks: Sequence[str], known: Sequence[str],
              anchor: str | None) -> str:
    outcome = str(record.get("outcome", "skipped"))
    where = [f'<span class="file">{esc(record.get("file", ""))}:{esc(record.get("line", ""))}'
             f"</span>",
             f'Feature: {esc(record.get("feature", ""))}']
    if record.get("rule"):
        where.append(f'Rule: {esc(record["rule"])}')
    if record.get("example"):
        cells = ", ".join(f"{esc(k)} = {esc(v)}" for k, v in record["example"].items())
        where.append(f"Example: {cells}")
    if record.get("tags"):
        where.append(" ".join(f'<span class="tag">@{esc(t)}</span>' for t in record["tags"]))
    marks_html = "".join(marks)
    description = (f'<p class="scn-description">{esc(record["description"])}</p>'
                   if record.get("description") else "")
    failure = ""
    if outcome == "failed":
        message = record.get("message") or "The scenario failed (no message was recorded)."
        failure = ('<div class="failure"><p class="failure-title">Why it failed</p>'
                   f'<pre>{esc(str(message).rstrip())}</pre></div>')
    id_attr = f' id="{esc(anchor)}"' if anchor else ""
    return (f'<section class="scn scn-{esc(outcome)}"{id_attr}>'
            f'<div class="scn-head">{marks_html}'
            f'<h4 class="scn-name">{esc(record.get("scenario", ""))}</h4>'
            f'<span class="outcome outcome-{esc(outcome)}">'
            f"{esc(_OUTCOME_WORDS.get(outcome, outcome))}</span></div>"
            f'<p class="scn-where">{" · ".join(where)}</p>{description}'
            f"{_steps(record.get('steps', []), known)}{failure}</section>")


_MARK_RAISED = '<span class="mark mark-raised">Raises it</span>'
_MARK_NEAR = '<span class="mark mark-near">Near miss: not raised</span>'


# --------------------------------------------------------------------------- the page

@attrs.define
class _Anchors:
    """The first place on the page where each scenario (by its index) is shown."""

    given: dict[int, str] = attrs.field(factory=dict)

    def take(self, index: int) -> str | None:
        if index in self.given:
            return None
        self.given[index] = f"scenario-{index + 1}"
        return self.given[index]


def _rule_status(rule_id: str, raised: Sequence[int], near: Sequence[int],
                 scenarios: Sequence[Mapping[str, Any]],
                 covered: tuple[Mapping[str, Any], Mapping[str, Any]]) -> tuple[str, str]:
    failing = sum(1 for i in {*raised, *near} if scenarios[i]["outcome"] == "failed")
    lacks = [words for words, found in (("no passing scenario that raises it", covered[0]),
                                        ("no passing near miss", covered[1]))
             if not found.get(rule_id)]
    if failing:
        return "bad", plural(failing, "failing scenario") + (
            "; " + "; ".join(lacks) if lacks else "")
    if lacks:
        return "bad", "; ".join(lacks).capitalize()
    return "good", "Specified"


def render_page(document: Mapping[str, Any], bundle: Bundle, *,
                problems: str | None = None, seconds: float | None = None) -> str:
    """The page for a policy report (see `results`) and the bundle its scenarios ran on.

    `problems` is pytest's text about what went wrong beyond failing scenarios (feature files
    refused), shown at the top; `seconds` how long the run took.
    """
    scenarios: list[Mapping[str, Any]] = list(document.get("scenarios", []))
    rule_ids = [rule.id for rule in bundle.rules]
    known = set(rule_ids)
    coverage = compute(rule_ids, scenarios)
    raised_by: dict[str, list[int]] = {r: [] for r in rule_ids}
    near_by: dict[str, list[int]] = {r: [] for r in rule_ids}
    unnamed: list[int] = []
    for index, record in enumerate(scenarios):
        named = [*record.get("rules_raised", []), *record.get("rules_not_raised", [])]
        for rule_id in record.get("rules_raised", []):
            if rule_id in known:
                raised_by[rule_id].append(index)
        for rule_id in record.get("rules_not_raised", []):
            if rule_id in known and index not in raised_by[rule_id]:
                near_by[rule_id].append(index)
        if not any(rule_id in known for rule_id in named):
            unnamed.append(index)
    anchors = _Anchors()
    covered = (coverage.raised, coverage.not_raised)

    rule_html = []
    index_rows = []
    for rule in bundle.rules:
        raised, near = raised_by[rule.id], near_by[rule.id]
        state, status = _rule_status(rule.id, raised, near, scenarios, covered)
        index_rows.append(
            f'<tr><td><a href="#{anchor(rule.id)}">{esc(rule.id)}</a>'
            f"</td><td>{esc(rule.title)}</td><td>{severity_badge(rule.severity.value)}</td>"
            f'<td class="num">{len(raised)}</td><td class="num">{len(near)}</td>'
            f'<td><span class="status status-{state}">{esc(status)}</span></td></tr>')
        rule_html.append(_rule(rule, bundle, scenarios, raised, near, known=rule_ids,
                               anchors=anchors, state=state, status=status))

    unnamed_html = ""
    if unnamed:
        items = []
        for index in unnamed:
            record = scenarios[index]
            strangers = [r for r in (*record.get("rules_raised", []),
                                     *record.get("rules_not_raised", [])) if r not in known]
            marks = ([f'<span class="mark mark-unknown">Names {esc(", ".join(strangers))}, '
                      f"not a rule of the catalogue</span>"] if strangers else [])
            items.append(_scenario(record, marks=marks, known=rule_ids,
                                   anchor=anchors.take(index)))
        unnamed_html = ('<section class="unnamed" id="no-rule"><h2>Scenarios that name no '
                        "rule</h2><p class=\"intro\">These scenarios check no rule of the "
                        "catalogue by its id (for example <q>Then no advisory is raised</q>)."
                        f"</p>{''.join(items)}</section>")

    index_html = ('<nav class="index" aria-label="Rules"><h2>The rules</h2>'
                  '<table class="index-table"><thead><tr><th>rule</th><th>title</th>'
                  '<th>severity</th><th class="num">raised in</th>'
                  '<th class="num">near misses</th><th>status</th></tr></thead>'
                  f"<tbody>{''.join(index_rows)}</tbody></table>"
                  + ('<p><a href="#no-rule">Scenarios that name no rule</a> '
                     f"({len(unnamed)})</p>" if unnamed else "")
                  + "</nav>")

    header = _header(document, bundle, scenarios, coverage_missing=coverage.missing(),
                     anchors=anchors, problems=problems, seconds=seconds)
    title = f"Rules and scenarios: {bundle.name} {bundle.version.version}"
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"{header}{_key()}{index_html}<main>{''.join(rule_html)}{unnamed_html}</main>"
            f'<footer><p>Written by <code>mandate-rules spec</code> from the feature files in '
            f"<code>{esc(document.get('features_dir', 'features'))}</code> and the rules in "
            f"<code>{esc(document.get('rules_dir', 'rules'))}</code>.</p></footer>"
            "</body></html>\n")


def _rule(rule: Rule, bundle: Bundle, scenarios: Sequence[Mapping[str, Any]],
          raised: Sequence[int], near: Sequence[int], *, known: Sequence[str],
          anchors: _Anchors, state: str, status: str) -> str:
    refs = "".join(reference_html(ref) for ref in rule.references)
    actions = "".join(f"<li>{esc(a)}</li>" for a in rule.actions)
    blocks = []
    for label, indices in (("Where it is raised", raised),
                           ("Near misses: where it is not raised", near)):
        if not indices:
            blocks.append(f'<div class="group"><h4>{label}</h4><p class="none">None.</p>'
                          "</div>")
            continue
        rendered = []
        for index in indices:
            record = scenarios[index]
            marks = []
            if rule.id in record.get("rules_raised", []):
                marks.append(_MARK_RAISED)
            if rule.id in record.get("rules_not_raised", []):
                marks.append(_MARK_NEAR)
            rendered.append(_scenario(record, marks=marks, known=known,
                                      anchor=anchors.take(index)))
        blocks.append(f'<div class="group"><h4>{label} ({len(indices)})</h4>'
                      f'{"".join(rendered)}</div>')
    return (f'<article class="rule" id="{anchor(rule.id)}">'
            f'<header class="rule-head"><span class="rule-id">{esc(rule.id)}</span>'
            f"<h2>{esc(rule.title)}</h2>"
            f'<span class="status status-{state}">{esc(status)}</span></header>'
            f'<div class="rule-body"><h3>How serious</h3>{severity_html(rule, bundle)}'
            f"<h3>When it speaks</h3>{triggers_html(rule)}"
            f'<h3>Advice</h3><p class="advice">{esc(rule.advice)}</p>'
            f'<h3>Actions</h3><ul class="actions">{actions}</ul>'
            f'<h3>Sources <span class="muted">(and how far each was checked)</span></h3>'
            f'<ol class="refs">{refs}</ol>{parameters_html(rule)}</div>'
            f'<div class="rule-scenarios"><h3>Scenarios that specify it</h3>{"".join(blocks)}'
            "</div></article>")


def _header(document: Mapping[str, Any], bundle: Bundle,
            scenarios: Sequence[Mapping[str, Any]], *,
            coverage_missing: Sequence[tuple[str, list[str]]], anchors: _Anchors,
            problems: str | None, seconds: float | None) -> str:
    summary = document.get("summary", {})
    total = int(summary.get("scenarios", len(scenarios)))
    passed = int(summary.get("passed", 0))
    failed = int(summary.get("failed", 0))
    skipped = int(summary.get("skipped", 0))
    rules = len(bundle.rules)
    covered = rules - len(coverage_missing)
    doc_coverage = document.get("coverage", {})
    refused = list(document.get("refused") or [])
    # Green only when the run checked coverage and it held: a run that did not check it (a
    # file refused, some scenarios left out) proves nothing about the rules it did not reach.
    checked = bool(doc_coverage.get("enforced")) and not doc_coverage.get("error")
    if not checked:
        specified = ("Rules specified (coverage not checked)", f"{covered} of {rules}",
                     "bad" if doc_coverage.get("error") else "neutral")
    else:
        specified = ("Rules specified", f"{covered} of {rules}",
                     "good" if covered == rules and rules else "bad")
    tiles = [("Scenarios", str(total), "neutral"),
             ("Passed", str(passed), "good" if passed == total and total else "neutral"),
             ("Failed", str(failed), "bad" if failed else "good"), specified]
    if skipped:
        tiles.insert(3, ("Skipped", str(skipped), "neutral"))
    if refused:
        tiles.insert(3, ("Feature files refused", str(len(refused)), "bad"))
    tiles_html = "".join(f'<div class="tile tile-{state}"><div class="tile-num">{esc(num)}</div>'
                         f'<div class="tile-label">{esc(label)}</div></div>'
                         for label, num, state in tiles)
    notes = []
    if failed:
        items = "".join(
            f'<li><a href="#{esc(anchors.given.get(i, ""))}">{esc(s.get("scenario", ""))}</a> '
            f'<span class="muted">{esc(s.get("file", ""))}:{esc(s.get("line", ""))}</span></li>'
            for i, s in enumerate(scenarios) if s.get("outcome") == "failed")
        notes.append(f'<div class="alert alert-bad"><p><strong>'
                     f'{esc(plural(failed, "scenario"))} failed.</strong> The rules do not '
                     f"(or no longer) do what these scenarios say, or a scenario is written "
                     f"in a way that cannot run:</p><ul>{items}</ul></div>")
    if coverage_missing:
        items = "".join(
            f'<li><a href="#{anchor(r)}">{esc(r)}</a>: needs '
            + " and ".join(("a passing scenario where it is raised" if k == "raised" else
                            "a passing near miss (Then " + esc(r) + " is not raised)")
                           for k in lacks) + "</li>"
            for r, lacks in coverage_missing)
        notes.append('<div class="alert alert-bad"><p><strong>Some rules are not fully '
                     "specified.</strong> Every rule needs a passing scenario where it is "
                     "raised and a passing near miss where it is not.</p>"
                     f"<ul>{items}</ul></div>")
    if doc_coverage.get("error"):
        notes.append(f'<div class="alert alert-bad"><p>{esc(doc_coverage["error"])}</p></div>')
    elif not doc_coverage.get("enforced", False) and doc_coverage.get("reason"):
        notes.append(f'<div class="alert alert-note"><p>The run did not check rule coverage, '
                     f"because {esc(doc_coverage['reason'])}.</p></div>")
    if problems:
        notes.append('<div class="alert alert-bad"><p><strong>The run reported problems '
                     "that are not failing scenarios</strong> (for example a feature file "
                     "that was refused before it ran):</p>"
                     f'<pre class="problems">{esc(problems)}</pre></div>')
    took = f", in {seconds:.1f} seconds" if seconds is not None else ""
    filter_html = ""
    if failed:
        filter_html = ('<p class="filter"><label><input type="checkbox" id="only-failed"> '
                       "Show only the scenarios that failed</label></p>")
    return (f'<header class="page-head"><p class="eyebrow">mandate-rules · living '
            f"documentation</p><h1>What the rules say, and the scenarios that show it</h1>"
            f'<p class="lede">Rule bundle <strong>{esc(bundle.name)}</strong>, version '
            f"<strong>{esc(bundle.version.version)}</strong> "
            f'<span class="muted">(content {esc(bundle.version.hash[:12])})</span>. '
            f"The scenarios ran on {esc(when_text(document.get('created')))}{esc(took)}.</p>"
            f'<div class="tiles">{tiles_html}</div>{"".join(notes)}{filter_html}</header>')


def _key() -> str:
    checks = "".join(f'<li><span class="check check-{esc(mark)}"><span class="check-letter">'
                     f"{esc(mark)}</span> {esc(word)}</span> {esc(meaning)}</li>"
                     for mark, (word, meaning) in CHECK_MARKS.items())
    severities = " ".join(severity_badge(s) for s in SEVERITIES)
    return ('<section class="key" aria-label="How to read this page"><h2>How to read this '
            'page</h2><div class="key-cols"><div><h3>Severity</h3>'
            f'<p class="levels">{severities}</p><p>From the lowest to the highest. A rule may '
            "be raised higher in some contexts; each rule says when. mandate-rules advises; it "
            "never blocks.</p></div><div><h3>Sources</h3>"
            f'<ul class="plain">{checks}</ul></div><div><h3>Scenarios</h3>'
            f'<ul class="plain"><li>{_MARK_RAISED} the scenario says the rule is raised.</li>'
            f"<li>{_MARK_NEAR} a near miss: a situation close to the rule where it must stay "
            "silent.</li><li><span class=\"outcome outcome-passed\">✓ Passed</span> the rules "
            "did what the scenario says; <span class=\"outcome outcome-failed\">✗ Failed</span> "
            "they did not, and the reason is given.</li></ul></div></div></section>")

