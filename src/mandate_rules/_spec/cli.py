"""``mandate-rules phrasebook`` and ``mandate-rules spec``: the policy specs from the shell."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import click

from .._errors import RulePackError
from .phrasebook import render

EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2


@click.command()
@click.option("--width", type=click.IntRange(40, 200), default=None,
              help="Wrap the text to this many columns (default: the terminal's, at most 100).")
def phrasebook(width: int | None) -> None:
    """Print the phrasebook: every sentence of the policy specs, and what it means."""
    columns = width or min(100, shutil.get_terminal_size((88, 20)).columns)
    click.echo(render(width=columns - 2), nl=False)


@click.command()
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="Rules the scenarios run against (default: rules/ when it holds "
                   "bundle.yaml, else the rules shipped with mandate-rules).")
@click.option("--features", "features_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("features"), show_default=True,
              help="Folder of the feature files.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("spec-report.html"), show_default=True,
              help="The HTML page to write.")
def spec(rules_dir: Path | None, features_dir: Path, out: Path) -> None:
    """Run the feature files and write the living documentation as one HTML page.

    The page shows every rule in catalogue order, in plain words, with the scenarios that
    specify it and whether they pass. The scenarios run with pytest from the current folder
    (the project's root). The exit code is 1 when the run fails (a scenario failed, a rule
    lacks a scenario, a feature file was refused); the page is written all the same. It is 2
    when nothing could be run.
    """
    root = Path.cwd()
    features = (root / features_dir).resolve()
    if not features.is_dir():
        _stop(f"there is no folder of feature files at {features_dir}; run this from the "
              "project's root or give --features DIR")
    rules = (root / rules_dir).resolve() if rules_dir is not None else None
    if rules is not None and not rules.is_dir():
        _stop(f"there is no rules folder at {rules_dir}")
    if importlib.util.find_spec("pytest_bdd") is None:
        _stop("running the feature files needs the test tools: pip install "
              "'mandate-rules[test]'")
    # Imported here: they need pytest, which a plain install (without [test]) does not have,
    # and every other command must work without it.
    from .page import (  # noqa: PLC0415
        SpecRunError,
        render_page,
        run_features,
        run_problems,
    )
    from .settings import load_rules  # noqa: PLC0415

    try:
        run = run_features(root=root, features=features, rules=rules)
    except SpecRunError as exc:
        _stop(f"the feature files could not be run: {exc}")
    document = run.document
    used_rules = Path(root, document.get("rules_dir") or "rules")
    try:
        bundle = load_rules(used_rules)
    except RulePackError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _stop(f"{len(exc.problems)} problem(s): the rules in {used_rules} did not load, so "
              "there is no page to write")
    problems = run_problems(run)
    page = render_page(document, bundle, problems=problems, seconds=run.seconds)
    target = root / out
    _write(target, page)
    summary = document["summary"]
    covered = len(bundle.rules) - len(document["coverage"].get("missing") or [])
    coverage = (f"{covered} of {len(bundle.rules)} rules covered"
                if document["coverage"].get("enforced") else "rule coverage not checked")
    click.echo(f"wrote {out}: {summary['scenarios']} scenarios, {summary['passed']} passed, "
               f"{summary['failed']} failed; {coverage} ({run.seconds:.1f} s)")
    if problems:
        click.echo(problems, err=True)
    for record in run.failed:
        click.echo(f"FAILED {record['file']}:{record['line']}: {record['scenario']}", err=True)
    if run.returncode != 0:
        click.echo("the run of the feature files failed; the page says why", err=True)
        sys.exit(EXIT_FAILED)


def _stop(message: str) -> NoReturn:
    click.echo(f"mandate-rules spec: {message}", err=True)
    sys.exit(EXIT_CANNOT_RUN)


def _write(target: Path, text: str) -> None:
    """Write `text` to `target` whole or not at all (a temporary file, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
