"""What the policy-spec plugin learns during one run, and why a feature file is refused.

`RunState` is kept in pytest's stash under `STATE`; `Refusal` and `FileRefused` carry a
feature file's problems from collection to its failing test and the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from .._errors import MandateRulesError
from .coverage import Coverage


@attrs.define
class RunState:
    """What the plugin learns during one run."""

    features: Path
    rules: Path
    collected: dict[Path, int] = attrs.field(factory=dict)
    selected: dict[Path, int] = attrs.field(factory=dict)
    records: list[dict[str, Any]] = attrs.field(factory=list)
    reason: str | None = "no feature file ran"
    coverage: Coverage | None = None
    coverage_error: str | None = None
    # the feature files refused at collection, by path, and their tests while they are held
    # back from deselection (see `pytest_collection_modifyitems`)
    refused: dict[Path, Refusal] = attrs.field(factory=dict)
    held: list[pytest.Item] = attrs.field(factory=list)

    @property
    def ran(self) -> bool:
        """Whether any scenario ran (or was skipped) in this run."""
        return bool(self.records)


STATE = pytest.StashKey[RunState]()


@attrs.frozen
class Refusal:
    """Why a feature file cannot run: the first problem's line and every problem, in words."""

    file: str
    line: int
    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        return "\n".join((f"{self.file} was refused, so none of its scenarios ran:",
                          *self.problems))


class FileRefused(MandateRulesError):
    """Raised while collecting a feature file that cannot run as written (see `Refusal`), and
    by its one failing test."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
