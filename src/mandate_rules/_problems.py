"""A problem found while loading rule packs: where it is, a stable code, and a plain message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import attrs


@attrs.frozen(order=True)
class Problem:
    """One problem in one place. Sorted by file, then line."""

    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "code": self.code, "message": self.message}


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest known word to `word`, if one is close enough to be worth suggesting."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` or the empty string."""
    best = did_you_mean(word, choices)
    return f"; did you mean {best!r}?" if best else ""
