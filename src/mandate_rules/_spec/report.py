"""The living documentation: one HTML page of the rules and the scenarios that specify them.

`run_features` runs the feature files with pytest in a subprocess (``--policy-report`` to a
temporary JSON file, see `reporting`) and `render_page` turns that report and the rule bundle
into one self-contained page for policy staff: inline CSS, no external assets, no JavaScript
(the "show only the scenarios that failed" box works by CSS alone, and where a browser lacks
``:has()`` it does nothing and the whole page stays readable). Every text that comes from the
rules, the feature files or the run goes through `html.escape`; links are made only of
``http`` and ``https`` addresses. It prints with each rule on a new page.

The page, top to bottom: a header (the bundle and its version, the date of the run, how many
scenarios passed and failed, how many rules are covered, and any problem with the run), a
key to the marks, an index of the rules, then every rule in catalogue order (severity, when it
is raised higher, when it speaks, advice, actions, sources with their check marks, parameters,
and the scenarios that specify it: those where it is raised and the near misses), and last
the scenarios that name no rule of the catalogue.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import attrs

from .._conditions import Group, Node
from .._models import Reference
from .._render import _days
from .._rules import Absence, Bundle, Count, Lookback, Rule, Trigger
from .coverage import compute
from .phrasebook import EVENT_KINDS
from .settings import INI_FEATURES, INI_RULES

__all__ = ["CHECK_MARKS", "SpecRun", "SpecRunError", "render_page", "run_features",
           "run_problems"]

# How far a citation was checked: the badge's words and what they mean.
CHECK_MARKS: Mapping[str, tuple[str, str]] = {
    "V": ("Verified", "the passage was read in the source itself"),
    "S": ("Secondary", "taken from a summary or course material that cites the source"),
    "H": ("Heading only", "only the heading or contents page of the source was seen"),
    "U": ("Unverified", "from recall; not yet checked against the source"),
}
SEVERITIES = ("info", "advice", "warning", "critical")
_EVENT_WORDS = {event_type: words for words, event_type in EVENT_KINDS.items()}
_RULE_ID_RE = re.compile(r"\b[A-Z]{3}-\d{3}\b")
_OUTPUT_LIMIT = 20_000
_BANNER_RE = re.compile(r"=+ (.+?) =+")
_COLLECTING_RE = re.compile(r"_+ ERROR collecting (.+?) _+")


class SpecRunError(Exception):
    """The feature files could not be run, so there is no report to show."""


@attrs.frozen
class SpecRun:
    """One run of the feature files: the policy report, pytest's exit code and its output."""

    document: Mapping[str, Any]
    returncode: int
    output: str
    seconds: float

    @property
    def failed(self) -> list[Mapping[str, Any]]:
        return [s for s in self.document["scenarios"] if s["outcome"] == "failed"]


def run_features(*, root: Path, features: Path, rules: Path | None,
                 python: str = sys.executable) -> SpecRun:
    """Run every scenario under `features` with pytest, from `root`, and read the report.

    `rules` overrides the rules directory the plugin would choose (``rules/`` of the project
    when it holds ``bundle.yaml``, else the shipped rules, or the ini's ``mandate_rules_dir``).
    Raises `SpecRunError` when pytest wrote no report (it could not start, or was misused).
    """
    with tempfile.TemporaryDirectory(prefix="mandate-rules-spec-") as folder:
        report = Path(folder) / "policy-report.json"
        command = [python, "-m", "pytest", str(features), "-p", "no:cacheprovider",
                   "--policy-report", str(report), "--rootdir", str(root),
                   "-o", f"{INI_FEATURES}={features}", "-q", "--color=no",
                   # one refused file must not hide the others' results
                   "--continue-on-collection-errors"]
        if rules is not None:
            command += ["-o", f"{INI_RULES}={rules}"]
        started = dt.datetime.now(dt.UTC)
        completed = subprocess.run(command, cwd=root, capture_output=True, text=True,
                                   encoding="utf-8", errors="replace", check=False)
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        output = completed.stdout + completed.stderr
        if not report.is_file():
            raise SpecRunError(f"pytest wrote no results (exit code {completed.returncode}):\n"
                               + output.strip())
        document = json.loads(report.read_text(encoding="utf-8"))
    return SpecRun(document=document, returncode=completed.returncode, output=output,
                   seconds=seconds)


def run_problems(run: SpecRun) -> str | None:
    """What went wrong in the run beyond failing scenarios and coverage, or None.

    Failing scenarios and missing coverage are on the page in full. Anything else that made
    the run fail: the feature files refused before they ran (from the report, each problem on
    its line), then pytest's errors section, or else the end of its output.
    """
    if run.returncode == 0:
        return None
    out: list[str] = []
    for refused in run.document.get("refused") or []:
        out.append(f"{refused['file']} was refused, so none of its scenarios ran:")
        out.extend(str(problem) for problem in refused.get("problems", []))
    inside = False
    for line in run.output.splitlines():
        banner = _BANNER_RE.fullmatch(line)
        if banner:
            inside = banner.group(1) == "ERRORS"
            continue
        if not inside:
            continue
        collecting = _COLLECTING_RE.fullmatch(line)
        if collecting:
            out.append(f"{collecting.group(1)} could not be read:")
        elif line.strip("_ "):
            out.append(line)
    if not out:
        document = run.document
        explained = bool(document["summary"]["failed"]) or bool(
            document["coverage"].get("enforced") and document["coverage"].get("missing"))
        if explained:
            return None
        out = run.output.strip().splitlines()[-40:] or [
            f"pytest ended with exit code {run.returncode}."]
    text = "\n".join(out).strip()
    return text[:_OUTPUT_LIMIT] + "\n…" if len(text) > _OUTPUT_LIMIT else text


# --------------------------------------------------------------------------- helpers

def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _anchor(rule_id: str) -> str:
    return "rule-" + re.sub(r"[^A-Za-z0-9_-]", "_", rule_id)


def _link(url: str | None) -> str:
    if not url:
        return ""
    if re.match(r"^https?://", url, re.IGNORECASE):
        return f'<a class="url" href="{_e(url)}">{_e(url)}</a>'
    return f'<span class="url">{_e(url)}</span>'


def _when(created: str | None) -> str:
    if not created:
        return "an unknown date"
    try:
        moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    moment = moment.astimezone(dt.UTC)
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _event_words(event_type: str, *, article: bool = True) -> str:
    words = _EVENT_WORDS.get(event_type)
    if words is None:
        return f"<code>{_e(event_type)}</code>"
    if not article:
        words = words.split(" ", 1)[1]
    return f"{_e(words)} <span class=\"muted\">(<code>{_e(event_type)}</code>)</span>"


def _severity(value: str) -> str:
    return f'<span class="sev sev-{_e(value)}">{_e(value)}</span>'


def _link_rule_ids(text_html: str, known: Iterable[str]) -> str:
    """Rule ids in escaped text, linked to their rule on the page."""
    ids = set(known)

    def link(found: re.Match[str]) -> str:
        rule_id = found.group(0)
        if rule_id not in ids:
            return rule_id
        return f'<a class="rule-ref" href="#{_anchor(rule_id)}">{rule_id}</a>'

    return _RULE_ID_RE.sub(link, text_html)


# --------------------------------------------------------------------------- the rules

def _conditions(nodes: Sequence[Node]) -> str:
    items = []
    for node in nodes:
        # a group the author wrote ("any of:") lists its conditions; a negation such as
        # "medevac is not true" is a group of one inside the loader, shown as written
        nested = isinstance(node, Group) and node.text.rstrip().endswith(":")
        inner = _conditions(node.items) if isinstance(node, Group) and nested else ""
        items.append(f"<li><code>{_e(node.text)}</code>{inner}</li>")
    return f'<ul class="conditions">{"".join(items)}</ul>'


def _pattern(rule: Rule, trigger: Trigger) -> str:
    pattern = trigger.pattern
    if isinstance(pattern, Count):
        keys = ", ".join(f"<code>{_e(p)}</code>" for p in pattern.by)
        levels = "; ".join(
            f"{_e(s.value if s else rule.severity.value)} from {n} such events"
            for n, s in pattern.levels)
        return (f"<p>… and it counts such events with the same {keys} within "
                f"{_e(_days(pattern.within_seconds))}: {levels}.</p>")
    if isinstance(pattern, Absence):
        keys = ", ".join(f"<code>{_e(p)}</code>" for p in pattern.by)
        limit = (f"within {_e(_days(pattern.within_seconds))}" if pattern.within_seconds
                 else f"by the time in <code>{_e(pattern.deadline)}</code>")
        events = " or ".join(_event_words(t, article=False) for t in pattern.until.on)
        return (f"<p>… and no later {events} with the same {keys} meets all of these, "
                f"{limit}:</p>{_conditions(pattern.until.when)}")
    if isinstance(pattern, Lookback):
        keys = ", ".join(f"<code>{_e(p)}</code>" for p in pattern.by)
        events = " or ".join(_event_words(t) for t in pattern.prior.on)
        return (f"<p>… and within {_e(_days(pattern.within_seconds))} before it there was "
                f"{events} with the same {keys} meeting all of these:</p>"
                f"{_conditions(pattern.prior.when)}")
    return ""


def _triggers(rule: Rule) -> str:
    parts = []
    for trigger in rule.triggers:
        events = " or ".join(_event_words(t) for t in trigger.on)
        name = (f'<span class="trigger-name">{_e(trigger.name)}</span> '
                if len(rule.triggers) > 1 else "")
        extra = ""
        if trigger.severity is not None:
            extra += f"<p>In this case the severity is {_severity(trigger.severity.value)}.</p>"
        if trigger.advice:
            extra += f'<p class="trigger-advice">Advice in this case: {_e(trigger.advice)}</p>'
        if trigger.actions:
            extra += ('<p>Actions in this case:</p><ul class="trigger-actions">'
                      + "".join(f"<li>{_e(a)}</li>" for a in trigger.actions) + "</ul>")
        parts.append(f'<div class="trigger"><p>{name}On {events}, when all of these hold '
                     f'<span class="muted">(as written in the rule pack)</span>:</p>'
                     f"{_conditions(trigger.when)}{_pattern(rule, trigger)}{extra}</div>")
    return "".join(parts)


def _reference(ref: Reference) -> str:
    word, meaning = CHECK_MARKS.get(ref.checked, (ref.checked, "unknown mark"))
    bits = [f'<span class="check check-{_e(ref.checked)}" title="{_e(meaning)}">'
            f'<span class="check-letter">{_e(ref.checked)}</span> {_e(word)}</span>',
            f'<span class="source">{_e(ref.source)}</span>']
    if ref.section:
        bits.append(f'<span class="section">{_e(ref.section)}</span>')
    body = " ".join(bits)
    if ref.quote:
        body += f'<blockquote>“{_e(ref.quote)}”</blockquote>'
    if ref.url:
        body += f'<div class="ref-url">{_link(ref.url)}</div>'
    return f'<li class="ref">{body}</li>'


def _parameters(rule: Rule) -> str:
    if not rule.parameters:
        return ""
    rows = []
    for p in rule.parameters.values():
        value = _e(p.value)
        if p.value != p.default:
            value += f' <span class="muted">(default {_e(p.default)})</span>'
        rows.append(f"<tr><td><code>{_e(p.name)}</code></td><td>{value}</td>"
                    f"<td>{_e(p.description)}</td></tr>")
    return ('<h3>Parameters <span class="muted">(a deployment may change them)</span></h3>'
            '<table class="params"><thead><tr><th>name</th><th>value</th><th>what it is</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _severity_words(rule: Rule, bundle: Bundle) -> str:
    value = rule.severity.value
    out = [f"<p>{_severity(value)}</p>"]
    if rule.uplift:
        because = bundle.uplift.because if bundle.uplift is not None else "the context says so"
        out.append(f"<p><strong>One level higher</strong> (at most critical) where "
                   f"{_e(because)}.</p>")
    for esc in rule.escalations:
        out.append(f"<p><strong>Raised to {_severity(esc.to.value)}</strong> when "
                   f"{_e(esc.because)}. "
                   f'<span class="muted">As written in the rule pack:</span></p>'
                   f"{_conditions(esc.when)}")
    return "".join(out)


# --------------------------------------------------------------------------- scenarios

def _table(rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{_e(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows[1:])
    return (f'<table class="data"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


_STEP_NOTES = {"failed": "✗ failed here", "undefined": "✗ not a known sentence",
               "skipped": "not run"}
_OUTCOME_WORDS = {"passed": "✓ Passed", "failed": "✗ Failed", "skipped": "Skipped"}


def _steps(steps: Sequence[Mapping[str, Any]], known: Iterable[str]) -> str:
    ids = tuple(known)
    items = []
    for step in steps:
        status = str(step.get("status", "skipped"))
        note = _STEP_NOTES.get(status)
        note_html = f' <span class="step-note">{_e(note)}</span>' if note else ""
        text = _link_rule_ids(_e(step.get("text", "")), ids)
        extra = ""
        if step.get("table"):
            extra += _table(step["table"])
        if step.get("docstring"):
            extra += f'<pre class="docstring">{_e(step["docstring"])}</pre>'
        items.append(f'<li class="step step-{_e(status)} step-{_e(step.get("type", ""))}">'
                     f'<span class="kw">{_e(step.get("keyword", ""))}</span> {text}{note_html}'
                     f"{extra}</li>")
    return f'<ol class="steps">{"".join(items)}</ol>'


def _scenario(record: Mapping[str, Any], *, marks: Sequence[str], known: Sequence[str],
              anchor: str | None) -> str:
    outcome = str(record.get("outcome", "skipped"))
    where = [f'<span class="file">{_e(record.get("file", ""))}:{_e(record.get("line", ""))}'
             f"</span>",
             f'Feature: {_e(record.get("feature", ""))}']
    if record.get("rule"):
        where.append(f'Rule: {_e(record["rule"])}')
    if record.get("example"):
        cells = ", ".join(f"{_e(k)} = {_e(v)}" for k, v in record["example"].items())
        where.append(f"Example: {cells}")
    if record.get("tags"):
        where.append(" ".join(f'<span class="tag">@{_e(t)}</span>' for t in record["tags"]))
    marks_html = "".join(marks)
    description = (f'<p class="scn-description">{_e(record["description"])}</p>'
                   if record.get("description") else "")
    failure = ""
    if outcome == "failed":
        message = record.get("message") or "The scenario failed (no message was recorded)."
        failure = ('<div class="failure"><p class="failure-title">Why it failed</p>'
                   f'<pre>{_e(str(message).rstrip())}</pre></div>')
    id_attr = f' id="{_e(anchor)}"' if anchor else ""
    return (f'<section class="scn scn-{_e(outcome)}"{id_attr}>'
            f'<div class="scn-head">{marks_html}'
            f'<h4 class="scn-name">{_e(record.get("scenario", ""))}</h4>'
            f'<span class="outcome outcome-{_e(outcome)}">'
            f"{_e(_OUTCOME_WORDS.get(outcome, outcome))}</span></div>"
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
        return "bad", _plural(failing, "failing scenario") + (
            "; " + "; ".join(lacks) if lacks else "")
    if lacks:
        return "bad", "; ".join(lacks).capitalize()
    return "good", "Specified"


def render_page(document: Mapping[str, Any], bundle: Bundle, *,
                problems: str | None = None, seconds: float | None = None) -> str:
    """The page for a policy report (see `reporting`) and the bundle its scenarios ran on.

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
            f'<tr><td><a href="#{_anchor(rule.id)}">{_e(rule.id)}</a>'
            f"</td><td>{_e(rule.title)}</td><td>{_severity(rule.severity.value)}</td>"
            f'<td class="num">{len(raised)}</td><td class="num">{len(near)}</td>'
            f'<td><span class="status status-{state}">{_e(status)}</span></td></tr>')
        rule_html.append(_rule(rule, bundle, scenarios, raised, near, known=rule_ids,
                               anchors=anchors, state=state, status=status))

    unnamed_html = ""
    if unnamed:
        items = []
        for index in unnamed:
            record = scenarios[index]
            strangers = [r for r in (*record.get("rules_raised", []),
                                     *record.get("rules_not_raised", [])) if r not in known]
            marks = ([f'<span class="mark mark-unknown">Names {_e(", ".join(strangers))}, '
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
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"{header}{_key()}{index_html}<main>{''.join(rule_html)}{unnamed_html}</main>"
            f'<footer><p>Written by <code>mandate-rules spec</code> from the feature files in '
            f"<code>{_e(document.get('features_dir', 'features'))}</code> and the rules in "
            f"<code>{_e(document.get('rules_dir', 'rules'))}</code>.</p></footer>"
            "</body></html>\n")


def _rule(rule: Rule, bundle: Bundle, scenarios: Sequence[Mapping[str, Any]],
          raised: Sequence[int], near: Sequence[int], *, known: Sequence[str],
          anchors: _Anchors, state: str, status: str) -> str:
    refs = "".join(_reference(ref) for ref in rule.references)
    actions = "".join(f"<li>{_e(a)}</li>" for a in rule.actions)
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
    return (f'<article class="rule" id="{_anchor(rule.id)}">'
            f'<header class="rule-head"><span class="rule-id">{_e(rule.id)}</span>'
            f"<h2>{_e(rule.title)}</h2>"
            f'<span class="status status-{state}">{_e(status)}</span></header>'
            f'<div class="rule-body"><h3>How serious</h3>{_severity_words(rule, bundle)}'
            f"<h3>When it speaks</h3>{_triggers(rule)}"
            f'<h3>Advice</h3><p class="advice">{_e(rule.advice)}</p>'
            f'<h3>Actions</h3><ul class="actions">{actions}</ul>'
            f'<h3>Sources <span class="muted">(and how far each was checked)</span></h3>'
            f'<ol class="refs">{refs}</ol>{_parameters(rule)}</div>'
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
    tiles_html = "".join(f'<div class="tile tile-{state}"><div class="tile-num">{_e(num)}</div>'
                         f'<div class="tile-label">{_e(label)}</div></div>'
                         for label, num, state in tiles)
    notes = []
    if failed:
        items = "".join(
            f'<li><a href="#{_e(anchors.given.get(i, ""))}">{_e(s.get("scenario", ""))}</a> '
            f'<span class="muted">{_e(s.get("file", ""))}:{_e(s.get("line", ""))}</span></li>'
            for i, s in enumerate(scenarios) if s.get("outcome") == "failed")
        notes.append(f'<div class="alert alert-bad"><p><strong>'
                     f'{_e(_plural(failed, "scenario"))} failed.</strong> The rules do not '
                     f"(or no longer) do what these scenarios say, or a scenario is written "
                     f"in a way that cannot run:</p><ul>{items}</ul></div>")
    if coverage_missing:
        items = "".join(
            f'<li><a href="#{_anchor(r)}">{_e(r)}</a>: needs '
            + " and ".join(("a passing scenario where it is raised" if k == "raised" else
                            "a passing near miss (Then " + _e(r) + " is not raised)")
                           for k in lacks) + "</li>"
            for r, lacks in coverage_missing)
        notes.append('<div class="alert alert-bad"><p><strong>Some rules are not fully '
                     "specified.</strong> Every rule needs a passing scenario where it is "
                     "raised and a passing near miss where it is not.</p>"
                     f"<ul>{items}</ul></div>")
    if doc_coverage.get("error"):
        notes.append(f'<div class="alert alert-bad"><p>{_e(doc_coverage["error"])}</p></div>')
    elif not doc_coverage.get("enforced", False) and doc_coverage.get("reason"):
        notes.append(f'<div class="alert alert-note"><p>The run did not check rule coverage, '
                     f"because {_e(doc_coverage['reason'])}.</p></div>")
    if problems:
        notes.append('<div class="alert alert-bad"><p><strong>The run reported problems '
                     "that are not failing scenarios</strong> (for example a feature file "
                     "that was refused before it ran):</p>"
                     f'<pre class="problems">{_e(problems)}</pre></div>')
    took = f", in {seconds:.1f} seconds" if seconds is not None else ""
    filter_html = ""
    if failed:
        filter_html = ('<p class="filter"><label><input type="checkbox" id="only-failed"> '
                       "Show only the scenarios that failed</label></p>")
    return (f'<header class="page-head"><p class="eyebrow">mandate-rules · living '
            f"documentation</p><h1>What the rules say, and the scenarios that show it</h1>"
            f'<p class="lede">Rule bundle <strong>{_e(bundle.name)}</strong>, version '
            f"<strong>{_e(bundle.version.version)}</strong> "
            f'<span class="muted">(content {_e(bundle.version.hash[:12])})</span>. '
            f"The scenarios ran on {_e(_when(document.get('created')))}{_e(took)}.</p>"
            f'<div class="tiles">{tiles_html}</div>{"".join(notes)}{filter_html}</header>')


def _key() -> str:
    checks = "".join(f'<li><span class="check check-{_e(mark)}"><span class="check-letter">'
                     f"{_e(mark)}</span> {_e(word)}</span> {_e(meaning)}</li>"
                     for mark, (word, meaning) in CHECK_MARKS.items())
    severities = " ".join(_severity(s) for s in SEVERITIES)
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


CSS = """
:root{--ink:#1d2327;--muted:#5d6870;--line:#d8dee4;--soft:#f5f7f9;--accent:#1f5f8b;
--good:#1e6b34;--good-bg:#e5f3e8;--bad:#a3241b;--bad-bg:#fbe9e7;--warn:#7a4b00;
--warn-bg:#fff3d6;--note-bg:#eef3f8}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0 auto;max-width:64rem;padding:2rem 1.5rem 4rem;color:var(--ink);background:#fff;
font-family:"Segoe UI","Source Sans 3","Source Sans Pro",Lato,Roboto,"Helvetica Neue",Arial,
"Liberation Sans",sans-serif;font-size:16px;line-height:1.55}
h1,h2,h3,h4{line-height:1.25;margin:0}
h1{font-size:2rem;margin:.2rem 0 .6rem;font-weight:700}
h2{font-size:1.45rem}
h3{font-size:1rem;margin:1.3rem 0 .35rem;color:var(--accent);text-transform:uppercase;
letter-spacing:.04em;font-weight:700}
h3 .muted{text-transform:none;letter-spacing:0;font-weight:400}
p{margin:.35rem 0}
a{color:var(--accent)}
code{font-family:"DejaVu Sans Mono",Consolas,"Liberation Mono",Menlo,monospace;font-size:.86em;
background:var(--soft);padding:.05em .3em;border-radius:3px}
.muted{color:var(--muted)}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:.8rem;color:var(--muted);
margin:0}
.lede{font-size:1.1rem;max-width:48rem}
.tiles{display:flex;flex-wrap:wrap;gap:.75rem;margin:1.2rem 0}
.tile{flex:1 1 9rem;border:1px solid var(--line);border-radius:8px;padding:.7rem 1rem;
background:var(--soft)}
.tile-num{font-size:1.7rem;font-weight:700;line-height:1.1}
.tile-label{color:var(--muted);font-size:.9rem}
.tile-good{background:var(--good-bg);border-color:#b9dcc2}.tile-good .tile-num{color:var(--good)}
.tile-bad{background:var(--bad-bg);border-color:#f0c0ba}.tile-bad .tile-num{color:var(--bad)}
.alert{border-radius:8px;padding:.7rem 1rem;margin:.8rem 0;border:1px solid}
.alert ul{margin:.3rem 0 .2rem;padding-left:1.3rem}
.alert-bad{background:var(--bad-bg);border-color:#f0c0ba}
.alert-note{background:var(--note-bg);border-color:#cbd8e6}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-family:"DejaVu Sans Mono",Consolas,
"Liberation Mono",Menlo,monospace;font-size:.82rem;line-height:1.45;margin:.4rem 0}
.problems{background:#fff;border:1px solid #f0c0ba;border-radius:6px;padding:.6rem .8rem}
.filter{margin:.6rem 0;font-size:.95rem}
body:has(#only-failed:checked) .scn-passed,body:has(#only-failed:checked) .scn-skipped,
body:has(#only-failed:checked) .rule:not(:has(.scn-failed)),
body:has(#only-failed:checked) .group:not(:has(.scn-failed)),
body:has(#only-failed:checked) .unnamed:not(:has(.scn-failed)){display:none}
.key{border:1px solid var(--line);border-radius:8px;padding:.8rem 1.1rem;margin:1.4rem 0}
.key h2{font-size:1.1rem}
.key h3{margin-top:.7rem}
.key-cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:.4rem 1.4rem}
ul.plain{list-style:none;padding:0;margin:0}
ul.plain li{margin:.3rem 0;font-size:.92rem}
.index{margin:2rem 0}
.index h2{margin-bottom:.6rem}
table{border-collapse:collapse}
.index-table{width:100%;font-size:.92rem}
.index-table th,.index-table td{text-align:left;padding:.35rem .5rem;
border-bottom:1px solid var(--line);vertical-align:top}
.index-table th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);
white-space:nowrap}
.index-table td:first-child{white-space:nowrap;font-weight:600}
.num{text-align:right!important;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:.05em .55em;border-radius:999px;font-size:.8rem;
font-weight:700;text-transform:uppercase;letter-spacing:.04em;border:1px solid;
white-space:nowrap}
.sev-info{color:#3d4f60;background:#edf1f5;border-color:#c9d3dd}
.sev-advice{color:#0b4f8a;background:#e6f0fa;border-color:#b5cfe8}
.sev-warning{color:var(--warn);background:var(--warn-bg);border-color:#ecd08f}
.sev-critical{color:#fff;background:var(--bad);border-color:var(--bad)}
.status{display:inline-block;font-size:.82rem;font-weight:600;padding:.05em .55em;
white-space:nowrap;border-radius:4px}
.status-good{color:var(--good);background:var(--good-bg)}
.status-bad{color:var(--bad);background:var(--bad-bg)}
.rule{border-top:4px solid var(--accent);margin:3rem 0 0;padding-top:1rem}
.rule-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:.4rem .8rem}
.rule-head h2{flex:1 1 20rem}
.rule-id{font-family:"DejaVu Sans Mono",Consolas,"Liberation Mono",Menlo,monospace;
font-weight:700;font-size:1.05rem;background:var(--accent);color:#fff;padding:.15em .5em;
border-radius:5px}
.advice{font-size:1.06rem;max-width:46rem;border-left:3px solid var(--accent);
padding:.1rem 0 .1rem .9rem}
.actions,.trigger-actions{margin:.2rem 0;padding-left:1.3rem}
.trigger{margin:.4rem 0 .7rem}
.trigger-name{font-family:"DejaVu Sans Mono",Consolas,"Liberation Mono",Menlo,monospace;
font-size:.8rem;background:var(--note-bg);padding:.05em .4em;border-radius:3px}
.trigger-advice{font-style:italic}
.conditions{margin:.15rem 0 .3rem;padding-left:1.3rem;font-size:.9rem}
.conditions li{margin:.1rem 0}
.refs{padding-left:1.4rem;margin:.3rem 0}
.ref{margin:.55rem 0}
.source{font-weight:600}
.section{color:var(--muted)}
.section::before{content:"— "}
blockquote{margin:.25rem 0 .1rem;padding:.1rem .8rem;border-left:3px solid var(--line);
color:#3a444b;font-style:italic}
.ref-url{font-size:.85rem;overflow-wrap:anywhere}
.check{display:inline-flex;align-items:center;gap:.3em;padding:.05em .5em .05em .15em;
border-radius:999px;font-size:.78rem;font-weight:700;border:1px solid;white-space:nowrap;
vertical-align:.05em}
.check-letter{display:inline-block;min-width:1.35em;text-align:center;border-radius:999px;
color:#fff;font-size:.74rem;line-height:1.35em}
.check-V{color:var(--good);background:var(--good-bg);border-color:#a9d3b4}
.check-V .check-letter{background:var(--good)}
.check-S{color:#0b4f8a;background:#e6f0fa;border-color:#b5cfe8}
.check-S .check-letter{background:#0b4f8a}
.check-H{color:var(--warn);background:var(--warn-bg);border-color:#ecd08f}
.check-H .check-letter{background:#a86a00}
.check-U{color:var(--bad);background:var(--bad-bg);border-color:#f0c0ba}
.check-U .check-letter{background:var(--bad)}
.params{font-size:.92rem;margin:.3rem 0}
.params th,.params td{border:1px solid var(--line);padding:.3rem .55rem;text-align:left;
vertical-align:top}
.params th{background:var(--soft)}
.rule-scenarios{margin-top:1.2rem}
.group>h4{font-size:.95rem;margin:1rem 0 .4rem;color:var(--ink)}
p.none{color:var(--muted);font-style:italic}
.scn{border:1px solid var(--line);border-left:5px solid var(--good);border-radius:6px;
padding:.6rem .9rem .7rem;margin:.6rem 0;background:#fcfdfd;break-inside:avoid}
.scn-failed{border-left-color:var(--bad);background:#fffafa}
.scn-skipped{border-left-color:#9aa5ae}
.scn-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:.3rem .6rem}
.scn-name{flex:1 1 18rem;font-size:1.02rem}
.scn-where{font-size:.84rem;color:var(--muted);margin:.15rem 0 .35rem}
.scn-where .file{font-family:"DejaVu Sans Mono",Consolas,"Liberation Mono",Menlo,monospace;
color:var(--ink)}
.scn-description{font-style:italic}
.tag{font-family:"DejaVu Sans Mono",Consolas,"Liberation Mono",Menlo,monospace}
.mark{display:inline-block;font-size:.75rem;font-weight:700;padding:.05em .5em;border-radius:4px;
text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
.mark-raised{background:#1f5f8b;color:#fff}
.mark-near{background:#fff;color:#1f5f8b;border:1px dashed #1f5f8b}
.mark-unknown{background:var(--bad-bg);color:var(--bad)}
.outcome{font-weight:700;font-size:.88rem;white-space:nowrap}
.outcome-passed{color:var(--good)}
.outcome-failed{color:var(--bad)}
.outcome-skipped{color:var(--muted)}
.steps{list-style:none;margin:.2rem 0;padding:0}
.step{margin:.15rem 0;padding-left:4.2rem;text-indent:-4.2rem}
.step>*{text-indent:0}
.kw{display:inline-block;width:3.9rem;text-align:right;margin-right:.3rem;font-weight:700;
color:var(--accent)}
.step-then .kw{color:#6a3d9a}
.step-failed,.step-undefined{color:var(--bad);font-weight:600}
.step-skipped{color:#8a949c}
.step-note{font-size:.78rem;font-weight:700;color:var(--bad);white-space:nowrap}
.step-skipped .step-note{color:#8a949c;font-weight:400}
a.rule-ref{font-weight:600;text-decoration:none;border-bottom:1px dotted}
table.data{margin:.25rem 0 .35rem;font-size:.86rem;font-family:"DejaVu Sans Mono",Consolas,
"Liberation Mono",Menlo,monospace}
table.data th,table.data td{border:1px solid var(--line);padding:.15rem .55rem;text-align:left}
table.data th{background:var(--soft);font-weight:600;color:var(--muted)}
table.data td{background:#fff;color:var(--ink)}
.docstring{background:var(--soft);padding:.4rem .6rem;border-radius:4px}
.failure{margin-top:.5rem;background:var(--bad-bg);border-radius:6px;padding:.5rem .8rem}
.failure-title{font-weight:700;color:var(--bad);margin:0}
.unnamed{margin-top:3rem;border-top:4px solid var(--muted);padding-top:1rem}
.intro{color:var(--muted)}
footer{margin-top:3rem;border-top:1px solid var(--line);padding-top:.8rem;font-size:.85rem;
color:var(--muted)}
@media (max-width:40rem){body{padding:1rem}.step{padding-left:0;text-indent:0}
.kw{width:auto;text-align:left}}
@media print{
@page{margin:15mm 14mm}
body{max-width:none;padding:0;font-size:10.5pt}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.filter{display:none}
h3{color:#000}
.rule{break-before:page;border-top-width:2px}
.rule-head,.scn-head,h3,h4{break-after:avoid}
.scn{break-inside:avoid}
.index-table tr{break-inside:avoid}
a{color:inherit;text-decoration:none}
}
"""
