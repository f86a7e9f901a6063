"""``mandate-rules phrasebook``: print every sentence a feature file can use."""

from __future__ import annotations

import shutil

import click

from .phrasebook import render


@click.command()
@click.option("--width", type=click.IntRange(40, 200), default=None,
              help="Wrap the text to this many columns (default: the terminal's, at most 100).")
def phrasebook(width: int | None) -> None:
    """Print the phrasebook: every sentence of the policy specs, and what it means."""
    columns = width or min(100, shutil.get_terminal_size((88, 20)).columns)
    click.echo(render(width=columns - 2), nl=False)
