"""Rule coverage: every rule needs a passing scenario that raises it and a near miss.

A rule is covered when at least one *passing* scenario asserts that it is raised (``Then X is
raised``, ``... as critical``, ``... 2 times``, ``... once``, ``Then only X and Y are raised``,
``the advice/explanation of X mentions ...``, ``X says the context was unknown``) and at least
one passing scenario asserts ``Then X is not raised``. ``Then no advisory is raised`` and
``only ...`` do not count as near misses for the rules they leave out: a near miss names the
rule it is about.

When it is enforced (`not_enforced_reason` returns None): the run collected every ``.feature``
file under the features folder, selected every scenario in them (no ``-k``, ``-m``, node ids,
``--lf`` or ``--deselect`` took any out), was not ``--collect-only``, did not stop early
(``-x``, ``--maxfail``, Ctrl-C), and ``--no-policy-coverage`` was not given. It is not enforced
under pytest-xdist (the controller collects nothing, each worker sees part of the run).

So ``pytest`` and ``pytest features`` check coverage; ``pytest features/escorts.feature`` or
``pytest -k escort`` do not, and say so in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Coverage", "compute", "not_enforced_reason"]


@attrs.frozen
class Coverage:
    """Which passing scenarios assert each rule raised and not raised."""

    rules: tuple[str, ...]
    raised: Mapping[str, tuple[str, ...]]
    not_raised: Mapping[str, tuple[str, ...]]

    def missing(self) -> list[tuple[str, list[str]]]:
        """(rule, what it lacks: "raised" and/or "not_raised"), in catalogue order."""
        out = []
        for rule in self.rules:
            lacks = [kind for kind, found in (("raised", self.raised), ("not_raised",
                                                                        self.not_raised))
                     if not found.get(rule)]
            if lacks:
                out.append((rule, lacks))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"rules": list(self.rules),
                "raised": {r: list(self.raised.get(r, ())) for r in self.rules},
                "not_raised": {r: list(self.not_raised.get(r, ())) for r in self.rules},
                "missing": [{"rule": r, "lacks": lacks} for r, lacks in self.missing()]}


def compute(rules: Sequence[str], scenarios: Iterable[Mapping[str, Any]]) -> Coverage:
    """Coverage of `rules` by the scenario records (see `results`) that passed."""
    raised: dict[str, list[str]] = {}
    not_raised: dict[str, list[str]] = {}
    for record in scenarios:
        if record["outcome"] != "passed":
            continue
        for rule in record["rules_raised"]:
            raised.setdefault(rule, []).append(record["nodeid"])
        for rule in record["rules_not_raised"]:
            not_raised.setdefault(rule, []).append(record["nodeid"])
    return Coverage(tuple(rules), {k: tuple(v) for k, v in raised.items()},
                    {k: tuple(v) for k, v in not_raised.items()})


def not_enforced_reason(*, feature_files: Sequence[Path], collected: Mapping[Path, int],
                        selected: Mapping[Path, int], features_label: str,
                        root: Path) -> str | None:
    """Why this run does not check coverage, or None when it does (see the module docstring).

    `collected` is the number of scenarios collected per feature file (files that failed to
    collect are absent), `selected` the number left to run after deselection.
    """
    if not feature_files:
        return f"there are no feature files in {features_label}"
    for path in feature_files:
        if path not in collected:
            return (f"not every feature file in {features_label} was collected "
                    f"({_rel(path, root)} was not)")
    for path in feature_files:
        if selected.get(path, 0) != collected[path]:
            return (f"only some scenarios were selected ({_rel(path, root)}: "
                    f"{selected.get(path, 0)} of {collected[path]})")
    return None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
