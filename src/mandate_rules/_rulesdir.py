"""Which rule packs a command reads when it is given none: shared by the commands of `_cli`
and by `diff` (in `_diff_cli`, which `_cli` imports to register it)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ._loader import BUNDLE_FILE
from ._resources import bundled_rules_dir


def rules_dir(given: Path | None, flag: str = "--rules") -> Path:
    """The rules a command reads: those given, else ./rules when it holds a bundle (the packs
    being edited), else those shipped with mandate-rules. Which, when not given, is said on
    standard error, so that nobody reads the shipped packs believing they are their own;
    `flag` is the option that names others."""
    if given is not None:
        return given
    local = Path("rules")
    if (local / BUNDLE_FILE).is_file():
        click.echo(f"rules: {local}{os.sep} (it holds {BUNDLE_FILE}; {flag} DIR for others)",
                   err=True)
        return local
    shipped = bundled_rules_dir()
    click.echo(f"rules: {shipped} (shipped with mandate-rules; {flag} DIR for others)",
               err=True)
    return shipped
