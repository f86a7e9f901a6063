"""The `mandate-rules` command: a thin face over the library API that embedders call."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from ._diff_cli import diff
from ._engine import Engine
from ._errors import EventValidationError, MandateRulesError, RulePackError, UnknownRuleError
from ._fields import field_reference_markdown, field_reference_text
from ._loader import check_bundle, key_warnings, load_bundle
from ._models import Advisory, Event
from ._problems import Problem
from ._render import advisories_table, explain_rule, rules_table
from ._resources import bundled_rules_dir, demo_timeline
from ._rulesdir import rules_dir as _rules_dir
from ._service._cli import serve
from ._spec.cli import phrasebook, spec
from ._sync_cli import outbox, sync

EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2

_rules_option = click.option(
    "--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Directory of rule packs (default: ./rules when it holds bundle.yaml, else the packs "
         "shipped with mandate-rules).")
_contexts_option = click.option(
    "--contexts", "contexts_dir", type=click.Path(file_okay=False, path_type=Path),
    default=None, help="Directory of context profiles (default: RULES/contexts).")
_param_option = click.option(
    "--param", "params", multiple=True, metavar="RULE.NAME=VALUE",
    help="Override a rule parameter, e.g. --param AST-007.warning_at=5 (repeatable).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Advisories on humanitarian neutrality and the use of military and mission assets.

    It advises; it never blocks.
    """


def _parameters(params: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in params:
        target, sep, raw = item.partition("=")
        rule_id, dot, name = target.partition(".")
        if not sep or not dot or not rule_id or not name:
            raise click.BadParameter(f"expected RULE.NAME=VALUE, got {item!r}",
                                     param_hint="--param")
        value: Any = raw
        for convert in (int, float):
            try:
                value = convert(raw)
                break
            except ValueError:
                continue
        out.setdefault(rule_id, {})[name] = value
    return out


def _engine(rules_dir: Path, contexts_dir: Path | None,
            params: tuple[str, ...] = ()) -> Engine:
    try:
        return Engine.from_directory(rules_dir, contexts_dir, parameters=_parameters(params))
    except RulePackError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s): the rule packs were not loaded", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _read_events(stream: Iterable[str], name: str) -> Iterator[tuple[int, Event | str]]:
    """(line number, event) for each non-blank line; (line, message) for a line that is bad."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield number, Event.from_text(line, where=f"{name}:{number}")
        except EventValidationError as exc:
            yield number, str(exc)


@main.command()
@_rules_option
@_contexts_option
@_param_option
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="json",
              show_default=True, help="json: one advisory per line; table: for people.")
@click.argument("events", type=click.File("r", encoding="utf-8"))
def evaluate(rules_dir: Path | None, contexts_dir: Path | None, params: tuple[str, ...],
             fmt: str, events: TextIO) -> None:
    """Evaluate the CloudEvents in EVENTS (JSON lines; '-' for standard input).

    Every line is checked before any is evaluated: an invalid line stops the run with
    its line number and the field at fault, and nothing is printed on standard output.
    """
    name = events.name  # click names standard input "<stdin>"
    parsed: list[Event] = []
    bad: list[str] = []
    for _, item in _read_events(events, name):
        if isinstance(item, str):
            bad.append(item)
        else:
            parsed.append(item)
    if bad:
        for message in bad:
            click.echo(message, err=True)
        click.echo(f"{len(bad)} invalid event(s) in {name}: nothing was evaluated", err=True)
        sys.exit(EXIT_BAD_INPUT)
    engine = _engine(_rules_dir(rules_dir), contexts_dir, params)
    results: list[tuple[Event, tuple[Advisory, ...]]] = []
    for event in parsed:
        try:
            advisories = engine.evaluate(event)
        except MandateRulesError as exc:
            click.echo(f"{name}: event {event.id}: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        if fmt == "json":
            for advisory in advisories:
                click.echo(json.dumps(advisory.to_json(), ensure_ascii=False))
        else:
            results.append((event, advisories))
    if fmt == "table":
        click.echo(advisories_table(results))


@main.command()
@click.argument("rules_dir", required=False, type=click.Path(path_type=Path))
@_contexts_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def check(rules_dir: Path | None, contexts_dir: Path | None, fmt: str) -> None:
    """Validate the rule packs in RULES_DIR; report every problem.

    RULES_DIR defaults to ./rules when it holds bundle.yaml, else the shipped packs. Warnings
    (on standard error, prefixed `warning:`) do not fail the check.
    """
    directory = _rules_dir(rules_dir)
    problems = check_bundle(directory, contexts_dir)
    warnings: list[Problem] = []
    bundle = None
    if not problems:  # the packs load: does the matching engine accept what they compile to?
        try:
            bundle = load_bundle(directory, contexts_dir)
            Engine(bundle)
        except RulePackError as exc:
            problems = list(exc.problems)
        else:
            warnings = key_warnings(bundle)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        click.echo(json.dumps([p.to_json() for p in problems], indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
    if problems or bundle is None:
        if fmt == "text":
            click.echo(f"{len(problems)} problem(s) in {directory}", err=True)
        sys.exit(EXIT_PROBLEMS)
    if fmt == "text":
        click.echo(f"ok: {len(bundle.rules)} rules in {len(bundle.files) - 1} pack(s), "
                   f"{len(bundle.contexts)} context profile(s), version {bundle.version}"
                   + (f"; {len(warnings)} warning(s)" if warnings else ""))


@main.command(name="rules")
@_rules_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def list_rules(rules_dir: Path | None, fmt: str) -> None:
    """List the loaded rules in catalogue order."""
    engine = _engine(_rules_dir(rules_dir), None)
    if fmt == "json":
        click.echo(json.dumps([{"id": r.id, "title": r.title, "severity": r.severity.value,
                                "on": list(r.on), "stateful": r.stateful, "pack": r.pack}
                               for r in engine.rules], indent=2))
    else:
        click.echo(rules_table(engine.rules))


@main.command()
@_rules_option
@click.argument("rule_id")
def explain(rules_dir: Path | None, rule_id: str) -> None:
    """Show RULE_ID in plain words, with its citations and how far each was checked."""
    engine = _engine(_rules_dir(rules_dir), None)
    try:
        rule = engine.rule(rule_id.upper())
    except UnknownRuleError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(explain_rule(rule))


@main.command()
@_rules_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def demo(rules_dir: Path | None, fmt: str) -> None:
    """Run the bundled timeline of an integrated operation (Somalia-like) end to end.

    The timeline is written for the shipped packs, which it uses unless --rules is given.
    """
    engine = _engine(rules_dir or bundled_rules_dir(), None)
    with demo_timeline().open("r", encoding="utf-8") as stream:
        events = []
        for _, item in _read_events(stream, "demo/somalia.jsonl"):
            if isinstance(item, str):  # the shipped timeline is tested; this is a safeguard
                raise click.ClickException(item)
            events.append(item)
    results = [(event, engine.evaluate(event)) for event in events]
    if fmt == "json":
        for _, advisories in results:
            for advisory in advisories:
                click.echo(json.dumps(advisory.to_json(), ensure_ascii=False))
        return
    total = sum(len(a) for _, a in results)
    click.echo(f"mandate-rules demo: {len(events)} events of an integrated operation (SOM), "
               f"rules {engine.bundle.version}\n")
    click.echo(advisories_table(results))
    by_severity: dict[str, int] = {}
    for _, advisories in results:
        for advisory in advisories:
            by_severity[advisory.severity.value] = by_severity.get(advisory.severity.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_severity.items()))
    click.echo(f"\n{total} advisories ({summary}). Try: mandate-rules explain ESC-004")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="markdown: the page docs/event-fields.md is.")
@click.option("--width", type=click.IntRange(40, 200), default=None,
              help="Wrap the text to this many columns (default: the terminal's, at most 100).")
def fields(fmt: str, width: int | None) -> None:
    """Every event type's fields: kind, whether required, and the words each takes."""
    if fmt == "markdown":
        click.echo(field_reference_markdown(), nl=False)
        return
    columns = width or min(100, shutil.get_terminal_size((100, 20)).columns)
    click.echo(field_reference_text(columns - 2), nl=False)


# The commands of the sidecar, the adapters, the spec runner and the backtest live beside
# their code.
for _command in (serve, sync, outbox, phrasebook, spec, diff):
    main.add_command(_command)
