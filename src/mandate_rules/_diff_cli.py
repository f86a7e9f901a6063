"""`mandate-rules diff`: before adopting changed rule packs, see what they would have changed
over a log of events (the backtest is `_backtest`; the comparison, shared with the sidecar's
shadow mode, is `_compare`)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn, TextIO

import click

from ._backtest import TICK, Backtest, EventsFileError, Found, backtest, read_events
from ._compare import DROP, RAISE, SEVERITY
from ._engine import Engine
from ._errors import RulePackError
from ._models import format_time
from ._render import table
from ._rulesdir import rules_dir

EXIT_BAD_INPUT = 2

_dir = click.Path(file_okay=False, path_type=Path)
_WORDS = MappingProxyType({RAISE: "added", DROP: "dropped", SEVERITY: "severity"})


@click.command()
@click.option("--rules", "candidate_dir", type=_dir, required=True,
              help="The candidate rule packs: the changed rules you consider adopting.")
@click.option("--against", "live_dir", type=_dir, default=None,
              help="The live rule packs to compare with (default: ./rules when it holds "
                   "bundle.yaml, else the packs shipped with mandate-rules).")
@click.option("--until", "until_text", default=None, metavar="TIME",
              help="Move every operation's clock on to TIME (RFC 3339, or 'now') after the "
                   "last event, so that the deadlines running by then fire (default: the "
                   "last event's time).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="table: for people; json: one object.")
@click.argument("events", type=click.File("r", encoding="utf-8"))
def diff(candidate_dir: Path, live_dir: Path | None, until_text: str | None, fmt: str,
         events: TextIO) -> None:
    """Show what the rule packs of --rules would have changed over the events in EVENTS.

    EVENTS holds JSON lines ('-' for standard input): CloudEvents, or the sidecar's decision
    log as `GET /v1/decisions/export` gives it. Both rule sets see every event in order, in
    the events' own time (clock ticks between them let deadlines fire when they pass). What
    the candidate adds, drops or grades differently is shown per rule with the events behind
    each: the comparison the sidecar's shadow mode makes. Exit 0 when it ran, whatever
    changed; 2 for a bad line (named by file:line) or rule packs that do not load.
    """
    until = None
    if until_text is not None:
        try:
            until = _parse_until(until_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--until") from None
    name = events.name  # click names standard input "<stdin>"
    try:
        log = read_events(events, name)
    except EventsFileError as exc:
        _stop([str(p) for p in exc.problems],
              f"{len(exc.problems)} bad line(s) in {name}: nothing was compared")
    live_path = rules_dir(live_dir, "--against")
    live = _engine(live_path, "live")
    candidate = _engine(candidate_dir, "candidate")
    try:
        result = backtest(live, candidate, log, until)
    except EventsFileError as exc:
        _stop([str(p) for p in exc.problems], f"{name}: the comparison stopped")
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render(result, live_path, candidate_dir))


def _stop(lines: list[str], summary: str) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    click.echo(summary, err=True)
    sys.exit(EXIT_BAD_INPUT)


def _engine(directory: Path, role: str) -> Engine:
    try:
        return Engine.from_directory(directory)
    except RulePackError as exc:
        _stop([str(p) for p in exc.problems],
              f"{len(exc.problems)} problem(s) in the {role} rule packs ({directory}): "
              "nothing was compared")


def _parse_until(text: str) -> dt.datetime:
    if text == "now":
        return dt.datetime.now(dt.UTC)
    try:
        when: dt.datetime | None = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError(f"expected an RFC 3339 date-time with a time zone, such as "
                         f"2026-12-31T00:00:00Z, or 'now', got {text!r}")
    return when.astimezone(dt.UTC)


def render(result: Backtest, live: Path, candidate: Path) -> str:
    """The backtest for people: the rule sets, the events, the changes per rule, and each
    change with the events behind it."""
    span = (f", {_minute(result.start)} to {_minute(result.end)}"
            if result.start is not None and result.end is not None else "")
    out = [f"live:      {live} ({result.live})",
           f"candidate: {candidate} ({result.candidate})",
           f"{result.events} event(s) in {result.name}{span}; {result.ticks} clock tick(s) "
           "between them" + (f"; {result.redeliveries} re-deliveries skipped"
                             if result.redeliveries else ""), ""]
    if not result.changes:
        out.append("No change: the candidate raises the same advisories, at the same "
                   "severities, for these events.")
        return "\n".join(out)
    by_rule: dict[str, list[Found]] = {}
    for found in result.changes:
        by_rule.setdefault(found.change.rule_id, []).append(found)
    summary = result.summary
    out.append("What the candidate changes, per rule:")
    out.append(table(["rule", "added", "dropped", "severity", "title"],
                     [[rule, *(str(summary[rule][k]) for k in (RAISE, DROP, SEVERITY)),
                       by_rule[rule][0].advisory.title] for rule in summary]))
    out += ["", "Each change, with the events behind it:"]
    rows = [[rule, _WORDS[f.change.kind], _severity(f),
             _minute(f.advisory.raised_at), f.advisory.subject or "-", _behind(f)]
            for rule in summary for f in by_rule[rule]]
    out.append(table(["rule", "change", "severity", "raised", "record", "events behind it"],
                     rows, caps={4: 24}))
    added = sum(c[RAISE] for c in summary.values())
    dropped = sum(c[DROP] for c in summary.values())
    regraded = sum(c[SEVERITY] for c in summary.values())
    out += ["", f"{len(result.changes)} change(s) in {len(summary)} rule(s): {added} added, "
                f"{dropped} dropped, {regraded} at another severity."]
    return "\n".join(out)


def _minute(when: dt.datetime) -> str:
    return format_time(when)[:16].replace("T", " ")


def _severity(found: Found) -> str:
    live, candidate = found.change.live, found.change.candidate
    if live is not None and candidate is not None:
        return f"{live.severity} -> {candidate.severity}"
    shown = candidate or live
    assert shown is not None
    return shown.severity


def _behind(found: Found) -> str:
    refs = [f"{ref.id} ({ref.type}, line {line})" if line is not None
            else f"{ref.id} ({ref.type})"
            for ref, line in zip(found.advisory.evidence, found.evidence_lines, strict=True)]
    text = ", ".join(refs)
    if found.evaluated.type == TICK:
        text += "; a deadline passed"
    return text
