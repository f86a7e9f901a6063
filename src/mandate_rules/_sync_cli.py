"""The adapters' commands: `mandate-rules sync ADAPTER --config FILE` pulls what changed in a
source system since the last run, as events (or, with --evaluate, as advisories, evaluated
here: the adapters themselves know no engine), with progress on standard error;
`mandate-rules outbox` shows the write-backs and retries the dead ones."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import click

from ._adapters.config import load_settings
from ._adapters.contract import Adapter
from ._adapters.errors import AdapterConfigError, AdapterError, MappingError
from ._adapters.outbox import Outbox
from ._adapters.registry import load_adapter_class
from ._adapters.sync import SyncProgress
from ._adapters.sync import sync as run_sync
from ._adapters.syncstate import AdapterStore
from ._engine import Engine
from ._errors import MandateRulesError
from ._models import Advisory, Event
from ._resources import bundled_rules_dir

__all__ = ["outbox", "sync"]

EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def _adapter(name: str, config: Path) -> Adapter:
    settings = load_settings(config)
    declared = settings.values.get("adapter")
    if declared is not None and declared != name:
        raise AdapterConfigError(f"{config}: adapter: the settings are for {declared!r}, "
                                 f"not {name!r}")
    values = {k: v for k, v in settings.values.items() if k != "adapter"}
    try:
        return load_adapter_class(name).from_config(values, base_dir=settings.base_dir,
                                                    env=os.environ)
    except AdapterConfigError as exc:
        # The adapter names the key; the file it is in is known only here.
        raise AdapterConfigError(f"{config}: {exc}") from exc


@click.command()
@click.argument("adapter_name", metavar="ADAPTER")
@click.option("--config", "config", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The adapter's settings (YAML): server, credentials' variables, mapping.")
@click.option("--state", "state", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="SQLite file of cursors, seen and rejected records, outbox "
                                 "(default: CONFIG with the suffix .state.sqlite).")
@click.option("--full", is_flag=True, help="Read from the beginning again (only records whose "
                                            "content changed come out).")
@click.option("--evaluate", is_flag=True, help="Evaluate the events and print advisories; "
                                                "the records are then taken (seen).")
@click.option("--dry-run", "dry_run", is_flag=True,
              help="With --evaluate: print the advisories and change nothing in the state "
                   "file. (A run without --evaluate never changes it.)")
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Rule packs for --evaluate (default: the shipped packs).")
@click.option("--write-back", "write_back", is_flag=True,
              help="With --evaluate: write each advisory back to its record (outbox).")
@click.option("--rejected", "show_rejected", is_flag=True,
              help="Print the records kept because they could not be mapped, then stop.")
@click.option("--output", "output", type=click.File("w", encoding="utf-8"), default="-",
              help="Where the JSON lines go (default: standard output).")
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
def sync(adapter_name: str, config: Path, state: Path | None, full: bool, evaluate: bool,
         dry_run: bool, rules_dir: Path | None, write_back: bool, show_rejected: bool,
         output: TextIO, quiet: bool) -> None:
    """Pull the records of ADAPTER's source changed since the last run.

    Prints one CloudEvent per line (one advisory per line with --evaluate). Only a run with
    --evaluate (and without --dry-run) takes the records: it saves the cursor after every
    page, so a run that stops (the source went down) resumes where it stopped, marks the
    records as seen, and keeps those that cannot be mapped (see --rejected). Any other run
    is a look that leaves the state file as it was. Exit status: 0 done, 2 bad settings or
    mapping, 3 stopped early (run again to resume).
    """
    if write_back and not evaluate:
        _fail("--write-back needs --evaluate (advisories are what is written back)")
    if write_back and dry_run:
        _fail("--write-back writes advisories to the source; --dry-run changes nothing: "
              "choose one")
    looking = dry_run or not evaluate
    state_path = state or config.with_suffix(".state.sqlite")
    try:
        adapter = _adapter(adapter_name, config)
    except MappingError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(exc.problems)} problem(s) in the field mapping: nothing was pulled")
        return
    except MandateRulesError as exc:
        _fail(str(exc))
        return
    # A look reads the state file if there is one, and never creates or changes it.
    store = AdapterStore(":memory:" if looking and not state_path.exists() else state_path)
    try:
        if show_rejected:
            # Listed as the current mapping sees them: a record it now maps is not listed
            # (the next --evaluate run takes it), and the reason is today's.
            for kept in store.rejected(adapter.source):
                outcome = adapter.remap(kept.record)
                if outcome is not None and not outcome.rejected:
                    continue
                today = outcome.rejected[0] if outcome is not None else kept
                output.write(json.dumps(today.to_json(), ensure_ascii=False) + "\n")
            return
        engine = Engine.from_directory(rules_dir or bundled_rules_dir()) if evaluate else None
        outbox = Outbox(store.conn) if write_back else None

        def deliver(events: Sequence[Event]) -> None:
            for event in events:
                if engine is None:
                    output.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
                    continue
                advisories: tuple[Advisory, ...] = engine.evaluate(event)
                for advisory in advisories:
                    output.write(json.dumps(advisory.to_json(), ensure_ascii=False) + "\n")
                    if outbox is not None:
                        outbox.enqueue(advisory)
            output.flush()

        def progress(totals: SyncProgress) -> None:
            if not quiet:
                click.echo(f"{adapter.name}: {totals}", err=True)

        report = run_sync(adapter, store, deliver, progress=progress, full=full,
                          dry_run=looking)
        moved = report.moved
        if moved.before and not looking:
            click.echo(f"{adapter.name}: the state kept for {moved.before} (the same connection "
                       f"at another address) now belongs to {adapter.source}: cursor, seen and "
                       f"rejected records, outbox", err=True)
        elif moved.before:
            click.echo(f"{adapter.name}: {state_path} keeps this connection's state under its "
                       f"earlier address ({moved.before}); a run with --evaluate moves it to "
                       f"{adapter.source}, this look read as if from the start", err=True)
        elif moved.ambiguous:
            click.echo(f"{adapter.name}: {state_path} holds state for several addresses of this "
                       f"connection ({', '.join(moved.ambiguous)}), none moved: set `source:` "
                       f"in {config} to the one to keep", err=True)
        if outbox is not None:
            done = outbox.deliver_due(lambda s: adapter if s == adapter.source else None,
                                      all_pending=True)
            if not quiet or done.failed or done.dead:
                click.echo(f"{adapter.name}: write-back: {done.written} written, "
                           f"{done.failed} failed, {done.pending} waiting (retried on the next "
                           f"run), {done.dead} refused (see mandate-rules outbox --dead)",
                           err=True)
        if report.recovered and not quiet:
            click.echo(f"{adapter.name}: {report.recovered} record(s) kept as rejected map "
                       f"with the current mapping: handed on", err=True)
        if looking and not quiet:
            for item in report.rejected:
                click.echo(f"{adapter.name}: record {item.record_id} could not be mapped: "
                           f"{item.reason}", err=True)
            click.echo(f"{adapter.name}: a look: {state_path} was not changed (only "
                       f"--evaluate without --dry-run takes records and marks them as seen)",
                       err=True)
        elif report.progress.rejected and not quiet:
            click.echo(f"{adapter.name}: {report.progress.rejected} record(s) could not be "
                       f"mapped; kept in {state_path} (see --rejected)", err=True)
        if not report.complete:
            what_then = ("nothing was kept (a look)" if looking
                         else "what was read is kept, run again to resume")
            _fail(f"{adapter.name}: stopped after {report.progress}: {report.error}; "
                  f"{what_then}", EXIT_INCOMPLETE)
    except AdapterError as exc:
        _fail(f"{adapter.name}: {exc}")
    finally:
        adapter.close()
        store.close()


@click.command()
@click.argument("adapter_name", metavar="ADAPTER")
@click.option("--config", "config", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The adapter's settings (YAML), as for sync.")
@click.option("--state", "state", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The state file of sync (default: CONFIG with the suffix "
                                 ".state.sqlite).")
@click.option("--dead", is_flag=True, help="Only the write-backs the source refused (dead).")
@click.option("--retry", "retry", is_flag=True,
              help="Put the dead write-backs back in the queue and write them now.")
@click.option("--advisory", "advisory_id", default=None,
              help="With --retry: only this advisory's write-back.")
@click.option("--output", "output", type=click.File("w", encoding="utf-8"), default="-",
              help="Where the JSON lines go (default: standard output).")
def outbox(adapter_name: str, config: Path, state: Path | None, dead: bool, retry: bool,
           advisory_id: str | None, output: TextIO) -> None:
    """Show the write-backs of ADAPTER's advisories (one JSON line each), or retry the dead.

    A write-back the source refused in a way no retry changes (404, 409, 422: a record gone,
    a field the form lacks) is *dead*: it is kept with the source's message and not retried.
    Fix the cause, then --retry puts it back and writes it. Exit status: 0 done, 2 bad
    settings, 3 a retried write-back failed again.
    """
    if advisory_id is not None and not retry:
        _fail("--advisory goes with --retry")
    state_path = state or config.with_suffix(".state.sqlite")
    try:
        adapter = _adapter(adapter_name, config)
    except MandateRulesError as exc:
        _fail(str(exc))
        return
    box = Outbox(state_path)
    try:
        if retry:
            retried = box.retry(advisory_id=advisory_id, sources=[adapter.source])
            if advisory_id is not None and not retried:
                _fail(f"{adapter.name}: no dead write-back of advisory {advisory_id!r} in "
                      f"{state_path}")
            done = box.deliver_due(lambda s: adapter if s == adapter.source else None,
                                   all_pending=True)
            click.echo(f"{adapter.name}: {len(retried)} put back; write-back: {done.written} "
                       f"written, {done.failed} failed (retried on the next run), {done.dead} "
                       f"refused again", err=True)
            if done.failed or done.dead:
                _fail(f"{adapter.name}: see mandate-rules outbox {adapter_name} --config "
                      f"{config} --dead", EXIT_INCOMPLETE)
            return
        for row in box.rows(statuses=("dead",) if dead else (), sources=[adapter.source]):
            output.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
    finally:
        adapter.close()
        box.close()
